// arena_locality: a locality scenario whose truth is known without a PMU.
//
// glibc gives the malloc arena of an exited thread to the next new thread. Thread A pins itself to
// node 0 (as an unmodified program might, with sched_setaffinity), mallocs and touches many small
// blocks, frees them and exits. Thread B then pins itself to node `--node` and mallocs and touches
// the same number of small blocks. With plain glibc, B is handed A's freed chunks: its blocks sit
// on node 0, remote. With the agent's pools, B's blocks should come from B's node.
//
// Evidence, all from the kernel:
//   1. page nodes of B's blocks via move_pages (query mode), with NUMA balancing off so nothing
//      migrates while we look;
//   2. then NUMA balancing on for --hint-seconds while B keeps working on its blocks: the
//      numa_hint_faults / numa_hint_faults_local deltas of /proc/vmstat, B's numa_faults lines of
//      /proc/self/task/TID/sched, and the page nodes again (AutoNUMA migrates remote pages).
//
// --expect remote: fails unless ≥ --min-fraction of B's blocks are remote (the construction holds).
// --expect local:  fails unless ≥ --min-fraction of B's blocks are local.
// Exit 77 on a machine with one node. Test program: uses the OS directly on purpose.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kSizes[] = {32, 48, 64, 96, 128};   // glibc fastbin sizes: freed, not merged

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool node_cpus(int node, cpu_set_t& set) {
  std::string list = read_text("/sys/devices/system/node/node" + std::to_string(node) + "/cpulist");
  CPU_ZERO(&set);
  std::stringstream in(list);
  std::string part;
  int count = 0;
  while (std::getline(in, part, ',')) {
    if (part.empty() || part == "\n") continue;
    const auto dash = part.find('-');
    const int lo = std::atoi(part.c_str());
    const int hi = dash == std::string::npos ? lo : std::atoi(part.c_str() + dash + 1);
    for (int c = lo; c <= hi; ++c, ++count) CPU_SET(c, &set);
  }
  return count > 0;
}

std::map<std::string, long long> vmstat() {
  std::map<std::string, long long> v;
  std::ifstream in("/proc/vmstat");
  std::string key;
  long long value;
  while (in >> key >> value) v[key] = value;
  return v;
}

bool write_sysctl(const char* path, const char* value) {
  const int fd = ::open(path, O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, value, std::strlen(value)) == static_cast<ssize_t>(std::strlen(value));
  ::close(fd);
  return ok;
}

// Everything the threads use is allocated by main beforehand: a thread's own bookkeeping
// allocations would land in the arena under test (and a large one consolidates its fastbins).
struct Scenario {
  std::size_t blocks = 0;
  int home_node = 0;         // A's node
  int work_node = 1;         // B's node
  double hint_seconds = 0;
  bool balancing_available = false;
  std::vector<void*> block;        // B's blocks
  std::vector<void*> page;         // page of each block
  std::vector<int> status_before;  // node of each block's page, before balancing
  std::vector<int> status_after;   // after the balancing phase
  std::vector<void*> a_blocks;     // A's blocks
  std::map<std::string, long long> vm_before, vm_after;
  char sched_text[8192] = {};      // B's /proc/self/task/TID/sched at the end
  cpu_set_t home_cpus{}, work_cpus{};   // read by main: pinning must not allocate
  bool pin_failed = false;
  long page_size = 4096;
};

// The first thing each thread does, before any allocation of its own (as a program that pins its
// threads at start would): its first malloc then happens on its node.
bool pin_self(const cpu_set_t& set) { return sched_setaffinity(0, sizeof set, &set) == 0; }

void query_nodes(Scenario& s, std::vector<int>& status) {
  for (std::size_t i = 0; i < s.blocks; ++i) status[i] = -1000;
  const long rc = syscall(SYS_move_pages, 0, s.blocks, s.page.data(), nullptr, status.data(), 0);
  if (rc < 0)
    for (auto& st : status) st = -1000;
}

