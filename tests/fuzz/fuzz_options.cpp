// Fuzzes the option table with arbitrary NUMA_AGENT_* environments: lines "NAME=VALUE".
// Invariants: never crashes; every warning is one line naming its variable; a warned option is
// back at its default; the effective values re-parse to themselves.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/options.hpp"

using namespace numa_agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string, std::less<>> env;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    auto eq = line.find('=');
    if (eq != std::string::npos) {
      std::string name = line.substr(0, eq);
      // Map short names onto real variables so most inputs exercise a parser.
      for (const auto& spec : option_table())
        if (name == spec.name) name = std::string(spec.variable);
      env[name] = line.substr(eq + 1);
    }
    start = end + 1;
  }
  ParsedOptions parsed = parse_options(env, false);
  const Options defaults = default_options();
  for (const auto& w : parsed.warnings) {
    const std::string line = w.line();
    if (line.rfind(w.variable, 0) != 0) std::abort();
    for (const auto& spec : option_table())
      if (spec.variable == w.variable && spec.show(parsed.options) != spec.show(defaults)) std::abort();
  }
  for (const auto& spec : option_table()) {
    Options again = defaults;
    if (!spec.apply(again, spec.show(parsed.options))) std::abort();
    if (spec.show(again) != spec.show(parsed.options)) std::abort();
  }
  return 0;
}
