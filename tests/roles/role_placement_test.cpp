// Placement by role under LD_PRELOAD: a program with two roles (different start routines, names
// set after start), an io thread that renames itself and a library's own helper thread. Each
// thread reports sched_getaffinity; the rules must place it by role whatever the creation order.
// Needs CPUs 0 and 1 (the machine of CI has two); skipped with fewer.
#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <regex>

#include "../support/run_under_agent.hpp"

using namespace numa_agent::test;

namespace {

// "role index phase" → cpus.
using Report = std::map<std::string, std::string>;

Report parse_report(const std::string& out) {
  Report r;
  std::regex re(R"(thread role=(\w+) index=(\d+) phase=(\w+) cpus=(\S*))");
  for (const auto& line : lines_of(out)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) r[m[1].str() + " " + m[2].str() + " " + m[3].str()] = m[4];
  }
  return r;
}

bool has_cpus_0_and_1() {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  return CPU_ISSET(0, &s) && CPU_ISSET(1, &s);
}

// The fallback pins everything else to CPU 1, so that a rule's CPU 0 is visible.
const std::string kRules =
    "ingest start=ingest_loop cpus=1,0 count=2; worker start=*::Worker::run* name=worker-* cpus=0,1 count=2; "
    "helper lib=librole_helper.so* cpus=0; io name=io-* cpus=0";

const std::string kToml =
    "# the rules of kRules, as a NUMA_AGENT_CONFIG file\n"
    "[threads.ingest]\nstart = \"ingest_loop\"\ncount = 2\naffinity = [1, 0]\n"
    "[threads.worker]\nstart = \"*::Worker::run*\"\nname = \"worker-*\"\ncount = 2\naffinity = \"0,1\"\n"
    "[threads]\nhelper = { lib = \"librole_helper.so*\", affinity = [0] }\nio = { name = \"io-*\", affinity = [0] }\n";

ProgramResult run_roles(EnvList env, std::vector<std::string> args) {
  env.emplace_back("NUMA_AGENT_PIN", "1");
  std::vector<std::string> argv{test_program("role_threads")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.env = std::move(env);
  options.clean_agent_env = true;
  options.timeout_seconds = 60;
  return run_under_agent(argv, options);
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = build_dir() + "/tests/roles-" + name;
  std::ofstream(path) << text;
  return path;
}

// What kRules says for --ingest 2 --workers 2 --io.
void check_two_roles(const ProgramResult& r) {
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  auto t = parse_report(r.out);
  CHECK(t["ingest 0 start"] == "1");   // slot 0 of 1,0
  CHECK(t["ingest 1 start"] == "0");
  CHECK(t["ingest 0 named"] == "1");   // its new name matches no other rule: stays
  CHECK(t["worker 0 start"] == "1");   // no name yet: the fallback (NUMA_AGENT_PIN=1)
  CHECK(t["worker 1 start"] == "1");
  CHECK(t["worker 0 named"] == "0");   // named worker-0, first of the role: slot 0
  CHECK(t["worker 1 named"] == "1");
  CHECK(t["io 0 start"] == "1");
  CHECK(t["io 0 named"] == "0");       // renamed io-0: placed again
  CHECK(t["helper 0 start"] == "0");   // created by librole_helper.so
}

}  // namespace

TEST_CASE("two roles and a library's helper: each thread on its role's CPUs, in either creation order") {
  if (!has_cpus_0_and_1()) return;
  check_two_roles(run_roles({{"NUMA_AGENT_RULES", kRules}}, {"--io"}));
  check_two_roles(run_roles({{"NUMA_AGENT_RULES", kRules}}, {"--io", "--reverse"}));
}

TEST_CASE("the same rules from a TOML NUMA_AGENT_CONFIG file") {
  if (!has_cpus_0_and_1()) return;
  auto r = run_roles({{"NUMA_AGENT_CONFIG", write_file("good.toml", kToml)}}, {"--io", "--reverse"});
  CHECK(r.err.empty());
  check_two_roles(r);
}

TEST_CASE("a thread its creator renames is placed again by its new name") {
  if (!has_cpus_0_and_1()) return;
  for (int run = 0; run < 5; ++run) {   // started or not when main names it: both paths
    auto r = run_roles({{"NUMA_AGENT_RULES", kRules + "; net name=net-* cpus=0"}}, {"--net", "--workers", "0", "--ingest", "0"});
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    auto t = parse_report(r.out);
    CHECK(t["net 0 named"] == "0");
    CHECK(r.err.empty());
  }
}

