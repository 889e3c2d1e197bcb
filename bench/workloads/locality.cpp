// Locality of each thread's small objects, for a multi-node machine (or guest).
// Scenario (a server whose worker threads come and go): a first generation of T workers (default:
// one per CPU) allocates `kib_per_thread` of 16..1024 B objects, frees 7 in 8 of them (the rest
// stay live, as caches do, so the allocator cannot give the memory back) and exits. A second
// generation of T workers then allocates and first-touches the same amount, and reads and writes
// it for `seconds`. Reported per second-generation thread: how many of its objects' pages sit on
// the node of the CPU it runs on (move_pages query mode), right after allocation and again after
// the work phase; for the work phase: the kernel's NUMA-balancing hint faults
// (/proc/vmstat numa_hint_faults[_local]).
// Output: {"workload":"locality","nodes":N,"threads":[{"cpu":c,"node":n,"pages":p,"local_pages":l,
//          "end_cpu":c,"end_node":n,"end_local_pages":l},...],"hint_faults":h,"hint_faults_local":hl}
#include <numa.h>
#include <numaif.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common.hpp"

namespace {

std::map<std::string, std::uint64_t> vmstat() {
  std::map<std::string, std::uint64_t> out;
  std::ifstream in("/proc/vmstat");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) out[key] = value;
  return out;
}

struct Placement {  // where a thread ran and how many of its pages were on that CPU's node
  int cpu = -1;
  int node = -1;
  std::size_t pages = 0;
  std::size_t local_pages = 0;
};

Placement measure(std::vector<void*>& pages) {
  Placement r;
  r.cpu = sched_getcpu();
  r.node = numa_node_of_cpu(r.cpu);
  std::vector<int> status(pages.size(), -1);
  if (move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0) == 0) {
    r.pages = pages.size();
    for (int s : status) r.local_pages += (s == r.node);
  }
  return r;
}

struct ThreadResult {
  Placement after_alloc;  // right after the thread allocated and first-touched its objects
  Placement after_work;   // after the work phase (NUMA balancing may have moved pages or the thread)
};

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned threads = unsigned(args.get("threads", std::thread::hardware_concurrency()));
  const std::size_t bytes_per_thread = args.get("kib_per_thread", 8192) * 1024;
  const std::uint64_t seconds = args.get("seconds", 5);
  if (numa_available() < 0) {
    std::fprintf(stderr, "locality: libnuma says NUMA is not available here\n");
    return 3;
  }
  const long page = sysconf(_SC_PAGESIZE);
  // First generation: leaves freed, already-touched memory behind in the allocator.
  std::vector<void*> kept;
  std::mutex kept_lock;
  {
    std::vector<std::thread> first;
    for (unsigned t = 0; t < threads; ++t) {
      first.emplace_back([&, t] {
        bench::Rng rng(t + 101);
        std::vector<void*> mine;
        for (std::size_t total = 0; total < bytes_per_thread;) {
          std::size_t n = rng.between(16, 1024);
          void* p = std::malloc(n);
          std::memset(p, 1, n);
          mine.push_back(p);
          total += n;
        }
        std::lock_guard<std::mutex> lock(kept_lock);
        for (std::size_t i = 0; i < mine.size(); ++i) {
          if (i % 8 == 0) kept.push_back(mine[i]);
          else std::free(mine[i]);
        }
      });
    }
    for (auto& w : first) w.join();
  }
  std::vector<ThreadResult> results(threads);
  std::atomic<unsigned> allocated{0};
  std::atomic<bool> work{false}, stop{false};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      bench::Rng rng(t + 1);
      std::vector<char*> objects;
      std::vector<std::size_t> sizes;
      for (std::size_t total = 0; total < bytes_per_thread;) {
        std::size_t n = rng.between(16, 1024);
        char* p = static_cast<char*>(std::malloc(n));
        std::memset(p, int(t), n);
        objects.push_back(p);
        sizes.push_back(n);
        total += n;
      }
      std::set<std::uintptr_t> page_set;
      for (std::size_t i = 0; i < objects.size(); ++i) {
        auto a = reinterpret_cast<std::uintptr_t>(objects[i]);
        for (std::uintptr_t q = a & ~std::uintptr_t(page - 1); q < a + sizes[i]; q += page) page_set.insert(q);
      }
      std::vector<void*> pages;
      for (auto q : page_set) pages.push_back(reinterpret_cast<void*>(q));
      results[t].after_alloc = measure(pages);
      allocated.fetch_add(1);
      while (!work.load()) std::this_thread::yield();
      std::uint64_t sum = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < objects.size(); ++i) {
          sum += static_cast<unsigned char>(objects[i][0]);
          objects[i][sizes[i] - 1] = static_cast<char>(sum);
        }
      }
      bench::escape(&sum);
      results[t].after_work = measure(pages);
      for (auto* p : objects) std::free(p);
    });
  }
  while (allocated.load() != threads) std::this_thread::yield();
  auto before = vmstat();
  work.store(true);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop.store(true);
  for (auto& w : workers) w.join();
  auto after = vmstat();
  for (auto* p : kept) std::free(p);
  std::string rows;
  for (const auto& r : results) {
    char row[320];
    std::snprintf(row, sizeof row,
                  "%s{\"cpu\": %d, \"node\": %d, \"pages\": %zu, \"local_pages\": %zu, "
                  "\"end_cpu\": %d, \"end_node\": %d, \"end_local_pages\": %zu}",
                  rows.empty() ? "" : ", ", r.after_alloc.cpu, r.after_alloc.node, r.after_alloc.pages,
                  r.after_alloc.local_pages, r.after_work.cpu, r.after_work.node, r.after_work.local_pages);
    rows += row;
  }
  bench::JsonLine()
      .str("workload", "locality")
      .num("nodes", numa_max_node() + 1)
      .num("seconds", double(seconds))
      .raw("threads", "[" + rows + "]")
      .num("hint_faults", double(after["numa_hint_faults"] - before["numa_hint_faults"]))
      .num("hint_faults_local", double(after["numa_hint_faults_local"] - before["numa_hint_faults_local"]))
      .print();
}
