// pool_stress: N threads × random sizes × cross-thread frees × realloc × the aligned entry points,
// with a pattern written into every byte of every block and checked before it is freed or moved
// (an overlap or a corrupted free list shows up as a pattern mismatch). Half-way, one thread forks;
// the child checks and frees blocks that other threads allocated, allocates, and exits.
// Plain malloc/free: run it under LD_PRELOAD=libnumaagent.so. Exit 0 = no corruption.
//
//   pool_stress [threads=4] [operations per thread=200000] [seed=1]
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace {

struct Block {
  unsigned char* p = nullptr;
  std::size_t n = 0;
  std::uint32_t seed = 0;
};

std::atomic<long> g_errors{0};

unsigned char byte_at(std::uint32_t seed, std::size_t i) { return static_cast<unsigned char>((seed >> (i % 4 * 8)) + i * 7); }

void fill(Block& b) {
  for (std::size_t i = 0; i < b.n; ++i) b.p[i] = byte_at(b.seed, i);
}

bool intact(const Block& b, std::size_t n) {
  for (std::size_t i = 0; i < n && i < b.n; ++i)
    if (b.p[i] != byte_at(b.seed, i)) return false;
  return true;
}

void report(const char* what, const Block& b) {
  if (g_errors.fetch_add(1) < 10) std::fprintf(stderr, "pool_stress: %s: block %p size %zu\n", what, static_cast<void*>(b.p), b.n);
}

// Blocks handed between threads: every thread pushes some of its blocks here and frees others'.
struct Exchange {
  std::mutex lock;
  std::vector<Block> blocks;
  void put(const Block& b) {
    std::lock_guard g(lock);
    blocks.push_back(b);
  }
  bool take(Block& out, std::mt19937& rng) {
    std::lock_guard g(lock);
    if (blocks.empty()) return false;
    std::size_t i = rng() % blocks.size();
    out = blocks[i];
    blocks[i] = blocks.back();
    blocks.pop_back();
    return true;
  }
};
Exchange g_exchange;

std::size_t random_size(std::mt19937& rng) {
  switch (rng() % 16) {
    case 0: return 1 + rng() % 70000;   // beyond any pool class: the real allocator
    case 1: case 2: return 1 + rng() % 4096;
    default: return 1 + rng() % 256;
  }
}

Block allocate(std::mt19937& rng) {
  Block b;
  b.n = random_size(rng);
  b.seed = static_cast<std::uint32_t>(rng());
  const std::size_t align = std::size_t{1} << (rng() % 17);   // 1 .. 64 KiB
  switch (rng() % 8) {
    case 0: {
      void* p = nullptr;
      if (posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, b.n) != 0) p = nullptr;
      b.p = static_cast<unsigned char*>(p);
      if (b.p && reinterpret_cast<std::uintptr_t>(b.p) % (align < sizeof(void*) ? sizeof(void*) : align)) report("posix_memalign misaligned", b);
      break;
    }
    case 1:
      b.p = static_cast<unsigned char*>(aligned_alloc(align, b.n));
      if (b.p && reinterpret_cast<std::uintptr_t>(b.p) % align) report("aligned_alloc misaligned", b);
      break;
    case 2:
      b.p = static_cast<unsigned char*>(memalign(align, b.n));
      if (b.p && reinterpret_cast<std::uintptr_t>(b.p) % align) report("memalign misaligned", b);
      break;
    case 3: {
      b.p = static_cast<unsigned char*>(calloc(1, b.n));
      for (std::size_t i = 0; b.p && i < b.n; ++i)
        if (b.p[i] != 0) {
          report("calloc not zeroed", b);
          break;
        }
      break;
    }
    default:
      b.p = static_cast<unsigned char*>(malloc(b.n));
  }
  if (!b.p) {
    report("allocation failed", b);
    return b;
  }
  if (reinterpret_cast<std::uintptr_t>(b.p) % 16) report("not 16-byte aligned", b);
  if (malloc_usable_size(b.p) < b.n) report("usable size below request", b);
  fill(b);
  return b;
}

