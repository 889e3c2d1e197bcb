#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "agent/options.hpp"
#include "agent/printable.hpp"

using namespace numa_agent;
using Env = std::map<std::string, std::string, std::less<>>;

TEST_CASE("defaults come from the table") {
  Options o = default_options();
  CHECK(o.pin == "spread");
  CHECK(o.skip_mask == 0);
  CHECK(o.bind == BindScope::Cpu);
  CHECK(o.log == LogLevel::Warn);
  CHECK(o.profile.empty());
  CHECK(o.pools);
  CHECK(o.small_max == 32 * 1024);
  CHECK(o.arena_size == (std::size_t{16} << 30));
  CHECK(o.sample == 0);
  for (const auto& spec : option_table()) {
    INFO(spec.variable);
    CHECK(spec.variable.substr(0, 11) == "NUMA_AGENT_");
    // The effective value, written back in the user's syntax, parses to the same value.
    Options round_trip = default_options();
    CHECK(spec.apply(round_trip, spec.show(o)));
    CHECK(spec.show(round_trip) == spec.show(o));
  }
}

TEST_CASE("valid values are applied") {
  auto r = parse_options(Env{{"NUMA_AGENT_PIN", "N:0-7"}, {"NUMA_AGENT_SKIP", "0x3"},
                             {"NUMA_AGENT_BIND", "Node"}, {"NUMA_AGENT_LOG", "info"},
                             {"NUMA_AGENT_PROFILE", "/tmp/p-%p.json"}, {"NUMA_AGENT_POOLS", "off"},
                             {"NUMA_AGENT_SMALL_MAX", "4k"}, {"NUMA_AGENT_ARENA_SIZE", "1G"},
                             {"NUMA_AGENT_SAMPLE", "512k"}},
                         false);
  CHECK(r.warnings.empty());
  CHECK(r.options.pin == "N:0-7");
  CHECK(r.options.skip_mask == 3);
  CHECK(r.options.bind == BindScope::Node);
  CHECK(r.options.log == LogLevel::Info);
  CHECK(r.options.profile == "/tmp/p-%p.json");
  CHECK_FALSE(r.options.pools);
  CHECK(r.options.small_max == 4096);
  CHECK(r.options.arena_size == (std::size_t{1} << 30));
  CHECK(r.options.sample == 512 * 1024);
}

TEST_CASE("each bad value gives one warning naming the variable, the value and the default") {
  struct Case { const char* var; const char* value; const char* reason; const char* def; };
  const Case cases[] = {
      {"NUMA_AGENT_PIN", "banana", "not a policy or CPU expression", "spread"},
      {"NUMA_AGENT_PIN", "", "is empty", "spread"},
      {"NUMA_AGENT_SKIP", "zz", "not a hex mask", "0x0"},
      {"NUMA_AGENT_SKIP", "-1", "not a hex mask", "0x0"},
      {"NUMA_AGENT_SKIP", "0x1ffffffffffffffffff", "not a hex mask", "0x0"},
      {"NUMA_AGENT_BIND", "socket", "not one of cpu, core, node", "cpu"},
      {"NUMA_AGENT_PIN_MAIN", "maybe", "not one of auto, start, no", "auto"},
      {"NUMA_AGENT_LOG", "loud", "not one of off", "warn"},
      {"NUMA_AGENT_POOLS", "", "not a boolean", "1"},
      {"NUMA_AGENT_SMALL_MAX", "8", "outside 16..32k", "32k"},
      {"NUMA_AGENT_SMALL_MAX", "1M", "outside", "32k"},
      {"NUMA_AGENT_SMALL_MAX", "-5", "not a size", "32k"},
      {"NUMA_AGENT_SMALL_MAX", "12q", "not a size", "32k"},
      {"NUMA_AGENT_ARENA_SIZE", "99999999999999999999", "not a size", "16G"},
      {"NUMA_AGENT_ARENA_SIZE", "20000000T", "not a size", "16G"},
      {"NUMA_AGENT_SAMPLE", "often", "not a size", "0"},
  };
  for (const auto& c : cases) {
    INFO(c.var << "=" << c.value);
    auto r = parse_options(Env{{c.var, c.value}}, false);
    REQUIRE(r.warnings.size() == 1);
    const std::string line = r.warnings[0].line();
    CHECK(line.find(c.var) == 0);
    CHECK(line.find(std::string("'") + c.value + "'") != std::string::npos);
    CHECK(line.find(c.reason) != std::string::npos);
    CHECK(line.find(std::string("using default '") + c.def + "'") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
    // The option is back at its default, everything else untouched.
    const Options d = default_options();
    for (const auto& spec : option_table()) CHECK(spec.show(r.options) == spec.show(d));
  }
}

TEST_CASE("an unknown NUMA_AGENT_ variable is reported, not silently ignored") {
  auto r = parse_options(Env{{"NUMA_AGENT_PINN", "compact"}}, false);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].line().find("NUMA_AGENT_PINN='compact' is not a numa-agent option") == 0);
  CHECK(r.options.pin == "spread");
}

