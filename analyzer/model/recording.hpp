// The recording file: what `numa-analyze record` measured, before any scoring. Versioned JSON
// ("schema": "numa-analyze-recording/1"), written atomically. `report` turns it into the report
// model (report.hpp). Readers reject other schemas and newer versions with a one-line error.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

inline constexpr std::string_view kRecordingSchemaName = "numa-analyze-recording";
inline constexpr int kRecordingVersion = 1;

// One evidence source and whether the recording could use it. `error` is the errno of the call
// that decided (0 when none failed), `error_name` its symbolic name ("ENOENT").
struct EvidenceProbe {
  std::string source;      // pmu-memory-sampling, pmu-node-counters, numa-balancing, ...
  bool used = false;
  std::string detail;      // why (not) used, in one sentence
  int error = 0;
  std::string error_name;
};

struct MachineNode {
  int os_index = 0;
  std::vector<int> cpus;
  std::uint64_t memory_bytes = 0;
};
struct MachineInfo {
  std::vector<MachineNode> nodes;
  std::vector<std::vector<std::uint32_t>> distances;   // SLIT, by index into nodes
  int numa_balancing = -1;                             // /proc/sys/kernel/numa_balancing, -1 unknown
  int perf_event_paranoid = -99;                       // -99 unknown
  std::string kernel;
  // Index into nodes of the node holding `cpu`, or -1.
  int node_of_cpu(int cpu) const;
  // Index into nodes of OS node `os_node`, or -1.
  int node_index(int os_node) const;
};

struct ThreadNumaFaults {
  int node = 0;                 // OS node of the memory that faulted
  std::uint64_t task_private = 0, task_shared = 0;
};
struct ThreadRecord {
  int tid = 0;
  std::string name;
  double first_seen_s = 0, last_seen_s = 0;       // seconds since recording start
  std::map<int, std::uint64_t> residency;          // node index -> polls that found the thread there
  std::uint64_t cpu_migrations = 0;                // migration samples (or se.nr_migrations delta)
  std::uint64_t node_migrations = 0;               // of which to another node
  std::vector<ThreadNumaFaults> numa_faults;       // last /proc/PID/task/TID/sched reading
};

// The one OS node a numa_maps policy binds its pages to ("bind:1", "bind=balancing:1"); none for
// any other policy or a bind to several nodes. NUMA balancing cannot move such pages.
inline std::optional<int> single_bound_node(std::string_view policy) {
  if (!policy.starts_with("bind")) return std::nullopt;
  const std::size_t colon = policy.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= policy.size()) return std::nullopt;
  int node = 0;
  for (char c : policy.substr(colon + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    node = node * 10 + (c - '0');
  }
  return node;
}

struct MappingRecord {
  std::uint64_t start = 0, end = 0;
  std::string name;             // path, [heap], [stack], or "" (anonymous)
  std::string policy;           // numa_maps policy column
  std::uint64_t page_kb = 4;
  std::map<int, std::uint64_t> pages_by_node;   // node index -> resident pages (last snapshot)
};

// Sampled memory accesses aggregated by who accessed what, where.
struct AccessBucket {
  std::string source;           // "pmu" (precise samples) or "hint-fault" (NUMA balancing faults)
  int tid = 0;
  int cpu_node = -1;            // node index of the accessing CPU
  int memory_node = -1;         // node index holding the page (-1: not resolved)
  std::uint64_t mapping = 0;    // start of the MappingRecord, 0 when unknown
  std::string mem_class;        // pmu: mem_class_name(); hint-fault: "fault"
  std::uint64_t count = 0;
  std::uint64_t loads = 0;      // of which loads (pmu only)
  std::uint64_t weight_sum = 0; // sum of sample weights (latency, cycles), pmu only
};

// First touches (the first fault seen on a page) aggregated by thread, nodes, mapping and code site.
struct FirstTouchBucket {
  int tid = 0;
  int cpu_node = -1;
  int memory_node = -1;
  std::uint64_t mapping = 0;
  // "module+0xoffset" (file offset) of the first frame of the program in the faulting stack: the
  // faulting instruction, or the call in the program that reached it through skipped frames
  // (memset, the allocator, the loader; symbolizer.hpp). Its SiteRecord, when symbolised, is in sites.
  std::string site;
  std::uint64_t pages = 0;
};

// One code address of a site's stack, symbolised at the end of `record` (symbolizer.hpp).
struct SiteFrame {
  std::string site;             // "module+0xoffset", as FirstTouchBucket::site and caller lists name it
  std::string key;              // "<build-id>+0xoffset": the same across runs and ASLR; "" without build-id
  std::string module;           // the file's path when recorded
  std::uint64_t offset = 0;     // file offset in module
  std::string function;         // demangled; "" unknown
  std::string file;             // source file; "" without DWARF
  int line = 0;
};

