// numa-agent's flag parsing and domain listing, on fake machines.
#include <catch2/catch.hpp>

#include "launcher/affinity_domains.hpp"
#include "launcher/launch_plan.hpp"
#include "tests/unit/fake_machines.hpp"

using namespace numa_agent;
using launcher::parse_launcher_arguments;

TEST_CASE("each flag sets the option table variable in flag order") {
  auto plan = parse_launcher_arguments({"-c", "N:0-3", "-s", "0x1", "-q", "--bind", "node", "--no-pools",
                                        "--profile", "/tmp/p-%p.json", "--", "prog", "-c", "x"});
  REQUIRE(plan);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"NUMA_AGENT_PIN", "N:0-3"}, {"NUMA_AGENT_SKIP", "0x1"},   {"NUMA_AGENT_LOG", "error"},
      {"NUMA_AGENT_BIND", "node"}, {"NUMA_AGENT_POOLS", "0"},     {"NUMA_AGENT_PROFILE", "/tmp/p-%p.json"}};
  CHECK(plan->environment == expected);
  CHECK(plan->command == std::vector<std::string>{"prog", "-c", "x"});   // the command's own flags stay its own
  CHECK_FALSE(plan->print_domains);
}

TEST_CASE("inline values and a command without --") {
  auto plan = parse_launcher_arguments({"-c0-1", "--bind=core", "./prog", "arg"});
  REQUIRE(plan);
  CHECK(launcher::planned_value(*plan, "NUMA_AGENT_PIN") == "0-1");
  CHECK(launcher::planned_value(*plan, "NUMA_AGENT_BIND") == "core");
  CHECK(launcher::planned_value(*plan, "NUMA_AGENT_SKIP") == "");
  CHECK(plan->command == std::vector<std::string>{"./prog", "arg"});
}

TEST_CASE("bad values are rejected with the option table's reason") {
  auto pin = parse_launcher_arguments({"-c", "Q:0-3", "prog"});
  REQUIRE_FALSE(pin);
  CHECK(pin.error().what.find("-c 'Q:0-3'") == 0);
  CHECK(pin.error().what.find("affinity domain") != std::string::npos);
  auto skip = parse_launcher_arguments({"-s", "zz", "prog"});
  REQUIRE_FALSE(skip);
  CHECK(skip.error().what == "-s 'zz': is not a hex mask (example: 0x1)");
  auto bind = parse_launcher_arguments({"--bind", "socket", "prog"});
  REQUIRE_FALSE(bind);
  CHECK(bind.error().what.find("cpu, core, node") != std::string::npos);
}

TEST_CASE("usage errors: unknown flag or missing value or no command") {
  CHECK(parse_launcher_arguments({"-x", "prog"}).error().what == "unknown option '-x'");
  CHECK(parse_launcher_arguments({"--bindnode", "prog"}).error().what == "unknown option '--bindnode'");
  CHECK(parse_launcher_arguments({"-c"}).error().what == "-c needs a value");
  CHECK(parse_launcher_arguments({"-c", "--", "prog"}).error().what == "-c needs a value");
  CHECK(parse_launcher_arguments({"-c", "1"}).error().what == "no command given");
  CHECK(parse_launcher_arguments({"-c", "1", "--"}).error().what == "no command given");
  auto print = parse_launcher_arguments({"-p"});
  REQUIRE(print);
  CHECK(print->print_domains);
}

TEST_CASE("LD_PRELOAD: the agent is appended and never replaces or doubles") {
  using launcher::preload_with_agent;
  CHECK(preload_with_agent("", "/l/libnumaagent.so") == "/l/libnumaagent.so");
  CHECK(preload_with_agent("/x/libjemalloc.so.2", "/l/libnumaagent.so") == "/x/libjemalloc.so.2:/l/libnumaagent.so");
  CHECK(preload_with_agent("/a.so /l/libnumaagent.so", "/l/libnumaagent.so") == "/a.so /l/libnumaagent.so");
}

TEST_CASE("print domains: N then each S and M domain in logical order (physical cores first)") {
  // node 0 = cpus 0-7 with SMT pairs {0,1},{2,3},...; node 1 = 8-15.
  const std::string text = launcher::affinity_domains_text(test::two_node_smt());
  CHECK(text ==
        "Domain N:\n\t0,2,4,6,8,10,12,14,1,3,5,7,9,11,13,15\n\n"
        "Domain S0:\n\t0,2,4,6,1,3,5,7\n\n"
        "Domain S1:\n\t8,10,12,14,9,11,13,15\n\n"
        "Domain M0:\n\t0,2,4,6,1,3,5,7\n\n"
        "Domain M1:\n\t8,10,12,14,9,11,13,15\n\n");
}

TEST_CASE("print domains: a restricted machine leaves out domains without allowed CPUs") {
  const std::string text = launcher::affinity_domains_text(test::two_node_flat().restricted_to(CpuSet::of({5, 6})));
  CHECK(text == "Domain N:\n\t5,6\n\nDomain S1:\n\t5,6\n\nDomain M1:\n\t5,6\n\n");
}

TEST_CASE("a CPU expression is checked against the machine: CPUs and domains that do not exist") {
  const auto machine = test::two_node_flat();
  CHECK(launcher::pin_problem("0-7", machine) == "");
  CHECK(launcher::pin_problem("M1:0-3", machine) == "");
  CHECK(launcher::pin_problem("spread", machine) == "");
  CHECK(launcher::pin_problem("9", machine) != "");
  CHECK(launcher::pin_problem("M2:0", machine).find("M2") != std::string::npos);
}