TEST_CASE("secure execution ignores the environment entirely") {
  auto r = parse_options(Env{{"NUMA_AGENT_PIN", "compact"}, {"NUMA_AGENT_PROFILE", "/etc/evil"}}, true);
  CHECK(r.warnings.empty());
  CHECK(r.options.pin == "spread");
  CHECK(r.options.profile.empty());
}

TEST_CASE("value parsers") {
  CHECK(parse_size("64k").value_or(0) == 65536);
  CHECK(parse_size("2MiB").value_or(0) == (2u << 20));
  CHECK(parse_size(" 7 ").value_or(0) == 7);
  CHECK_FALSE(parse_size("k"));
  CHECK(parse_size("1.5G").error().what == "is not a size (examples: 1024, 64k, 16G)");
  CHECK(parse_bool("Yes").value_or(false));
  CHECK_FALSE(parse_bool("OFF").value_or(true));
  CHECK_FALSE(parse_bool("maybe"));
  CHECK(parse_hex_mask("0X1f").value_or(0) == 31);
  CHECK(parse_hex_mask("ff").value_or(0) == 255);
  CHECK_FALSE(parse_hex_mask("0x"));
}

TEST_CASE("the table is indexed by OptionId") {
  REQUIRE(option_table().size() == static_cast<std::size_t>(OptionId::kCount));
  for (std::size_t i = 0; i < option_table().size(); ++i) CHECK(option_table()[i].option == static_cast<OptionId>(i));
  CHECK(option_spec(OptionId::Skip).variable == "NUMA_AGENT_SKIP");
  CHECK(option_spec(OptionId::Sample).variable == "NUMA_AGENT_SAMPLE");
  Options o = default_options();
  o.skip_mask = 0x5;
  CHECK(option_spec(OptionId::Skip).show(o) == "0x5");
}

TEST_CASE("every default in the table is valid and Options{} is not the defaults") {
  for (const auto& spec : option_table()) {
    INFO(spec.variable);
    Options o;
    CHECK(spec.apply(o, spec.default_text));
  }
  // The defaults live in the table only: a zeroed Options differs from them.
  CHECK_FALSE(Options{}.pools == default_options().pools);
}

TEST_CASE("the README table lists every option with its default") {
  std::string md = options_markdown();
  for (const auto& spec : option_table()) {
    INFO(spec.variable);
    CHECK(md.find("`" + std::string(spec.variable) + "`") != std::string::npos);
  }
  CHECK(md.find("| `NUMA_AGENT_PIN` | policy \\| CPU expression | `spread` |") != std::string::npos);
  std::string desc = describe_options(default_options());
  CHECK(desc.find("NUMA_AGENT_SMALL_MAX=32k") != std::string::npos);
}

// ---- warning lines are one printable line whatever the value holds ----------------------------

TEST_CASE("printable escapes control bytes and invalid UTF-8, keeps valid UTF-8") {
  using numa_agent::printable;
  CHECK(printable("a\nb") == "a\\x0ab");
  CHECK(printable("\x1b[2J\x07") == "\\x1b[2J\\x07");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");          // é stays
  CHECK(printable("n\xf6" "de") == "n\\xf6de");               // Latin-1 ö is not UTF-8
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");      // a UTF-16 surrogate is not UTF-8
  CHECK(printable("\xe2\x82") == "\\xe2\\x82");               // truncated sequence
  CHECK(printable("\x7f") == "\\x7f");
}

TEST_CASE("printable bounds the result and names the original size") {
  using numa_agent::printable;
  const std::string big(65536, 'x');
  const std::string p = printable(big, 60);
  CHECK(p.size() <= 60 + std::string("...(65536 bytes)").size());
  CHECK(p.rfind("...(65536 bytes)") == p.size() - std::string("...(65536 bytes)").size());
  // Never cuts a UTF-8 character in two.
  std::string euros;
  for (int i = 0; i < 40; ++i) euros += "\xe2\x82\xac";
  const std::string q = printable(euros, 10);
  CHECK(q.substr(0, 9) == "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
  CHECK(q.substr(9, 4) == "...(");
}

TEST_CASE("an option warning is one bounded line without control bytes") {
  std::map<std::string, std::string, std::less<>> env{
      {"NUMA_AGENT_SKIP", "1\nnuma-agent[1]: warning: forged"}, {"NUMA_AGENT_PIN", std::string(70000, 'N')}};
  auto parsed = numa_agent::parse_options(env, false);
  REQUIRE(parsed.warnings.size() == 2);
  for (const auto& w : parsed.warnings) {
    const std::string line = w.line();
    INFO(line.substr(0, 200));
    CHECK(line.size() < 400);
    CHECK(std::none_of(line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
    CHECK(line.find("using default") != std::string::npos);
  }
}
