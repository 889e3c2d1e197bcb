// See recording.hpp.
#include "analyzer/model/recording.hpp"

#include <cstring>

#include "analyzer/model/json_field.hpp"

namespace numa_agent::analyzer {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EvidenceProbe, source, used, detail, error, error_name)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MachineNode, os_index, cpus, memory_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MachineInfo, nodes, distances, numa_balancing, perf_event_paranoid, kernel)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ThreadNumaFaults, node, task_private, task_shared)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ThreadRecord, tid, name, first_seen_s, last_seen_s, residency, cpu_migrations,
                                   node_migrations, numa_faults)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MappingRecord, start, end, name, policy, page_kb, pages_by_node)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AccessBucket, source, tid, cpu_node, memory_node, mapping, mem_class, count,
                                   loads, weight_sum)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(FirstTouchBucket, tid, cpu_node, memory_node, mapping, site, pages)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ExposureBucket, source, tid, memory_node, mapping, probes, hits, window_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SiteFrame, site, key, module, offset, function, file, line)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SiteRecord, origin, frame, in_program, callers, samples, estimated_bytes, nodes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(NodeCounters, available, node_loads, node_load_misses)

int MachineInfo::node_of_cpu(int cpu) const {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (int c : nodes[i].cpus)
      if (c == cpu) return static_cast<int>(i);
  return -1;
}

int MachineInfo::node_index(int os_node) const {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].os_index == os_node) return static_cast<int>(i);
  return -1;
}

bool agent_code(std::string_view module_or_site) {
  auto slash = module_or_site.find_last_of('/');
  return module_or_site.substr(slash == std::string_view::npos ? 0 : slash + 1).starts_with("libnumaagent");
}

std::string errno_name(int error) {
  if (error == 0) return "";
  const char* name = strerrorname_np(error);
  return name ? name : "E" + std::to_string(error);
}

namespace {

// How a field stands in the file. Optional: read when present (older recordings lack it), always
// written. OmittedWhenEmpty: optional, and not written when empty, so files whose writers never
// had it stay as they were.
enum class Presence { Required, Optional, OmittedWhenEmpty };

// Every field of a recording file but "schema", each named once: recording_to_json writes them,
// parse_recording reads them in this order (so a file missing several keys is told the first).
// R is Recording or const Recording.
template <typename R, typename Visit>
void for_each_field(R& r, Visit&& visit) {
  visit("tool_version", r.tool_version, Presence::Required);
  visit("mode", r.mode, Presence::Required);
  visit("command", r.command, Presence::Required);
  visit("pid", r.pid, Presence::Required);
  visit("start_realtime_ns", r.start_realtime_ns, Presence::Required);
  visit("duration_s", r.duration_s, Presence::Required);
  visit("stop_reason", r.stop_reason, Presence::Required);
  visit("exit_code", r.exit_code, Presence::Required);
  visit("exit_signal", r.exit_signal, Presence::Required);
  visit("agent", r.agent, Presence::Required);
  visit("machine", r.machine, Presence::Required);
  visit("evidence", r.evidence, Presence::Required);
  visit("vmstat_delta", r.vmstat_delta, Presence::Required);
  visit("threads", r.threads, Presence::Required);
  visit("mappings", r.mappings, Presence::Required);
  visit("accesses", r.accesses, Presence::Required);
  visit("first_touch", r.first_touch, Presence::Required);
  visit("exposures", r.exposures, Presence::Optional);
  visit("sites", r.sites, Presence::OmittedWhenEmpty);
  visit("counters", r.counters, Presence::Required);
  visit("fault_samples", r.fault_samples, Presence::Required);
  visit("migration_samples", r.migration_samples, Presence::Required);
  visit("pmu_samples", r.pmu_samples, Presence::Required);
  visit("lost_records", r.lost_records, Presence::Required);
  visit("unresolved_pages", r.unresolved_pages, Presence::Required);
  visit("agent_profile", r.agent_profile, Presence::Required);
}

}  // namespace

nlohmann::json recording_to_json(const Recording& r) {
  nlohmann::json j;
  j["schema"] = std::string(kRecordingSchemaName) + "/" + std::to_string(kRecordingVersion);
  for_each_field(r, [&j](const char* key, const auto& value, Presence presence) {
    if constexpr (requires { value.empty(); })
      if (presence == Presence::OmittedWhenEmpty && value.empty()) return;
    j[key] = value;
  });
  return j;
}

