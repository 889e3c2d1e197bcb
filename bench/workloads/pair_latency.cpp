// Single-thread malloc+free pair latency per size class with a small live window: the pattern of
// a hot path that allocates a short-lived object and frees an older one.
// Output: {"workload":"pair_latency","window":W,"pairs":N,"sizes":[{"size":16,"ns_per_pair":fastest chunk,
//          "ns_per_pair_mean":all chunks},...]}
#include <algorithm>
#include <cstdlib>

#include "common.hpp"

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::uint64_t pairs = args.get("pairs", 2'000'000);
  const std::size_t window = args.get("window", 16);  // power of two
  const std::uint64_t chunks = std::max<std::uint64_t>(1, args.get("chunks", 10));
  const auto sizes = args.list("sizes", {16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024});
  if (window == 0 || (window & (window - 1)) != 0) {
    std::fprintf(stderr, "window=%zu: must be a power of two\n", window);
    return 2;
  }
  std::vector<void*> live(window, nullptr);
  std::string rows;
  for (std::uint64_t size : sizes) {
    for (auto& p : live) p = std::malloc(size);
    // Warm-up: the allocator's caches for this class are filled before timing.
    for (std::uint64_t i = 0; i < pairs / 8; ++i) {
      std::size_t slot = i & (window - 1);
      std::free(live[slot]);
      live[slot] = std::malloc(size);
      bench::escape(live[slot]);
    }
    // Timed in chunks; the fastest chunk is reported. On a shared machine a chunk that lost the
    // CPU to another process measures the scheduler, not the allocator.
    double best = 1e300, total_ns = 0;
    const std::uint64_t per_chunk = pairs / chunks;
    for (std::uint64_t c = 0; c < chunks; ++c) {
      const std::uint64_t t0 = bench::now_ns();
      for (std::uint64_t i = 0; i < per_chunk; ++i) {
        std::size_t slot = i & (window - 1);
        std::free(live[slot]);
        void* p = std::malloc(size);
        *static_cast<volatile char*>(p) = static_cast<char>(i);
        live[slot] = p;
      }
      const double ns = double(bench::now_ns() - t0);
      best = std::min(best, ns / double(per_chunk));
      total_ns += ns;
    }
    for (auto& p : live) std::free(p);
    char row[160];
    std::snprintf(row, sizeof row, "%s{\"size\": %llu, \"ns_per_pair\": %.4f, \"ns_per_pair_mean\": %.4f}",
                  rows.empty() ? "" : ", ", static_cast<unsigned long long>(size), best,
                  total_ns / double(per_chunk * chunks));
    rows += row;
  }
  bench::JsonLine()
      .str("workload", "pair_latency")
      .num("window", double(window))
      .num("pairs", double(pairs))
      .raw("sizes", "[" + rows + "]")
      .print();
}
