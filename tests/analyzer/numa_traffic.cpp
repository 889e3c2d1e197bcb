// numa_traffic: a memory-traffic generator whose remote share is known by construction, for
// known-answer checks of numa-analyze in multi-node guests (and as a threaded program on the host).
//
//   numa_traffic SCENARIO [--seconds S] [--mib M] [--threads-per-node K] [--truth FILE]
//                [--scans N] [--deadline S]
//
// Threads are pinned to the CPUs of one node; arrays are placed with mbind(MPOL_BIND |
// MPOL_F_NUMA_BALANCING) so that NUMA balancing still scans them (hint faults: the PMU-less
// access signal) but never migrates them (the truth stays true while we measure).
//   all-local    thread k on node n places and works on its own array on node n     remote 0
//   all-remote   thread on node n, its array on node n+1                             remote 1
//   half-remote  one thread on node 0, its array half on node 0, half on node 1      remote 0.5
//   migrating    one thread hopping over all nodes every 250 ms, array on node 0     remote (N-1)/N
//   shared-hot   one array on node 0 read by one thread per node                     remote (N-1)/N
//   imbalanced   one thread per node, each with its own array, all on node 0         remote (N-1)/N
// The main thread stays on node 0 and only waits: it is not part of any scenario's traffic, so
// it must not look like a thread that hops between nodes. Every array is its own mapping (guard
// pages on both sides): the kernel merges adjacent anonymous mappings with the same policy, and
// two threads' arrays merged into one mapping would look like one array shared by two nodes.
//
// --scans N (multi-node test guests, as root): run at least S seconds and N paced NUMA-balancing
// scans; pacing switches /proc/sys/kernel/numa_balancing off after each scan until every worker has
// swept its whole array once (then on again; the original value is restored on exit). Hint faults
// sample the first access to each page after a scan; unpaced, a worker whose vCPU a busy TCG host
// starves for a second misses part of a scan, and its node's share drifts (measured 0.81 instead
// of 0.75 on 4 nodes). Paced, every scan is sampled completely by every thread.
// --deadline S: the whole run ends within S seconds whatever happens (exit 3, one line): no
// guest step may hang.
// --truth FILE receives {"scenario", "nodes", "threads", "remote_share", "measured_remote_share",
// "top", "scans", "scans_wanted", "seconds"}: remote_share is the design value above (share of the
// working set each thread touches remotely); measured_remote_share counts bytes swept from a CPU
// of the chunk's node or not, which differs when threads run at different speeds (as vCPUs of a
// busy TCG guest do); top is the recommendation kind numa-analyze should rank first, or "none";
// scans counts the completely sampled scans.
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr unsigned kMpolFNumaBalancing = 1u << 13;   // linux/mempolicy.h, kernel >= 5.15
constexpr std::size_t kChunk = 1 << 20;
constexpr std::size_t kPage = 4096;

// The machine's nodes and CPUs, read once before any worker starts (libnuma's node/CPU caches are
// not meant to be filled from several threads at once).
struct Machine {
  bool numa = false;
  int nodes = 1;
  std::vector<std::vector<int>> cpus_of_node;
  std::vector<int> node_of_cpu;

  static Machine probe() {
    Machine m;
    m.numa = numa_available() >= 0;
    m.nodes = m.numa ? numa_num_configured_nodes() : 1;
    m.cpus_of_node.resize(static_cast<std::size_t>(m.nodes));
    int cpus = m.numa ? numa_num_configured_cpus() : static_cast<int>(std::thread::hardware_concurrency());
    m.node_of_cpu.assign(static_cast<std::size_t>(std::max(cpus, 1)), 0);
    for (int c = 0; c < cpus; ++c) {
      int node = m.numa ? numa_node_of_cpu(c) : 0;
      if (node < 0 || node >= m.nodes) continue;   // offline CPU
      m.node_of_cpu[static_cast<std::size_t>(c)] = node;
      m.cpus_of_node[static_cast<std::size_t>(node)].push_back(c);
    }
    return m;
  }
  int node_here() const {
    int cpu = sched_getcpu();
    return cpu >= 0 && static_cast<std::size_t>(cpu) < node_of_cpu.size() ? node_of_cpu[static_cast<std::size_t>(cpu)] : 0;
  }
  cpu_set_t cpu_set(int node) const {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus_of_node[static_cast<std::size_t>(node)]) CPU_SET(c, &set);
    return set;
  }
};

