// The pool core and the malloc-family composition on fake 2- and 4-node machines.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <random>
#include <set>
#include <unordered_set>

#include "agent/pool/pool_profile.hpp"
#include "fake_machine.hpp"

using namespace numa_agent;
using namespace numa_agent::pool;
using namespace numa_agent::pool::test;

namespace {

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

void fill(void* p, std::size_t n, unsigned seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>(seed * 31 + i);
}
bool check(const void* p, std::size_t n, unsigned seed) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>(seed * 31 + i)) return false;
  return true;
}

}  // namespace

TEST_CASE("size classes cover every request with bounded waste and power-of-two classes", "[pool]") {
  for (std::size_t n = 0; n <= kMaxClassBytes; ++n) {
    unsigned cls = class_of(n);
    REQUIRE(cls < kClassCount);
    REQUIRE(class_bytes(cls) >= n);
    REQUIRE(class_bytes(cls) % 16 == 0);
    if (cls > 0) REQUIRE(class_bytes(cls - 1) < n);   // the smallest class that fits
    if (n > 128) REQUIRE(class_bytes(cls) * 4 <= n * 5 + 4 * 16);  // <= 25 % waste
  }
  REQUIRE(class_of(kMaxClassBytes + 1) == kOverflowClass);
  REQUIRE(class_of(SIZE_MAX) == kOverflowClass);
  REQUIRE(class_of(SIZE_MAX - 7) == kOverflowClass);
  for (std::size_t p = 16; p <= kMaxClassBytes; p *= 2) REQUIRE(class_bytes(class_of(p)) == p);
}

TEST_CASE("small requests come from the calling thread's node, bound before first touch", "[pool]") {
  for (int nodes : {2, 4}) {
    FakeMachine m(nodes);
    for (int node = 0; node < nodes; ++node) {
      m.on_thread(m.first_cpu_of(node) + 1, [&] {
        for (std::size_t n : {1, 16, 100, 1000, 1024}) {
          void* p = TestFamily::malloc(n);
          REQUIRE(m.pool().owns(p));
          REQUIRE(m.pool().node_of(p) == node);
          REQUIRE(aligned(p, 16));
          REQUIRE(TestFamily::usable_size(p) == class_bytes(class_of(n)));
          std::memset(p, 0xab, TestFamily::usable_size(p));   // readable and writable
          TestFamily::free(p);
        }
      });
    }
    // Every chunk that was touched was bound to the OS number of the node whose arena holds it.
    std::lock_guard g(g_fake_os.lock);
    REQUIRE(g_fake_os.binds.size() >= static_cast<std::size_t>(nodes));
    for (const auto& b : g_fake_os.binds) {
      int node = m.pool().node_of(b.addr);
      REQUIRE(node >= 0);
      REQUIRE(b.os_node == m.topology().nodes()[static_cast<std::size_t>(node)].os_index);
      REQUIRE(b.bytes == kChunkBytes);
      REQUIRE(aligned(b.addr, kChunkBytes));
    }
  }
}

TEST_CASE("requests above NUMA_AGENT_SMALL_MAX go to the real allocator", "[pool]") {
  PoolConfig config = default_pool_config();
  config.small_max = 256;
  FakeMachine m(2, config);
  void* small = TestFamily::malloc(256);
  void* large = TestFamily::malloc(257);
  REQUIRE(m.pool().owns(small));
  REQUIRE_FALSE(m.pool().owns(large));
  REQUIRE(TestFamily::usable_size(large) >= 257);
  fill(large, 257, 3);
  REQUIRE(check(large, 257, 3));
  TestFamily::free(large);
  TestFamily::free(small);
  REQUIRE(tl_test_heap->counters.fallthrough[static_cast<unsigned>(FallReason::TooLarge)] == 1);
  REQUIRE(TestFamily::usable_size(nullptr) == 0);
}

TEST_CASE("every aligned entry point aligns to every power of two up to 64 KiB", "[pool]") {
  FakeMachine m(2);
  std::size_t pooled = 0;
  for (std::size_t a = 1; a <= 64 * 1024; a *= 2) {
    for (std::size_t n : {std::size_t{1}, a / 2 + 1, a, a + 1, std::size_t{100}, std::size_t{1024}}) {
      void* p = nullptr;
      if (a >= sizeof(void*)) {
        REQUIRE(TestFamily::posix_memalign(&p, a, n) == 0);
        REQUIRE(aligned(p, a));
        pooled += m.pool().owns(p);
        fill(p, n, 1);
        REQUIRE(TestFamily::usable_size(p) >= n);
        TestFamily::free(p);
      }
      p = TestFamily::aligned_alloc(a, n);
      REQUIRE(p);
      REQUIRE(aligned(p, a));
      fill(p, n, 2);
      TestFamily::free(p);
      p = TestFamily::memalign(a, n);
      REQUIRE(p);
      REQUIRE(aligned(p, a));
      fill(p, n, 3);
      REQUIRE(check(p, n, 3));
      TestFamily::free(p);
    }
  }
  REQUIRE(pooled > 20);   // the small aligned requests really came from the pools
  void* p = nullptr;
  REQUIRE(TestFamily::posix_memalign(&p, 24, 8) == EINVAL);   // not a power of two
  REQUIRE(TestFamily::posix_memalign(&p, 4, 8) == EINVAL);    // below sizeof(void*)
  void* v = TestFamily::valloc(100);
  void* pv = TestFamily::pvalloc(100);
  REQUIRE(aligned(v, 4096));
  REQUIRE(aligned(pv, 4096));
  TestFamily::free(v);
  TestFamily::free(pv);
}

