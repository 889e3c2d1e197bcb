// Placement by role: the rules' syntaxes, their warnings, matching and slot assignment, on fake
// machines; the ELF symbol lookup on this test's own executable.
#include <catch2/catch.hpp>

#include "../unit/fake_machines.hpp"
#include "agent/os/os.hpp"
#include "agent/role_rules.hpp"
#include "launcher/affinity_domains.hpp"
#include "launcher/launch_plan.hpp"

using namespace numa_agent;
using namespace numa_agent::test;

namespace {

std::vector<int> cpus_of(const CpuSet& s) {
  std::vector<int> v;
  for (int c = s.first(); c >= 0; c = s.next(c)) v.push_back(c);
  return v;
}

// The CPUs the engine gives to `n` threads of identity `id`, in creation order.
std::vector<std::vector<int>> placements(RoleEngine& engine, const ThreadIdentity& id, int n) {
  std::vector<std::vector<int>> out;
  for (int k = 0; k < n; ++k) {
    auto choice = engine.choose_at_create(id);
    out.push_back(choice ? cpus_of(choice->decision.cpus) : std::vector<int>{});
  }
  return out;
}

Options with_rules(const std::string& rules) {
  Options o = default_options();
  o.rules = rules;
  return o;
}

static void* a_static_start_routine(void*) { return nullptr; }

}  // namespace

TEST_CASE("globs: * and ? match, everything else is literal") {
  CHECK(glob_match("ingest_loop", "ingest_loop"));
  CHECK_FALSE(glob_match("ingest_loop", "ingest_loop2"));
  CHECK(glob_match("*::Worker::run*", "app::Worker::run(void*)"));
  CHECK_FALSE(glob_match("*::Worker::run*", "Worker::run(void*)"));
  CHECK(glob_match("redis-io*", "redis-io3"));
  CHECK(glob_match("io-?", "io-1"));
  CHECK_FALSE(glob_match("io-?", "io-12"));
  CHECK(glob_match("libgomp.so*", "libgomp.so.1"));
  CHECK(glob_match("*", ""));
  CHECK_FALSE(glob_match("a*b*c*d*e*f*g*h*i*j*k", std::string(4000, 'a')));   // no blow-up
}

TEST_CASE("NUMA_AGENT_RULES: the compact syntax, every key") {
  auto set = parse_rules_text("ingest start=ingest_loop cpus=M0:0@M1:0 count=2; worker name=worker-* lib=libapp.so* cpus=1-3;");
  REQUIRE(set.warnings.empty());
  REQUIRE(set.rules.size() == 2);
  CHECK(set.rules[0].role == "ingest");
  CHECK(set.rules[0].start == "ingest_loop");
  CHECK(set.rules[0].cpus == "M0:0@M1:0");
  CHECK(set.rules[0].count == std::optional<std::size_t>(2));
  CHECK(set.rules[0].where == "NUMA_AGENT_RULES rule 1");
  CHECK(set.rules[1].name == "worker-*");
  CHECK(set.rules[1].lib == "libapp.so*");
  CHECK_FALSE(set.rules[1].count);
  CHECK(set.rules[1].compact() == "name=worker-* lib=libapp.so* cpus=1-3");
}

TEST_CASE("a rule without matchers matches threads named after its role") {
  auto set = parse_rules_text("logger cpus=0");
  REQUIRE(set.rules.size() == 1);
  CHECK(set.rules[0].name == "logger*");
}

TEST_CASE("NUMA_AGENT_RULES: each bad rule is one warning naming it, the others apply") {
  auto set = parse_rules_text("a name=x* cpu=1; b name=y* cpus=Q:7; c name=z* cpus=2; d name=w*; e name=v* cpus=1 count=0; =x cpus=1");
  REQUIRE(set.rules.size() == 1);
  CHECK(set.rules[0].role == "c");
  REQUIRE(set.warnings.size() == 5);
  CHECK(set.warnings[0].find("NUMA_AGENT_RULES rule 1") == 0);
  CHECK(set.warnings[0].find("unknown key 'cpu'") != std::string::npos);
  CHECK(set.warnings[1].find("NUMA_AGENT_RULES rule 2") == 0);
  CHECK(set.warnings[1].find("cpus 'Q:7'") != std::string::npos);
  CHECK(set.warnings[2].find("rule 4") != std::string::npos);
  CHECK(set.warnings[2].find("no cpus=") != std::string::npos);
  CHECK(set.warnings[3].find("count '0'") != std::string::npos);
  CHECK(set.warnings[4].find("role name") != std::string::npos);
  for (const auto& w : set.warnings) CHECK(w.find('\n') == std::string::npos);
}

