// numa-analyze as the analyzer's integration tests run it (through tests/support/run_under_agent.hpp):
// its report of a file as JSON, its one-line errors, and this machine's NUMA node count.
#pragma once
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "../support/run_under_agent.hpp"

namespace numa_agent::test {

inline std::string analyze_tool() { return build_dir() + "/numa-analyze"; }

// `numa-analyze report FILE --format json`, parsed; the test fails unless it exits 0.
inline nlohmann::json report_json(const std::string& file) {
  const ProgramResult r = run_program({analyze_tool(), "report", file, "--format", "json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.out);
}

// Lines of stderr that are numa-analyze's errors ("numa-analyze: ...").
inline int error_lines(const std::string& err) { return lines_starting_with(err, "numa-analyze:"); }

inline int online_nodes() {
  int n = 0;
  while (file_exists("/sys/devices/system/node/node" + std::to_string(n))) ++n;
  return n == 0 ? 1 : n;
}

}  // namespace numa_agent::test