TEST_CASE("realloc keeps the contents across classes and across the pool/real boundary", "[pool]") {
  FakeMachine m(2);
  std::size_t n = 1;
  void* p = TestFamily::malloc(n);
  fill(p, n, 7);
  bool saw_pool = false, saw_real = false;
  for (std::size_t next : {8, 17, 100, 250, 512, 1000, 1024, 1025, 5000, 70000, 3000, 900, 40, 3}) {
    p = TestFamily::realloc(p, next);
    REQUIRE(p);
    REQUIRE(check(p, std::min(n, next), 7));
    fill(p, next, 7);
    n = next;
    (m.pool().owns(p) ? saw_pool : saw_real) = true;
    REQUIRE(TestFamily::usable_size(p) >= n);
  }
  REQUIRE(saw_pool);
  REQUIRE(saw_real);
  TestFamily::free(p);
  // A block that still fits without waste stays where it is.
  void* q = TestFamily::malloc(100);
  REQUIRE(TestFamily::realloc(q, 110) == q);
  // realloc(NULL, n) allocates; realloc(p, 0) frees and returns NULL (glibc semantics).
  void* r = TestFamily::realloc(nullptr, 50);
  REQUIRE(m.pool().owns(r));
  REQUIRE(TestFamily::realloc(r, 0) == nullptr);
  TestFamily::free(q);
}

TEST_CASE("calloc zeroes reused blocks, calloc and reallocarray overflow is ENOMEM", "[pool]") {
  FakeMachine m(2);
  void* dirty = TestFamily::malloc(64);
  std::memset(dirty, 0xff, 64);
  TestFamily::free(dirty);
  auto* z = static_cast<unsigned char*>(TestFamily::calloc(8, 8));
  REQUIRE(z == dirty);   // the same block, reused
  for (int i = 0; i < 64; ++i) REQUIRE(z[i] == 0);
  TestFamily::free(z);
  errno = 0;
  REQUIRE(TestFamily::calloc(SIZE_MAX / 2, 3) == nullptr);
  REQUIRE(errno == ENOMEM);
  void* p = TestFamily::malloc(10);
  errno = 0;
  REQUIRE(TestFamily::reallocarray(p, SIZE_MAX / 4, 8) == nullptr);
  REQUIRE(errno == ENOMEM);
  void* big = TestFamily::calloc(1000, 1000);   // real allocator's calloc
  REQUIRE(static_cast<unsigned char*>(big)[999999] == 0);
  TestFamily::free(big);
  TestFamily::free(p);
}

TEST_CASE("free preserves errno on every path", "[pool]") {
  FakeMachine m(2);
  void* pooled = TestFamily::malloc(32);
  void* real = TestFamily::malloc(100000);
  errno = 1234;
  TestFamily::free(pooled);
  REQUIRE(errno == 1234);
  TestFamily::free(real);
  REQUIRE(errno == 1234);
  TestFamily::free(nullptr);
  REQUIRE(errno == 1234);
}

TEST_CASE("free lists stay intact: no block is handed out twice, contents survive", "[pool]") {
  FakeMachine m(2);
  std::mt19937 rng(42);
  struct Live {
    void* p;
    std::size_t n;
    unsigned seed;
  };
  std::vector<Live> live;
  std::unordered_set<void*> out;
  for (int round = 0; round < 60000; ++round) {
    if (live.empty() || rng() % 3 != 0) {
      std::size_t n = 1 + rng() % 2048;
      void* p = TestFamily::malloc(n);
      REQUIRE(out.insert(p).second);   // never handed out while still live
      unsigned seed = rng();
      fill(p, n, seed);
      live.push_back({p, n, seed});
    } else {
      std::size_t i = rng() % live.size();
      REQUIRE(check(live[i].p, live[i].n, live[i].seed));
      out.erase(live[i].p);
      TestFamily::free(live[i].p);
      live[i] = live.back();
      live.pop_back();
    }
  }
  for (auto& l : live) {
    REQUIRE(check(l.p, l.n, l.seed));
    TestFamily::free(l.p);
  }
}

TEST_CASE("empty spans return to the node and are reused by other classes", "[pool]") {
  FakeMachine m(2);
  std::vector<void*> blocks;
  for (int i = 0; i < 64 * 40; ++i) blocks.push_back(TestFamily::malloc(1024));   // 40 spans
  const auto spans_full = m.pool().node(0).spans_in_use;
  const auto chunks = m.pool().node(0).chunks_committed;
  REQUIRE(spans_full >= 40);
  for (void* p : blocks) TestFamily::free(p);
  REQUIRE(m.pool().node(0).spans_in_use <= 3);   // current span of the class + the heap store
  blocks.clear();
  for (int i = 0; i < 4096 * 30; ++i) blocks.push_back(TestFamily::malloc(16));  // 30 spans
  REQUIRE(m.pool().node(0).chunks_committed == chunks);   // no new memory: reused spans
  for (void* p : blocks) TestFamily::free(p);
}

TEST_CASE("beyond the hot limit empty spans give their pages back, and are taken after the hot ones", "[pool]") {
  FakeMachine m(1);
  const std::size_t extra = 40;
  std::vector<void*> blocks;
  const std::size_t spans = kHotFreeSpans + extra;
  for (std::size_t i = 0; i < 64 * spans; ++i) blocks.push_back(TestFamily::malloc(1024));   // 64 per span
  for (void* p : blocks) TestFamily::free(p);
  blocks.clear();
  const auto& a = m.pool().node(0);
  CHECK(a.free_span_count == kHotFreeSpans);
  CHECK(a.cold_span_count >= extra - 2);   // the class's current span stays with the heap
  const auto decommitted = a.spans_decommitted;
  CHECK(decommitted == a.cold_span_count);
  // A program hovering at the limit (a span's worth allocated and freed, again and again) uses
  // the hot spans and gives no more pages back.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 64 * 3; ++i) blocks.push_back(TestFamily::malloc(1024));
    for (void* p : blocks) TestFamily::free(p);
    blocks.clear();
  }
  CHECK(a.spans_decommitted == decommitted);
  // Taking every hot span and then some reaches the cold ones (their pages come back on touch).
  for (std::size_t i = 0; i < 64 * (kHotFreeSpans + 10); ++i) {
    auto* p = static_cast<unsigned char*>(TestFamily::malloc(1024));
    p[0] = 1, p[1023] = 2;
    blocks.push_back(p);
  }
  CHECK(a.free_span_count == 0);
  CHECK(a.cold_span_count < decommitted);
  for (void* p : blocks) TestFamily::free(p);
}

