// Fuzzes the agent's profile (agent/PROFILE_SCHEMA.md) as numa-analyze consumes it: `record
// --agent` folds the JSON document into the recording's agent_profile, and `report` reads its
// threads and pools.sites. A recording file may carry any JSON there, so the report must take
// any document. Input: the profile text, put into two fixed recordings (one node as on this
// machine; two nodes with remote accesses and first touches, so recommendations and sites are
// built). Invariants: no exception, no crash; the report renders; the profile survives the
// recording's write/read round trip with the same report.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "analyzer/model/recording.hpp"
#include "analyzer/views/render_text.hpp"
#include "analyzer/rules/report.hpp"
#include "tests/analyzer/synthetic_recording.hpp"

using namespace numa_agent::analyzer;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

Recording machine(int nodes) {
  Recording r = numa_agent::test::synthetic_recording(nodes, {"./app"});
  r.tool_version = "fuzz";
  r.duration_s = 2;
  r.exit_code = 0;
  r.agent = true;
  constexpr std::uint64_t kMapping = 0x7f0000000000;
  for (int tid : {100, 101}) {
    ThreadRecord t;
    t.tid = tid;
    t.name = "worker";
    t.last_seen_s = r.duration_s;
    t.residency[(tid - 100) % nodes] = 10;
    r.threads.push_back(t);
  }
  MappingRecord m;
  m.start = kMapping;
  m.end = kMapping + (1 << 20);
  m.pages_by_node[0] = 256;
  r.mappings.push_back(m);
  for (int tid : {100, 101}) numa_agent::test::add_access(r, tid, (tid - 100) % nodes, 0, kMapping, 500);
  FirstTouchBucket f;
  f.tid = 100, f.cpu_node = 0, f.memory_node = 0, f.mapping = kMapping, f.site = "app+0x1234", f.pages = 256;
  r.first_touch.push_back(f);
  return r;
}

const Recording kOneNode = machine(1);
const Recording kTwoNodes = machine(2);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json profile =
      nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size, nullptr, false);
  if (profile.is_discarded()) return 0;
  for (const Recording* base : {&kOneNode, &kTwoNodes}) {
    Recording r = *base;
    r.agent_profile = profile;
    const nlohmann::json report = build_report(r);
    require(!render_report_text(report).empty());
    const Recording again = parse_recording(serialize_recording(r), "again.json");
    require(again.agent_profile == profile);
    require(build_report(again) == report);
  }
  return 0;
}
