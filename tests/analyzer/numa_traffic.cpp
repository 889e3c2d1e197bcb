// numa_traffic: a memory-traffic generator whose remote share is known by construction, for
// known-answer checks of numa-analyze in multi-node guests (and as a threaded program on the host).
//
//   numa_traffic SCENARIO [--seconds S] [--mib M] [--threads-per-node K] [--truth FILE]
//
// Threads are pinned to the CPUs of one node; arrays are placed with mbind(MPOL_BIND |
// MPOL_F_NUMA_BALANCING) so that NUMA balancing still scans them (hint faults: the PMU-less
// access signal) but never migrates them (the truth stays true while we measure).
//   all-local    thread k on node n reads/writes its own array on node n          remote 0
//   all-remote   thread on node n, its array on node n+1                           remote 1
//   half-remote  one thread on node 0, its array half on node 0, half on node 1    remote 0.5
//   migrating    one thread hopping over all nodes every 250 ms, array on node 0   remote (N-1)/N
//   shared-hot   one array on node 0 read by one thread per node                   remote (N-1)/N
//   imbalanced   one thread per node, each with its own array, all on node 0       remote (N-1)/N
// --truth FILE receives {"scenario", "nodes", "threads", "remote_share", "measured_remote_share",
// "top"}: remote_share is the design value above (share of the working set each thread touches
// remotely); measured_remote_share counts bytes swept from a CPU of the chunk's node or not,
// which differs when threads run at different speeds (as vCPUs of a busy TCG guest do); top is
// the recommendation kind numa-analyze should rank first, or "none".
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr unsigned kMpolFNumaBalancing = 1u << 13;   // linux/mempolicy.h, kernel >= 5.15

int node_count() { return numa_available() < 0 ? 1 : numa_num_configured_nodes(); }

std::vector<int> cpus_of(int node) {
  std::vector<int> cpus;
  if (numa_available() < 0) {
    for (int c = 0; c < static_cast<int>(std::thread::hardware_concurrency()); ++c) cpus.push_back(c);
    return cpus;
  }
  bitmask* mask = numa_allocate_cpumask();
  if (numa_node_to_cpus(node, mask) == 0)
    for (unsigned c = 0; c < mask->size; ++c)
      if (numa_bitmask_isbitset(mask, c)) cpus.push_back(static_cast<int>(c));
  numa_free_cpumask(mask);
  return cpus;
}

void pin_to_node(int node) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus_of(node)) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("numa_traffic: sched_setaffinity");
}

// `bytes` of anonymous memory, each part i placed on nodes[i] (equal parts), first-touched.
char* place(std::size_t bytes, const std::vector<int>& nodes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("numa_traffic: mmap");
    std::exit(1);
  }
  madvise(p, bytes, MADV_NOHUGEPAGE);   // 4 KiB pages: hint faults and move_pages per page
  std::size_t part = bytes / nodes.size();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (numa_available() < 0) break;
    unsigned long mask = 1UL << nodes[i];
    char* start = static_cast<char*>(p) + i * part;
    if (mbind(start, part, MPOL_BIND | kMpolFNumaBalancing, &mask, sizeof(mask) * 8, 0) != 0 &&
        mbind(start, part, MPOL_BIND, &mask, sizeof(mask) * 8, 0) != 0)
      std::perror("numa_traffic: mbind");
  }
  std::memset(p, 1, bytes);
  return static_cast<char*>(p);
}

std::atomic<bool> stop{false};
// The truth as it happened: bytes swept from the node that holds them vs from another node
// (the nominal share assumes equal speed everywhere, which a TCG guest does not give).
std::atomic<unsigned long long> local_bytes{0}, remote_bytes{0};
constexpr std::size_t kChunk = 1 << 20;

// Where each 1 MiB chunk of an array lives, by construction (see place()).
struct Array {
  char* data;
  std::size_t bytes;
  std::vector<int> nodes;   // equal parts, as placed
  int node_of(std::size_t offset) const { return nodes[offset / (bytes / nodes.size())]; }
};

