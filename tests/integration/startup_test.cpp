// Start-up under LD_PRELOAD (issue 16): what a process pays depends on what it does. The files a
// traced process opens are strace's record; the placement is the kernel's (Cpus_allowed_list).
//   - neither a small allocation nor a thread (/bin/true): no sysfs file at all;
//   - small allocations, no thread: the NUMA node files only (cpu/online, node/...), for the pools;
//   - a second thread: the whole machine is read then, and the thread is pinned as before.
#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "../support/run_under_agent.hpp"

using namespace numa_agent::test;

namespace {

std::string strace_path() {
  for (const char* dir : {"/usr/bin/", "/bin/"})
    if (file_exists(std::string(dir) + "strace")) return std::string(dir) + "strace";
  return {};
}

// The /sys/devices/system/... paths the program (and its children) opened successfully.
std::vector<std::string> sysfs_opens(const std::vector<std::string>& argv, EnvList env = {}) {
  const std::string strace = strace_path();
  if (strace.empty()) {
    WARN("strace not found (apt-get install strace): skipped");
    std::exit(77);
  }
  TempDir dir("numa-agent-startup");
  const std::string trace = dir.path() + "/trace";
  std::vector<std::string> cmd{strace, "-f", "-qq", "-e", "trace=open,openat", "-o", trace};
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  RunOptions options;
  options.env = std::move(env);
  options.timeout_seconds = 60;
  auto r = run_under_agent(cmd, options);
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::vector<std::string> paths;
  std::regex re(R"re("(/sys/devices/system/[^"]*)".*= \d+)re");
  for (const auto& line : lines_of(read_file(trace))) {
    std::smatch m;
    if (std::regex_search(line, m, re)) paths.push_back(m[1]);
  }
  return paths;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& p : v) s += p + "\n";
  return s;
}

int allowed_cpu_count() {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  return CPU_COUNT(&s);
}

}  // namespace

TEST_CASE("a process that neither allocates a small block nor creates a thread opens no sysfs file") {
  auto opened = sysfs_opens({"/bin/true"});
  INFO(joined(opened));
  CHECK(opened.empty());
}

TEST_CASE("a single-threaded process that allocates reads only the NUMA node files (for the pools)") {
  // ls allocates small blocks (names, strings) and starts no thread. (thread_report would not
  // do: it links libnuma, which reads sysfs itself.)
  auto opened = sysfs_opens({"/bin/ls", "/"});
  INFO(joined(opened));
  REQUIRE(!opened.empty());   // the pools started: they need the nodes
  std::regex node_file(R"(/sys/devices/system/(cpu/online|node/online|node/node\d+/(cpulist|meminfo|distance)))");
  for (const auto& p : opened) {
    INFO(p);
    CHECK(std::regex_match(p, node_file));
  }
}

TEST_CASE("with pools off a single-threaded process opens no sysfs file") {
  auto opened = sysfs_opens({"/bin/ls", "/"}, {{"NUMA_AGENT_POOLS", "0"}});
  INFO(joined(opened));
  CHECK(opened.empty());
}

TEST_CASE("a program's second thread is pinned and the machine is read at its pthread_create") {
  auto opened = sysfs_opens({test_program("thread_report"), "--threads", "1"});
  INFO(joined(opened));
  // Cores and packages come from the CPU topology files, read once placement is needed (libnuma,
  // which thread_report links, reads node files only).
  CHECK(std::any_of(opened.begin(), opened.end(),
                    [](const std::string& p) { return p.find("/topology/") != std::string::npos; }));

  auto r = run_under_agent({test_program("thread_report"), "--threads", "1"});
  REQUIRE(r.status == 0);
  std::regex re(R"(thread ordinal=(\d+) tid=\d+ cpu=-?\d+ node=-?\d+ allowed=(\S+))");
  std::map<int, std::string> allowed;
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) allowed[std::stoi(m[1])] = m[2];
  }
  REQUIRE(allowed.size() == 2);
  // Spread gives the created thread one CPU (the second slot), as it did with an eager start-up.
  CHECK(allowed[1].find_first_of(",-") == std::string::npos);
  if (allowed_cpu_count() > 1) CHECK(allowed[1] != allowed[0]);
}