// Medium classes hold few blocks a span (16 KiB: 16 in a group of 4 spans), so their spans empty
// at every few frees.
TEST_CASE("a class's only available span stays with its heap when it empties, and the next thread of the heap reuses it", "[pool]") {
  PoolConfig config = default_pool_config();
  config.small_max = kMaxClassBytes;
  FakeMachine m(1, config);
  constexpr std::size_t kBytes = 16 * 1024;
  const std::size_t kPerSpan = class_span_bytes(class_of(kBytes)) / kBytes;
  const std::size_t kPieces = class_span_bytes(class_of(kBytes)) / kSpanBytes;
  Heap* heap = nullptr;
  std::vector<void*> first_span;
  std::set<void*> kept;
  m.on_thread(0, [&] {
    // Three spans' worth: the first two end full, the third is current.
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < 3 * kPerSpan; ++i) {
      blocks.push_back(TestFamily::malloc(kBytes));
      std::memset(blocks.back(), 0x5a, kBytes);
    }
    heap = tl_test_heap;
    REQUIRE(PoolAllocator::block_span(blocks[0]) != PoolAllocator::block_span(blocks[kPerSpan]));
    const auto in_use = m.pool().node(0).spans_in_use;
    // The first span empties while it is the class's only available span: it stays.
    for (std::size_t i = 0; i < kPerSpan; ++i) TestFamily::free(blocks[i]);
    CHECK(heap->counters.spans_released == 0);
    CHECK(m.pool().node(0).spans_in_use == in_use);
    // The second empties behind it on the list: it goes back to the node.
    for (std::size_t i = kPerSpan; i < 2 * kPerSpan; ++i) TestFamily::free(blocks[i]);
    CHECK(heap->counters.spans_released == 1);
    CHECK(m.pool().node(0).spans_in_use == in_use - kPieces);
    kept.insert(blocks.begin(), blocks.begin() + kPerSpan);
    for (std::size_t i = 2 * kPerSpan; i < blocks.size(); ++i) TestFamily::free(blocks[i]);
  });
  // The heap is abandoned with its kept span; the next thread of the node adopts it and is served
  // the kept span's blocks, already carved, without taking a span from the node.
  m.on_thread(1, [&] {
    REQUIRE(TestFamily::malloc(16) != nullptr);
    REQUIRE(tl_test_heap == heap);
    const auto acquired = heap->counters.spans_acquired;
    std::set<void*> got;
    for (std::size_t i = 0; i < kPerSpan; ++i) {
      void* p = TestFamily::malloc(kBytes);
      std::memset(p, 0xa5, kBytes);   // the whole block is usable
      got.insert(p);
    }
    std::size_t reused = 0;
    for (void* p : kept) reused += got.count(p);
    CHECK(reused == kPerSpan);
    CHECK(heap->counters.spans_acquired == acquired);   // the kept span became current: no new one
    for (void* p : got) TestFamily::free(p);
  });
}

TEST_CASE("a fresh span of 4..32 KiB blocks is cut four blocks at a time, not one per slow path", "[pool]") {
  PoolConfig config = default_pool_config();
  config.small_max = kMaxClassBytes;
  FakeMachine m(1, config);
  for (std::size_t bytes : {std::size_t{4096}, std::size_t{8192}, std::size_t{32768}}) {
    const std::size_t per_span = class_span_bytes(class_of(bytes)) / bytes;
    m.on_thread(0, [&] {
      REQUIRE(TestFamily::malloc(16) != nullptr);   // take a heap first
      const auto slow_before = tl_test_heap->counters.slow_allocs;
      std::vector<void*> blocks;
      for (std::size_t i = 0; i < per_span; ++i) blocks.push_back(TestFamily::malloc(bytes));
      std::set<void*> distinct(blocks.begin(), blocks.end());
      REQUIRE(distinct.size() == per_span);
      for (void* p : blocks) REQUIRE(PoolAllocator::block_span(p) == PoolAllocator::block_span(blocks[0]));
      // One slow path per 4 blocks.
      CHECK(tl_test_heap->counters.slow_allocs - slow_before == (per_span + 3) / 4);
      for (void* p : blocks) TestFamily::free(p);
    });
  }
}