TEST_CASE("a std::thread is matched by its callable's type") {
  if (!has_cpus_0_and_1()) return;
  auto r = run_roles({{"NUMA_AGENT_RULES", "flusher start=*app::Flusher* cpus=0"}}, {"--flusher", "--workers", "0", "--ingest", "0"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(parse_report(r.out)["flusher 0 start"] == "0");   // the fallback would say 1
}

TEST_CASE("a role with more threads than CPUs wraps around its list") {
  if (!has_cpus_0_and_1()) return;
  auto r = run_roles({{"NUMA_AGENT_RULES", kRules}}, {"--ingest", "5", "--workers", "0"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto t = parse_report(r.out);
  for (int k = 0; k < 5; ++k) {
    INFO("ingest " << k);
    CHECK(t["ingest " + std::to_string(k) + " start"] == (k % 2 == 0 ? "1" : "0"));
  }
}

TEST_CASE("rules file errors: one line each, naming the file, the rest applies") {
  if (!has_cpus_0_and_1()) return;
  struct Case { std::string name, file_text, expect_in_line; bool env_rules; };
  const std::vector<Case> cases{
      {"missing file", "", "roles-missing.toml", true},
      {"bad TOML", "[threads.ingest\nstart = \n", "roles-bad.toml:1: not valid TOML", true},
      {"bad CPU expression", kToml + "[threads.odd]\nname = \"odd*\"\naffinity = \"M9:0\"\n", "roles-odd.toml:14 'odd': cpus 'M9:0' cannot be used here", false},
      {"unknown key", kToml + "[threads.odd]\nname = \"odd*\"\naffinity = [0]\ncolour = \"red\"\n", "unknown key 'colour'", false},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    std::string path = build_dir() + "/tests/roles-missing.toml";
    std::remove(path.c_str());
    if (c.name == "bad TOML") path = write_file("bad.toml", c.file_text);
    else if (!c.file_text.empty()) path = write_file("odd.toml", c.file_text);
    EnvList env{{"NUMA_AGENT_CONFIG", path}};
    if (c.env_rules) env.emplace_back("NUMA_AGENT_RULES", kRules);
    auto r = run_roles(env, {"--io"});
    auto lines = lines_of(r.err);
    INFO("stderr:\n" << r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find(c.expect_in_line) != std::string::npos);
    CHECK(lines[0].find("numa-agent[") == 0);
    check_two_roles(r);
  }
}

TEST_CASE("NUMA_AGENT_LOG=info and the profile say which rule placed each thread") {
  if (!has_cpus_0_and_1()) return;
  const std::string profile = build_dir() + "/tests/roles-profile.json";
  std::remove(profile.c_str());
  auto r = run_roles({{"NUMA_AGENT_RULES", kRules}, {"NUMA_AGENT_LOG", "info"}, {"NUMA_AGENT_PROFILE", profile}}, {"--io"});
  check_two_roles(r);
  CHECK(r.err.find("rule ingest (NUMA_AGENT_RULES rule 1), thread 1 of the role, cpus 0") != std::string::npos);
  CHECK(r.err.find("renamed 'io-0': rule io (NUMA_AGENT_RULES rule 4)") != std::string::npos);
  auto json = nlohmann::json::parse(read_file(profile));
  std::map<std::string, int> by_role;
  for (const auto& t : json["threads"]) {
    if (t["rule"].is_null()) continue;
    CHECK(t["reason"] == "rule");
    by_role[t["role"].get<std::string>()]++;
    if (t["role"] == "io") CHECK(t["cpus"] == "0");
  }
  CHECK(by_role == std::map<std::string, int>{{"helper", 1}, {"ingest", 2}, {"io", 1}, {"worker", 2}});
  CHECK(json["roles"]["rules"].size() == 4);
}

TEST_CASE("lib=libgomp.so* places an OpenMP runtime's threads, the main thread stays with the policy") {
  if (!has_cpus_0_and_1()) return;
  const std::string omp = test_program("omp_report");
  if (access(omp.c_str(), X_OK) != 0) return;   // built only where OpenMP is found
  RunOptions options;
  options.env = {{"NUMA_AGENT_PIN", "1"}, {"NUMA_AGENT_RULES", "gomp lib=libgomp.so* cpus=0"}, {"OMP_NUM_THREADS", "3"}};
  options.clean_agent_env = true;
  options.timeout_seconds = 60;
  auto r = run_under_agent({omp}, options);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  std::regex re(R"(thread ordinal=(\d+) tid=\d+ cpu=-?\d+ node=-?\d+ allowed=(\S+))");
  int seen = 0;
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    ++seen;
    CHECK(m[2] == (m[1] == "0" ? "1" : "0"));   // libgomp's threads on CPU 0, main by NUMA_AGENT_PIN
  }
  CHECK(seen == 3);
}