void* thread_a(void* arg) {
  auto& s = *static_cast<Scenario*>(arg);
  if (!pin_self(s.home_cpus)) s.pin_failed = true;
  for (std::size_t i = 0; i < s.blocks; ++i) {
    const std::size_t size = kSizes[i % std::size(kSizes)];
    s.a_blocks[i] = std::malloc(size);
    std::memset(s.a_blocks[i], 0xA, size);
  }
  for (std::size_t i = 0; i < s.blocks; ++i) std::free(s.a_blocks[i]);
  return nullptr;
}

void* thread_b(void* arg) {
  auto& s = *static_cast<Scenario*>(arg);
  if (!pin_self(s.work_cpus)) s.pin_failed = true;
  for (std::size_t i = 0; i < s.blocks; ++i) {
    const std::size_t size = kSizes[i % std::size(kSizes)];
    s.block[i] = std::malloc(size);
    std::memset(s.block[i], 0xB, size);
    s.page[i] = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(s.block[i]) &
                                        ~static_cast<std::uintptr_t>(s.page_size - 1));
  }
  query_nodes(s, s.status_before);

  if (s.balancing_available && s.hint_seconds > 0) {
    write_sysctl("/proc/sys/kernel/numa_balancing", "1");
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(s.hint_seconds);
    volatile unsigned sum = 0;
    while (std::chrono::steady_clock::now() < end)
      for (std::size_t i = 0; i < s.blocks; ++i) {
        auto* p = static_cast<unsigned char*>(s.block[i]);
        p[0] = static_cast<unsigned char>(p[0] + 1);
        sum = sum + p[1];
      }
    write_sysctl("/proc/sys/kernel/numa_balancing", "0");
    query_nodes(s, s.status_after);
  }
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/sched", static_cast<long>(syscall(SYS_gettid)));
  const int fd = ::open(path, O_RDONLY);
  if (fd >= 0) {
    const ssize_t n = ::read(fd, s.sched_text, sizeof s.sched_text - 1);
    if (n > 0) s.sched_text[n] = 0;
    ::close(fd);
  }
  for (std::size_t i = 0; i < s.blocks; ++i) std::free(s.block[i]);
  return nullptr;
}

struct Tally {
  std::size_t local = 0, remote = 0, unknown = 0;
  std::set<void*> local_pages, remote_pages;
  std::map<int, std::size_t> unknown_by_status;   // move_pages status (-errno) → blocks
  double local_fraction() const {
    const auto known = local + remote;
    return known ? static_cast<double>(local) / static_cast<double>(known) : 0.0;
  }
};

Tally tally(const Scenario& s, const std::vector<int>& status) {
  Tally t;
  for (std::size_t i = 0; i < s.blocks; ++i) {
    if (status[i] == s.work_node) {
      ++t.local;
      t.local_pages.insert(s.page[i]);
    } else if (status[i] >= 0) {
      ++t.remote;
      t.remote_pages.insert(s.page[i]);
    } else {
      ++t.unknown;
      ++t.unknown_by_status[status[i]];
    }
  }
  return t;
}

void print_tally(const char* when, const Scenario& s, const Tally& t) {
  std::string unknown;
  for (const auto& [status, count] : t.unknown_by_status)
    unknown += (unknown.empty() ? " (status " : ", ") + std::to_string(status) + ": " + std::to_string(count);
  if (!unknown.empty()) unknown += ")";
  std::printf("%s: %zu of %zu blocks local to B (node %d), %zu remote, %zu unknown%s: %.2f %% local "
              "(%zu local pages, %zu remote pages)\n",
              when, t.local, s.blocks, s.work_node, t.remote, t.unknown, unknown.c_str(),
              100.0 * t.local_fraction(), t.local_pages.size(), t.remote_pages.size());
}

