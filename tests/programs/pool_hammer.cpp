// pool_hammer: the volume stress. T threads run N malloc/free operations in all, random pool-class
// sizes, a third of the blocks handed to another thread through lock-free rings and freed there;
// every block carries its owner's stamp at both ends (neighbours that overlap, a block handed out
// twice or a corrupted free list break a stamp). Meanwhile the main thread forks F times: each
// child allocates, checks and frees, starts a thread that does the same, and exits. The workers
// go on past N operations until the last fork is reaped, so every fork meets busy allocators.
// Plain malloc/free: run it under LD_PRELOAD=libnumaagent.so. Exit 0 = no corruption.
//
//   pool_hammer [threads=8] [operations=100000000] [forks=100] [seed=1]
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "../../bench/workloads/spsc_ring.hpp"

namespace {

std::atomic<long> g_errors{0};

void report(const char* what, const void* p, std::size_t n) {
  if (g_errors.fetch_add(1) < 10) std::fprintf(stderr, "pool_hammer: %s: block %p size %zu\n", what, p, n);
}

// A block's size sits in its first 4 bytes (the receiver of a handed block must know it); the
// stamp fills the rest of the first 8 and the last 8 bytes (blocks are at least 16 bytes).
std::uint64_t stamp_of(std::size_t n, const void* p) {
  auto a = reinterpret_cast<std::uintptr_t>(p);
  return (std::uint64_t{static_cast<std::uint32_t>(n)}) | (std::uint64_t{static_cast<std::uint32_t>(a * 2654435761u)} << 32);
}

void* make(std::size_t n) {
  auto* p = static_cast<unsigned char*>(std::malloc(n));
  if (!p) {
    report("malloc failed", p, n);
    return nullptr;
  }
  const std::uint64_t s = stamp_of(n, p);
  std::memcpy(p, &s, 8);
  std::memcpy(p + n - 8, &s, 8);
  return p;
}

void check_and_free(void* v) {
  auto* p = static_cast<unsigned char*>(v);
  std::uint64_t head, tail;
  std::memcpy(&head, p, 8);
  const std::size_t n = static_cast<std::uint32_t>(head);
  if (n < 16 || n > 4096) {
    report("head stamp corrupted", p, n);
    return;   // leak it rather than free a block we cannot trust
  }
  std::memcpy(&tail, p + n - 8, 8);
  if (head != stamp_of(n, p) || tail != head) report("stamp corrupted", p, n);
  std::free(p);
}

// One ring per (sender, receiver) pair.
using Ring = bench::SpscRing<1024>;

struct Rng {  // xorshift64*: cheap enough not to dominate a malloc/free pair
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

std::size_t random_size(Rng& rng) {
  const std::uint64_t r = rng.next();
  return (r >> 8) % 8 == 0 ? 16 + (r >> 16) % 4081 : 16 + (r >> 16) % 497;   // mostly <= 512 B
}

struct Shared {
  int threads = 0;
  std::vector<std::unique_ptr<Ring>> rings;   // rings[from * threads + to]
  std::atomic<long> operations{0}, handed{0};
  std::atomic<int> running{0};
  std::atomic<bool> forks_done{false};   // workers keep going until the fork storm is over
  Ring& ring(int from, int to) { return *rings[static_cast<std::size_t>(from * threads + to)]; }
};

long drain_incoming(Shared& s, int me) {
  long freed = 0;
  for (int from = 0; from < s.threads; ++from)
    while (void* p = s.ring(from, me).pop()) check_and_free(p), ++freed;
  return freed;
}

void worker(Shared& s, int me, long operations, std::uint64_t seed) {
  Rng rng{seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(me) + 1};
  std::vector<void*> live;
  live.reserve(4096);
  long ops = 0, handed = 0;
  while (ops < operations || !s.forks_done.load(std::memory_order_relaxed)) {
    const std::uint64_t r = rng.next();
    if (live.size() < 64 || (r % 3 == 0 && live.size() < 4000)) {
      if (void* p = make(random_size(rng))) live.push_back(p);
      ++ops;
    } else {
      const std::size_t i = (r >> 8) % live.size();
      void* p = live[i];
      live[i] = live.back();
      live.pop_back();
      const int to = static_cast<int>((r >> 40) % static_cast<std::uint64_t>(s.threads));
      if ((r >> 4) % 3 == 0 && to != me && s.ring(me, to).push(p)) {
        ++handed;   // freed (and counted) by its receiver
      } else {
        check_and_free(p);
        ++ops;
      }
    }
    if ((ops & 63) == 0) ops += drain_incoming(s, me);
  }
  for (void* p : live) check_and_free(p);
  s.operations.fetch_add(ops + static_cast<long>(live.size()));
  s.handed.fetch_add(handed);
  // Keep taking what others hand over until every worker is done sending.
  s.running.fetch_sub(1);
  while (s.running.load() > 0) s.operations.fetch_add(drain_incoming(s, me)), usleep(200);
  s.operations.fetch_add(drain_incoming(s, me));
}

// A child of a fork taken while every worker allocates and frees.
int child_work(std::uint64_t seed) {
  Rng rng{seed | 1};
  std::vector<void*> blocks;
  for (int i = 0; i < 2000; ++i)
    if (void* p = make(random_size(rng))) blocks.push_back(p);
  for (void* p : blocks) check_and_free(p);
  std::thread t([&] {
    Rng r2{seed * 3 | 1};
    for (int i = 0; i < 2000; ++i) check_and_free(make(random_size(r2)));
  });
  t.join();
  return g_errors.load() == 0 ? 0 : 1;
}

long peak_rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::atol(line + 6);
  std::fclose(f);
  return kib;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  const long operations = argc > 2 ? std::atol(argv[2]) : 100'000'000;
  const int forks = argc > 3 ? std::atoi(argv[3]) : 100;
  const std::uint64_t seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1;
  if (threads < 2 || operations < threads || forks < 0) {
    std::fprintf(stderr, "usage: pool_hammer [threads>=2] [operations] [forks] [seed]\n");
    return 2;
  }
  Shared s;
  s.threads = threads;
  for (int i = 0; i < threads * threads; ++i) s.rings.push_back(std::make_unique<Ring>());
  s.running.store(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker, std::ref(s), i, operations / threads, seed);
  int forks_ok = 0;
  double fork_ms = 0, wait_ms = 0;
  auto now_ms = [] { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  for (int f = 0; f < forks; ++f) {
    const double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) _exit(child_work(seed + static_cast<std::uint64_t>(f)));
    const double t1 = now_ms();
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) ++forks_ok;
    else report("fork child failed", nullptr, static_cast<std::size_t>(status));
    fork_ms += t1 - t0, wait_ms += now_ms() - t1;
    usleep(1000);
  }
  s.forks_done.store(true);
  for (auto& t : pool) t.join();
  std::printf("pool_hammer: %d threads, %ld operations, %ld handed to another thread, %d forks ok, peak RSS %ld KiB: %ld errors"
              " (per fork: %.2f ms in fork, %.2f ms until the child was reaped)\n",
              threads, s.operations.load(), s.handed.load(), forks_ok, peak_rss_kib(), g_errors.load(),
              forks_ok ? fork_ms / forks_ok : 0.0, forks_ok ? wait_ms / forks_ok : 0.0);
  return g_errors.load() == 0 ? 0 : 1;
}
