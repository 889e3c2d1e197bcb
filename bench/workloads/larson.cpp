// Larson-style server churn (after Larson & Krishnan, ISMM'98): T threads each own a table of
// live objects of random small sizes and replace random entries; after each round a thread hands
// its table to a fresh thread and exits, as in the original benchmark (the thread starts its
// successor and ends; nobody joins it), so objects are freed by threads that did not allocate
// them, and threads come and go as in a server.
// Output: {"workload":"larson","threads":T,"mops_per_s":x}
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common.hpp"

namespace {

struct Table {
  std::vector<void*> slots;
  bench::Rng rng;
};

struct Chains {  // how many tables are still being worked on
  std::mutex mutex;
  std::condition_variable all_done;
  unsigned left = 0;
  std::atomic<std::uint64_t> ops_done{0};
};

void round_then_hand_over(Table* table, std::uint64_t ops, unsigned rounds_left, Chains* chains) {
  for (std::uint64_t i = 0; i < ops; ++i) {
    std::size_t slot = table->rng.next() % table->slots.size();
    std::free(table->slots[slot]);
    void* p = std::malloc(table->rng.between(16, 1024));
    *static_cast<volatile char*>(p) = 1;
    table->slots[slot] = p;
  }
  chains->ops_done.fetch_add(ops, std::memory_order_relaxed);
  if (rounds_left > 1) {
    std::thread(round_then_hand_over, table, ops, rounds_left - 1, chains).detach();
    return;
  }
  std::lock_guard<std::mutex> lock(chains->mutex);
  if (--chains->left == 0) chains->all_done.notify_one();
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned threads = unsigned(args.get("threads", 2));
  const std::size_t slots = args.get("slots", 1000);
  const std::uint64_t ops = args.get("ops", 200'000);      // per round per thread
  const unsigned rounds = unsigned(args.get("rounds", 10));
  std::vector<Table> tables;
  for (unsigned t = 0; t < threads; ++t) {
    tables.push_back(Table{std::vector<void*>(slots), bench::Rng(t + 11)});
    for (auto& p : tables.back().slots) p = std::malloc(tables.back().rng.between(16, 1024));
  }
  Chains chains;
  chains.left = threads;
  const std::uint64_t t0 = bench::now_ns();
  for (auto& table : tables) std::thread(round_then_hand_over, &table, ops, rounds, &chains).detach();
  {
    std::unique_lock<std::mutex> lock(chains.mutex);
    chains.all_done.wait(lock, [&] { return chains.left == 0; });
  }
  const std::uint64_t t1 = bench::now_ns();
  const double done = double(chains.ops_done.load());
  for (auto& table : tables)
    for (auto* p : table.slots) std::free(p);
  bench::JsonLine()
      .str("workload", "larson")
      .num("threads", threads)
      .num("ops", done)
      .num("mops_per_s", done / (double(t1 - t0) * 1e-3))
      .print();
}