void release(Block& b) {
  if (!intact(b, b.n)) report("pattern corrupted", b);
  const int saved = errno = 4242;
  free(b.p);
  if (errno != saved) report("free changed errno", b);
  b.p = nullptr;
}

void worker(int id, long operations, unsigned seed, std::atomic<int>* fork_gate) {
  std::mt19937 rng(seed * 7919 + static_cast<unsigned>(id));
  std::vector<Block> mine;
  for (long op = 0; op < operations; ++op) {
    if (id == 0 && op == operations / 2) fork_gate->store(1);
    const unsigned r = rng() % 100;
    if (r < 40 || mine.size() < 16) {
      Block b = allocate(rng);
      if (b.p) mine.push_back(b);
    } else if (r < 60) {
      std::size_t i = rng() % mine.size();
      release(mine[i]);
      mine[i] = mine.back();
      mine.pop_back();
    } else if (r < 72) {   // hand to another thread
      std::size_t i = rng() % mine.size();
      g_exchange.put(mine[i]);
      mine[i] = mine.back();
      mine.pop_back();
    } else if (r < 84) {   // free another thread's block
      Block b;
      if (g_exchange.take(b, rng)) release(b);
    } else {               // realloc: contents kept up to the smaller size
      std::size_t i = rng() % mine.size();
      Block& b = mine[i];
      std::size_t n = random_size(rng);
      if (!intact(b, b.n)) report("pattern corrupted before realloc", b);
      auto* q = static_cast<unsigned char*>(realloc(b.p, n));
      if (!q) {
        report("realloc failed", b);
        continue;
      }
      b.p = q;
      if (!intact(b, n)) report("realloc lost contents", b);
      b.n = n;
      fill(b);
    }
    if (mine.size() > 2000) {
      for (auto& b : mine) release(b);
      mine.clear();
    }
  }
  for (auto& b : mine) release(b);
}

// In the child of a fork taken while every thread is busy: other threads' blocks can be checked
// and freed, and new blocks allocated.
int child_after_fork() {
  std::mt19937 rng(99);
  // The forking thread holds the exchange's lock (taken before fork, so the list is consistent).
  auto& handed = g_exchange.blocks;
  for (int freed = 0; freed < 200 && !handed.empty(); ++freed) {
    Block b = handed.back();
    handed.pop_back();
    if (!intact(b, b.n)) return 2;
    free(b.p);
  }
  std::vector<Block> mine;
  for (int i = 0; i < 5000; ++i) {
    Block n = allocate(rng);
    if (!n.p) return 3;
    mine.push_back(n);
  }
  for (auto& m : mine)
    if (!intact(m, m.n)) return 4;
  for (auto& m : mine) free(m.p);
  std::thread t([] { for (int i = 0; i < 1000; ++i) free(malloc(static_cast<std::size_t>(i % 300 + 1))); });
  t.join();
  return g_errors.load() == 0 ? 0 : 5;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 4;
  const long operations = argc > 2 ? std::atol(argv[2]) : 200000;
  const unsigned seed = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 1;
  std::atomic<int> fork_gate{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker, i, operations, seed, &fork_gate);
  while (fork_gate.load() == 0) std::this_thread::yield();
  std::unique_lock exchange_held(g_exchange.lock);
  pid_t pid = fork();
  if (pid == 0) _exit(child_after_fork());
  exchange_held.unlock();
  int status = 0;
  waitpid(pid, &status, 0);
  for (auto& t : pool) t.join();
  Block b;
  std::mt19937 rng(1);
  while (g_exchange.take(b, rng)) release(b);
  const bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("pool_stress: %d threads x %ld operations: %ld errors; fork child %s (status %d)\n", threads,
              operations, g_errors.load(), child_ok ? "ok" : "FAILED", status);
  return g_errors.load() == 0 && child_ok ? 0 : 1;
}
