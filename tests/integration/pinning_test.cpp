// Threads of unmodified programs under LD_PRELOAD: affinity as the kernel reports it
// (/proc/thread-self/status Cpus_allowed_list), compared with the policy's documented order.
#include <sched.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "../support/run_under_agent.hpp"

using namespace numa_agent::test;

namespace {

struct ThreadLine {
  int ordinal = -1;
  int cpu = -1;
  std::string allowed;
};

std::map<int, ThreadLine> parse_report(const std::string& out) {
  std::map<int, ThreadLine> threads;
  std::regex re(R"(thread ordinal=(\d+) tid=\d+ cpu=(-?\d+) node=-?\d+ allowed=(\S+))");
  for (const auto& line : lines_of(out)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) threads[std::stoi(m[1])] = {std::stoi(m[1]), std::stoi(m[2]), m[3]};
  }
  return threads;
}

std::vector<int> allowed_cpus() {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  std::vector<int> v;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &s)) v.push_back(c);
  return v;
}

std::string list_of(const std::vector<int>& cpus) {
  std::string s;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(cpus[i]);
    if (j > i) s += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return s;
}

int node_count() {
  int n = 0;
  for (int i = 0; i < 1024; ++i) {
    std::string p = "/sys/devices/system/node/node" + std::to_string(i);
    if (access(p.c_str(), F_OK) == 0) ++n;
  }
  return std::max(n, 1);
}

}  // namespace

TEST_CASE("spread pins every thread of a pthread program to one allowed CPU, round-robin") {
  if (node_count() != 1) return;   // multi-node expectations are checked in the vm tests
  auto cpus = allowed_cpus();
  auto r = run_under_agent({test_program("thread_report"), "--threads", "5"});
  REQUIRE(r.status == 0);
  auto threads = parse_report(r.out);
  REQUIRE(threads.size() == 6);
  for (const auto& [k, t] : threads) {
    INFO("ordinal " << k);
    CHECK(t.allowed == std::to_string(cpus[static_cast<std::size_t>(k) % cpus.size()]));
    CHECK(t.cpu == cpus[static_cast<std::size_t>(k) % cpus.size()]);
  }
}

TEST_CASE("std::thread goes through the same wrapper") {
  auto cpus = allowed_cpus();
  auto r = run_under_agent({test_program("thread_report"), "--threads", "3", "--api", "std"}, {.env = {{"NUMA_AGENT_PIN", "compact"}}});
  REQUIRE(r.status == 0);
  auto threads = parse_report(r.out);
  REQUIRE(threads.size() == 4);
  for (const auto& [k, t] : threads) CHECK(t.allowed.find_first_of(",-") == std::string::npos);
  if (node_count() == 1)
    for (const auto& [k, t] : threads) CHECK(t.allowed == std::to_string(cpus[static_cast<std::size_t>(k) % cpus.size()]));
}

TEST_CASE("an explicit list and a skip mask, likwid-pin style") {
  auto cpus = allowed_cpus();
  const std::string reversed = std::to_string(cpus.back()) + "," + std::to_string(cpus.front());
  auto r = run_under_agent({test_program("thread_report"), "--threads", "3"},
                           {.env = {{"NUMA_AGENT_PIN", reversed}, {"NUMA_AGENT_SKIP", "0x1"}}});
  REQUIRE(r.status == 0);
  auto t = parse_report(r.out);
  REQUIRE(t.size() == 4);
  CHECK(t[0].allowed == std::to_string(cpus.back()));
  CHECK(t[1].allowed == list_of(cpus));               // skipped: left with the process's CPUs
  CHECK(t[2].allowed == std::to_string(cpus.front()));  // skipped threads use no slot
  CHECK(t[3].allowed == std::to_string(cpus.back()));   // wraps around
}

TEST_CASE("policy none leaves every thread with the process's CPUs") {
  auto r = run_under_agent({test_program("thread_report"), "--threads", "2"}, {.env = {{"NUMA_AGENT_PIN", "none"}}});
  REQUIRE(r.status == 0);
  for (const auto& [k, t] : parse_report(r.out)) CHECK(t.allowed == list_of(allowed_cpus()));
}

TEST_CASE("the agent never pins outside a taskset") {
  auto cpus = allowed_cpus();
  const std::string only = std::to_string(cpus.back());
  auto r = run_under_agent({"taskset", "-c", only, test_program("thread_report"), "--threads", "3"},
                           {.env = {{"NUMA_AGENT_PIN", "compact"}}});
  REQUIRE(r.status == 0);
  auto threads = parse_report(r.out);
  REQUIRE(threads.size() == 4);
  for (const auto& [k, t] : threads) CHECK(t.allowed == only);
  CHECK(r.err.empty());
}

TEST_CASE("pthread semantics are unchanged under the agent") {
  auto plain = run_program({test_program("pthread_semantics")});
  auto agent = run_under_agent({test_program("pthread_semantics")});
  INFO(agent.out << agent.err);
  CHECK(plain.status == 0);
  CHECK(agent.status == 0);
  CHECK(agent.out == plain.out);
  auto exit_path = run_under_agent({test_program("thread_report"), "--threads", "2", "--exit-via", "pthread_exit"});
  CHECK(exit_path.status == 0);
}

