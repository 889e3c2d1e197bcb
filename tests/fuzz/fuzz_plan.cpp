// Fuzzes the placement-plan parser (agent/plan.hpp, analyzer/PLAN_SCHEMA.md) as the agent runs it
// at start-up on NUMA_AGENT_PLAN's file. Invariants: no exception, no crash; a plan that parses
// writes back to a document that parses to the same plan; installing it against a module of
// another build-id is refused without arming anything.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/plan.hpp"
#include "agent/plan_heap.hpp"

using namespace numa_agent;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = plan::parse_plan(text);
  if (!parsed) {
    require(!parsed.error().what.empty() && parsed.error().what.find('\n') == std::string::npos);
    return 0;
  }
  const std::string written = plan::plan_to_json(*parsed).dump();
  auto again = plan::parse_plan(written);
  require(static_cast<bool>(again));
  require(plan::plan_to_json(*again).dump() == written);
  os::LoadedModule other{"", parsed->build_id + "0", 0x1000, {{0, 0, 1u << 30, true}}};
  auto installed = plan::install(*parsed, std::vector{other});
  require(parsed->sites.empty() ? static_cast<bool>(installed) : !installed);
  require(!plan::g_active.load());
  return 0;
}
