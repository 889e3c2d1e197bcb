// Medium sizes: T threads each churn a window of live objects whose requests are 35 % 16..1024 B
// and 65 % 1..32 KiB (log-uniform), so medium blocks are about two thirds of the calls and over
// 95 % of the bytes. Each new block has its first and last cache line written. The pools serve
// up to NUMA_AGENT_SMALL_MAX (default 1 KiB); the rest goes to the real allocator.
// Output: {"workload":"medium_sizes","mops_per_s":x,"medium_call_share":..,"medium_byte_share":..}
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common.hpp"

namespace {

struct Tally {
  std::uint64_t calls = 0, medium_calls = 0, bytes = 0, medium_bytes = 0;
};

std::size_t pick_size(bench::Rng& rng) {
  if (rng.next() % 100 < 35) return rng.between(16, 1024);
  // log-uniform in (1 KiB, 32 KiB]
  const double u = double(rng.next() >> 11) * (1.0 / 9007199254740992.0);
  return std::size_t(1024.0 * std::exp2(5.0 * u)) + 1;
}

void churn(std::size_t window, std::uint64_t ops, std::uint64_t seed, Tally* tally) {
  bench::Rng rng(seed);
  std::vector<void*> live(window, nullptr);
  Tally t;
  for (std::uint64_t i = 0; i < ops + window; ++i) {
    const std::size_t k = i < window ? i : rng.next() % window;
    std::free(live[k]);
    std::size_t n = pick_size(rng);
    n = n > 32 * 1024 ? 32 * 1024 : n;
    auto* p = static_cast<char*>(std::malloc(n));
    p[0] = 1;
    p[n - 1] = 1;
    if (n > 128) std::memset(p + n - 64, 0, 64);
    live[k] = p;
    ++t.calls;
    t.bytes += n;
    if (n > 1024) ++t.medium_calls, t.medium_bytes += n;
  }
  for (void* p : live) std::free(p);
  *tally = t;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned threads = unsigned(args.get("threads", 2));
  const std::size_t window = args.get("window", 2000);     // live objects per thread
  const std::uint64_t ops = args.get("ops", 2'000'000);    // replacements per thread
  std::vector<Tally> tallies(threads);
  const std::uint64_t t0 = bench::now_ns();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(churn, window, ops, t + 1, &tallies[t]);
  for (auto& th : pool) th.join();
  const std::uint64_t t1 = bench::now_ns();
  Tally all;
  for (auto& t : tallies) all.calls += t.calls, all.medium_calls += t.medium_calls, all.bytes += t.bytes, all.medium_bytes += t.medium_bytes;
  bench::JsonLine()
      .str("workload", "medium_sizes")
      .num("threads", threads)
      .num("ops", double(all.calls))
      .num("mops_per_s", double(all.calls) / (double(t1 - t0) * 1e-3))
      .num("medium_call_share", double(all.medium_calls) / double(all.calls))
      .num("medium_byte_share", double(all.medium_bytes) / double(all.bytes))
      .rusage(t1 - t0)
      .print();
}