TEST_CASE("blocks above 4 KiB come from groups of spans: freed by their owner or another thread, usable, aligned, the group reused whole", "[pool]") {
  PoolConfig config = default_pool_config();
  config.small_max = kMaxClassBytes;
  FakeMachine m(2, config);
  constexpr std::size_t kBytes = 20 * 1024;                              // 12 blocks a group
  const std::size_t kPerGroup = class_span_bytes(class_of(kBytes)) / kBytes;
  REQUIRE(kPerGroup == kGroupPieces * kSpanBytes / kBytes);
  Heap* owner_heap = nullptr;
  std::vector<void*> blocks;
  std::atomic<int> phase{0};
  std::uint64_t chunks = 0;
  std::thread owner([&] {
    tl_fake_cpu = m.first_cpu_of(1);
    for (std::size_t i = 0; i < 3 * kPerGroup; ++i) {
      blocks.push_back(TestFamily::malloc(kBytes));
      fill(blocks.back(), kBytes, static_cast<unsigned>(i));
      REQUIRE(TestFamily::usable_size(blocks.back()) == kBytes);
      REQUIRE(m.pool().node_of(blocks.back()) == 1);
    }
    owner_heap = tl_test_heap;
    // A group's blocks share its leader's record, followers included.
    std::size_t in_followers = 0;
    for (std::size_t i = 0; i < kPerGroup; ++i) {
      REQUIRE(PoolAllocator::block_span(blocks[i]) == PoolAllocator::block_span(blocks[0]));
      in_followers += PoolAllocator::span_of(blocks[i]) != PoolAllocator::block_span(blocks[i]);
    }
    CHECK(in_followers >= kPerGroup / 2);
    // The owner frees the even blocks (fast path or redirected from a follower) ...
    for (std::size_t i = 0; i < blocks.size(); i += 2) {
      REQUIRE(check(blocks[i], kBytes, static_cast<unsigned>(i)));
      TestFamily::free(blocks[i]);
    }
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    // ... another thread freed the odd ones; they are collected and handed out again.
    std::set<void*> freed(blocks.begin(), blocks.end());
    std::vector<void*> again;
    for (std::size_t i = 0; i < blocks.size(); ++i) again.push_back(TestFamily::malloc(kBytes));
    std::size_t reused = 0;
    for (void* p : again) reused += freed.count(p);
    CHECK(reused == blocks.size());
    CHECK(owner_heap->counters.remote_frees_collected == blocks.size() / 2);
    for (void* p : again) TestFamily::free(p);
    chunks = m.pool().node(1).chunks_committed;
    m.pool().thread_exit(&tl_test_heap);
  });
  while (phase.load() != 1) std::this_thread::yield();
  std::thread freer([&] {
    tl_fake_cpu = 0;
    TestFamily::free(TestFamily::malloc(16));
    for (std::size_t i = 1; i < blocks.size(); i += 2) {
      REQUIRE(check(blocks[i], kBytes, static_cast<unsigned>(i)));
      TestFamily::free(blocks[i]);
    }
    m.pool().thread_exit(&tl_test_heap);   // pushes what its outbox still holds
  });
  freer.join();
  phase = 2;
  owner.join();
  const auto& node = m.pool().node(1);
  CHECK(node.free_group_count + node.cold_group_count >= 1);   // empty groups went back whole
  const auto profile = started_pools_json(m.pool());            // and the profile says how many
  CHECK(profile["nodes"][1]["free_groups"].get<std::size_t>() == node.free_group_count);
  CHECK(profile["nodes"][1]["cold_groups"].get<std::size_t>() == node.cold_group_count);
  // Another grouped class on the node reuses them: no new chunk; aligned requests are aligned.
  m.on_thread(m.first_cpu_of(1), [&] {
    std::vector<void*> v;
    for (std::size_t i = 0; i < 2 * kPerGroup; ++i) {
      void* p = TestFamily::aligned_alloc(8192, 8192);
      REQUIRE(aligned(p, 8192));
      REQUIRE(m.pool().owns(p));
      fill(p, 8192, 7);
      v.push_back(p);
    }
    for (void* p : v) TestFamily::free(p);
  });
  CHECK(node.chunks_committed == chunks);
}

TEST_CASE("blocks freed into the heap of an exited thread wait for its next thread, which reuses them", "[pool]") {
  FakeMachine m(1);
  constexpr int kBlocks = 100;   // three full chains of 32 and 4 left in the freer's outbox
  std::vector<void*> blocks;
  Heap* exited = nullptr;
  Heap* freer_heap = nullptr;
  std::atomic<int> phase{0};
  std::thread owner([&] {
    for (int i = 0; i < kBlocks; ++i) {
      blocks.push_back(TestFamily::malloc(48));
      fill(blocks.back(), 48, static_cast<unsigned>(i));
    }
    exited = tl_test_heap;
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    m.pool().thread_exit(&tl_test_heap);
  });
  std::thread freer([&] {
    while (phase.load() != 1) std::this_thread::yield();
    TestFamily::free(TestFamily::malloc(16));   // its own heap: the owner's is still taken
    freer_heap = tl_test_heap;
    REQUIRE(freer_heap != exited);
    phase = 2;
    owner.join();
    REQUIRE(exited->state == HeapState::Abandoned);
    for (int i = 0; i < kBlocks; ++i) {
      REQUIRE(check(blocks[static_cast<std::size_t>(i)], 48, static_cast<unsigned>(i)));
      TestFamily::free(blocks[static_cast<std::size_t>(i)]);
    }
    m.pool().thread_exit(&tl_test_heap);   // the last 4 leave its outbox here
  });
  freer.join();
  REQUIRE(exited->remote_free.load() != nullptr);
  REQUIRE(exited->counters.remote_frees_collected == 0);   // nobody owns it: nothing collected yet
  // The freer's heap was abandoned last, so the first new thread takes it; a second one, started
  // while the first still holds it, adopts the exited heap, collects all 100 and hands them out.
  m.on_thread(0, [&] {
    TestFamily::free(TestFamily::malloc(16));
    REQUIRE(tl_test_heap == freer_heap);
    m.on_thread(1, [&] {
      REQUIRE(TestFamily::malloc(16) != nullptr);
      REQUIRE(tl_test_heap == exited);
      std::set<void*> freed(blocks.begin(), blocks.end());
      std::size_t reused = 0;
      for (int i = 0; i < 2 * kBlocks; ++i) reused += freed.count(TestFamily::malloc(48));
      CHECK(exited->counters.remote_frees_collected == kBlocks);
      CHECK(reused == kBlocks);
    });
  });
}

