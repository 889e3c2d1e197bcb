// A fake NUMA machine for the pool core: N nodes (OS numbers 0, 2, 4, ... so that node index and
// OS number differ), 2 CPUs per node, and a PoolOs whose "current CPU" is a per-thread setting.
// Memory is real (mmap), but commit leaves it inaccessible and only bind makes it read/write: a
// chunk touched before it was bound to its node would crash the test.
#pragma once
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/os/os.hpp"
#include "agent/pool/malloc_family.hpp"
#include "agent/pool/pool_allocator.hpp"

namespace numa_agent::pool::test {

inline thread_local int tl_fake_cpu = 0;
inline thread_local int tl_fake_site = 0;                // "call site" seen by the fake backtrace
inline thread_local Heap* tl_test_heap = &g_detached_heap;

struct BindRecord {
  char* addr;
  std::size_t bytes;
  int os_node;
};

struct FakeOsState {
  std::mutex lock;
  std::vector<BindRecord> binds;
  int failing_os_node = -1;   // bind fails with -EINVAL for this OS node
};
inline FakeOsState g_fake_os;

inline int fake_commit(void*, std::size_t) { return 0; }   // stays PROT_NONE until bound
inline int fake_bind(void* addr, std::size_t bytes, int os_node) {
  std::lock_guard g(g_fake_os.lock);
  if (os_node == g_fake_os.failing_os_node) return -22;
  g_fake_os.binds.push_back({static_cast<char*>(addr), bytes, os_node});
  return os::commit(addr, bytes);
}
inline int fake_cpu() { return tl_fake_cpu; }
inline int fake_backtrace(void** frames, int max) {
  if (max < 2) return 0;
  frames[0] = reinterpret_cast<void*>(0x1000 + tl_fake_site);
  frames[1] = reinterpret_cast<void*>(0x2000);
  return 2;
}

inline PoolOs fake_pool_os() {
  PoolOs o;
  o.reserve = os::reserve_address_space;
  o.commit = fake_commit;
  o.decommit = os::decommit;
  o.bind = fake_bind;
  o.release = os::unmap;
  o.map = os::map_anonymous;
  o.current_cpu = fake_cpu;
  o.current_tid = os::current_tid;
  o.backtrace = fake_backtrace;
  return o;
}

inline Topology fake_topology(int nodes) {
  std::vector<NumaNode> ns;
  std::vector<ProcessingUnit> pus;
  for (int n = 0; n < nodes; ++n) {
    NumaNode node;
    node.os_index = 2 * n;
    node.memory_bytes = 1ull << 30;
    for (int c = 0; c < 2; ++c) {
      int cpu = 2 * n + c;
      node.cpus.add(cpu);
      pus.push_back(ProcessingUnit{cpu, cpu, n, n, 0});
    }
    ns.push_back(node);
  }
  return Topology(ns, pus, DistanceMatrix(nodes));
}

inline Heap** test_slot() { return &tl_test_heap; }

// The allocator under test, for TestFamily.
inline PoolAllocator* g_test_pool = nullptr;

struct TestEnv {
  static PoolAllocator& pool() { return *g_test_pool; }
  static Heap* heap() { return tl_test_heap; }
  static void* real_malloc(std::size_t n) { return std::malloc(n); }
  static void real_free(void* p) { std::free(p); }
  static void* real_calloc(std::size_t c, std::size_t s) { return std::calloc(c, s); }
  static void* real_realloc(void* p, std::size_t n) { return std::realloc(p, n); }
  static int real_posix_memalign(void** o, std::size_t a, std::size_t n) { return ::posix_memalign(o, a, n); }
  // glibc semantics (any size); ASan would insist on C11 size multiples.
  static void* real_aligned_alloc(std::size_t a, std::size_t n) { return real_memalign(a, n); }
  static void* real_memalign(std::size_t a, std::size_t n) {
    void* p = nullptr;
    return ::posix_memalign(&p, a < sizeof(void*) ? sizeof(void*) : a, n) == 0 ? p : nullptr;
  }
  static void* real_valloc(std::size_t n) { return real_memalign(4096, n); }
  static void* real_pvalloc(std::size_t n) { return real_memalign(4096, (n + 4095) & ~std::size_t{4095}); }
  static std::size_t real_usable_size(void* p) { return ::malloc_usable_size(p); }
  static bool is_bootstrap(const void*) { return false; }
  static std::size_t bootstrap_bytes(const void*) { return 0; }
};
using TestFamily = MallocFamily<TestEnv>;

// The pools' settings as the option table's defaults give them.
inline PoolConfig default_pool_config() { return pool_config(default_options()); }

// One started allocator on a fake machine; the calling thread starts detached on CPU 0.
class FakeMachine {
 public:
  explicit FakeMachine(int nodes, PoolConfig config = default_pool_config()) : topology_(fake_topology(nodes)) {
    {
      std::lock_guard g(g_fake_os.lock);
      g_fake_os.binds.clear();
    }
    pool_ = std::make_unique<PoolAllocator>();
    // The default 16 GiB per node is more address space than a test needs.
    if (config.arena_bytes_per_node == default_pool_config().arena_bytes_per_node) config.arena_bytes_per_node = 256u << 20;
    if (auto started = pool_->start(config, topology_, fake_pool_os(), ThreadHooks{test_slot, nullptr}); !started)
      throw std::runtime_error(started.error().what);
    g_test_pool = pool_.get();
    tl_test_heap = &g_detached_heap;
    tl_fake_cpu = 0;
  }
  ~FakeMachine() {
    pool_->release_for_tests();
    g_test_pool = nullptr;
    tl_test_heap = &g_detached_heap;
    std::lock_guard g(g_fake_os.lock);
    g_fake_os.failing_os_node = -1;
  }
  PoolAllocator& pool() { return *pool_; }
  const Topology& topology() const { return topology_; }
  int first_cpu_of(int node) const { return 2 * node; }

  // Runs fn on a new thread that "runs on" cpu, then ends the thread as the runtime would.
  template <typename F>
  void on_thread(int cpu, F&& fn) {
    std::thread t([&] {
      tl_fake_cpu = cpu;
      fn();
      pool_->thread_exit(&tl_test_heap);
    });
    t.join();
  }

 private:
  Topology topology_;
  std::unique_ptr<PoolAllocator> pool_;
};

}  // namespace numa_agent::pool::test