bool run_thread(void* (*fn)(void*), Scenario& s) {
  pthread_t t;
  if (pthread_create(&t, nullptr, fn, &s) != 0) return false;
  pthread_join(t, nullptr);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"arena_locality: small blocks of a thread on node B, recycled from a thread on node A"};
  std::size_t blocks = 20000;
  std::string expect;
  double min_fraction = 0.99;
  double hint_seconds = 3;
  int work_node = 1;
  std::string label = "run";
  app.add_option("--blocks", blocks, "small blocks per thread")->check(CLI::Range(100, 10000000));
  app.add_option("--expect", expect, "local | remote: what B's blocks must be")
      ->required()->check(CLI::IsMember({"local", "remote"}));
  app.add_option("--min-fraction", min_fraction, "share of B's blocks that must be as expected")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--hint-seconds", hint_seconds, "NUMA-balancing phase length (0: skip)")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--node", work_node, "B's node (A is on node 0)")->check(CLI::Range(1, 63));
  app.add_option("--label", label, "name of this run in the output");
  CLI11_PARSE(app, argc, argv);

  cpu_set_t probe;
  if (!node_cpus(0, probe) || !node_cpus(work_node, probe)) {
    std::printf("SKIP %s: needs NUMA nodes 0 and %d with CPUs (this machine has fewer)\n", label.c_str(), work_node);
    return 77;
  }

  Scenario s;
  s.blocks = blocks;
  s.work_node = work_node;
  s.hint_seconds = hint_seconds;
  s.page_size = sysconf(_SC_PAGESIZE);
  node_cpus(s.home_node, s.home_cpus);
  node_cpus(s.work_node, s.work_cpus);
  s.block.resize(blocks);
  s.page.resize(blocks);
  s.status_before.resize(blocks);
  s.status_after.assign(blocks, -1000);
  s.a_blocks.resize(blocks);

  // NUMA balancing off while placement is measured; restored at the end.
  const std::string balancing_was = read_text("/proc/sys/kernel/numa_balancing");
  s.balancing_available = !balancing_was.empty() && write_sysctl("/proc/sys/kernel/numa_balancing", "0");
  std::printf("%s: %zu blocks of %zu-%zu bytes; A on node %d, B on node %d; NUMA balancing %s\n", label.c_str(),
              blocks, kSizes[0], kSizes[std::size(kSizes) - 1], s.home_node, s.work_node,
              s.balancing_available ? "controllable" : "not available (hint-fault phase skipped)");
  std::fflush(stdout);

  if (!run_thread(thread_a, s)) { std::printf("FAIL %s: cannot create thread A\n", label.c_str()); return 1; }
  s.vm_before = vmstat();
  if (!run_thread(thread_b, s)) { std::printf("FAIL %s: cannot create thread B\n", label.c_str()); return 1; }
  s.vm_after = vmstat();
  if (!balancing_was.empty()) write_sysctl("/proc/sys/kernel/numa_balancing", balancing_was.c_str());
  if (s.pin_failed) { std::printf("FAIL %s: a thread could not pin itself to its node\n", label.c_str()); return 1; }

  const Tally before = tally(s, s.status_before);
  print_tally((label + ": page nodes (move_pages)").c_str(), s, before);
  if (s.balancing_available && hint_seconds > 0) {
    const long long faults = s.vm_after["numa_hint_faults"] - s.vm_before["numa_hint_faults"];
    const long long local = s.vm_after["numa_hint_faults_local"] - s.vm_before["numa_hint_faults_local"];
    const long long migrated = s.vm_after["numa_pages_migrated"] - s.vm_before["numa_pages_migrated"];
    std::printf("%s: %.1f s of NUMA balancing while B works (system-wide /proc/vmstat deltas): "
                "numa_hint_faults %lld, local %lld (%.1f %%), numa_pages_migrated %lld\n",
                label.c_str(), hint_seconds, faults, local, faults ? 100.0 * static_cast<double>(local) / static_cast<double>(faults) : 0.0,
                migrated);
    std::istringstream sched(s.sched_text);
    std::string line;
    while (std::getline(sched, line))
      if (line.find("numa_faults node=") != std::string::npos || line.find("current_node") != std::string::npos)
        std::printf("%s: B sched: %s\n", label.c_str(), line.c_str());
    print_tally((label + ": page nodes after balancing").c_str(), s, tally(s, s.status_after));
  }

  const double local = before.local_fraction();
  const double measured = expect == "local" ? local : 1.0 - local;
  const bool ok = before.local + before.remote > 0 && measured >= min_fraction;
  std::printf("%s %s: %.2f %% of B's blocks are %s (required >= %.2f %%)\n", ok ? "ok  " : "FAIL",
              label.c_str(), 100.0 * measured, expect.c_str(), 100.0 * min_fraction);
  return ok ? 0 : 1;
}