TEST_CASE("a block freed by another thread goes back to its owner without a lock", "[pool]") {
  for (int nodes : {2, 4}) {
    FakeMachine m(nodes);
    constexpr int kBlocks = 5000;
    std::vector<void*> blocks;
    std::atomic<int> phase{0};
    Heap* owner_heap = nullptr;
    std::thread owner([&] {
      tl_fake_cpu = m.first_cpu_of(nodes - 1);
      for (int i = 0; i < kBlocks; ++i) blocks.push_back(TestFamily::malloc(48));
      owner_heap = tl_test_heap;
      phase = 1;
      while (phase.load() != 2) std::this_thread::yield();
      // The owner's next slow path collects the remote frees; the blocks are reused.
      std::set<void*> freed(blocks.begin(), blocks.end());
      std::size_t reused = 0;
      for (int i = 0; i < 2 * kBlocks; ++i) reused += freed.count(TestFamily::malloc(48));
      REQUIRE(owner_heap->counters.remote_frees_collected == kBlocks);
      REQUIRE(reused == kBlocks);
      m.pool().thread_exit(&tl_test_heap);
    });
    while (phase.load() != 1) std::this_thread::yield();
    std::thread freer([&] {
      tl_fake_cpu = 0;
      TestFamily::free(TestFamily::malloc(16));   // take a heap, so that the frees are counted
      for (void* p : blocks) TestFamily::free(p);
      REQUIRE(tl_test_heap->counters.remote_frees_sent == kBlocks);
      m.pool().thread_exit(&tl_test_heap);
    });
    freer.join();
    phase = 2;
    owner.join();
  }
}

TEST_CASE("heaps of exited threads are adopted by new threads of the same node", "[pool]") {
  FakeMachine m(4);
  Heap* first = nullptr;
  void* left_behind = nullptr;
  m.on_thread(m.first_cpu_of(1), [&] {
    left_behind = TestFamily::malloc(64);
    first = tl_test_heap;
  });
  REQUIRE(m.pool().node(1).abandoned == first);
  m.on_thread(m.first_cpu_of(2), [&] {
    TestFamily::free(TestFamily::malloc(64));
    REQUIRE(tl_test_heap != first);   // another node: its own heap
  });
  m.on_thread(m.first_cpu_of(1) + 1, [&] {
    TestFamily::free(TestFamily::malloc(64));
    REQUIRE(tl_test_heap == first);   // adopted
    REQUIRE(PoolAllocator::span_of(left_behind)->owner.load() == tl_test_heap);
    TestFamily::free(left_behind);    // now a local free
  });
  REQUIRE(m.pool().node(1).heaps_adopted == 1);
  REQUIRE(first->attaches == 2);

  // Thread churn: 2000 threads that allocate and exit reuse a bounded set of heaps and memory.
  for (int i = 0; i < 2000; ++i) {
    m.on_thread(i % 8, [&] {
      std::vector<void*> v;
      for (int k = 0; k < 50; ++k) v.push_back(TestFamily::malloc(16 + 32 * k));
      for (std::size_t k = 0; k < v.size(); k += 2) TestFamily::free(v[k]);   // half leak to the heap
      for (std::size_t k = 1; k < v.size(); k += 2) TestFamily::free(v[k]);
    });
  }
  std::uint64_t heaps = 0, chunks = 0;
  for (int n = 0; n < 4; ++n) heaps += m.pool().node(n).heaps_created, chunks += m.pool().node(n).chunks_committed;
  REQUIRE(heaps <= 4);
  REQUIRE(chunks <= 8);
}

TEST_CASE("a thread after its exit handler falls through to the real allocator", "[pool]") {
  FakeMachine m(2);
  // The thread only records; the checks run on the test's thread (a failed REQUIRE on another
  // thread would abort the whole process and hide what was seen).
  struct Seen {
    bool pooled_before = false;
    Heap* heap_after_exit = nullptr;
    bool fast_path_hit = false;   // the exited heap's fast path handed out a block: it must not
    bool pooled_after = true;
    std::uint64_t fallthroughs = 0;
    int errno_after_free = 0;
  } seen;
  std::thread t([&] {
    void* p = TestFamily::malloc(32);
    seen.pooled_before = m.pool().owns(p);
    m.pool().thread_exit(&tl_test_heap);
    seen.heap_after_exit = tl_test_heap;
    seen.fast_path_hit = m.pool().try_alloc(tl_test_heap, 32) != nullptr;
    void* q = TestFamily::malloc(32);   // e.g. a later TLS destructor
    seen.pooled_after = m.pool().owns(q);
    seen.fallthroughs = m.pool().exited_thread_fallthroughs();
    errno = 77;
    TestFamily::free(q);
    TestFamily::free(p);                // its old block: a remote free to the abandoned heap
    seen.errno_after_free = errno;
  });
  t.join();
  CHECK(seen.pooled_before);
  CHECK(seen.heap_after_exit == &g_exited_heap);
  CHECK_FALSE(seen.fast_path_hit);
  CHECK_FALSE(seen.pooled_after);
  CHECK(seen.fallthroughs == 1);
  CHECK(seen.errno_after_free == 77);
  // The abandoned heap got the block back.
  Heap* abandoned = m.pool().node(0).abandoned;
  REQUIRE(abandoned != nullptr);
  CHECK(abandoned->remote_free.load() != nullptr);
}

TEST_CASE("a thread that moves to another node takes a heap there at its next refill", "[pool]") {
  for (int nodes : {2, 4}) {
    FakeMachine m(nodes);
    Heap* first = nullptr;
    std::vector<void*> old_blocks, new_blocks;
    std::size_t ready = 0;   // blocks the fast path still serves from the old node
    m.on_thread(m.first_cpu_of(0), [&] {
      for (int i = 0; i < 10; ++i) old_blocks.push_back(TestFamily::malloc(64));
      first = tl_test_heap;
      REQUIRE(first->node == 0);
      const Span* current = first->current[class_of(64)];
      for (const Block* b = current->free; b; b = b->next) ++ready;

      // The thread now runs on the last node (it pinned itself, say).
      tl_fake_cpu = m.first_cpu_of(nodes - 1);
      for (int i = 0; i < 1000; ++i) new_blocks.push_back(TestFamily::malloc(64));
      std::size_t on_old = 0;
      for (std::size_t i = 0; i < new_blocks.size(); ++i) {
        const int node = m.pool().node_of(new_blocks[i]);
        if (i < ready) {
          REQUIRE(node == 0);   // already cut from the old span: the fast path is not checked
          ++on_old;
        } else {
          REQUIRE(node == nodes - 1);
        }
      }
      REQUIRE(on_old == ready);
      REQUIRE(tl_test_heap != first);
      REQUIRE(tl_test_heap->node == nodes - 1);
      REQUIRE(first->state == HeapState::Abandoned);
      REQUIRE(first->counters.node_moves == 1);
      REQUIRE(m.pool().node(0).abandoned == first);

      // The old blocks stay the old heap's: freeing them is a remote free, nothing is lost.
      for (void* p : old_blocks) TestFamily::free(p);
      for (void* p : new_blocks) TestFamily::free(p);
      REQUIRE(tl_test_heap->counters.remote_frees_sent == old_blocks.size() + ready);
    });
    // A new thread of node 0 adopts the old heap and collects those frees: its spans go back.
    m.on_thread(m.first_cpu_of(0) + 1, [&] {
      TestFamily::free(TestFamily::malloc(1000));
      REQUIRE(tl_test_heap == first);
      REQUIRE(first->counters.remote_frees_collected == old_blocks.size() + ready);
    });
    REQUIRE(m.pool().node(0).spans_in_use <= 2);   // the heap store and the 1000-byte class
  }
}