TEST_CASE("the option accepts a partly bad list and rejects one with no usable rule") {
  CHECK(validate_rules_text(""));
  CHECK(validate_rules_text("a name=x* cpus=1; b cpus"));
  auto garbage = validate_rules_text("zz!@#%^&*()");
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().what.find("no usable rule") != std::string::npos);
  auto parsed = parse_options({{"NUMA_AGENT_RULES", "zz!@#"}}, false);
  REQUIRE(parsed.warnings.size() == 1);
  CHECK(parsed.warnings[0].variable == "NUMA_AGENT_RULES");
  CHECK(parsed.options.rules.empty());
}

TEST_CASE("NUMA_AGENT_CONFIG: the issue's example as TOML, in the file's order") {
  const std::string doc =
      "[threads]\n"
      "worker = { count = 4, affinity = [1, 2, 5, 6] }\n"
      "ingest = { count = 2, affinity = [0, 4] }        # one per NUMA node\n"
      "[threads.flusher]\n"
      "start = \"*::Flusher::run*\"\n"
      "affinity = \"M1:0-1\"\n";
  auto set = parse_rules_toml(doc, "/etc/app.toml");
  INFO(set.warnings.size());
  REQUIRE(set.warnings.empty());
  REQUIRE(set.rules.size() == 3);
  CHECK(set.rules[0].role == "worker");   // line 2, though toml++ sorts keys
  CHECK(set.rules[0].cpus == "1@2@5@6");
  CHECK(set.rules[0].count == std::optional<std::size_t>(4));
  CHECK(set.rules[0].name == "worker*");
  CHECK(set.rules[0].where == "/etc/app.toml:2");
  CHECK(set.rules[1].role == "ingest");
  CHECK(set.rules[2].start == "*::Flusher::run*");
  CHECK(set.rules[2].cpus == "M1:0-1");
  std::vector<std::string> warnings;
  auto rules = resolve_rules(set, two_node_flat(), warnings);
  CHECK(warnings.empty());
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].slots == std::vector<int>{1, 2, 5, 6});
  CHECK(rules[1].slots == std::vector<int>{0, 4});
  CHECK(rules[2].slots == std::vector<int>{4, 5});
}

TEST_CASE("NUMA_AGENT_CONFIG errors: one line each with file and line, the rest applies") {
  SECTION("not TOML") {
    auto set = parse_rules_toml("[threads.ingest\nstart = 1\n", "r.toml");
    REQUIRE(set.warnings.size() == 1);
    CHECK(set.warnings[0].find("r.toml:1: not valid TOML") == 0);
    CHECK(set.rules.empty());
  }
  SECTION("empty") {
    auto set = parse_rules_toml("# nothing\n", "r.toml");
    REQUIRE(set.warnings.size() == 1);
    CHECK(set.warnings[0].find("r.toml: holds no [threads.ROLE] table") == 0);
  }
  SECTION("an unknown key, a value of the wrong type, an unknown table") {
    auto set = parse_rules_toml(
        "[threads.a]\nname = \"a*\"\ncpus = \"0\"\ncolour = \"red\"\n"
        "[threads.b]\nname = \"b*\"\ncpus = \"1\"\n"
        "[threads.c]\nname = \"c*\"\ncpus = { x = 1 }\n"
        "[pools]\nsize = 1\n",
        "r.toml");
    REQUIRE(set.rules.size() == 1);
    CHECK(set.rules[0].role == "b");
    REQUIRE(set.warnings.size() == 3);
    CHECK(set.warnings[0].find("r.toml:11") == 0);   // [pools]
    CHECK(set.warnings[1].find("r.toml:1 'threads.a': r.toml:4: unknown key 'colour'") == 0);
    CHECK(set.warnings[2].find("'threads.c'") != std::string::npos);
  }
}

TEST_CASE("CPUs that do not exist here: one warning naming the rule, the others resolve") {
  auto set = parse_rules_text("ingest start=ingest_loop cpus=M0:0@M1:0 count=2; far name=f* cpus=M3:0; shared name=s* cpus=spread");
  std::vector<std::string> warnings;
  auto rules = resolve_rules(set, two_node_flat(), warnings);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("NUMA_AGENT_RULES rule 2 'far'") == 0);
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].slots == std::vector<int>{0, 4});
  CHECK(rules[1].slots.size() == 8);
}