const Machine& machine() {
  static const Machine m = Machine::probe();
  return m;
}

void pin_to_node(int node) {
  if (!machine().numa) return;
  cpu_set_t set = machine().cpu_set(node);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("numa_traffic: sched_setaffinity");
}

// An array whose equal parts sit on the given nodes, by construction.
struct Array {
  char* data = nullptr;
  std::size_t bytes = 0;
  std::vector<int> nodes;   // equal parts, as placed
  int node_of(std::size_t offset) const { return nodes[offset / (bytes / nodes.size())]; }
};

// `bytes` of anonymous memory, each part i placed on nodes[i] (equal parts), first-touched by the
// calling thread. One guard page on each side keeps it a mapping of its own.
Array place(std::size_t bytes, const std::vector<int>& nodes) {
  char* region = static_cast<char*>(
      mmap(nullptr, bytes + 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (region == MAP_FAILED) {
    std::perror("numa_traffic: mmap");
    std::exit(1);
  }
  if (mprotect(region, kPage, PROT_NONE) != 0 || mprotect(region + kPage + bytes, kPage, PROT_NONE) != 0) {
    std::perror("numa_traffic: mprotect (guard pages)");
    std::exit(1);
  }
  char* p = region + kPage;
  madvise(p, bytes, MADV_NOHUGEPAGE);   // 4 KiB pages: hint faults and move_pages per page
  std::size_t part = bytes / nodes.size();
  for (std::size_t i = 0; i < nodes.size() && machine().numa; ++i) {
    unsigned long mask = 1UL << nodes[i];
    char* start = p + i * part;
    if (mbind(start, part, MPOL_BIND | kMpolFNumaBalancing, &mask, sizeof(mask) * 8, 0) != 0 &&
        mbind(start, part, MPOL_BIND, &mask, sizeof(mask) * 8, 0) != 0)
      std::perror("numa_traffic: mbind");
  }
  std::memset(p, 1, bytes);
  return {p, bytes, nodes};
}

std::atomic<bool> stop{false};

// Paced scans (--scans, see main): NUMA balancing is off except while the kernel scans, and the
// workers touch their memory only in rounds, one per completed scan. In a round every worker
// sweeps its whole array once; readers of a shared array sweep their own slice first and wait for
// each other before reading on, so that each page's single hint fault goes to the reader that
// owns its slice rather than to whoever wins the race with the scanning thread. Between rounds the
// workers spin without touching memory (the kernel starts a scan from a running thread's tick).
std::atomic<bool> paced{false};
std::atomic<unsigned> round_wanted{0};
std::atomic<int> slices_left{0};

// One worker: where it runs, what it sweeps, and what it counted.
struct Worker {
  int node = 0;                                // -1: placed by someone else (the hopper moves it)
  std::vector<int> place_on;                   // non-empty: the worker places its own array there,
  std::size_t place_bytes = 0;                 //   this large, after pinning itself
  std::shared_ptr<const Array> shared;         // else it sweeps this array
  std::size_t start = 0;                       // first byte of each sweep (readers of a shared array)
  std::size_t slice = 0;                       // readers: bytes from `start` that are theirs in a round
  std::atomic<int> round_node{-1};             // >= 0: sweep the rounds from this node (migrating)
  std::atomic<bool> placed{false};
  std::atomic<unsigned> round_done{0};
  std::atomic<unsigned long long> sweeps{0};
  unsigned long long local_bytes = 0, remote_bytes = 0;
  unsigned long sum = 0;
  pthread_t thread{};
};

// Reads every cache line and writes one byte per page of `length` bytes from `from` (wrapping);
// false when stopped half-way.
bool sweep(Worker& w, const Array& a, std::size_t from, std::size_t length) {
  for (std::size_t k = 0; k < length; k += kChunk) {
    if (stop.load(std::memory_order_relaxed)) return false;
    std::size_t c = (from + k) % a.bytes;
    std::size_t end = std::min({c + kChunk, a.bytes, c + (length - k)});
    int here = machine().node_here();
    for (std::size_t i = c; i < end; i += 64) w.sum += static_cast<unsigned char>(a.data[i]);
    for (std::size_t i = c; i < end; i += kPage) a.data[i] = static_cast<char>(w.sum);
    (here == a.node_of(c) ? w.local_bytes : w.remote_bytes) += end - c;
  }
  return true;
}

// Sweeps the array round and round (or, paced, once per round). Readers of a shared array start
// at different offsets, so that unpaced they do not sweep in lockstep either.
void work(Worker& w) {
  if (w.node >= 0) pin_to_node(w.node);
  std::optional<Array> own;
  if (!w.place_on.empty()) own = place(w.place_bytes, w.place_on);
  const Array& a = own ? *own : *w.shared;
  w.placed = true;
  unsigned done = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    unsigned round = round_wanted.load(std::memory_order_acquire);
    if (round != done) {
      if (int node = w.round_node.load(); node >= 0) pin_to_node(node);
      if (w.slice > 0) {
        if (!sweep(w, a, w.start, w.slice)) break;
        slices_left.fetch_sub(1);
        while (slices_left.load() > 0 && !stop.load(std::memory_order_relaxed)) {
        }
      }
      if (!sweep(w, a, w.start, a.bytes)) break;
      ++w.sweeps;
      done = round;
      w.round_done.store(round, std::memory_order_release);
    } else if (!paced.load(std::memory_order_relaxed)) {
      if (!sweep(w, a, w.start, a.bytes)) break;
      ++w.sweeps;
    }
  }
}

void* run_worker(void* worker) {
  work(*static_cast<Worker*>(worker));
  return nullptr;
}

// Starts the worker already on its node's CPUs (a thread created elsewhere that pins itself
// would cross nodes once at start, which the analyzer rightly counts as a migration).
void start(Worker& w) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (w.node >= 0 && machine().numa) {
    cpu_set_t set = machine().cpu_set(w.node);
    pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
  }
  int rc = pthread_create(&w.thread, &attr, run_worker, &w);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    std::fprintf(stderr, "numa_traffic: pthread_create: %s\n", std::strerror(rc));
    std::exit(1);
  }
}