TEST_CASE("after a move a thread stays on its heap for a while, then follows again", "[pool]") {
  FakeMachine m(2);
  m.on_thread(m.first_cpu_of(0), [&] {
    std::vector<void*> keep;
    keep.push_back(TestFamily::malloc(64));
    Heap* home = tl_test_heap;
    tl_fake_cpu = m.first_cpu_of(1);
    keep.push_back(TestFamily::malloc(32));   // class 32 has no span: slow path, the move
    Heap* away = tl_test_heap;
    REQUIRE(away != home);
    REQUIRE(away->node == 1);
    // Back on node 0 at once: the next kMoveCooldown slow paths keep the node-1 heap.
    tl_fake_cpu = m.first_cpu_of(0);
    for (std::uint32_t i = 0; i < kMoveCooldown; ++i) {
      const std::uint64_t before = away->counters.slow_allocs;
      while (away->counters.slow_allocs == before) keep.push_back(TestFamily::malloc(256));
      REQUIRE(tl_test_heap == away);
    }
    keep.push_back(TestFamily::malloc(512));   // a new class: the slow path after the cooldown
    REQUIRE(tl_test_heap->node == 0);
    REQUIRE(tl_test_heap == home);              // its own abandoned heap, adopted back
    REQUIRE(away->counters.node_moves == 1);
    for (void* p : keep) TestFamily::free(p);
  });
}

TEST_CASE("a heap adopted by a new thread does not keep its last thread's move cooldown", "[pool]") {
  FakeMachine m(2);
  Heap* moved_to = nullptr;
  m.on_thread(m.first_cpu_of(1), [&] {
    TestFamily::free(TestFamily::malloc(64));
    tl_fake_cpu = m.first_cpu_of(0);
    TestFamily::free(TestFamily::malloc(32));   // moves to a node-0 heap, cooldown starts
    moved_to = tl_test_heap;
    REQUIRE(moved_to->node == 0);
    REQUIRE(moved_to->move_cooldown == kMoveCooldown);
  });   // exits within the cooldown: the node-0 heap is abandoned
  m.on_thread(m.first_cpu_of(0), [&] {
    TestFamily::free(TestFamily::malloc(32));
    REQUIRE(tl_test_heap == moved_to);   // adopted
    tl_fake_cpu = m.first_cpu_of(1);     // this thread now pins itself to node 1
    void* p = TestFamily::malloc(48);    // its first slow path moves it
    REQUIRE(tl_test_heap->node == 1);
    REQUIRE(m.pool().node_of(p) == 1);
    TestFamily::free(p);
  });
}

TEST_CASE("thread_placed moves the calling thread's heap to its new node at once", "[pool]") {
  FakeMachine m(4);
  m.on_thread(m.first_cpu_of(1), [&] {
    REQUIRE_FALSE(m.pool().thread_placed(&tl_test_heap));   // no heap yet: nothing to move
    void* a = TestFamily::malloc(48);
    Heap* first = tl_test_heap;
    REQUIRE_FALSE(m.pool().thread_placed(&tl_test_heap));   // same node
    tl_fake_cpu = m.first_cpu_of(3) + 1;
    errno = 1234;
    REQUIRE(m.pool().thread_placed(&tl_test_heap));
    REQUIRE(errno == 1234);
    REQUIRE(tl_test_heap != first);
    REQUIRE(tl_test_heap->node == 3);
    void* b = TestFamily::malloc(48);   // the very next block, even of a class the old heap had
    REQUIRE(m.pool().node_of(b) == 3);
    TestFamily::free(a);
    TestFamily::free(b);
  });
  // A thread that exited has no heap to move.
  m.on_thread(m.first_cpu_of(0), [&] {
    TestFamily::free(TestFamily::malloc(16));
    m.pool().thread_exit(&tl_test_heap);
    tl_fake_cpu = m.first_cpu_of(2);
    REQUIRE_FALSE(m.pool().thread_placed(&tl_test_heap));
    REQUIRE(tl_test_heap == &g_exited_heap);
    tl_test_heap = &g_detached_heap;
  });
}

TEST_CASE("the profile reader may allocate and move its heap while it walks heaps and samples", "[pool]") {
  PoolConfig config = default_pool_config();
  config.sample_bytes = 4096;   // a sample at nearly every fresh page
  FakeMachine m(2, config);
  m.on_thread(m.first_cpu_of(0), [&] {
    TestFamily::free(TestFamily::malloc(64));
    tl_fake_cpu = m.first_cpu_of(1);   // the next slow path moves this thread's heap
    std::vector<void*> keep;
    std::size_t heaps = 0;
    m.pool().for_each_heap([&](const Heap&) {
      ++heaps;
      for (int i = 0; i < 200; ++i) keep.push_back(TestFamily::malloc(16 + 64 * static_cast<std::size_t>(i % 16)));
    });
    REQUIRE(heaps >= 1);
    REQUIRE(tl_test_heap->node == 1);   // it moved inside the walk
    std::size_t sites = 0;
    m.pool().for_each_sample([&](const PoolAllocator::SampleView&) {
      ++sites;
      for (int i = 0; i < 200; ++i) keep.push_back(TestFamily::malloc(1024));   // samples taken meanwhile are dropped
    });
    REQUIRE(sites >= 1);
    for (void* p : keep) TestFamily::free(p);
  });
}

