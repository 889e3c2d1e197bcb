// Fast-path instruction counts, meant to run under `valgrind --tool=callgrind --collect-atstart=no`:
// collection is switched on only around batches of malloc calls (then only around free calls)
// on a warm allocator, and each phase is dumped separately. Batches are small (4 objects, within
// every allocator's per-thread cache) so the count is the fast path, not a refill. A baseline phase with the same loop
// shape and no allocator call lets bench/run subtract the loop's own instructions.
// Output (stdout, outside valgrind the counts are not meaningful): {"workload":"fastpath",...}
#include <cstdlib>

#include "common.hpp"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#else
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(name) ((void)(name))
#define HAVE_CALLGRIND 0
#endif

namespace {
constexpr std::size_t kBatch = 4;
void* volatile g_sink;  // where the baseline stores, like the real phases store pointers
}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::size_t size = args.get("size", 64);
  const std::uint64_t rounds = args.get("rounds", 2000);
  void* objects[kBatch];
  for (int warm = 0; warm < 100; ++warm) {
    for (auto& p : objects) p = std::malloc(size);
    for (auto* p : objects) std::free(p);
  }
  for (std::uint64_t r = 0; r < rounds; ++r) {
    CALLGRIND_TOGGLE_COLLECT;
    for (auto& p : objects) {
      p = std::malloc(size);
      bench::escape(p);
    }
    CALLGRIND_TOGGLE_COLLECT;
    for (auto* p : objects) std::free(p);
  }
  CALLGRIND_DUMP_STATS_AT("phase-malloc");
  for (std::uint64_t r = 0; r < rounds; ++r) {
    for (auto& p : objects) {
      p = std::malloc(size);
      bench::escape(p);
    }
    CALLGRIND_TOGGLE_COLLECT;
    for (auto* p : objects) {
      std::free(p);
      bench::escape(p);
    }
    CALLGRIND_TOGGLE_COLLECT;
  }
  CALLGRIND_DUMP_STATS_AT("phase-free");
  for (std::uint64_t r = 0; r < rounds; ++r) {
    CALLGRIND_TOGGLE_COLLECT;
    for (auto& p : objects) {
      p = g_sink;
      bench::escape(p);
    }
    CALLGRIND_TOGGLE_COLLECT;
  }
  CALLGRIND_DUMP_STATS_AT("phase-baseline");
  bench::JsonLine()
      .str("workload", "fastpath")
      .num("size", double(size))
      .num("calls_per_phase", double(rounds * kBatch))
      .num("callgrind_header", HAVE_CALLGRIND)
      .print();
}
