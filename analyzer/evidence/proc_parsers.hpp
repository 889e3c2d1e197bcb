// Parsers for the /proc and /sys text numa-analyze reads. Each takes the file's text as a string
// (the recorder reads it with os::read_text_file; tests feed fixtures from tests/analyzer/data).
// Malformed input yields std::nullopt or skips the line; nothing throws.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/error.hpp"

namespace numa_agent::analyzer {

// /proc/PID/task/TID/stat
struct TaskStat {
  int tid = 0;
  std::string comm;
  char state = '?';
  int processor = -1;   // field 39: CPU the task last ran on
};
std::optional<TaskStat> parse_task_stat(std::string_view text);

// /proc/PID/task/TID/sched (CONFIG_SCHED_DEBUG; the NUMA part needs CONFIG_NUMA_BALANCING)
struct NumaFaultsLine {
  int node = 0;
  std::uint64_t task_private = 0, task_shared = 0, group_private = 0, group_shared = 0;
  std::uint64_t task_total() const { return task_private + task_shared; }
};
struct TaskSched {
  std::optional<std::uint64_t> nr_migrations;    // se.nr_migrations: CPU migrations so far
  std::optional<int> current_node;
  std::optional<int> preferred_node;             // numa_preferred_nid (-1: none)
  std::optional<std::uint64_t> total_numa_faults;
  std::optional<std::uint64_t> numa_pages_migrated;
  std::vector<NumaFaultsLine> numa_faults;       // one per online node
};
TaskSched parse_task_sched(std::string_view text);

// /proc/PID/cmdline: NUL-separated arguments (a trailing NUL ends the last one).
std::vector<std::string> split_cmdline(std::string_view text);

// /proc/vmstat: "name value" lines.
std::map<std::string, std::uint64_t> parse_vmstat(std::string_view text);

// /proc/PID/numa_maps
struct NumaMapsEntry {
  std::uint64_t start = 0;
  std::string policy;            // default, bind:1, interleave:0-1, prefer:0, local
  std::string name;              // file path, "[heap]", "[stack]", or "" for anonymous
  bool anonymous = false;
  std::uint64_t page_kb = 4;
  std::map<int, std::uint64_t> pages_by_node;   // OS node -> resident pages
  std::uint64_t total_pages() const;
};
std::vector<NumaMapsEntry> parse_numa_maps(std::string_view text);

// /proc/PID/maps
struct MapsEntry {
  std::uint64_t start = 0, end = 0, offset = 0;
  std::string perms;
  std::string path;              // may be empty, "[heap]", "[stack]", "[vdso]"
};
std::vector<MapsEntry> parse_maps(std::string_view text);
// The entry containing addr, or nullptr. `maps` must be sorted by start (as /proc prints it).
const MapsEntry* find_mapping(const std::vector<MapsEntry>& maps, std::uint64_t addr);

// "0-3,8,10-11" (cpulist, Cpus_allowed_list, node lists). nullopt when malformed.
std::optional<std::vector<int>> parse_cpu_list(std::string_view text);
// /sys/devices/system/node/nodeN/meminfo: the "MemTotal:" line, in bytes.
std::optional<std::uint64_t> parse_node_memtotal(std::string_view text);
// /sys/devices/system/node/nodeN/distance: "10 21".
std::vector<std::uint32_t> parse_distance_row(std::string_view text);

// A PMU event alias from sysfs ("event=0xcd,umask=0x1,ldlat=3") resolved through the PMU's
// format files (name -> "config:0-7", "config1:0-15", "config:0-7,32-35") into config words.
struct PmuConfig {
  std::uint64_t config = 0, config1 = 0, config2 = 0;
};
// Fails (code EINVAL) naming the term or format that does not fit.
Result<PmuConfig> resolve_pmu_event(std::string_view event_text, const std::map<std::string, std::string>& formats);

}  // namespace numa_agent::analyzer
