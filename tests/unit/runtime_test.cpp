#include <unistd.h>   // test code may use the OS directly to check what the agent did

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/runtime.hpp"
#include "fake_machines.hpp"

using namespace numa_agent;
using namespace numa_agent::test;
namespace fs = std::filesystem;

namespace {
ProcessFacts fake_facts(Topology machine, std::map<std::string, std::string, std::less<>> vars = {}) {
  ProcessFacts f;
  f.machine = std::move(machine);
  f.allowed_cpus = f.machine.all_cpus();
  f.agent_variables = std::move(vars);
  f.agent_variables.emplace("NUMA_AGENT_POOLS", "0");
  f.agent_variables.emplace("NUMA_AGENT_LOG", "off");
  f.command = {"fake-app", "--flag"};
  f.pid = 4242;
  return f;
}

ProcessFacts this_machine(std::map<std::string, std::string, std::less<>> vars = {}) {
  ProcessFacts f = ProcessFacts::probe();
  f.agent_variables = std::move(vars);
  f.agent_variables.emplace("NUMA_AGENT_POOLS", "0");
  f.agent_variables.emplace("NUMA_AGENT_LOG", "off");
  return f;
}

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("numa-agent-test-" + std::to_string(getpid()));
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST_CASE("bad settings become warnings in the profile while defaults stay in force") {
  AgentRuntime rt(fake_facts(two_node_flat(), {{"NUMA_AGENT_PIN", "banana"}, {"NUMA_AGENT_SKIP", "q"}}));
  REQUIRE(rt.warnings().size() == 2);
  CHECK(rt.options().pin == "spread");
  auto p = rt.profile();
  CHECK(p["schema"] == "numa-agent-profile/1");
  REQUIRE(p["warnings"].size() == 2);
  CHECK(p["warnings"][0].get<std::string>().find("NUMA_AGENT_PIN='banana'") == 0);
  CHECK(p["options"]["NUMA_AGENT_PIN"] == "spread");
  CHECK(p["pid"] == 4242);
  CHECK(p["command"][1] == "--flag");
}

TEST_CASE("the profile describes the fake machine and the policy's slots") {
  AgentRuntime rt(fake_facts(four_node_asymmetric()));
  auto p = rt.profile();
  REQUIRE(p["topology"]["nodes"].size() == 4);
  CHECK(p["topology"]["nodes"][2]["cpus"] == "4-5");
  CHECK(p["topology"]["distances"][0][3] == 28);
  CHECK(p["policy"]["slots"] == nlohmann::json({0, 2, 4, 6, 1, 3, 5, 7}));
  CHECK(p["policy"]["stepped_aside"].is_null());
  CHECK(p["policy"]["skip_mask"] == "0x0");
}

TEST_CASE("created threads get ordinals in creation order, caller affinity is respected") {
  AgentRuntime rt(fake_facts(two_node_flat()));
  auto a = rt.plan_thread(false);
  auto b = rt.plan_thread(true);
  auto c = rt.plan_thread(false);
  CHECK(a.ordinal == 1);
  CHECK(b.ordinal == 2);
  CHECK(c.ordinal == 3);
  CHECK(a.decision.slot_cpu == 4);
  CHECK_FALSE(b.decision.pin);
  CHECK(b.decision.reason == PlacementReason::CallerAffinity);
  CHECK(c.decision.slot_cpu == 5);
}

TEST_CASE("begin_thread really pins the calling thread and records it") {
  AgentRuntime rt(this_machine({{"NUMA_AGENT_PIN", "compact"}}));
  REQUIRE(!rt.policy().slots().empty());
  auto plan = rt.plan_thread(false);
  int seen_cpu_count = -1;
  std::thread worker([&] {
    auto record = rt.begin_thread(plan);
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    seen_cpu_count = CPU_COUNT(&set);
    rt.end_thread(record);
  });
  worker.join();
  const auto& slots = rt.policy().slots();
  CHECK(seen_cpu_count == 1);
  auto threads = rt.profile()["threads"];
  REQUIRE(threads.size() == 1);
  CHECK(threads[0]["pinned"] == true);
  CHECK(threads[0]["reason"] == "policy");
  CHECK(threads[0]["cpus"] == std::to_string(slots[1 % slots.size()]));
  CHECK(threads[0]["ordinal"] == 1);
  CHECK(!threads[0]["end_ns"].is_null());
}

TEST_CASE("a pin that the kernel refuses is recorded as pin-failed and the thread runs on") {
  // Fake 2×4 machine on a host with fewer CPUs: slot CPU 4 does not exist here.
  AgentRuntime rt(fake_facts(two_node_flat()));
  auto plan = rt.plan_thread(false);   // slot cpu 4
  REQUIRE(plan.decision.slot_cpu == 4);
  if (sysconf(_SC_NPROCESSORS_CONF) > 4) return;   // the CPU exists on this host: nothing to check
  std::thread worker([&] { rt.begin_thread(plan); });
  worker.join();
  auto threads = rt.profile()["threads"];
  REQUIRE(threads.size() == 1);
  CHECK(threads[0]["pinned"] == false);
  CHECK(threads[0]["reason"] == "pin-failed");
  CHECK(rt.profile()["warnings"].back().get<std::string>().find("cannot pin to CPUs 4") != std::string::npos);
}

TEST_CASE("profile path: %p expands, a symlink is replaced and never followed") {
  fs::path dir = temp_dir();
  fs::path target = dir / "victim.txt";
  { std::ofstream(target) << "precious"; }
  fs::path link = dir / "profile-4242.json";
  fs::remove(link);
  fs::create_symlink(target, link);

  AgentRuntime rt(fake_facts(two_node_flat(), {{"NUMA_AGENT_PROFILE", (dir / "profile-%p.json").string()}}));
  CHECK(rt.profile_path() == link.string());
  CHECK(rt.write_profile());
  CHECK_FALSE(fs::is_symlink(link));
  std::ifstream victim(target);
  std::string content;
  std::getline(victim, content);
  CHECK(content == "precious");
  auto written = nlohmann::json::parse(std::ifstream(link));
  CHECK(written["schema"] == "numa-agent-profile/1");
  { std::ofstream(link) << "left alone"; }
  CHECK(rt.write_profile());   // once only: the second call succeeds and writes nothing
  std::ifstream again(link);
  std::getline(again, content);
  CHECK(content == "left alone");
  fs::remove_all(dir);
}

TEST_CASE("profile path that is a directory or unwritable: one warning, nothing half-written") {
  fs::path dir = temp_dir();
  fs::create_directories(dir / "adir");
  AgentRuntime rt(fake_facts(two_node_flat(), {{"NUMA_AGENT_PROFILE", (dir / "adir").string()}}));
  auto written = rt.write_profile();
  REQUIRE_FALSE(written);
  CHECK(written.error().what == "cannot write profile '" + (dir / "adir").string() + "'");
  CHECK(written.error().code != 0);
  CHECK(fs::is_directory(dir / "adir"));
  CHECK(rt.profile()["warnings"].back().get<std::string>().find("cannot write profile") == 0);

  AgentRuntime rt2(fake_facts(two_node_flat(), {{"NUMA_AGENT_PROFILE", "/nonexistent-dir/p.json"}}));
  auto missing = rt2.write_profile();
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ENOENT);
  CHECK(rt2.profile()["warnings"].back().get<std::string>().find("No such file or directory") != std::string::npos);
  std::size_t leftovers = 0;
  for (auto& e : fs::directory_iterator(dir)) leftovers += e.path().filename().string().find(".tmp.") != std::string::npos;
  CHECK(leftovers == 0);
  fs::remove_all(dir);
}