// Completed NUMA-balancing scans of this process's address space, or nothing where the kernel
// does not say (no CONFIG_NUMA_BALANCING).
std::optional<long> numa_scan_seq() {
  std::ifstream in("/proc/self/sched");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("mm->numa_scan_seq", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return std::strtol(line.c_str() + colon + 1, nullptr, 10);
    }
  return std::nullopt;
}

// The NUMA-balancing switch. --scans paces the kernel's scans with it (see main).
constexpr const char* kBalancing = "/proc/sys/kernel/numa_balancing";
std::optional<int> read_balancing() {
  std::ifstream in(kBalancing);
  int v = 0;
  if (in >> v) return v;
  return std::nullopt;
}
// The value to put back on exit (a signal handler reads it): -1 while nothing was changed.
volatile sig_atomic_t balancing_to_restore = -1;
bool write_balancing(int v) {
  int fd = open(kBalancing, O_WRONLY);
  if (fd < 0) return false;
  char text[16];
  int n = std::snprintf(text, sizeof text, "%d\n", v);
  bool ok = write(fd, text, static_cast<std::size_t>(n)) == n;
  close(fd);
  return ok;
}
void restore_balancing() {
  if (balancing_to_restore >= 0) write_balancing(balancing_to_restore);   // open/write: async-signal-safe
}

