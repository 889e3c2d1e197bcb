// See probe.hpp.
#include "analyzer/evidence/probe.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "agent/os/pmu_events.hpp"
#include "agent/os/procfs.hpp"
#include "analyzer/evidence/evidence_source.hpp"
#include "analyzer/evidence/perf_abi.hpp"
#include "analyzer/evidence/proc_parsers.hpp"

namespace numa_agent::analyzer {
namespace abi = perf_abi;

namespace {

std::string text_or_empty(const std::string& path) {
  auto r = os::read_text_file(path);
  return r.has_value() ? (*r) : std::string();
}

int read_int(const std::string& path, int fallback) {
  std::string t = text_or_empty(path);
  try {
    return t.empty() ? fallback : std::stoi(t);
  } catch (...) {
    return fallback;
  }
}

}  // namespace

MachineInfo probe_machine() {
  MachineInfo m;
  const std::string base = "/sys/devices/system/node";
  auto entries = os::list_directory(base);
  std::vector<int> node_ids;
  if (auto* names = (entries ? &*entries : nullptr))
    for (const auto& n : *names)
      if (n.size() > 4 && n.starts_with("node") && std::all_of(n.begin() + 4, n.end(), ::isdigit))
        node_ids.push_back(std::stoi(n.substr(4)));
  std::sort(node_ids.begin(), node_ids.end());
  for (int id : node_ids) {
    std::string dir = base + "/node" + std::to_string(id);
    MachineNode node;
    node.os_index = id;
    node.cpus = parse_cpu_list(text_or_empty(dir + "/cpulist")).value_or(std::vector<int>{});
    node.memory_bytes = parse_node_memtotal(text_or_empty(dir + "/meminfo")).value_or(0);
    m.nodes.push_back(node);
    m.distances.push_back(parse_distance_row(text_or_empty(dir + "/distance")));
  }
  if (m.nodes.empty()) {
    MachineNode node;
    node.cpus = parse_cpu_list(text_or_empty("/sys/devices/system/cpu/online")).value_or(std::vector<int>{0});
    node.memory_bytes = parse_node_memtotal(text_or_empty("/proc/meminfo")).value_or(0);
    m.nodes.push_back(node);
    m.distances = {{10}};
  }
  // A distance row that does not match the node count is replaced by the SLIT defaults.
  for (std::size_t i = 0; i < m.distances.size(); ++i)
    if (m.distances[i].size() != m.nodes.size()) {
      m.distances[i].assign(m.nodes.size(), 20);
      m.distances[i][i] = 10;
    }
  m.numa_balancing = read_int("/proc/sys/kernel/numa_balancing", -1);
  m.perf_event_paranoid = read_int("/proc/sys/kernel/perf_event_paranoid", -99);
  std::string release = text_or_empty("/proc/sys/kernel/osrelease");
  while (!release.empty() && (release.back() == '\n' || release.back() == ' ')) release.pop_back();
  m.kernel = release;
  return m;
}

os::PerfEventSpec page_fault_spec(std::uint64_t period) {
  os::PerfEventSpec s;
  s.type = abi::kTypeSoftware;
  s.config = abi::kSwPageFaults;
  s.sample_period = period;
  s.sample_type = abi::kSampleIp | abi::kSampleTid | abi::kSampleTime | abi::kSampleAddr | abi::kSampleCpu;
  s.exclude_kernel = true;   // allowed at perf_event_paranoid 2 on one's own processes
  s.exclude_hv = true;
  s.task = true;
  s.comm = true;
  return s;
}

os::PerfEventSpec migration_spec() {
  os::PerfEventSpec s;
  s.type = abi::kTypeSoftware;
  s.config = abi::kSwCpuMigrations;
  s.sample_period = 1;
  s.sample_type = abi::kSampleTid | abi::kSampleTime | abi::kSampleCpu;
  // The event fires in the scheduler (kernel context): exclude_kernel would drop every sample,
  // so this needs perf_event_paranoid <= 1 or CAP_PERFMON.
  s.exclude_kernel = false;
  s.exclude_hv = true;
  return s;
}

os::PerfEventSpec node_counter_spec(bool misses) {
  os::PerfEventSpec s;
  s.type = abi::kTypeHwCache;
  s.config = abi::hw_cache_config(abi::kHwCacheNode, abi::kHwCacheOpRead,
                                  misses ? abi::kHwCacheResultMiss : abi::kHwCacheResultAccess);
  s.exclude_kernel = true;
  s.exclude_hv = true;
  return s;
}

Result<DramCounterPlan> plan_dram_counters() {
  auto events = os::dram_locality_events();
  if (!events) return fail(events.error());
  auto spec_of = [](const os::PerfEventCode& code) {
    os::PerfEventSpec s;
    s.type = code.type;
    s.config = code.config;
    s.config1 = code.config1;
    s.exclude_kernel = true;
    s.exclude_hv = true;
    return s;
  };
  return DramCounterPlan{events->pmu + ": local " + events->local.name + ", remote " + events->remote.name,
                         spec_of(events->local), spec_of(events->remote)};
}

std::string explain_perf_error(int error, int paranoid, bool hardware) {
  switch (error) {
    case ENOENT:
    case EOPNOTSUPP:
      return hardware ? "this CPU (or virtual machine) exposes no hardware PMU event for it"
                      : "the kernel does not support this event";
    case EACCES:
    case EPERM:
      return "not permitted at perf_event_paranoid=" + std::to_string(paranoid) +
             " (needs CAP_PERFMON/CAP_SYS_ADMIN, a lower paranoid level, or ptrace access to the target)";
    case ESRCH: return "the target process is gone";
    case EINVAL: return "the kernel rejected the event attributes";
    case EMFILE: return "too many open files";
    case ENODEV: return "no such PMU on this CPU";
    default: return std::strerror(error);
  }
}

namespace {

const std::string kPmuDevices = "/sys/bus/event_source/devices/";
constexpr std::uint64_t kMemorySampleType = abi::kSampleIp | abi::kSampleTid | abi::kSampleTime | abi::kSampleAddr |
                                            abi::kSampleCpu | abi::kSampleWeight | abi::kSampleDataSrc;

// A PMU's perf_event_attr type from sysfs, -1 when unreadable.
int pmu_type(const std::string& pmu) { return read_int(kPmuDevices + pmu + "/type", -1); }

MemorySamplingPlan ibs_op_plan(int type) {
  MemorySamplingPlan plan;
  plan.name = "ibs_op";
  plan.spec.type = static_cast<std::uint32_t>(type);
  plan.spec.sample_period = 0x10000;   // IBS counts in 16-op units; perf mem's default order of magnitude
  plan.spec.sample_type = kMemorySampleType;
  plan.detail = "AMD IBS op sampling (ibs_op PMU type " + std::to_string(type) + ")";
  return plan;
}

// The cpu PMU's mem-loads alias with perf mem's default load-latency threshold, 30 cycles.
std::string mem_loads_event(std::string alias) {
  while (!alias.empty() && alias.back() == '\n') alias.pop_back();
  if (auto at = alias.find("ldlat="); at != std::string::npos) {
    auto end = alias.find(',', at);
    alias.replace(at, (end == std::string::npos ? alias.size() : end) - at, "ldlat=30");
  }
  return alias;
}

Result<MemorySamplingPlan> mem_loads_plan(const std::string& alias, double frequency_hz) {
  std::map<std::string, std::string> formats;
  if (auto entries = os::list_directory(kPmuDevices + "cpu/format"))
    for (const auto& f : *entries) formats[f] = text_or_empty(kPmuDevices + "cpu/format/" + f);
  const std::string event = mem_loads_event(alias);
  auto config = resolve_pmu_event(event, formats);
  if (!config) return fail(EINVAL, "cpu/events/mem-loads could not be resolved: " + config.error().what);
  const int type = pmu_type("cpu");
  if (type < 0) return fail(EINVAL, "cpu/events/mem-loads could not be resolved: cpu/type is not a PMU type number");
  MemorySamplingPlan plan;
  plan.name = "cpu/mem-loads,ldlat=30/P";
  plan.spec.type = static_cast<std::uint32_t>(type);
  plan.spec.config = config->config;
  plan.spec.config1 = config->config1;
  plan.spec.config2 = config->config2;
  plan.spec.sample_period = static_cast<std::uint64_t>(frequency_hz);
  plan.spec.freq = true;
  plan.spec.precise_ip = 2;
  plan.spec.sample_type = kMemorySampleType;
  plan.detail = "Intel PEBS load-latency sampling (" + event + ")";
  return plan;
}

}  // namespace

Result<MemorySamplingPlan> plan_memory_sampling(double frequency_hz) {
  std::vector<std::string> pmus = os::pmu_names().value_or({});
  std::sort(pmus.begin(), pmus.end());
  if (std::find(pmus.begin(), pmus.end(), "ibs_op") != pmus.end())
    if (int type = pmu_type("ibs_op"); type >= 0) return ibs_op_plan(type);
  if (std::string alias = text_or_empty(kPmuDevices + "cpu/events/mem-loads"); !alias.empty())
    return mem_loads_plan(alias, frequency_hz);
  std::string list;
  for (const auto& p : pmus) list += (list.empty() ? "" : ", ") + p;
  return fail(ENOENT, "no ibs_op PMU and no cpu/events/mem-loads under /sys/bus/event_source/devices (PMUs: " + list + ")");
}

std::vector<EvidenceProbe> probe_capabilities() {
  std::vector<EvidenceProbe> caps;
  int paranoid = -99;
  if (auto p = os::perf_event_paranoid(); p.has_value()) paranoid = *p;
  auto try_open = [&](const std::string& name, const os::PerfEventSpec& spec, bool hardware, const std::string& ok) {
    int fd = os::perf_event_open(spec, 0, -1);
    if (fd >= 0) os::close_fd(fd);
    caps.push_back(fd >= 0 ? probe(name, true, ok) : probe(name, false, explain_perf_error(-fd, paranoid, hardware), -fd));
  };
  try_open("page-faults (sampling, addr)", page_fault_spec(1), false,
           "first-touch and NUMA hint-fault samples with data addresses");
  try_open("cpu-migrations (sampling)", migration_spec(), false, "exact thread migration sequence");
  os::PerfEventSpec cycles;
  cycles.type = abi::kTypeHardware;
  cycles.config = 0;
  cycles.exclude_kernel = true;
  try_open("cycles (hardware PMU)", cycles, true, "hardware PMU present");
  try_open("node-loads", node_counter_spec(false), true, "local DRAM reads (Intel Skylake+ mapping)");
  try_open("node-load-misses", node_counter_spec(true), true, "remote DRAM reads (Intel Skylake+ mapping)");
  if (auto dram = plan_dram_counters()) {
    int fd = os::perf_event_open(dram->remote, 0, -1);
    if (fd >= 0) os::close_fd(fd);
    caps.push_back(fd >= 0 ? probe("dram-fills (libpfm4)", true, "would count " + dram->detail)
                           : probe("dram-fills (libpfm4)", false,
                                   dram->detail + ": " + explain_perf_error(-fd, paranoid, true), -fd));
  } else {
    // No model is, to perf, no such event: ENOENT, like the generic events on this CPU.
    caps.push_back(probe("dram-fills (libpfm4)", false, dram.error().what, dram.error().code ? dram.error().code : ENOENT));
  }
  if (auto plan = plan_memory_sampling(1000))
    try_open("memory sampling (" + plan->name + ")", plan->spec, true, plan->detail);
  else
    caps.push_back(probe("memory sampling (IBS/PEBS)", false, plan.error().what, plan.error().code));
  // The tracepoint needs tracefs, which is root-only on most systems.
  auto id_text = os::read_text_file("/sys/kernel/tracing/events/sched/sched_migrate_task/id");
  if (!id_text) {
    caps.push_back(probe("sched:sched_migrate_task", false,
                         "cannot read the tracepoint id in tracefs (" + std::string(std::strerror(id_text.error().code)) + ")",
                         id_text.error().code));
  } else {
    os::PerfEventSpec spec;
    spec.type = abi::kTypeTracepoint;
    try {
      spec.config = std::stoull(*id_text);
    } catch (...) {
    }
    spec.sample_period = 1;
    try_open("sched:sched_migrate_task", spec, false, "tracepoint usable");
  }
  return caps;
}

}  // namespace numa_agent::analyzer