TEST_CASE("a refused mbind at start leaves the pools off and counts what goes to the real allocator", "[pool]") {
  const Topology topology = fake_topology(2);
  {
    std::lock_guard g(g_fake_os.lock);
    g_fake_os.failing_os_node = 0;   // the probe binds node index 0 (OS node 0)
  }
  PoolAllocator pool;
  PoolConfig config = default_pool_config();
  config.arena_bytes_per_node = 64u << 20;
  auto started = pool.start(config, topology, fake_pool_os(), ThreadHooks{test_slot, nullptr});
  {
    std::lock_guard g(g_fake_os.lock);
    g_fake_os.failing_os_node = -1;
  }
  REQUIRE_FALSE(started);
  CHECK(started.error().what == "mbind refused");
  CHECK(started.error().code == 22);
  REQUIRE_FALSE(pool.started());
  Heap* h = &g_detached_heap;
  for (int i = 0; i < 5; ++i) REQUIRE(pool.alloc_slow(h, 64) == nullptr);
  REQUIRE(pool.alloc_aligned(h, 4096, 100) == nullptr);
  REQUIRE(pool.alloc_slow(h, 1 << 20) == nullptr);
  CHECK(pool.pools_off_fallthroughs() == 7);

  // Disabled by the configuration: not a failure, nothing counted.
  PoolAllocator disabled;
  config.enabled = false;
  REQUIRE_FALSE(disabled.start(config, topology, fake_pool_os(), ThreadHooks{test_slot, nullptr}));
  REQUIRE(disabled.alloc_slow(h, 64) == nullptr);
  CHECK(disabled.pools_off_fallthroughs() == 0);
}

TEST_CASE("an address space too small for the arenas leaves the pools off with the OS error", "[pool]") {
  PoolOs os = fake_pool_os();
  os.reserve = [](std::size_t, std::size_t) -> void* {
    errno = ENOMEM;
    return nullptr;
  };
  PoolAllocator pool;
  PoolConfig config = default_pool_config();
  config.arena_bytes_per_node = std::size_t{16} << 30;
  auto started = pool.start(config, fake_topology(2), os, ThreadHooks{test_slot, nullptr});
  REQUIRE_FALSE(started);
  CHECK(started.error().code == ENOMEM);
  CHECK(pool.start_bytes() == (std::size_t{32} << 30));
  Heap* h = &g_detached_heap;
  REQUIRE(pool.alloc_slow(h, 16) == nullptr);
  CHECK(pool.pools_off_fallthroughs() == 1);
}

TEST_CASE("arena exhaustion and bind failure fall through, no allocation fails", "[pool]") {
  PoolConfig config = default_pool_config();
  config.arena_bytes_per_node = kChunkBytes;   // one chunk per node
  FakeMachine m(2, config);
  {
    std::lock_guard g(g_fake_os.lock);
    g_fake_os.failing_os_node = 2;   // node index 1
  }
  std::vector<void*> v;
  std::size_t pooled = 0;
  for (int i = 0; i < 8000; ++i) {   // 8000 KiB > one 4 MiB chunk
    void* p = TestFamily::malloc(1024);
    REQUIRE(p);
    pooled += m.pool().owns(p);
    v.push_back(p);
  }
  REQUIRE(pooled > 3000);
  REQUIRE(pooled < 8000);
  REQUIRE(tl_test_heap->counters.fallthrough[static_cast<unsigned>(FallReason::ArenaFull)] > 0);
  for (void* p : v) TestFamily::free(p);
  m.on_thread(m.first_cpu_of(1), [&] {
    void* p = TestFamily::malloc(64);
    REQUIRE(p);
    REQUIRE_FALSE(m.pool().owns(p));   // node 1 cannot be bound: real allocator
    TestFamily::free(p);
  });
  REQUIRE_FALSE(m.pool().node(1).usable);
  REQUIRE(m.pool().node(1).last_error == 22);
}

TEST_CASE("allocation sites are sampled on the slow path, by site and node", "[pool]") {
  PoolConfig config = default_pool_config();
  config.sample_bytes = 64 * 1024;
  FakeMachine m(2, config);
  std::vector<void*> keep;
  std::mutex keep_lock;
  for (int node = 0; node < 2; ++node) {
    m.on_thread(m.first_cpu_of(node), [&] {
      tl_fake_site = node + 1;
      std::vector<void*> mine;
      for (int i = 0; i < 4096 * (node + 1); ++i) mine.push_back(TestFamily::malloc(128));   // 512 KiB per unit
      std::lock_guard g(keep_lock);
      keep.insert(keep.end(), mine.begin(), mine.end());
    });
  }
  std::map<std::uintptr_t, std::pair<std::uint64_t, std::vector<std::uint64_t>>> sites;
  m.pool().for_each_sample([&](const PoolAllocator::SampleView& v) {
    auto& s = sites[reinterpret_cast<std::uintptr_t>(v.frames[0])];
    s.first += v.count;
    s.second.assign(v.per_node, v.per_node + 2);
  });
  REQUIRE(sites.size() == 2);
  // 512 KiB and 1 MiB of fresh blocks at one sample per 64 KiB.
  REQUIRE(sites[0x1001].first == 8);
  REQUIRE(sites[0x1002].first == 16);
  REQUIRE(sites[0x1001].second == std::vector<std::uint64_t>{8, 0});
  REQUIRE(sites[0x1002].second == std::vector<std::uint64_t>{0, 16});
  for (void* p : keep) TestFamily::free(p);
}

