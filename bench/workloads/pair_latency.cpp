// Single-thread malloc+free pair latency per size class with a small live window: the pattern of
// a hot path that allocates a short-lived object and frees an older one.
// Output: {"workload":"pair_latency","window":W,"pairs":N,"sizes":[{"size":16,"ns_per_pair":x},...]}
#include <cstdlib>

#include "common.hpp"

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::uint64_t pairs = args.get("pairs", 2'000'000);
  const std::size_t window = args.get("window", 16);  // power of two
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
    const std::uint64_t t0 = bench::now_ns();
    for (std::uint64_t i = 0; i < pairs; ++i) {
      std::size_t slot = i & (window - 1);
      std::free(live[slot]);
      void* p = std::malloc(size);
      *static_cast<volatile char*>(p) = static_cast<char>(i);
      live[slot] = p;
    }
    const std::uint64_t t1 = bench::now_ns();
    for (auto& p : live) std::free(p);
    char row[128];
    std::snprintf(row, sizeof row, "%s{\"size\": %llu, \"ns_per_pair\": %.4f}", rows.empty() ? "" : ", ",
                  static_cast<unsigned long long>(size), double(t1 - t0) / double(pairs));
    rows += row;
  }
  bench::JsonLine()
      .str("workload", "pair_latency")
      .num("window", double(window))
      .num("pairs", double(pairs))
      .raw("sizes", "[" + rows + "]")
      .print();
}
