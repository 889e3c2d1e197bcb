// watch_target: threads with known access patterns, for the watchpoint sampler's integration test.
//
//   watch_target [--seconds S] [--short-ms M] [--mib N]
//
// Thread A sweeps buffer X, thread B sweeps buffer Y, buffer Z is written once at start-up (so it
// is resident) and never touched again; thread C sweeps buffer W for M ms and exits (a thread that
// exits while probes are armed on it). Each buffer is N MiB (default 4) in its own mapping. The
// process exits after S seconds (default 3). Once every buffer is resident it prints one line:
//   ready A=<tid> B=<tid> C=<tid> X=<start>-<end> Y=... Z=... W=...
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

struct Buffer {
  std::uint64_t* words = nullptr;
  std::size_t count = 0;
  std::uintptr_t start() const { return reinterpret_cast<std::uintptr_t>(words); }
  std::uintptr_t end() const { return start() + count * sizeof(std::uint64_t); }
};

Buffer map_buffer(std::size_t bytes) {
  // A guard page on each side keeps the kernel from merging neighbouring buffers into one mapping.
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, bytes + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mprotect(static_cast<char*>(p) + page, bytes, PROT_READ | PROT_WRITE) != 0) {
    std::perror("watch_target: mmap");
    std::exit(2);
  }
  Buffer b{reinterpret_cast<std::uint64_t*>(static_cast<char*>(p) + page), bytes / sizeof(std::uint64_t)};
  std::memset(b.words, 1, bytes);
  return b;
}

void sweep_until(const Buffer& b, const std::atomic<bool>& stop, std::atomic<int>& tid) {
  tid = static_cast<int>(gettid());
  std::uint64_t sum = 0;
  while (!stop.load(std::memory_order_relaxed))
    for (std::size_t i = 0; i < b.count; ++i) sum += b.words[i]++;
  if (sum == 42) std::puts("");   // keep the loop
}

double arg(int argc, char** argv, const char* name, double fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) {
      char* end = nullptr;
      double v = std::strtod(argv[i + 1], &end);
      if (*end || v < 0) {
        std::fprintf(stderr, "watch_target: %s needs a non-negative number, not '%s'\n", name, argv[i + 1]);
        std::exit(2);
      }
      return v;
    }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = arg(argc, argv, "--seconds", 3);
  const double short_ms = arg(argc, argv, "--short-ms", 300);
  const std::size_t bytes = static_cast<std::size_t>(arg(argc, argv, "--mib", 4) * (1 << 20));
  Buffer x = map_buffer(bytes), y = map_buffer(bytes), z = map_buffer(bytes), w = map_buffer(bytes);
  std::atomic<bool> stop{false}, stop_short{false};
  std::atomic<int> a_tid{0}, b_tid{0}, c_tid{0};
  std::thread a([&] { sweep_until(x, stop, a_tid); });
  std::thread b([&] { sweep_until(y, stop, b_tid); });
  std::thread c([&] { sweep_until(w, stop_short, c_tid); });
  while (!a_tid || !b_tid || !c_tid) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::printf("ready A=%d B=%d C=%d X=%#lx-%#lx Y=%#lx-%#lx Z=%#lx-%#lx W=%#lx-%#lx\n", a_tid.load(), b_tid.load(),
              c_tid.load(), x.start(), x.end(), y.start(), y.end(), z.start(), z.end(), w.start(), w.end());
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(short_ms));
  stop_short = true;
  c.join();
  std::this_thread::sleep_until(t0 + std::chrono::duration<double>(seconds));
  stop = true;
  a.join();
  b.join();
  return 0;
}
