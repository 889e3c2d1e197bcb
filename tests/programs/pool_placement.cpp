// pool_placement: do small blocks land on the allocating thread's NUMA node, from the pools?
//
// One thread per allowed CPU (the agent pins them) allocates and touches blocks of 16..1024 bytes.
// For each thread, the pages of its blocks are asked for their node with move_pages (query mode)
// and compared with the node of the CPU the thread ran on when it allocated; and each block's
// mapping must carry the pools' node policy ("prefer:N" in /proc/self/numa_maps), which glibc's
// heap never has. Prints the figures; exit 0 when ≥ 99 % of pages are local and ≥ 99 % of blocks
// are in pool mappings, 1 otherwise. Also prints the lowest and highest block address, so that a
// caller can check them against the profile's pools.reserved_range.
//
//   pool_placement [threads (default: one per allowed CPU)] [blocks per thread=4000]
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct ThreadResult {
  int cpu = -1;
  int node = -1;
  std::vector<void*> blocks;
};

// Start address → (end, policy) of every mapping of this process.
std::map<std::uintptr_t, std::pair<std::uintptr_t, std::string>> mappings() {
  std::map<std::uintptr_t, std::pair<std::uintptr_t, std::string>> out;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::uintptr_t start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &start, &end) == 2) out[start] = {end, ""};
  }
  std::ifstream numa("/proc/self/numa_maps");
  for (std::string line; std::getline(numa, line);) {
    std::istringstream in(line);
    std::string address, policy;
    in >> address >> policy;
    auto it = out.find(std::strtoull(address.c_str(), nullptr, 16));
    if (it != out.end()) it->second.second = policy;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (numa_available() < 0) {
    std::puts("pool_placement: libnuma says NUMA is not available");
    return 77;
  }
  cpu_set_t allowed;
  sched_getaffinity(0, sizeof allowed, &allowed);
  const int threads = argc > 1 ? std::atoi(argv[1]) : CPU_COUNT(&allowed);
  const int per_thread = argc > 2 ? std::atoi(argv[2]) : 4000;

  std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ThreadResult& r = results[static_cast<std::size_t>(t)];
      r.cpu = sched_getcpu();
      r.node = numa_node_of_cpu(r.cpu);
      for (int i = 0; i < per_thread; ++i) {
        std::size_t n = 16 + static_cast<std::size_t>(i * 37 % 1009);
        auto* p = static_cast<unsigned char*>(std::malloc(n));
        for (std::size_t k = 0; k < n; k += 64) p[k] = static_cast<unsigned char>(k);
        r.blocks.push_back(p);
      }
    });
  }
  for (auto& t : pool) t.join();

  const auto maps = mappings();
  long pages_total = 0, pages_local = 0, blocks_total = 0, blocks_pooled = 0;
  std::uintptr_t lowest = UINTPTR_MAX, highest = 0;
  const long page = sysconf(_SC_PAGESIZE);
  for (std::size_t t = 0; t < results.size(); ++t) {
    const ThreadResult& r = results[t];
    std::set<std::uintptr_t> page_set;
    long pooled = 0;
    for (void* b : r.blocks) {
      auto a = reinterpret_cast<std::uintptr_t>(b);
      lowest = std::min(lowest, a);
      highest = std::max(highest, a);
      page_set.insert(a & ~static_cast<std::uintptr_t>(page - 1));
      auto it = maps.upper_bound(a);
      if (it != maps.begin() && a < std::prev(it)->second.first &&
          std::prev(it)->second.second == "prefer:" + std::to_string(r.node))
        ++pooled;
    }
    std::vector<void*> pages;
    for (auto p : page_set) pages.push_back(reinterpret_cast<void*>(p));
    std::vector<int> status(pages.size(), -1);
    if (move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0) != 0) {
      std::perror("move_pages");
      return 1;
    }
    long local = std::count(status.begin(), status.end(), r.node);
    std::printf("thread %zu cpu %d node %d: %ld/%zu pages on its node, %ld/%zu blocks in pool mappings of its node\n", t,
                r.cpu, r.node, local, pages.size(), pooled, r.blocks.size());
    pages_total += static_cast<long>(pages.size());
    pages_local += local;
    blocks_total += static_cast<long>(r.blocks.size());
    blocks_pooled += pooled;
  }
  const double local_pct = 100.0 * static_cast<double>(pages_local) / static_cast<double>(pages_total);
  const double pooled_pct = 100.0 * static_cast<double>(blocks_pooled) / static_cast<double>(blocks_total);
  std::printf("pool placement: %.2f %% of %ld pages on the allocating thread's node; %.2f %% of %ld blocks from pools\n",
              local_pct, pages_total, pooled_pct, blocks_total);
  std::printf("block range: 0x%" PRIxPTR " 0x%" PRIxPTR "\n", lowest, highest);
  for (auto& r : results)
    for (void* b : r.blocks) std::free(b);
  return local_pct >= 99.0 && pooled_pct >= 99.0 ? 0 : 1;
}