// A code site of the program: where pages were first touched (origin "first-touch", its pages
// are in first_touch) or where the agent's sampled allocations came from (origin "allocation":
// the agent's profile counts them, pools.sampling.sites). Callers innermost first, bounded.
struct SiteRecord {
  std::string origin;           // first-touch | allocation
  SiteFrame frame;
  bool in_program = true;       // false: no frame of the program in the stack (loader, libc, agent work)
  std::vector<SiteFrame> callers;
  std::uint64_t samples = 0;            // stacks behind this site (first-touch) or allocations sampled
  std::uint64_t estimated_bytes = 0;    // allocation: bytes the samples stand for
  std::vector<std::uint64_t> nodes;     // allocation: samples by node index of the allocating thread
};

// Probes a sampler aimed at one thread's view of memory, by where that memory is (watchpoints:
// one-shot probes on words of resident pages, aimed in proportion to resident bytes). `hits` of
// the `probes` fired within their window; the rest are cold evidence: that thread left those words
// alone. Hits are also AccessBuckets (source "watchpoint"); exposures give the denominators that
// turn hit counts into per-node access rates and the share of resident memory the probes covered.
struct ExposureBucket {
  std::string source;           // "watchpoint"
  int tid = 0;
  int memory_node = -1;         // node index holding the probed page (-1: not resolved)
  std::uint64_t mapping = 0;    // start of the MappingRecord, 0 when unknown
  std::uint64_t probes = 0;     // probes aimed (hit or cold)
  std::uint64_t hits = 0;       // of which fired
  std::uint64_t window_ns = 0;  // sum of the windows the probes were armed for
};

struct NodeCounters {
  bool available = false;
  std::uint64_t node_loads = 0, node_load_misses = 0;
};

struct Recording {
  std::string tool_version;
  std::string mode;                       // launch | attach
  std::vector<std::string> command;
  int pid = 0;
  std::uint64_t start_realtime_ns = 0;
  double duration_s = 0;
  std::string stop_reason;                // exited | duration | interrupted | vanished
  int exit_code = -1;                     // launched program's exit status, -1 unknown
  int exit_signal = 0;
  bool agent = false;                     // run under libnumaagent.so
  MachineInfo machine;
  std::vector<EvidenceProbe> evidence;
  std::map<std::string, std::uint64_t> vmstat_delta;   // numa_* counters, end - start
  std::vector<ThreadRecord> threads;
  std::vector<MappingRecord> mappings;
  std::vector<AccessBucket> accesses;
  std::vector<FirstTouchBucket> first_touch;
  std::vector<ExposureBucket> exposures;  // optional in files (older recordings have none)
  std::vector<SiteRecord> sites;          // optional in files (older recordings have none)
  NodeCounters counters;
  std::uint64_t fault_samples = 0, migration_samples = 0, pmu_samples = 0, lost_records = 0;
  std::uint64_t unresolved_pages = 0;     // sampled pages whose node move_pages could not tell
  nlohmann::json agent_profile;           // the agent's profile as written, or null
};

// One thread of the agent's profile (agent/PROFILE_SCHEMA.md threads[]): where libnumaagent.so
// placed it and, when a role rule (NUMA_AGENT_RULES / NUMA_AGENT_CONFIG) did, that rule's role.
struct AgentThreadRecord {
  int tid = 0;
  bool pinned = false;
  std::string cpus;
  int node = -1;                    // index into the profile's topology.nodes, -1 unknown
  std::string reason;               // policy | skip-mask | ... | rule
  std::optional<std::string> role;  // none: no rule placed it (the policy did)
};

// The agent profile's threads by tid (none without a profile). The profile is the program's
// file: an entry without an integer tid is skipped, a mistyped field reads as its default.
std::map<int, AgentThreadRecord> agent_threads(const Recording& recording);

// Thrown by read_recording: the message is one line, fit for "numa-analyze: <message>".
struct RecordingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether a module path or a site name ("libnumaagent.so+0x1f") is the agent's own library.
bool agent_code(std::string_view module_or_site);

nlohmann::json recording_to_json(const Recording& recording);
std::string serialize_recording(const Recording& recording);
// Parses and validates. `origin` names the file in messages.
Recording parse_recording(std::string_view text, const std::string& origin);

std::string errno_name(int error);   // "ENOENT", or "E<number>"

}  // namespace numa_agent::analyzer
