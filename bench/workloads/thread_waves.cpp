// Thread churn in waves (after mimalloc-bench's mstress): each wave creates T threads and joins
// them. A thread allocates objects of mixed sizes -- mostly <= 1 KiB by count, large by bytes: 87 %
// 16..1024 B, 12 % 1..32 KiB, 1 % 32..512 KiB -- writes every page of each, keeps some in its own
// list (freed when it ends) and swaps others into a table shared by all threads and all waves,
// freeing whatever it takes out: blocks allocated by other threads, often by threads of earlier
// waves that have exited. So frees are largely cross-thread and to heaps whose thread is gone.
// Output: {"workload":"thread_waves","seconds":s,"user_s":..,"sys_s":..,"peak_rss_kib":..}
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common.hpp"

namespace {

struct Shared {
  std::vector<std::atomic<void*>> table;
  std::uint64_t ops;
  explicit Shared(std::size_t slots, std::uint64_t ops_per_thread) : table(slots), ops(ops_per_thread) {}
};

std::size_t pick_size(bench::Rng& rng) {
  const std::uint64_t r = rng.next() % 100;
  if (r == 0) return rng.between(32 * 1024 + 1, 512 * 1024);
  if (r < 13) return rng.between(1025, 32 * 1024);
  return rng.between(16, 1024);
}

void* make(bench::Rng& rng) {
  const std::size_t n = pick_size(rng);
  auto* p = static_cast<char*>(std::malloc(n));
  for (std::size_t at = 0; at < n; at += 4096) p[at] = char(at);   // every page, as a user would
  p[n - 1] = 1;
  return p;
}

void worker(Shared* shared, std::uint64_t seed) {
  bench::Rng rng(seed);
  std::vector<void*> own;   // objects this thread keeps until it ends
  own.reserve(shared->ops / 4 + 1);
  for (std::uint64_t i = 0; i < shared->ops; ++i) {
    const std::uint64_t r = rng.next() % 4;
    if (r == 0) {
      own.push_back(make(rng));
    } else if (r == 1 && !own.empty()) {   // free one of its own
      std::size_t k = rng.next() % own.size();
      std::free(own[k]);
      own[k] = own.back();
      own.pop_back();
    } else {                               // trade with the shared table
      std::size_t k = rng.next() % shared->table.size();
      std::free(shared->table[k].exchange(make(rng), std::memory_order_acq_rel));
    }
  }
  for (void* p : own) std::free(p);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned threads = unsigned(args.get("threads", 2));
  const unsigned waves = unsigned(args.get("waves", 200));
  const std::uint64_t ops = args.get("ops", 2000);          // per thread per wave
  const std::size_t slots = args.get("slots", 1000);
  Shared shared(slots, ops);
  const std::uint64_t t0 = bench::now_ns();
  for (unsigned w = 0; w < waves; ++w) {
    std::vector<std::thread> wave;
    for (unsigned t = 0; t < threads; ++t) wave.emplace_back(worker, &shared, std::uint64_t(w) * threads + t + 1);
    for (auto& th : wave) th.join();
  }
  const std::uint64_t t1 = bench::now_ns();
  for (auto& slot : shared.table) std::free(slot.load());
  bench::JsonLine()
      .str("workload", "thread_waves")
      .num("threads", threads)
      .num("waves", waves)
      .num("seconds", double(t1 - t0) * 1e-9)
      .num("threads_per_s", double(threads) * waves / (double(t1 - t0) * 1e-9))
      .rusage(t1 - t0)
      .print();
}