void deadline_passed(int) {
  restore_balancing();
  static const char msg[] = "numa_traffic: deadline passed before the scenario finished (set-up, scans or settle too slow)\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(3);
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: numa_traffic all-local|all-remote|half-remote|migrating|shared-hot|imbalanced "
                         "[--seconds S] [--mib M] [--threads-per-node K] [--truth FILE] [--scans N] [--deadline S]\n");
    return 2;
  }
  std::string scenario = argv[1];
  double seconds = 3, deadline = 0;
  std::size_t mib = 32;
  int per_node = 1;
  long scans_wanted = 0;
  std::string truth_path;
  for (int i = 2; i < argc; i += 2) {
    std::string opt = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "numa_traffic: %s needs a value\n", opt.c_str());
      return 2;
    }
    if (opt == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (opt == "--mib") mib = std::strtoul(argv[i + 1], nullptr, 10);
    else if (opt == "--threads-per-node") per_node = std::atoi(argv[i + 1]);
    else if (opt == "--truth") truth_path = argv[i + 1];
    else if (opt == "--scans") scans_wanted = std::atol(argv[i + 1]);
    else if (opt == "--deadline") deadline = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "numa_traffic: unknown option %s\n", opt.c_str());
      return 2;
    }
  }
  if (mib == 0 || per_node < 1 || seconds < 0 || deadline < 0 || scans_wanted < 0) {
    std::fprintf(stderr, "numa_traffic: --mib and --threads-per-node must be >= 1, --seconds, --scans and --deadline >= 0\n");
    return 2;
  }
  const auto t_start = std::chrono::steady_clock::now();
  if (deadline > 0) {
    signal(SIGALRM, deadline_passed);
    alarm(static_cast<unsigned>(deadline + 0.999));
  }
  const int nodes = machine().nodes;
  const std::size_t bytes = mib << 20;
  if (scenario != "all-local" && nodes < 2) {
    std::fprintf(stderr, "numa_traffic: %s needs at least 2 NUMA nodes\n", scenario.c_str());
    return 77;
  }
  // migrating: as many rounds on each node (see sweep_round below).
  if (scenario == "migrating") scans_wanted = (scans_wanted + nodes - 1) / nodes * nodes;
  // The main thread (and the hopper it starts) stays on node 0; the workers start on their node.
  pin_to_node(0);

  double remote = 0;
  std::string top = "none";
  std::deque<Worker> workers;   // stable addresses: threads hold a reference
  auto own_array = [&](int node, std::vector<int> on) {
    Worker& w = workers.emplace_back();
    w.node = node, w.place_on = std::move(on), w.place_bytes = bytes;
  };
  auto reader = [&](int node, std::shared_ptr<const Array> a, std::size_t start, std::size_t slice) {
    Worker& w = workers.emplace_back();
    w.node = node, w.shared = std::move(a), w.start = start, w.slice = slice;
  };
  std::thread hopper;
  if (scenario == "all-local") {
    for (int n = 0; n < nodes; ++n)
      for (int k = 0; k < per_node; ++k) own_array(n, {n});
  } else if (scenario == "all-remote") {
    for (int n = 0; n < nodes; ++n)
      for (int k = 0; k < per_node; ++k) own_array(n, {(n + 1) % nodes});
    remote = 1, top = "colocate";
  } else if (scenario == "half-remote") {
    own_array(0, {0, 1});
    remote = 0.5, top = "colocate";
  } else if (scenario == "migrating") {
    reader(-1, std::make_shared<const Array>(place(bytes, {0})), 0, 0);
    remote = double(nodes - 1) / nodes, top = "pin-threads";
  } else if (scenario == "shared-hot") {
    auto data = std::make_shared<const Array>(place(bytes, {0}));
    // Reader n starts at slice n (whole chunks); its slice ends where the next one starts.
    const std::size_t slice = (bytes / nodes / kChunk) * kChunk;
    for (int n = 0; n < nodes; ++n) reader(n, data, slice * n, n + 1 < nodes ? slice : bytes - slice * n);
    remote = double(nodes - 1) / nodes, top = "interleave";
  } else if (scenario == "imbalanced") {
    for (int n = 0; n < nodes; ++n) own_array(n, {0});
    remote = double(nodes - 1) / nodes, top = "colocate";
  } else {
    std::fprintf(stderr, "numa_traffic: unknown scenario '%s'\n", scenario.c_str());
    return 2;
  }
  // Paced scans need NUMA balancing on and ours to switch (see the comment at the top).
  const std::optional<int> balancing = read_balancing();
  std::string no_scans;   // why no scans were paced, when some were wanted
  if (scans_wanted > 0) {
    if (nodes < 2) no_scans = "one NUMA node";
    else if (!balancing || *balancing == 0) no_scans = "NUMA balancing is off (" + std::string(kBalancing) + ")";
    else if (!numa_scan_seq()) no_scans = "/proc/self/sched has no mm->numa_scan_seq";
    else if (!write_balancing(*balancing)) no_scans = "cannot write " + std::string(kBalancing) + ": " + std::strerror(errno);
    paced = no_scans.empty();
  }
  for (auto& w : workers) start(w);
  // migrating: hop the worker over every node every 250 ms, except during a paced round.
  std::mutex hop_lock;
  bool in_round = false;
  if (scenario == "migrating") {
    Worker& w = workers.front();
    hopper = std::thread([&w, &hop_lock, &in_round, nodes] {
      for (int hop = 0; !stop.load(); ++hop) {
        {
          std::lock_guard<std::mutex> lock(hop_lock);
          cpu_set_t set = machine().cpu_set(hop % nodes);
          if (!in_round) pthread_setaffinity_np(w.thread, sizeof(set), &set);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    });
  }
  using namespace std::chrono_literals;
  for (auto& w : workers)
    while (!w.placed.load()) std::this_thread::sleep_for(5ms);
  const double setup_s = since(t_start);

  // The measured window: at least `seconds`, and where the kernel balances NUMA, `scans_wanted`
  // paced scans: switch NUMA balancing on, wait until the kernel has completed one scan of the
  // address space (mm->numa_scan_seq advances), switch it off, and run a round (every page the
  // scan marked takes its one hint fault in the round, however slowly a busy host runs that
  // worker's vCPU). Each scan is then sampled completely, so the hint faults' remote share is the
  // share by construction.
  const auto t_work = std::chrono::steady_clock::now();
  // Without a deadline, scans are awaited for at most 60 s; with one, until 3/4 of it.
  const double scan_wait_limit = deadline > 0 ? 0.75 * deadline - setup_s : seconds + 60;
  // Round k: the migrating worker sweeps from node k mod N (so N rounds hold the share by
  // construction); readers of a shared array each take their slice first.
  const bool migrating = scenario == "migrating";
  auto sweep_round = [&](long k) {
    if (migrating) {
      std::lock_guard<std::mutex> lock(hop_lock);
      in_round = true;
      workers.front().round_node = static_cast<int>(k % nodes);
    }
    int readers = 0;
    for (const auto& w : workers) readers += w.slice > 0;
    slices_left = readers;
    unsigned round = round_wanted.fetch_add(1) + 1;
    for (auto& w : workers)
      while (w.round_done.load(std::memory_order_acquire) < round) std::this_thread::sleep_for(2ms);
    if (migrating) {
      std::lock_guard<std::mutex> lock(hop_lock);
      in_round = false;
    }
  };
  long scans = 0;
  if (paced) {
    balancing_to_restore = *balancing;
    while ((scans < scans_wanted || since(t_work) < seconds || (migrating && scans % nodes != 0)) &&
           since(t_work) < scan_wait_limit) {
      long seq = *numa_scan_seq();
      write_balancing(*balancing);
      while (*numa_scan_seq() == seq && since(t_work) < scan_wait_limit) std::this_thread::sleep_for(10ms);
      write_balancing(0);
      if (*numa_scan_seq() == seq) break;   // no scan in time: the checker says so
      sweep_round(scans);
      ++scans;
    }
    write_balancing(*balancing);
    balancing_to_restore = -1;
    if (scans < scans_wanted)
      no_scans = "the kernel completed " + std::to_string(scans) + " NUMA scan(s) in " +
                 std::to_string(static_cast<int>(since(t_work))) + " s";
  } else {
    while (since(t_work) < seconds) std::this_thread::sleep_for(20ms);
  }
  if (!no_scans.empty()) std::fprintf(stderr, "numa_traffic: %ld of %ld NUMA scans: %s\n", scans, scans_wanted, no_scans.c_str());
  stop = true;
  if (hopper.joinable()) hopper.join();
  for (auto& w : workers) pthread_join(w.thread, nullptr);
  const double worked_s = since(t_work);

  unsigned long long local = 0, remote_bytes = 0, sweeps_min = ~0ull, sweeps_max = 0;
  unsigned long checksum = 0;
  for (const auto& w : workers) {
    local += w.local_bytes, remote_bytes += w.remote_bytes, checksum += w.sum;
    sweeps_min = std::min<unsigned long long>(sweeps_min, w.sweeps), sweeps_max = std::max<unsigned long long>(sweeps_max, w.sweeps);
  }
  double measured = local + remote_bytes ? double(remote_bytes) / double(local + remote_bytes) : 0;
  if (!truth_path.empty()) {
    std::ofstream out(truth_path);
    out << "{\"scenario\": \"" << scenario << "\", \"nodes\": " << nodes << ", \"threads\": " << workers.size()
        << ", \"remote_share\": " << remote << ", \"measured_remote_share\": " << measured << ", \"top\": \"" << top
        << "\", \"scans\": " << scans << ", \"scans_wanted\": " << scans_wanted
        << ", \"seconds\": " << worked_s << "}\n";
  }
  std::printf("numa_traffic %s: %d node(s), %zu worker thread(s), set-up %.1f s, worked %.1f s, %ld paced NUMA scan(s), "
              "sweeps per thread %llu-%llu, checksum %lu\n",
              scenario.c_str(), nodes, workers.size(), setup_s, worked_s, scans,
              sweeps_min, sweeps_max, checksum);
  return 0;
}