TEST_CASE("OpenMP threads are pinned, with OMP_PLACES set the agent steps aside and says so") {
  const std::string omp = test_program("omp_report");
  if (access(omp.c_str(), X_OK) != 0) return;   // built only when the compiler has OpenMP
  auto cpus = allowed_cpus();
  auto pinned = run_under_agent({omp}, {.env = {{"OMP_NUM_THREADS", "4"}}});
  REQUIRE(pinned.status == 0);
  auto threads = parse_report(pinned.out);
  REQUIRE(threads.size() == 4);
  for (const auto& [k, t] : threads) CHECK(t.allowed.find_first_of(",-") == std::string::npos);

  auto aside = run_under_agent({omp}, {.env = {{"OMP_NUM_THREADS", "2"}, {"OMP_PLACES", "threads"}, {"NUMA_AGENT_LOG", "info"}}});
  REQUIRE(aside.status == 0);
  CHECK(aside.err.find("OMP_PLACES=threads is set: the OpenMP runtime places its threads") != std::string::npos);
  CHECK(aside.err.find("pinned to") == std::string::npos);
}

TEST_CASE("a bad setting is one warning line and the program runs unharmed") {
  auto plain = run_program({test_program("pthread_semantics")});
  for (auto [var, value] : std::vector<std::pair<std::string, std::string>>{
           {"NUMA_AGENT_PIN", "banana"}, {"NUMA_AGENT_PIN", "0-4095"}, {"NUMA_AGENT_SKIP", "xyz"},
           {"NUMA_AGENT_SMALL_MAX", "-1"}, {"NUMA_AGENT_LOG", "shout"}, {"NUMA_AGENT_PINN", "spread"}}) {
    INFO(var << "=" << value);
    auto r = run_under_agent({test_program("pthread_semantics")}, {.env = {{var, value}}});
    CHECK(r.status == 0);
    CHECK(r.out == plain.out);
    auto err = lines_of(r.err);
    REQUIRE(err.size() == 1);
    CHECK(err[0].find("numa-agent[") == 0);
    CHECK(err[0].find(var + "='" + value + "'") != std::string::npos);
  }
}

TEST_CASE("the profile records every thread with its placement") {
  const std::string path = "/tmp/numa-agent-itest-%p.json";
  auto r = run_under_agent({test_program("thread_report"), "--threads", "3"}, {.env = {{"NUMA_AGENT_PROFILE", path}}});
  REQUIRE(r.status == 0);
  auto threads = parse_report(r.out);
  REQUIRE(threads.size() == 4);
  // The main thread's tid is the pid.
  std::regex re(R"(thread ordinal=0 tid=(\d+))");
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, re));
  const std::string file = "/tmp/numa-agent-itest-" + m[1].str() + ".json";
  auto profile = nlohmann::json::parse(read_file(file));
  std::remove(file.c_str());
  CHECK(profile["schema"] == "numa-agent-profile/1");
  CHECK(profile["pid"] == std::stoi(m[1]));
  REQUIRE(profile["threads"].size() == 4);
  for (const auto& t : profile["threads"]) {
    int k = t["ordinal"];
    CHECK(t["pinned"] == true);
    CHECK(t["cpus"] == threads[k].allowed);
  }
  CHECK(profile["threads"][1]["end_ns"].get<std::uint64_t>() >= profile["threads"][1]["start_ns"].get<std::uint64_t>());
}

TEST_CASE("single-threaded processes in a tree are not pinned, PIN_MAIN=start pins at start-up") {
  const std::string all = list_of(allowed_cpus());
  auto tree = run_under_agent({"bash", "-c", "grep Cpus_allowed_list /proc/self/status; (grep Cpus_allowed_list /proc/$BASHPID/status)"});
  REQUIRE(tree.status == 0);
  auto lines = lines_of(tree.out);
  REQUIRE(lines.size() == 2);
  for (const auto& l : lines) CHECK(l == "Cpus_allowed_list:\t" + all);

  auto start = run_under_agent({"grep", "Cpus_allowed_list", "/proc/self/status"}, {.env = {{"NUMA_AGENT_PIN_MAIN", "start"}}});
  REQUIRE(start.status == 0);
  CHECK(start.out == "Cpus_allowed_list:\t" + std::to_string(allowed_cpus().front()) + "\n");
}

TEST_CASE("a child forked by a pinned thread gets the process's CPUs back") {
  // python3: a worker thread (pinned by the agent) forks; the child reports its own affinity.
  auto r = run_under_agent({"python3", "-c",
                           "import os, threading\n"
                           "def work():\n"
                           "    pid = os.fork()\n"
                           "    if pid == 0:\n"
                           "        print('child', sorted(os.sched_getaffinity(0)), flush=True); os._exit(0)\n"
                           "    os.waitpid(pid, 0)\n"
                           "    print('thread', sorted(os.sched_getaffinity(0)), flush=True)\n"
                           "t = threading.Thread(target=work); t.start(); t.join()\n"});
  REQUIRE(r.status == 0);
  auto cpus = allowed_cpus();
  std::string all = "[";
  for (std::size_t i = 0; i < cpus.size(); ++i) all += (i ? ", " : "") + std::to_string(cpus[i]);
  all += "]";
  CHECK(r.out.find("child " + all) != std::string::npos);
  if (cpus.size() > 1) CHECK(r.out.find("thread " + all) == std::string::npos);   // the thread itself is pinned
}
