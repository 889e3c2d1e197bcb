// kat_truth.hpp: the known-answer programs' own measurement of their NUMA truth (issue 14, part 5).
//
// The kat_* programs are ordinary multi-threaded code; this header is only their bookkeeping, kept
// out of the way of the work itself. Each worker tallies the bytes it touches: the node of every
// page (move_pages(2) query of the pages it is about to sweep, refreshed each pass, so pages that
// NUMA balancing migrates are counted where they are) against the node of the CPU it runs on
// (sched_getcpu, sampled every kSampleBytes of work). remote share = remote bytes / known bytes,
// weighted by work done, never by design. At exit the program prints one line:
//
//   KAT truth case=firsttouch-bug remote_share=0.500 local_bytes=.. remote_bytes=.. unknown_bytes=..
//       thread_nodes=0,1 memory_nodes=0 nodes=2 workers=4 seconds=3.01 expect=first-touch
//       site=main@kat_firsttouch.cpp:57
//
// expect is the action the case calls for (a numa-analyze recommendation kind, several joined by
// ',' when more than one fix is right), or "none" when the measured truth is well placed
// (remote share < kWellPlaced): a well-placed run deserves no advice whatever the case meant to do.
// site is where the memory at fault was allocated or first written, taken from __func__, __FILE__
// and __LINE__ at that statement (KAT_SITE on the same line).
#pragma once

#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace kat {

// Where the memory at fault came from; KAT_SITE() on the line of the allocation or first write.
struct Site {
  const char* function = "?";
  const char* file = "?";
  int line = 0;
};
#define KAT_SITE() (::kat::Site{__func__, __FILE__, __LINE__})

// Below this measured remote share a program is well placed: the suite expects no recommendation.
// 10 % is what stacks, libraries and the main thread's own pages add to a perfectly placed program.
constexpr double kWellPlaced = 0.10;
constexpr std::size_t kPage = 4096;
// One CPU sample per 256 KiB of work: under TCG that is well under a millisecond, far below any
// scheduler time slice, so a migration mid-sweep is seen within a few pages.
constexpr std::size_t kSampleBytes = 256 * 1024;

// Nodes and CPUs, read once before the workers start (libnuma's caches are not thread-safe to fill).
struct Machine {
  int nodes = 1;
  std::vector<int> node_of_cpu;               // by OS CPU number
  std::vector<std::vector<int>> cpus_of_node;  // online CPUs this process may use

  static const Machine& get() {
    static const Machine machine = probe();
    return machine;
  }

  int node_of(int cpu) const {
    return cpu >= 0 && static_cast<std::size_t>(cpu) < node_of_cpu.size() ? node_of_cpu[cpu] : -1;
  }

  // How many CPUs this process may run on (the worker count of a program that uses the machine).
  int cpu_count() const {
    int n = 0;
    for (const auto& cpus : cpus_of_node) n += static_cast<int>(cpus.size());
    return std::max(n, 1);
  }

 private:
  static Machine probe() {
    Machine m;
    const bool numa = numa_available() >= 0;
    m.nodes = numa ? std::max(numa_max_node() + 1, 1) : 1;
    m.cpus_of_node.resize(static_cast<std::size_t>(m.nodes));
    const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_CONF));
    m.node_of_cpu.assign(static_cast<std::size_t>(std::max(cpus, 1)), 0);
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) CPU_SET(0, &allowed);
    for (int cpu = 0; cpu < cpus; ++cpu) {
      const int node = numa ? std::max(numa_node_of_cpu(cpu), 0) : 0;
      m.node_of_cpu[static_cast<std::size_t>(cpu)] = node;
      if (CPU_ISSET(cpu, &allowed) && node < m.nodes) m.cpus_of_node[static_cast<std::size_t>(node)].push_back(cpu);
    }
    return m;
  }
};