std::string serialize_recording(const Recording& recording) { return recording_to_json(recording).dump(1) + "\n"; }

Recording parse_recording(std::string_view text, const std::string& origin) {
  if (text.empty()) throw RecordingError(origin + ": empty file, not a numa-analyze recording");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    throw RecordingError(origin + ": not a numa-analyze recording (truncated or corrupt JSON)");
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    throw RecordingError(origin + ": not a numa-analyze recording (no \"schema\" key)");
  std::string schema = j["schema"];
  std::string prefix = std::string(kRecordingSchemaName) + "/";
  if (!schema.starts_with(prefix))
    throw RecordingError(origin + ": a '" + schema + "' file, not a numa-analyze recording");
  int version = 0;
  try {
    version = std::stoi(schema.substr(prefix.size()));
  } catch (...) {
    throw RecordingError(origin + ": unreadable schema version '" + schema + "'");
  }
  if (version > kRecordingVersion)
    throw RecordingError(origin + ": recording format version " + std::to_string(version) +
                         " is newer than this numa-analyze reads (" + std::to_string(kRecordingVersion) +
                         "); upgrade numa-analyze");
  if (version < 1) throw RecordingError(origin + ": unknown recording format version " + std::to_string(version));
  Recording r;
  try {
    for_each_field(r, [&j](const char* key, auto& value, Presence presence) {
      if (presence != Presence::Required && !j.contains(key)) return;
      value = j.at(key).template get<std::remove_reference_t<decltype(value)>>();
    });
  } catch (const nlohmann::json::exception& e) {
    // e.what() is "[json.exception.out_of_range.403] key 'x' not found": keep the readable part.
    std::string what = e.what();
    auto close = what.find("] ");
    throw RecordingError(origin + ": corrupt recording: " + (close == std::string::npos ? what : what.substr(close + 2)));
  }
  // Structural checks that the report relies on.
  const int nodes = static_cast<int>(r.machine.nodes.size());
  if (nodes == 0) throw RecordingError(origin + ": corrupt recording: machine has no nodes");
  if (r.machine.distances.size() != r.machine.nodes.size())
    throw RecordingError(origin + ": corrupt recording: distance matrix is not " + std::to_string(nodes) + "x" +
                         std::to_string(nodes));
  for (const auto& row : r.machine.distances)
    if (static_cast<int>(row.size()) != nodes)
      throw RecordingError(origin + ": corrupt recording: distance matrix is not square");
  auto check_node = [&](int node, const char* what) {
    if (node < -1 || node >= nodes)
      throw RecordingError(origin + ": corrupt recording: " + what + " node " + std::to_string(node) + " out of range");
  };
  for (const auto& a : r.accesses) check_node(a.cpu_node, "access"), check_node(a.memory_node, "access");
  for (const auto& f : r.first_touch) check_node(f.cpu_node, "first-touch"), check_node(f.memory_node, "first-touch");
  for (const auto& e : r.exposures) {
    check_node(e.memory_node, "exposure");
    if (e.hits > e.probes) throw RecordingError(origin + ": corrupt recording: exposure has more hits than probes");
  }
  for (const auto& t : r.threads)
    for (const auto& [node, n] : t.residency) check_node(node, "thread residency");
  for (const auto& m : r.mappings)
    for (const auto& [node, n] : m.pages_by_node) check_node(node, "mapping");
  return r;
}

std::map<int, AgentThreadRecord> agent_threads(const Recording& recording) {
  std::map<int, AgentThreadRecord> out;
  const nlohmann::json& threads = field(recording.agent_profile, "threads");
  if (!threads.is_array()) return out;
  for (const auto& t : threads) {
    if (!field(t, "tid").is_number_integer()) continue;
    AgentThreadRecord a{t["tid"].get<int>(), field_or(t, "pinned", false), field_or(t, "cpus", std::string()),
                        field_or(t, "node", -1), field_or(t, "reason", std::string()), std::nullopt};
    if (const std::string role = field_or(t, "role", std::string()); !role.empty()) a.role = role;
    out[a.tid] = std::move(a);
  }
  return out;
}

}  // namespace numa_agent::analyzer
