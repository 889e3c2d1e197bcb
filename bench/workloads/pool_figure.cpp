// The seed's pool figure: acquire ns, release ns and ops/s for a batch of same-size objects taken
// and given back by one thread (the seed measured 11.2 ns acquire, 9.8 ns release, 89 M ops/s).
// One op is one acquire or one release; ops/s counts both over the timed batches.
// Output: {"workload":"pool_figure","size":64,"batch":K,"acquire_ns":a,"release_ns":r,"ops_per_s":o}
#include <algorithm>
#include <cstdlib>

#include "common.hpp"

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::size_t size = args.get("size", 64);
  const std::size_t batch = args.get("batch", 256);
  const std::uint64_t rounds = args.get("rounds", 20'000);
  std::vector<void*> objects(batch, nullptr);
  for (std::uint64_t r = 0; r < rounds / 8 + 1; ++r) {  // warm-up
    for (auto& p : objects) p = std::malloc(size);
    for (auto* p : objects) std::free(p);
  }
  // Timed in blocks of rounds; the fastest block is reported (see pair_latency.cpp for why).
  const std::uint64_t blocks = std::max<std::uint64_t>(1, args.get("blocks", 10));
  const std::uint64_t per_block = std::max<std::uint64_t>(1, rounds / blocks);
  double best_acquire = 1e300, best_release = 1e300, best_total = 1e300;
  for (std::uint64_t b = 0; b < blocks; ++b) {
    std::uint64_t acquire_ns = 0, release_ns = 0;
    for (std::uint64_t r = 0; r < per_block; ++r) {
      const std::uint64_t t0 = bench::now_ns();
      for (auto& p : objects) {
        p = std::malloc(size);
        bench::escape(p);
      }
      const std::uint64_t t1 = bench::now_ns();
      for (auto* p : objects) std::free(p);
      const std::uint64_t t2 = bench::now_ns();
      acquire_ns += t1 - t0;
      release_ns += t2 - t1;
    }
    best_acquire = std::min(best_acquire, double(acquire_ns));
    best_release = std::min(best_release, double(release_ns));
    best_total = std::min(best_total, double(acquire_ns + release_ns));
  }
  const double ops = double(per_block) * double(batch);
  bench::JsonLine()
      .str("workload", "pool_figure")
      .num("size", double(size))
      .num("batch", double(batch))
      .num("rounds", double(rounds))
      .num("acquire_ns", best_acquire / ops)
      .num("release_ns", best_release / ops)
      .num("ops_per_s", 2.0 * ops / (best_total * 1e-9))
      .print();
}
