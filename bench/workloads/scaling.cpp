// T-thread scaling: T threads each churn their own small window of mixed small sizes; all start
// together at a barrier (thread creation is not timed). Reports aggregate pairs per second for
// each T in threads=1,2,...
// Output: {"workload":"scaling","pairs_per_thread":N,"points":[{"threads":1,"mpairs_per_s":x},...]}
#include <atomic>
#include <cstdlib>
#include <thread>

#include "common.hpp"

namespace {

void churn(std::uint64_t pairs, std::uint64_t seed) {
  constexpr std::size_t kWindow = 64;
  void* live[kWindow];
  bench::Rng rng(seed);
  for (auto& p : live) p = std::malloc(rng.between(16, 1024));
  for (std::uint64_t i = 0; i < pairs; ++i) {
    std::size_t slot = rng.next() % kWindow;
    std::free(live[slot]);
    void* p = std::malloc(16 * rng.between(1, 64));
    *static_cast<volatile char*>(p) = 1;
    live[slot] = p;
  }
  for (auto* p : live) std::free(p);
}

double run(unsigned threads, std::uint64_t pairs) {
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      churn(pairs, t + 1);
    });
  }
  while (ready.load() != threads) std::this_thread::yield();
  const std::uint64_t t0 = bench::now_ns();
  go.store(true, std::memory_order_release);
  for (auto& w : workers) w.join();
  const std::uint64_t t1 = bench::now_ns();
  return double(threads) * double(pairs) / (double(t1 - t0) * 1e-3);  // pairs per µs = M/s
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::uint64_t pairs = args.get("pairs", 2'000'000);
  const auto counts = args.list("threads", {1, 2});
  std::string rows;
  for (std::uint64_t t : counts) {
    char row[96];
    std::snprintf(row, sizeof row, "%s{\"threads\": %llu, \"mpairs_per_s\": %.4f}", rows.empty() ? "" : ", ",
                  static_cast<unsigned long long>(t), run(unsigned(t), pairs));
    rows += row;
  }
  bench::JsonLine()
      .str("workload", "scaling")
      .num("pairs_per_thread", double(pairs))
      .raw("points", "[" + rows + "]")
      .print();
}
