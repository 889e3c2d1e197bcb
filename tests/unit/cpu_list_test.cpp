#include "agent/cpu_list.hpp"
#include "fake_machines.hpp"

using namespace numa_agent;
using namespace numa_agent::test;

namespace {
std::vector<int> resolve(const std::string& text, const Topology& t) {
  INFO(text);
  auto spec = parse_pin_spec(text);
  REQUIRE(spec);
  auto cpus = resolve_pin_spec(*spec, t);
  INFO((cpus ? "" : cpus.error().what));
  REQUIRE(cpus);
  return *cpus;
}

std::string resolve_error(const std::string& text, const Topology& t) {
  auto spec = parse_pin_spec(text);
  REQUIRE(spec);
  auto cpus = resolve_pin_spec(*spec, t);
  REQUIRE_FALSE(cpus);
  return cpus.error().what;
}

std::string parse_error(const std::string& text) {
  INFO(text);
  auto spec = parse_pin_spec(text);
  REQUIRE_FALSE(spec);
  return spec.error().what;
}
}  // namespace

TEST_CASE("keywords parse case-insensitively") {
  CHECK(parse_pin_spec(" Spread ")->kind == PinSpec::Kind::Spread);
  CHECK(parse_pin_spec("COMPACT")->kind == PinSpec::Kind::Compact);
  CHECK(parse_pin_spec("none")->kind == PinSpec::Kind::None);
}

TEST_CASE("plain OS CPU lists") {
  Topology t = two_node_smt();
  CHECK(resolve("0-3,8", t) == std::vector<int>{0, 1, 2, 3, 8});
  CHECK(resolve("15,0", t) == std::vector<int>{15, 0});
  CHECK(resolve_error("0-3,16", t).find("CPU 16 is not available") != std::string::npos);
}

TEST_CASE("likwid logical numbering counts physical cores first") {
  Topology t = two_node_smt();   // cores {0,1},{2,3},... ; physical-first N: 0,2,4,...,14,1,3,...
  CHECK(resolve("N:0-3", t) == std::vector<int>{0, 2, 4, 6});
  CHECK(resolve("N:8", t) == std::vector<int>{1});
  CHECK(resolve("L:N:0-1", t) == std::vector<int>{0, 2});
  CHECK(resolve("L:0-1", t) == std::vector<int>{0, 2});
  CHECK(resolve("S1:0-3", t) == std::vector<int>{8, 10, 12, 14});
  CHECK(resolve("M1:4", t) == std::vector<int>{9});
  CHECK(resolve_error("S1:8", t).find("beyond domain S1") != std::string::npos);
  CHECK(resolve_error("S2:0", t).find("no allowed CPU") != std::string::npos);
}

TEST_CASE("likwid expressions walk the domain with SMT siblings adjacent") {
  Topology t = two_node_smt();   // domain order N: 0,1,2,3,...
  CHECK(resolve("E:N:4", t) == std::vector<int>{0, 1, 2, 3});
  CHECK(resolve("E:N:4:1:2", t) == std::vector<int>{0, 2, 4, 6});        // one per core
  CHECK(resolve("E:S1:4:2:4", t) == std::vector<int>{8, 9, 12, 13});
  CHECK(resolve_error("E:M0:5:1:2", t).find("more CPUs than domain M0") != std::string::npos);
}

TEST_CASE("scatter spreads physical cores over domains, like likwid's S:scatter example") {
  Topology t = two_node_smt();
  auto cpus = resolve("S:scatter", t);
  REQUIRE(cpus.size() == 16);
  CHECK(std::vector<int>(cpus.begin(), cpus.begin() + 4) == std::vector<int>{0, 8, 2, 10});
  CHECK(cpus[8] == 1);    // SMT siblings only after every physical core
  CHECK(resolve("M:scatter", four_node_asymmetric()) == std::vector<int>{0, 2, 4, 6, 1, 3, 5, 7});
}

TEST_CASE("segments join with @") {
  Topology t = two_node_smt();
  CHECK(resolve("S0:0-1@S1:0-1", t) == std::vector<int>{0, 2, 8, 10});
  CHECK(resolve("3@E:N:2", t) == std::vector<int>{3, 0, 1});
}

TEST_CASE("every syntax error names what is wrong") {
  CHECK(parse_error("").find("empty") != std::string::npos);
  CHECK(parse_error("0-").find("not a range") != std::string::npos);
  CHECK(parse_error("3-1").find("backwards") != std::string::npos);
  CHECK(parse_error("a,b").find("not <domain>:<list>") != std::string::npos);
  CHECK(parse_error("X0:1").find("not an affinity domain") != std::string::npos);
  CHECK(parse_error("C0:0-3").find("not supported") != std::string::npos);
  CHECK(parse_error("S:0-3").find("needs an index") != std::string::npos);
  CHECK(parse_error("N1:0").find("takes no index") != std::string::npos);
  CHECK(parse_error("E:N").find("must be E:") != std::string::npos);
  CHECK(parse_error("E:N:0").find("positive") != std::string::npos);
  CHECK(parse_error("E:N:4:2:1").find("smaller than chunk") != std::string::npos);
  CHECK(parse_error("E:N:4:1").find("must be E:") != std::string::npos);
  CHECK(parse_error("S0:scatter").find("without index") != std::string::npos);
  CHECK(parse_error("0-3@").find("empty segment") != std::string::npos);
  CHECK(parse_error("-1").find("not <domain>") != std::string::npos);
  CHECK(parse_error("99999").find("beyond 4095") != std::string::npos);
  CHECK(parse_error("1,,2").find("not a CPU number") != std::string::npos);
}
