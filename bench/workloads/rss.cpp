// Peak resident memory for a fixed live set: T threads each build a table of random small
// objects, free a random half, refill it, and free everything. bench/run reads the child's peak
// RSS (wait4 ru_maxrss); the workload reports the bytes it asked for so the overhead is visible.
// Output: {"workload":"rss","threads":T,"live_bytes":B}
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common.hpp"

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned threads = unsigned(args.get("threads", 2));
  const std::size_t objects = args.get("objects", 100'000);  // per thread
  std::atomic<std::uint64_t> peak_live{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      bench::Rng rng(t + 3);
      std::vector<void*> table(objects);
      std::vector<std::size_t> sizes(objects);
      std::uint64_t live = 0;
      for (std::size_t i = 0; i < objects; ++i) {
        sizes[i] = rng.between(16, 1024);
        table[i] = std::malloc(sizes[i]);
        std::memset(table[i], 1, sizes[i]);
        live += sizes[i];
      }
      for (std::size_t i = 0; i < objects; ++i) {
        if (rng.next() & 1) {
          std::free(table[i]);
          live -= sizes[i];
          sizes[i] = rng.between(16, 1024);
          table[i] = std::malloc(sizes[i]);
          std::memset(table[i], 2, sizes[i]);
          live += sizes[i];
        }
      }
      peak_live.fetch_add(live);
      for (auto* p : table) std::free(p);
    });
  }
  for (auto& w : workers) w.join();
  bench::JsonLine()
      .str("workload", "rss")
      .num("threads", threads)
      .num("live_bytes", double(peak_live.load()))
      .print();
}
