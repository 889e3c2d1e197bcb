// watch_scenario: memory traffic with a known remote share, for the watchpoint sampler in
// multi-node guests with NUMA balancing off and memory bound with plain MPOL_BIND.
//
//   watch_scenario SCENARIO [--seconds S] [--mib M] [--truth FILE]
//
// One worker per node, pinned to that node's CPUs, sweeps (reads every 8-byte word of) its own
// M MiB buffer (default 64), bound with plain mbind(MPOL_BIND) (no MPOL_F_NUMA_BALANCING: the
// kernel takes no hint faults on it):
//   local       buffer on the worker's node                                  remote 0
//   remote      buffer on the next node                                      remote 1
//   half        first half on the worker's node, second half on the next     remote 0.5
//   imbalanced  every buffer on node 0; workers off node 0 rest twice as long
//               as each sweep took after every sweep                         remote < (N-1)/N
// The truth is measured, not assumed: each worker records the node of the CPU it runs on at every
// sweep (sched_getcpu) and where each page of its buffer is (move_pages, after first touch and
// again at the end), and remote_share = words swept from a CPU of another node than the word's
// page / all words swept. Writes "remote_share=<x> sweeps=<n> moved_pages=<n>" to FILE and stdout.
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class Scenario { Local, Remote, Half, Imbalanced };

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "watch_scenario: %s\n", what.c_str());
  std::exit(2);
}

struct Worker {
  int node = 0;
  std::uint64_t* words = nullptr;
  std::size_t bytes = 0;
  std::vector<int> page_nodes;          // after first touch
  std::uint64_t sweeps = 0, words_swept = 0, remote_words = 0, moved_pages = 0;
};

void bind(void* addr, std::size_t bytes, int node) {
  unsigned long mask[16] = {};
  mask[node / 64] |= 1ul << (node % 64);
  if (mbind(addr, bytes, MPOL_BIND, mask, 1024, 0) != 0) die(std::string("mbind: ") + std::strerror(errno));
}

std::vector<int> query_nodes(const Worker& w) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<void*> pages;
  for (std::size_t off = 0; off < w.bytes; off += page) pages.push_back(reinterpret_cast<char*>(w.words) + off);
  std::vector<int> status(pages.size(), -1);
  if (move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0) != 0) die(std::string("move_pages: ") + std::strerror(errno));
  return status;
}

void pin_to_node(int node) {
  bitmask* cpus = numa_allocate_cpumask();
  if (numa_node_to_cpus(node, cpus) != 0) die("numa_node_to_cpus");
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned c = 0; c < cpus->size; ++c)
    if (numa_bitmask_isbitset(cpus, c)) CPU_SET(c, &set);
  numa_free_cpumask(cpus);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) die(std::string("sched_setaffinity: ") + std::strerror(errno));
}

void work(Worker& w, bool rests, const std::atomic<bool>& stop) {
  pin_to_node(w.node);
  std::memset(w.words, 1, w.bytes);   // first touch, under the buffer's binding
  w.page_nodes = query_nodes(w);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t per_page = page / sizeof(std::uint64_t), count = w.bytes / sizeof(std::uint64_t);
  volatile std::uint64_t sink = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const auto t0 = std::chrono::steady_clock::now();
    const int cpu_node = numa_node_of_cpu(sched_getcpu());
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < count; ++i) sum += w.words[i];
    sink = sink + sum;
    ++w.sweeps;
    w.words_swept += count;
    for (int n : w.page_nodes) w.remote_words += n != cpu_node ? per_page : 0;
    if (rests) {
      const auto took = std::chrono::steady_clock::now() - t0;
      const auto until = std::chrono::steady_clock::now() + 2 * took;
      while (!stop.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::vector<int> after = query_nodes(w);
  for (std::size_t i = 0; i < after.size(); ++i) w.moved_pages += after[i] != w.page_nodes[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: watch_scenario local|remote|half|imbalanced [--seconds S] [--mib M] [--truth FILE]");
  const std::string name = argv[1];
  Scenario s;
  if (name == "local") s = Scenario::Local;
  else if (name == "remote") s = Scenario::Remote;
  else if (name == "half") s = Scenario::Half;
  else if (name == "imbalanced") s = Scenario::Imbalanced;
  else die("unknown scenario '" + name + "' (local, remote, half, imbalanced)");
  double seconds = 10, mib = 64;
  std::string truth;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) die(a + " needs a value");
    char* end = nullptr;
    if (a == "--truth") truth = argv[++i];
    else if (a == "--seconds" || a == "--mib") {
      double v = std::strtod(argv[++i], &end);
      if (*end || !(v > 0)) die(a + " needs a positive number, not '" + argv[i] + "'");
      (a == "--seconds" ? seconds : mib) = v;
    } else die("unknown option " + a);
  }
  if (numa_available() < 0) die("no NUMA support");
  const int nodes = numa_max_node() + 1;
  if (nodes < 2) die("needs at least 2 NUMA nodes");
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t bytes = (static_cast<std::size_t>(mib * (1 << 20)) + page - 1) / page * page;

  std::vector<Worker> workers(static_cast<std::size_t>(nodes));
  for (int k = 0; k < nodes; ++k) {
    Worker& w = workers[static_cast<std::size_t>(k)];
    w.node = k;
    w.bytes = bytes;
    void* p = mmap(nullptr, bytes + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    char* b = static_cast<char*>(p) + page;   // guard pages: every buffer its own mapping
    if (mprotect(b, bytes, PROT_READ | PROT_WRITE) != 0) die("mprotect");
    w.words = reinterpret_cast<std::uint64_t*>(b);
    const int next = (k + 1) % nodes;
    switch (s) {
      case Scenario::Local: bind(b, bytes, k); break;
      case Scenario::Remote: bind(b, bytes, next); break;
      case Scenario::Half:
        bind(b, bytes / 2, k);
        bind(b + bytes / 2, bytes - bytes / 2, next);
        break;
      case Scenario::Imbalanced: bind(b, bytes, 0); break;
    }
  }
  std::printf("watch_scenario %s buffers:", name.c_str());
  for (const auto& w : workers) std::printf(" %p", static_cast<void*>(w.words));
  std::printf("\n");
  std::fflush(stdout);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back(work, std::ref(w), s == Scenario::Imbalanced && w.node != 0, std::cref(stop));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();

  std::uint64_t swept = 0, remote = 0, sweeps = 0, moved = 0;
  for (const auto& w : workers) swept += w.words_swept, remote += w.remote_words, sweeps += w.sweeps, moved += w.moved_pages;
  char line[160];
  std::snprintf(line, sizeof line, "remote_share=%.4f sweeps=%llu moved_pages=%llu", swept ? double(remote) / double(swept) : -1.0,
                (unsigned long long)sweeps, (unsigned long long)moved);
  std::printf("watch_scenario %s %s\n", name.c_str(), line);
  if (!truth.empty()) {
    FILE* f = std::fopen(truth.c_str(), "w");
    if (!f) die("cannot write " + truth);
    std::fprintf(f, "%s\n", line);
    std::fclose(f);
  }
  return 0;
}
