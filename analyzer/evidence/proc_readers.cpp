// See proc_readers.hpp.
#include "analyzer/evidence/proc_readers.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <charconv>

#include "agent/os/procfs.hpp"

namespace numa_agent::analyzer {
namespace {

// A /proc/PID/task entry name as a tid, 0 when it is not one.
int tid_of(const std::string& name) {
  int tid = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), tid);
  return ec == std::errc() && p == name.data() + name.size() && tid > 0 ? tid : 0;
}

}  // namespace

std::string proc_path(int pid, const std::string& leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

std::vector<std::string> read_command_line(int pid) {
  auto text = os::read_text_file(proc_path(pid, "cmdline"));
  return text ? split_cmdline(*text) : std::vector<std::string>{};
}

std::map<std::string, std::uint64_t> read_vmstat() {
  auto text = os::read_text_file("/proc/vmstat");
  return text ? parse_vmstat(*text) : std::map<std::string, std::uint64_t>{};
}

std::uint64_t vmstat_delta(const std::map<std::string, std::uint64_t>& now,
                           const std::map<std::string, std::uint64_t>& then, const std::string& key) {
  auto a = now.find(key), b = then.find(key);
  return a != now.end() && b != then.end() && a->second >= b->second ? a->second - b->second : 0;
}

std::map<std::string, std::uint64_t> numa_vmstat_deltas(const std::map<std::string, std::uint64_t>& now,
                                                        const std::map<std::string, std::uint64_t>& start) {
  std::map<std::string, std::uint64_t> deltas;
  for (const auto& [key, value] : now)
    if (key.starts_with("numa_") && start.count(key)) deltas[key] = vmstat_delta(now, start, key);
  return deltas;
}

std::vector<int> list_tids(int pid) {
  std::vector<int> tids;
  if (auto names = os::list_directory(proc_path(pid, "task")))
    for (const auto& name : *names)
      if (int tid = tid_of(name)) tids.push_back(tid);
  return tids;
}

Result<std::vector<TaskStat>> read_task_stats(int pid) {
  auto names = os::list_directory(proc_path(pid, "task"));
  if (!names) return fail(names.error());
  std::vector<TaskStat> stats;
  for (const auto& name : *names) {
    int tid = tid_of(name);
    if (!tid) continue;
    auto text = os::read_text_file(proc_path(pid, "task/" + name + "/stat"));
    if (!text) continue;   // the thread just ended
    if (auto stat = parse_task_stat(*text)) {
      stat->tid = tid;
      stats.push_back(std::move(*stat));
    }
  }
  return stats;
}

Result<TaskSched> read_task_sched(int pid, int tid) {
  auto text = os::read_text_file(proc_path(pid, "task/" + std::to_string(tid) + "/sched"));
  if (!text) return fail(text.error());
  return parse_task_sched(*text);
}

Result<std::vector<NumaMapsEntry>> read_numa_maps(int pid) {
  auto text = os::read_text_file(proc_path(pid, "numa_maps"));
  if (!text) return fail(text.error());
  return parse_numa_maps(*text);
}

std::vector<MapsEntry> read_maps(int pid) {
  auto text = os::read_text_file(proc_path(pid, "maps"));
  return text ? parse_maps(*text) : std::vector<MapsEntry>{};
}

std::vector<MappingRecord> mapping_records(const std::vector<NumaMapsEntry>& numa_maps,
                                           const std::vector<MapsEntry>& maps, const MachineInfo& machine) {
  std::vector<MappingRecord> records;
  for (const auto& nm : numa_maps) {
    MappingRecord m;
    m.start = nm.start;
    m.name = nm.name;
    m.policy = nm.policy;
    m.page_kb = nm.page_kb;
    const MapsEntry* e = find_mapping(maps, nm.start);
    // A mapping holds no more pages than it spans: more resident pages than the maps entry at
    // this start spans means maps was read after that range changed (a merged block freed).
    const std::uint64_t resident_end = nm.start + nm.total_pages() * nm.page_kb * 1024;
    m.end = e ? std::max(e->end, resident_end) : resident_end;
    if (m.name.empty() && e) m.name = e->path;
    for (const auto& [os_node, pages] : nm.pages_by_node)
      if (int idx = machine.node_index(os_node); idx >= 0) m.pages_by_node[idx] += pages;
    records.push_back(std::move(m));
  }
  return records;
}

namespace {
template <typename Bucket, typename Key>
void rekey(std::vector<Bucket>& buckets, const std::map<std::uint64_t, std::uint64_t>& ends, Key key,
           void (*add)(Bucket&, const Bucket&)) {
  for (auto& b : buckets) {
    auto it = ends.upper_bound(b.mapping);
    if (b.mapping == 0 || it == ends.begin()) continue;
    --it;
    if (b.mapping < it->second) b.mapping = it->first;
  }
  std::map<decltype(key(buckets.front())), std::size_t> seen;
  std::vector<Bucket> out;
  for (auto& b : buckets) {
    auto [at, fresh] = seen.try_emplace(key(b), out.size());
    if (fresh) out.push_back(std::move(b));
    else add(out[at->second], b);
  }
  buckets = std::move(out);
}
}  // namespace

void key_buckets_by_mapping(Recording& rec) {
  std::map<std::uint64_t, std::uint64_t> ends;   // start -> end
  for (const auto& m : rec.mappings) ends[m.start] = std::max(ends[m.start], m.end);
  if (ends.empty()) return;
  rekey(rec.first_touch, ends, [](const FirstTouchBucket& b) { return std::tuple(b.tid, b.cpu_node, b.memory_node, b.mapping, b.site); },
        +[](FirstTouchBucket& into, const FirstTouchBucket& b) { into.pages += b.pages; });
  rekey(rec.accesses, ends,
        [](const AccessBucket& b) { return std::tuple(b.source, b.tid, b.cpu_node, b.memory_node, b.mapping, b.mem_class); },
        +[](AccessBucket& into, const AccessBucket& b) {
          into.count += b.count, into.loads += b.loads, into.weight_sum += b.weight_sum;
        });
  rekey(rec.exposures, ends, [](const ExposureBucket& b) { return std::tuple(b.source, b.tid, b.memory_node, b.mapping); },
        +[](ExposureBucket& into, const ExposureBucket& b) {
          into.probes += b.probes, into.hits += b.hits, into.window_ns += b.window_ns;
        });
}

CpuNodes::CpuNodes(const MachineInfo& machine) {
  for (std::size_t n = 0; n < machine.nodes.size(); ++n)
    for (int cpu : machine.nodes[n].cpus) {
      if (cpu < 0) continue;
      if (static_cast<std::size_t>(cpu) >= node_.size()) node_.resize(static_cast<std::size_t>(cpu) + 1, -1);
      node_[static_cast<std::size_t>(cpu)] = static_cast<int>(n);
      cpus_.push_back(cpu);
    }
  std::sort(cpus_.begin(), cpus_.end());
}

}  // namespace numa_agent::analyzer