TEST_CASE("after fork the child frees and reuses blocks of the parent's other threads", "[pool]") {
  FakeMachine m(2);
  std::vector<void*> blocks;
  std::atomic<int> phase{0};
  Heap* other_heap = nullptr;
  std::thread other([&] {
    tl_fake_cpu = m.first_cpu_of(1);
    for (int i = 0; i < 1000; ++i) blocks.push_back(TestFamily::malloc(200));
    other_heap = tl_test_heap;
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    m.pool().thread_exit(&tl_test_heap);
  });
  while (phase.load() != 1) std::this_thread::yield();
  void* mine = TestFamily::malloc(100);
  m.pool().fork_prepare();
  pid_t pid = fork();
  if (pid == 0) {
    m.pool().fork_child();
    int bad = 0;
    if (other_heap->state != HeapState::Abandoned) bad |= 1;
    for (void* p : blocks) TestFamily::free(p);   // remote frees into the abandoned heap
    TestFamily::free(mine);
    // The child's thread then acts as a new thread of node 1 (no real thread: TSan cannot start
    // threads after a multi-threaded fork): it adopts the abandoned heap and reuses its blocks.
    m.pool().thread_exit(&tl_test_heap);
    tl_test_heap = &g_detached_heap;
    tl_fake_cpu = m.first_cpu_of(1);
    void* p = TestFamily::malloc(200);
    if (tl_test_heap != other_heap) bad |= 2;
    if (std::find(blocks.begin(), blocks.end(), p) == blocks.end()) bad |= 4;
    TestFamily::free(p);
    _exit(bad);
  }
  m.pool().fork_parent();
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(other_heap->state == HeapState::Active);   // the parent's thread still owns it
  phase = 2;
  other.join();
  for (void* p : blocks) TestFamily::free(p);
  TestFamily::free(mine);
}

TEST_CASE("core stress: threads on 4 nodes, cross-thread frees, realloc and memalign, patterns intact", "[pool]") {
  FakeMachine m(4);
  struct Item {
    unsigned char* p;
    std::size_t n;
    unsigned seed;
  };
  std::mutex exchange_lock;
  std::vector<Item> exchange;
  std::atomic<long> errors{0};
  auto worker = [&](int id) {
    tl_fake_cpu = id % 8;
    std::mt19937 rng(static_cast<unsigned>(id) * 97 + 1);
    std::vector<Item> mine;
    auto ok = [&](const Item& it) {
      if (!check(it.p, it.n, it.seed)) errors.fetch_add(1);
    };
    for (int op = 0; op < 60000; ++op) {
      unsigned r = rng() % 100;
      if (r < 40 || mine.size() < 8) {
        Item it{nullptr, 1 + rng() % (rng() % 8 == 0 ? 5000 : 300), static_cast<unsigned>(rng())};
        if (rng() % 5 == 0) {
          std::size_t a = std::size_t{16} << (rng() % 9);
          it.p = static_cast<unsigned char*>(TestFamily::memalign(a, it.n));
          if (!aligned(it.p, a)) errors.fetch_add(1);
        } else {
          it.p = static_cast<unsigned char*>(TestFamily::malloc(it.n));
        }
        fill(it.p, it.n, it.seed);
        mine.push_back(it);
      } else if (r < 60) {
        std::size_t i = rng() % mine.size();
        ok(mine[i]);
        TestFamily::free(mine[i].p);
        mine[i] = mine.back();
        mine.pop_back();
      } else if (r < 75) {
        std::size_t i = rng() % mine.size();
        std::lock_guard g(exchange_lock);
        exchange.push_back(mine[i]);
        mine[i] = mine.back();
        mine.pop_back();
      } else if (r < 90) {
        Item it{};
        {
          std::lock_guard g(exchange_lock);
          if (exchange.empty()) continue;
          it = exchange.back();
          exchange.pop_back();
        }
        ok(it);
        TestFamily::free(it.p);
      } else {
        Item& it = mine[rng() % mine.size()];
        std::size_t n = 1 + rng() % 3000;
        auto* q = static_cast<unsigned char*>(TestFamily::realloc(it.p, n));
        if (!check(q, std::min(n, it.n), it.seed)) errors.fetch_add(1);
        it.p = q;
        it.n = n;
        fill(it.p, it.n, it.seed);
      }
    }
    for (auto& it : mine) {
      ok(it);
      TestFamily::free(it.p);
    }
    m.pool().thread_exit(&tl_test_heap);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  for (auto& it : exchange) TestFamily::free(it.p);
  REQUIRE(errors.load() == 0);
}

TEST_CASE("NUMA_AGENT_ASSERT evaluates its condition exactly when assertions are compiled in", "[pool]") {
  int evaluated = 0;
  NUMA_AGENT_ASSERT(++evaluated > 0);
  CHECK(evaluated == NUMA_AGENT_ASSERTS);
}

#if NUMA_AGENT_ASSERTS
// The invariants are checked (debug and sanitizer trees): a block the owner frees twice breaks the
// span's use count and its list membership, and the process stops with one line naming the check.
TEST_CASE("a double free by the owner stops at an invariant of the pool core", "[pool]") {
  int err[2];
  REQUIRE(pipe(err) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    dup2(err[1], 2);
    std::signal(SIGABRT, SIG_DFL);   // not Catch's handler: the child just dies, the parent checks
    FakeMachine m(2);
    void* p = TestFamily::malloc(64);
    TestFamily::free(p);
    TestFamily::free(p);
    _exit(0);   // not reached when the invariants are checked
  }
  close(err[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(err[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  INFO(text);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(text.find("numa-agent: internal assertion failed: ") != std::string::npos);
  CHECK(text.find("pool_allocator") != std::string::npos);
}
#endif