TEST_CASE("the first matching rule wins, start globs see the symbol with and without parameters") {
  auto set = parse_rules_text("w start=*::Worker::run* cpus=1; i start=ingest_loop cpus=2; n name=net-* cpus=3; l lib=libgomp.so* cpus=4; any start=* cpus=5");
  std::vector<std::string> warnings;
  auto rules = resolve_rules(set, two_node_flat(), warnings);
  REQUIRE(rules.size() == 5);
  CHECK(match_rule(rules, {"app::Worker::run(void*)", "", ""}) == std::optional<std::size_t>(0));
  CHECK(match_rule(rules, {"ingest_loop(void*)", "", ""}) == std::optional<std::size_t>(1));
  CHECK(match_rule(rules, {"(anonymous namespace)::ingest_loop(void*)", "", ""}) == std::optional<std::size_t>(1));
  CHECK(match_rule(rules, {"ingest_loop", "", ""}) == std::optional<std::size_t>(1));
  CHECK(match_rule(rules, {"", "", "net-3"}) == std::optional<std::size_t>(2));
  CHECK(match_rule(rules, {"", "/usr/lib/x86_64-linux-gnu/libgomp.so.1", ""}) == std::optional<std::size_t>(3));
  CHECK(match_rule(rules, {"other", "", ""}) == std::optional<std::size_t>(4));
  CHECK_FALSE(match_rule(rules, {"", "", ""}));   // nothing known: the fallback
}

TEST_CASE("count: the k-th thread of a role takes slot k, wrapping, without count the role shares its CPUs") {
  const Topology machine = two_node_flat();   // node 0 = 0-3, node 1 = 4-7
  RoleEngine engine(with_rules("ingest start=ingest_loop cpus=M0:0@M1:0 count=2; worker start=work* cpus=1,2,5,6; "
                               "three start=three cpus=0-7 count=3; gomp start=omp* cpus=none"),
                    machine);
  engine.load();
  REQUIRE(engine.warnings().empty());
  using V = std::vector<std::vector<int>>;
  CHECK(placements(engine, {"ingest_loop", "", ""}, 5) == V{{0}, {4}, {0}, {4}, {0}});
  CHECK(placements(engine, {"worker", "", ""}, 2) == V{{1, 2, 5, 6}, {1, 2, 5, 6}});
  CHECK(placements(engine, {"three", "", ""}, 4) == V{{0}, {1}, {2}, {0}});   // 3 slots of the list
  CHECK(placements(engine, {"omp_thread", "", ""}, 1) == V{{0, 1, 2, 3, 4, 5, 6, 7}});
  CHECK(placements(engine, {"main", "", ""}, 1) == V{{}});
  auto ingest = engine.choose_at_create({"ingest_loop", "", ""});
  REQUIRE(ingest);
  CHECK(ingest->decision.reason == PlacementReason::Rule);
  CHECK(ingest->decision.node == 1);   // the 6th ingest thread: slot 1, CPU 4
}

TEST_CASE("NUMA_AGENT_BIND widens a rule's slot as it widens the policy's") {
  Options o = with_rules("ingest start=ingest_loop cpus=M0:0@M1:0 count=2");
  o.bind = BindScope::Node;
  const Topology machine = two_node_flat();
  RoleEngine engine(o, machine);
  CHECK(placements(engine, {"ingest_loop", "", ""}, 2) == std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}});
}

TEST_CASE("ELF symbol tables name static functions, which dladdr cannot") {
  auto where = os::code_location(reinterpret_cast<const void*>(&a_static_start_routine));
  REQUIRE(where);
  auto image = os::read_file("/proc/self/exe");
  REQUIRE(image);
  auto functions = read_elf_functions(*image);
  REQUIRE_FALSE(functions.functions.empty());
  const auto address = reinterpret_cast<std::uintptr_t>(&a_static_start_routine);
  const std::uint64_t at = functions.fixed_address ? address : address - where->module_base;
  CHECK(functions.symbol_at(at).find("a_static_start_routine") != std::string::npos);
  CHECK(read_elf_functions("not an ELF file").functions.empty());
  CHECK(read_elf_functions(std::string_view(*image).substr(0, 100)).functions.empty());   // truncated
}

TEST_CASE("numa-agent --rules and --config set the option table variables, bad rules are named") {
  auto plan = launcher::parse_launcher_arguments({"--rules", "io name=io-* cpus=1", "--config=/etc/app.toml", "app"});
  REQUIRE(plan);
  CHECK(launcher::planned_value(*plan, "NUMA_AGENT_RULES") == "io name=io-* cpus=1");
  CHECK(launcher::planned_value(*plan, "NUMA_AGENT_CONFIG") == "/etc/app.toml");
  auto garbage = launcher::parse_launcher_arguments({"--rules", "zz", "app"});
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().what.find("--rules 'zz'") == 0);
  const Topology machine = two_node_flat();
  CHECK(launcher::rules_problems("io name=io-* cpus=M1:0", "", "", machine).empty());
  auto problems = launcher::rules_problems("io name=io-* cpus=M1:0; far name=f* cpus=M5:0",
                                           "[threads.x]\nname = \"x*\"\ncpus = \"0\"\nspeed = 3\n", "app.toml", machine);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].find("app.toml:1 'threads.x'") == 0);
  CHECK(problems[1].find("NUMA_AGENT_RULES rule 2 'far'") == 0);
}