// Sweeps `a` from `start` round and round. Readers of a shared array start at different offsets:
// hint faults sample the first access to each page after a NUMA scan, and readers sweeping in
// lockstep would hand every first access to whichever is a little ahead.
void work(const Array& a, std::atomic<unsigned long>* sink, std::size_t start = 0) {
  unsigned long sum = 0;
  unsigned long long local = 0, remote = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    for (std::size_t k = 0; k < a.bytes; k += kChunk) {
      std::size_t c = (start + k) % a.bytes;
      int cpu = sched_getcpu();
      int here = numa_available() < 0 || cpu < 0 ? 0 : numa_node_of_cpu(cpu);
      for (std::size_t i = c; i < c + kChunk && i < a.bytes; i += 64) sum += static_cast<unsigned char>(a.data[i]);
      for (std::size_t i = c; i < c + kChunk && i < a.bytes; i += 4096) a.data[i] = static_cast<char>(sum);
      (here == a.node_of(c) ? local : remote) += kChunk;
    }
  }
  local_bytes += local;
  remote_bytes += remote;
  sink->fetch_add(sum);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: numa_traffic all-local|all-remote|half-remote|migrating|shared-hot|imbalanced "
                         "[--seconds S] [--mib M] [--threads-per-node K] [--truth FILE]\n");
    return 2;
  }
  std::string scenario = argv[1];
  double seconds = 3;
  std::size_t mib = 32;
  int per_node = 1;
  std::string truth_path;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (opt == "--mib") mib = std::strtoul(argv[i + 1], nullptr, 10);
    else if (opt == "--threads-per-node") per_node = std::atoi(argv[i + 1]);
    else if (opt == "--truth") truth_path = argv[i + 1];
    else {
      std::fprintf(stderr, "numa_traffic: unknown option %s\n", opt.c_str());
      return 2;
    }
  }
  const int nodes = node_count();
  const std::size_t bytes = mib << 20;
  double remote = 0;
  std::string top = "none";
  std::atomic<unsigned long> sink{0};
  std::vector<std::thread> threads;
  auto spawn = [&](int node, Array a, std::size_t start = 0) {
    threads.emplace_back([=, &sink] {
      pin_to_node(node);
      work(a, &sink, start);
    });
  };
  auto array = [&](std::vector<int> on) { return Array{place(bytes, on), bytes, on}; };
  if ((scenario != "all-local") && nodes < 2) {
    std::fprintf(stderr, "numa_traffic: %s needs at least 2 NUMA nodes\n", scenario.c_str());
    return 77;
  }
  if (scenario == "all-local") {
    for (int n = 0; n < nodes; ++n)
      for (int k = 0; k < per_node; ++k) {
        pin_to_node(n);   // first touch from the node itself (the main thread moves, then places)
        spawn(n, array({n}));
      }
  } else if (scenario == "all-remote") {
    for (int n = 0; n < nodes; ++n)
      for (int k = 0; k < per_node; ++k) spawn(n, array({(n + 1) % nodes}));
    remote = 1, top = "colocate";
  } else if (scenario == "half-remote") {
    spawn(0, array({0, 1}));
    remote = 0.5, top = "colocate";
  } else if (scenario == "migrating") {
    Array data = array({0});
    threads.emplace_back([=, &sink] {
      // Hop over every node; each stint is long enough for the work loop to run many passes.
      std::thread worker([&] { work(data, &sink); });
      pthread_t handle = worker.native_handle();
      for (int hop = 0; !stop.load(); ++hop) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int c : cpus_of(hop % nodes)) CPU_SET(c, &set);
        pthread_setaffinity_np(handle, sizeof(set), &set);
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      worker.join();
    });
    remote = double(nodes - 1) / nodes, top = "pin-threads";
  } else if (scenario == "shared-hot") {
    Array data = array({0});
    for (int n = 0; n < nodes; ++n) spawn(n, data, (bytes / nodes / kChunk) * kChunk * n);
    remote = double(nodes - 1) / nodes, top = "interleave";
  } else if (scenario == "imbalanced") {
    for (int n = 0; n < nodes; ++n) spawn(n, array({0}));
    remote = double(nodes - 1) / nodes, top = "colocate";
  } else {
    std::fprintf(stderr, "numa_traffic: unknown scenario '%s'\n", scenario.c_str());
    return 2;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double measured = local_bytes + remote_bytes ? double(remote_bytes) / double(local_bytes + remote_bytes) : 0;
  if (!truth_path.empty()) {
    std::ofstream out(truth_path);
    out << "{\"scenario\": \"" << scenario << "\", \"nodes\": " << nodes << ", \"threads\": " << threads.size()
        << ", \"remote_share\": " << remote << ", \"measured_remote_share\": " << measured << ", \"top\": \"" << top
        << "\"}\n";
  }
  std::printf("numa_traffic %s: %d node(s), %zu worker thread(s), %.1f s, checksum %lu\n", scenario.c_str(), nodes,
              threads.size(), seconds, sink.load());
  return 0;
}
