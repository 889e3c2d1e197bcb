// Server churn: T chains of worker threads. A worker serves `ops` requests, each replacing a
// random 16..1000 B object -- half of them in its chain's own table (inherited from the worker
// before it, as in Larson), half in a table shared by every chain, so blocks are freed by other
// live threads and by threads that replaced their allocators. Then it starts its successor and
// exits without being joined; the successor starts while its predecessor is still ending, as in a
// server that replaces workers. `generations` workers per chain.
// Output: {"workload":"server_churn","mops_per_s":x,"user_s":..,"sys_s":..,"peak_rss_kib":..}
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include "common.hpp"

namespace {

struct Common {
  std::vector<std::atomic<void*>> shared;
  std::uint64_t ops;
  std::mutex mutex;
  std::condition_variable all_done;
  unsigned chains_left;
  std::atomic<std::uint64_t> done{0};
  Common(std::size_t slots, std::uint64_t ops_, unsigned chains) : shared(slots), ops(ops_), chains_left(chains) {}
};

struct Chain {
  Common* common;
  std::vector<void*> own;
  bench::Rng rng;
  unsigned generations_left;
};

void* alloc_object(bench::Rng& rng) {
  void* p = std::malloc(rng.between(16, 1000));
  *static_cast<volatile char*>(p) = 1;
  return p;
}

void* worker(void* arg) {
  auto* chain = static_cast<Chain*>(arg);
  Common* c = chain->common;
  bench::Rng& rng = chain->rng;
  for (std::uint64_t i = 0; i < c->ops; ++i) {
    const std::uint64_t r = rng.next();
    if (r & 1) {
      void*& slot = chain->own[(r >> 1) % chain->own.size()];
      std::free(slot);
      slot = alloc_object(rng);
    } else {
      std::free(c->shared[(r >> 1) % c->shared.size()].exchange(alloc_object(rng), std::memory_order_acq_rel));
    }
  }
  c->done.fetch_add(c->ops, std::memory_order_relaxed);
  if (--chain->generations_left > 0) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t next;
    if (pthread_create(&next, &attr, worker, chain) != 0) std::abort();
    pthread_attr_destroy(&attr);
    return nullptr;
  }
  std::lock_guard lock(c->mutex);
  if (--c->chains_left == 0) c->all_done.notify_one();
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned chains = unsigned(args.get("threads", 2));
  const std::size_t slots = args.get("slots", 2000);            // per chain and shared per chain
  const std::uint64_t ops = args.get("ops", 100'000);           // per worker
  const unsigned generations = unsigned(args.get("generations", 30));
  Common common(slots * chains, ops, chains);
  std::vector<Chain> list;
  list.reserve(chains);
  for (unsigned t = 0; t < chains; ++t) {
    list.push_back(Chain{&common, std::vector<void*>(slots), bench::Rng(t + 5), generations});
    for (auto& p : list.back().own) p = alloc_object(list.back().rng);
  }
  for (auto& slot : common.shared) slot.store(alloc_object(list[0].rng));
  const std::uint64_t t0 = bench::now_ns();
  for (auto& chain : list) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    if (pthread_create(&th, &attr, worker, &chain) != 0) std::abort();
    pthread_attr_destroy(&attr);
  }
  {
    std::unique_lock lock(common.mutex);
    common.all_done.wait(lock, [&] { return common.chains_left == 0; });
  }
  const std::uint64_t t1 = bench::now_ns();
  for (auto& chain : list)
    for (void* p : chain.own) std::free(p);
  for (auto& slot : common.shared) std::free(slot.load());
  const double done = double(common.done.load());
  bench::JsonLine()
      .str("workload", "server_churn")
      .num("threads", chains)
      .num("ops", done)
      .num("mops_per_s", done / (double(t1 - t0) * 1e-3))
      .rusage(t1 - t0)
      .print();
}