// Pins the calling thread to all CPUs of one node (what numa_run_on_node does), as the programs'
// own placement code; returns false when that node has no CPU this process may use.
inline bool run_on_node(int node) {
  const auto& m = Machine::get();
  if (node < 0 || node >= m.nodes || m.cpus_of_node[static_cast<std::size_t>(node)].empty()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : m.cpus_of_node[static_cast<std::size_t>(node)]) CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

// Nodes of the CPUs that have CPUs: the nodes a program can place threads on.
inline std::vector<int> nodes_with_cpus() {
  const auto& m = Machine::get();
  std::vector<int> nodes;
  for (int n = 0; n < m.nodes; ++n)
    if (!m.cpus_of_node[static_cast<std::size_t>(n)].empty()) nodes.push_back(n);
  if (nodes.empty()) nodes.push_back(0);
  return nodes;
}

// The node of each page of [base, base + bytes), from one move_pages(2) query; -1 for a page
// that is not resident (or when the kernel has no NUMA).
class PageNodes {
 public:
  void query(const void* base, std::size_t bytes) {
    const auto start = reinterpret_cast<std::uintptr_t>(base) & ~(kPage - 1);
    const auto end = reinterpret_cast<std::uintptr_t>(base) + bytes;
    start_ = start;
    const std::size_t pages = (end - start + kPage - 1) / kPage;
    pointers_.resize(pages);
    status_.assign(pages, -1);
    for (std::size_t i = 0; i < pages; ++i) pointers_[i] = reinterpret_cast<void*>(start + i * kPage);
    if (pages > 0 && move_pages(0, pages, pointers_.data(), nullptr, status_.data(), 0) != 0)
      std::fill(status_.begin(), status_.end(), -1);
  }
  int node_at(const void* p) const {
    const std::size_t i = (reinterpret_cast<std::uintptr_t>(p) - start_) / kPage;
    return i < status_.size() && status_[i] >= 0 ? status_[i] : -1;
  }

 private:
  std::uintptr_t start_ = 0;
  std::vector<void*> pointers_;
  std::vector<int> status_;
};

// One worker's bytes by (CPU node, memory node).
class Tally {
 public:
  Tally() : bytes_(static_cast<std::size_t>(Machine::get().nodes) * Machine::get().nodes, 0) {}

  // Bytes of work done on [p, p + bytes) from the CPU node given, counted page by page.
  void touched(const PageNodes& pages, const void* p, std::size_t bytes, int cpu_node) {
    auto at = reinterpret_cast<std::uintptr_t>(p);
    const auto end = at + bytes;
    while (at < end) {
      const auto page_end = std::min<std::uintptr_t>((at & ~(kPage - 1)) + kPage, end);
      add(cpu_node, pages.node_at(reinterpret_cast<const void*>(at)), page_end - at);
      at = page_end;
    }
  }

  // Sweeps f over [base, base + bytes) in kSampleBytes pieces, sampling the CPU before each piece
  // and counting the piece's bytes against the page nodes given; f(begin, end) does the work.
  template <class T, class F>
  void sweep(const PageNodes& pages, T* base, std::size_t count, F&& f) {
    const std::size_t step = std::max<std::size_t>(kSampleBytes / sizeof(T), 1);
    for (std::size_t i = 0; i < count; i += step) {
      const std::size_t n = std::min(step, count - i);
      const int cpu_node = Machine::get().node_of(sched_getcpu());
      f(base + i, base + i + n);
      touched(pages, base + i, n * sizeof(T), cpu_node);
    }
  }

  void add(int cpu_node, int memory_node, std::uint64_t bytes) {
    const int nodes = Machine::get().nodes;
    if (cpu_node < 0 || memory_node < 0 || cpu_node >= nodes || memory_node >= nodes) {
      unknown_ += bytes;
      return;
    }
    bytes_[static_cast<std::size_t>(cpu_node) * nodes + memory_node] += bytes;
  }

  void merge(const Tally& other) {
    for (std::size_t i = 0; i < bytes_.size(); ++i) bytes_[i] += other.bytes_[i];
    unknown_ += other.unknown_;
  }

  std::uint64_t at(int cpu_node, int memory_node) const {
    return bytes_[static_cast<std::size_t>(cpu_node) * Machine::get().nodes + memory_node];
  }
  std::uint64_t unknown() const { return unknown_; }

 private:
  std::vector<std::uint64_t> bytes_;
  std::uint64_t unknown_ = 0;
};

// Collects the workers' tallies (each worker merges its own once, at its end).
class Truth {
 public:
  void merge(const Tally& t) {
    std::lock_guard<std::mutex> lock(mutex_);
    total_.merge(t);
  }

  // Prints the KAT truth line. action: what the case calls for when it is not well placed.
  void print(const std::string& case_name, const std::string& action, const Site& site, int workers,
             double seconds) const {
    const int nodes = Machine::get().nodes;
    std::uint64_t local = 0, remote = 0, all = 0;
    for (int c = 0; c < nodes; ++c)
      for (int m = 0; m < nodes; ++m) all += total_.at(c, m);
    std::set<int> thread_nodes, memory_nodes;
    for (int c = 0; c < nodes; ++c)
      for (int m = 0; m < nodes; ++m) {
        const auto b = total_.at(c, m);
        (c == m ? local : remote) += b;
        // A node counts when it carries at least 1 % of the work (not a stray sample).
        if (b * 100 >= all && b > 0) {
          thread_nodes.insert(c);
          memory_nodes.insert(m);
        }
      }
    const double share = local + remote > 0 ? static_cast<double>(remote) / static_cast<double>(local + remote) : 0.0;
    const std::string expect = share < kWellPlaced ? "none" : action;
    std::printf("KAT truth case=%s remote_share=%.3f local_bytes=%llu remote_bytes=%llu unknown_bytes=%llu "
                "thread_nodes=%s memory_nodes=%s nodes=%d workers=%d seconds=%.2f expect=%s site=%s@%s:%d\n",
                case_name.c_str(), share, static_cast<unsigned long long>(local),
                static_cast<unsigned long long>(remote), static_cast<unsigned long long>(total_.unknown()),
                join(thread_nodes).c_str(), join(memory_nodes).c_str(), nodes, workers, seconds, expect.c_str(),
                site.function, basename(site.file), site.line);
    std::fflush(stdout);
  }

 private:
  // The file's name without its folders: __FILE__ is whatever path the build passed the compiler.
  static const char* basename(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash != nullptr ? slash + 1 : path;
  }
  static std::string join(const std::set<int>& s) {
    std::string out;
    for (int v : s) out += (out.empty() ? "" : ",") + std::to_string(v);
    return out.empty() ? "-" : out;
  }
  mutable std::mutex mutex_;
  Tally total_;
};

// --seconds S (default 3): how long the program works. Every program runs for a time, not a
// count of passes, so that a slow TCG guest and a fast host both finish in that time.
inline double seconds_option(int argc, char** argv, double fallback = 3.0) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--seconds") == 0) {
      char* end = nullptr;
      const double s = std::strtod(argv[i + 1], &end);
      if (*end != '\0' || !(s > 0) || s > 3600) {
        std::fprintf(stderr, "%s: --seconds needs a number of seconds in (0, 3600], not '%s'\n", argv[0], argv[i + 1]);
        std::exit(2);
      }
      return s;
    }
  return fallback;
}

// --mib M: the size of the program's working memory, 1..4096 MiB.
inline std::size_t mib_option(int argc, char** argv, std::size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--mib") == 0) {
      char* end = nullptr;
      const unsigned long mib = std::strtoul(argv[i + 1], &end, 10);
      if (*end != '\0' || mib < 1 || mib > 4096) {
        std::fprintf(stderr, "%s: --mib needs a size in MiB, 1..4096, not '%s'\n", argv[0], argv[i + 1]);
        std::exit(2);
      }
      return mib;
    }
  return fallback;
}

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
inline Clock::time_point after(Clock::time_point t0, double seconds) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace kat
