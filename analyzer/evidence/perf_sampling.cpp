// The perf_event_open source: page-fault samples with data addresses (the first fault on a page is
// its first touch, later ones are NUMA hint faults), cpu-migrations samples (each thread's exact CPU
// sequence), PMU memory samples where the CPU has them, and the node-loads counters. Its rings are
// drained every round; the samples go to page placement through evidence.samples.
// Page-fault samples carry their user call chain (frame pointers, bounded): a first touch is
// named by the program's first frame in it (FaultSites), symbolised when the recording ends.
#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "agent/os/perf_event.hpp"
#include "agent/os/procfs.hpp"
#include "agent/text.hpp"
#include "analyzer/evidence/perf_abi.hpp"
#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/sources.hpp"
#include "analyzer/evidence/symbolizer.hpp"

namespace numa_agent::analyzer {
namespace {

constexpr std::uint64_t kPageMask = ~std::uint64_t{4095};
constexpr std::size_t kStackDepth = 32;     // user frames kept per fault sample
constexpr std::size_t kCallerDepth = 8;     // callers kept above a site's frame

// A code address as a file and an offset in it (the key that survives ASLR).
struct CodePoint {
  std::string module;
  std::uint64_t offset = 0;
  auto operator<=>(const CodePoint&) const = default;
};

// First-touch sites from fault call chains: the program's first frame (skipping the agent, libc,
// the loader, operator new; symbolizer.hpp) and its callers, counted per caller chain. Keyed by
// the site name page placement gives the sample's ip, so its FirstTouchBuckets and these records join.
class FaultSites {
 public:
  void start(int pid) { pid_ = pid; }
  // The address that names this sample's first-touch site (a runtime address: page placement
  // turns it into module+offset through the same maps).
  std::uint64_t site_address(const SampleRecord& s);
  void add_records(Recording& recording);

 private:
  const MapsEntry* mapping_of(std::uint64_t address);
  std::optional<CodePoint> code_point(std::uint64_t address);
  bool skipped(const CodePoint& point);

  struct Site {
    CodePoint point;
    bool in_program = false;
    std::uint64_t samples = 0;
    std::map<std::vector<CodePoint>, std::uint64_t> chains;
  };
  int pid_ = 0;
  std::vector<MapsEntry> maps_;
  int maps_reads_ = 0;
  std::map<std::string, Site> sites_;             // by site_name()
  std::unordered_map<std::uint64_t, std::uint64_t> leaf_cache_;   // faulting ip -> site address when chainless
  // The same user stack faults thousands of times (a memset's loop): its outcome is kept by the
  // stack's raw addresses, so a repeat costs one hash instead of a walk with symbol lookups (in a
  // TCG guest the walk made the drain lag the program by seconds). Cleared when the maps change.
  struct KnownChain {
    std::uint64_t* site_samples;
    std::uint64_t* chain_samples;
    std::uint64_t address;
  };
  std::unordered_map<std::string, KnownChain> chain_cache_;
  Symbolizer symbols_;
};

const MapsEntry* FaultSites::mapping_of(std::uint64_t address) {
  const MapsEntry* m = find_mapping(maps_, address);
  // A library mapped since the last read: read again (bounded; an exited program's maps read empty).
  if (!m && maps_reads_ < 64) {
    ++maps_reads_;
    if (auto maps = read_maps(pid_); !maps.empty()) maps_ = std::move(maps), chain_cache_.clear();
    m = find_mapping(maps_, address);
  }
  return m;
}

std::optional<CodePoint> FaultSites::code_point(std::uint64_t address) {
  const MapsEntry* m = mapping_of(address);
  if (!m || m->path.empty() || m->path.starts_with("[")) return std::nullopt;
  return CodePoint{m->path, address - m->start + m->offset};
}

bool FaultSites::skipped(const CodePoint& point) {
  // Only libstdc++ is skipped by function (operator new), so only it is looked up here.
  std::string function;
  if (module_basename(point.module).starts_with("libstdc++")) function = symbols_.locate(point.module, point.offset).function;
  return skipped_frame(point.module, function);
}

std::uint64_t FaultSites::site_address(const SampleRecord& s) {
  const std::vector<std::uint64_t> frames = user_frames(s, kStackDepth);
  if (frames.empty()) return s.ip;
  std::string key(reinterpret_cast<const char*>(frames.data()), frames.size() * sizeof(std::uint64_t));
  if (auto known = chain_cache_.find(key); known != chain_cache_.end()) {
    ++*known->second.site_samples, ++*known->second.chain_samples;
    return known->second.address;
  }
  std::optional<CodePoint> leaf = code_point(frames[0]);
  // The agent's own pool pages keep their leaf: the report puts them under the agent's sampled
  // allocation sites (frame-pointer chains through the agent's code are not to be trusted).
  if (!leaf || agent_code(leaf->module)) return frames[0];
  // The first frame of the program; the leaf when nothing of it is in the chain (loader work).
  std::size_t k = 0;
  bool in_program = false;
  CodePoint point = *leaf;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    // Return addresses point after the call: the call itself is one byte before.
    auto candidate = code_point(i == 0 ? frames[i] : frames[i] - 1);
    if (candidate && !skipped(*candidate)) {
      k = i, point = std::move(*candidate), in_program = true;
      break;
    }
  }
  const std::uint64_t address = k == 0 ? frames[0] : frames[k] - 1;
  // A library the agent uses, called by the agent (its profile written through std::ofstream, its
  // sampler's libunwind), is the agent's own work.
  if (in_program && agent_dependency(point.module))
    for (std::size_t i = k + 1; i < frames.size(); ++i) {
      auto caller = code_point(frames[i] - 1);
      if (!caller || caller->module == point.module) continue;
      if (agent_code(caller->module)) in_program = false;
      break;
    }
  Site& site = sites_[site_name(point.module, point.offset)];
  site.point = point;
  site.in_program = in_program;
  ++site.samples;
  std::vector<CodePoint> chain;
  for (std::size_t i = k + 1; i < frames.size() && chain.size() < kCallerDepth; ++i)
    if (auto caller = code_point(frames[i] - 1); caller && !skipped(*caller)) chain.push_back(std::move(*caller));
  std::uint64_t& chain_samples = site.chains[chain];
  ++chain_samples;
  // std::map nodes stay where they are: the pointers hold until the cache is cleared.
  chain_cache_.emplace(std::move(key), KnownChain{&site.samples, &chain_samples, address});
  return address;
}

// At the end of the recording: the program's files are still there (symbolizer.hpp says why now).
void FaultSites::add_records(Recording& recording) {
  for (auto& [name, site] : sites_) {
    SiteRecord r;
    r.origin = "first-touch";
    std::vector<SiteFrame> frames = site_frames(symbols_, site.point.module, site.point.offset);
    r.frame = frames.front();
    r.callers.assign(frames.begin() + 1, frames.end());
    r.samples = site.samples;
    r.in_program = site.in_program;
    // The most frequent caller chain stands for the site (ties: the first in order).
    const std::vector<CodePoint>* chain = nullptr;
    std::uint64_t best = 0;
    for (const auto& [c, n] : site.chains)
      if (n > best) best = n, chain = &c;
    if (chain)
      for (const auto& caller : *chain)
        for (auto& f : site_frames(symbols_, caller.module, caller.offset)) r.callers.push_back(std::move(f));
    recording.sites.push_back(std::move(r));
  }
}

enum class EventKind { Faults, Migrations, Pmu };

struct SampledEvent {
  EventKind kind;
  int fd = -1;
  os::PerfRing ring;
  std::uint64_t sample_type = 0;
  std::string pending;   // bytes of a record not yet complete
};

struct OpenOutcome {
  int opened = 0;
  int first_error = 0;
};

bool denied(int error) { return error == EACCES || error == EPERM; }

class PerfSampling final : public EvidenceSource {
 public:
  explicit PerfSampling(const RecordOptions& options)
      : pmu_frequency_hz_(options.pmu_frequency_hz), fault_period_(std::max<std::uint64_t>(1, options.fault_period)) {}
  ~PerfSampling() override { close_events(); }

  Result<void> start(const Target& target, Evidence& evidence) override;
  void poll(const PollRound&, Evidence& evidence) override { drain(evidence); }
  void finish(Evidence& evidence) override;
  std::vector<int> wake_fds() const override {
    std::vector<int> fds;
    for (const auto& e : events_)
      if (e.kind == EventKind::Faults) fds.push_back(e.fd);
    return fds;
  }

 private:
  // counter_slot: for counting events (no ring), 0 = local DRAM reads, 1 = remote.
  OpenOutcome open_event(EventKind kind, os::PerfEventSpec spec, std::size_t ring_pages, int counter_slot = 0);
  void open_memory_sampling(int paranoid);
  void open_node_counters(int paranoid);
  void open_page_faults(int paranoid);
  void open_migrations(int paranoid);
  void probe_tracepoint();
  void drain(Evidence& evidence);
  void handle(EventKind kind, const PerfRecord& record, Evidence& evidence);
  void handle_sample(EventKind kind, const SampleRecord& s, Evidence& evidence);
  void read_counters(Recording& recording);
  void close_events();

  double pmu_frequency_hz_;
  std::uint64_t fault_period_;
  Target target_;
  std::optional<CpuNodes> cpu_nodes_;
  std::vector<SampledEvent> events_;
  std::vector<int> counter_fds_[2];   // node-loads, node-load-misses
  bool counters_ = false;
  std::vector<EvidenceProbe> probes_;
  std::vector<int> denied_;           // errno of each sampling event refused for lack of permission
  bool faults_ = false, migrations_ = false, pmu_ = false;
  std::unordered_set<std::uint64_t> seen_pages_;
  FaultSites fault_sites_;
};

OpenOutcome PerfSampling::open_event(EventKind kind, os::PerfEventSpec spec, std::size_t ring_pages, int counter_slot) {
  OpenOutcome outcome;
  spec.inherit = true;
  spec.disabled = target_.launched;
  spec.enable_on_exec = target_.launched;
  spec.clockid = os::monotonic_clock_id();
  const bool sampling = spec.sample_period != 0;
  for (int tid : target_.tids) {
    // Sampling events with inherit must be per CPU (the kernel refuses to mmap inherited per-task
    // rings); counting events can follow the task on any CPU.
    std::vector<int> cpus = sampling ? target_.cpus : std::vector<int>{-1};
    for (int cpu : cpus) {
      int fd = os::perf_event_open(spec, tid, cpu);
      if (fd < 0) {
        if (!outcome.first_error) outcome.first_error = -fd;
        continue;
      }
      if (!sampling) {
        counter_fds_[counter_slot].push_back(fd);
        ++outcome.opened;
        continue;
      }
      // A ring over the locked-memory limit (perf_event_mlock_kb, RLIMIT_MEMLOCK) is retried smaller.
      auto ring = os::perf_ring_map(fd, ring_pages);
      for (std::size_t pages = ring_pages / 2; !ring && pages >= 16 && (ring.error().code == EPERM || ring.error().code == ENOMEM); pages /= 2)
        ring = os::perf_ring_map(fd, pages);
      if (!ring) {
        if (!outcome.first_error) outcome.first_error = ring.error().code;
        os::close_fd(fd);
        continue;
      }
      events_.push_back({kind, fd, *ring, spec.sample_type, {}});
      ++outcome.opened;
    }
  }
  return outcome;
}

void PerfSampling::open_memory_sampling(int paranoid) {
  auto plan = plan_memory_sampling(pmu_frequency_hz_);
  if (!plan) {
    // Show what the kernel says about hardware events at all: ENOENT when there is no PMU.
    os::PerfEventSpec cycles;
    cycles.type = perf_abi::kTypeHardware;
    cycles.exclude_kernel = true;
    int fd = os::perf_event_open(cycles, target_.pid, -1);
    std::string hw = fd >= 0 ? "hardware events work but no memory sampling PMU is exposed"
                             : "perf_event_open(PERF_TYPE_HARDWARE cycles) fails with " + errno_name(-fd) + ": " +
                                   explain_perf_error(-fd, paranoid, true);
    if (fd >= 0) os::close_fd(fd);
    probes_.push_back(probe("pmu-memory-sampling", false, plan.error().what + "; " + hw, plan.error().code));
    return;
  }
  OpenOutcome o = open_event(EventKind::Pmu, plan->spec, 256);
  pmu_ = o.opened > 0;
  if (pmu_) {
    probes_.push_back(probe("pmu-memory-sampling", true, plan->detail));
    return;
  }
  probes_.push_back(probe("pmu-memory-sampling", false, plan->name + ": " + explain_perf_error(o.first_error, paranoid, true),
                          o.first_error));
  if (denied(o.first_error)) denied_.push_back(o.first_error);
}

void PerfSampling::open_node_counters(int paranoid) {
  OpenOutcome loads = open_event(EventKind::Pmu, node_counter_spec(false), 0);
  OpenOutcome misses = open_event(EventKind::Pmu, node_counter_spec(true), 0, 1);
  counters_ = loads.opened > 0 && misses.opened > 0;
  int err = loads.first_error ? loads.first_error : misses.first_error;
  if (counters_) {
    probes_.push_back(probe("pmu-node-counters", true, "node-loads / node-load-misses counted (local / remote DRAM reads on Intel)"));
    return;
  }
  // The generic events are not mapped on AMD Zen: the model's own fill events, by name, count
  // into the same local (node_loads) / remote (node_load_misses) counters.
  std::string why = "node-loads/node-load-misses: " + explain_perf_error(err, paranoid, true);
  auto dram = plan_dram_counters();
  if (dram) {
    OpenOutcome local = open_event(EventKind::Pmu, dram->local, 0);
    OpenOutcome remote = open_event(EventKind::Pmu, dram->remote, 0, 1);
    counters_ = local.opened > 0 && remote.opened > 0;
    if (counters_) {
      probes_.push_back(probe("pmu-node-counters", true, "local / remote DRAM fills counted (" + dram->detail + ")"));
      return;
    }
    int raw_err = local.first_error ? local.first_error : remote.first_error;
    probes_.push_back(probe("pmu-node-counters", false,
                            why + "; " + dram->detail + ": " + explain_perf_error(raw_err, paranoid, true), raw_err));
    return;
  }
  probes_.push_back(probe("pmu-node-counters", false, why + "; no named DRAM events: " + dram.error().what, err));
}

void PerfSampling::open_page_faults(int paranoid) {
  os::PerfEventSpec spec = page_fault_spec(fault_period_);
  spec.sample_type |= perf_abi::kSampleCallchain;   // user frames of a user-mode fault (frame pointers)
  // Only the user frames that are kept: a fault's kernel frames (~15) and deep user stacks made
  // each record ~4x larger, and a 4 x 16 MiB memset then overflowed the ring between drains.
  spec.exclude_callchain_kernel = true;
  spec.sample_max_stack = kStackDepth;
  // A burst of first touches (a big memset: ~12,000 records a MiB of ring) fills a ring faster than
  // a busy recorder drains it: 64 MiB of rings over the CPUs (256 KiB to 4 MiB each), and the
  // recorder's wait ends when a quarter of a ring is full.
  std::size_t ring_pages = 1024;
  while (ring_pages > 64 && ring_pages * target_.cpus.size() > 16384) ring_pages /= 2;
  spec.wakeup_watermark = static_cast<std::uint32_t>(ring_pages * 4096 / 4);
  OpenOutcome o = open_event(EventKind::Faults, spec, ring_pages);
  faults_ = o.opened > 0;
  if (faults_) {
    probes_.push_back(probe("page-fault-sampling", true,
                            "software page-fault samples with data address and user call chain (every " +
                                std::to_string(fault_period_) +
                                " fault(s)): first touch per page; later faults are NUMA hint faults where the kernel takes any"));
    return;
  }
  probes_.push_back(probe("page-fault-sampling", false, explain_perf_error(o.first_error, paranoid, false), o.first_error));
  if (denied(o.first_error)) denied_.push_back(o.first_error);
}

void PerfSampling::open_migrations(int paranoid) {
  OpenOutcome o = open_event(EventKind::Migrations, migration_spec(), 16);
  migrations_ = o.opened > 0;
  if (migrations_)
    probes_.push_back(probe("cpu-migration-sampling", true, "software cpu-migrations samples: the exact CPU sequence of every thread"));
  else
    probes_.push_back(probe("cpu-migration-sampling", false,
                            explain_perf_error(o.first_error, paranoid, false) +
                                " (the event fires in the scheduler, so it needs kernel samples); thread residency polling is used instead",
                            o.first_error));
}

// The tracepoint is not opened: the software event gives the same per-thread sequence unprivileged.
void PerfSampling::probe_tracepoint() {
  auto id = os::read_text_file("/sys/kernel/tracing/events/sched/sched_migrate_task/id");
  int err = id ? 0 : id.error().code;
  std::string instead = migrations_ ? "cpu-migrations samples give the same per-thread sequence"
                                    : "thread residency polling approximates the migration sequence";
  probes_.push_back(probe("sched-migrate-tracepoint", false,
                          err ? "tracefs is not readable (" + describe_errno(err) + "); " + instead : "not needed: " + instead,
                          err));
}

Result<void> PerfSampling::start(const Target& target, Evidence& evidence) {
  target_ = target;
  fault_sites_.start(target.pid);
  cpu_nodes_.emplace(*target.machine);
  const int paranoid = target.machine->perf_event_paranoid;
  open_memory_sampling(paranoid);
  open_node_counters(paranoid);
  open_page_faults(paranoid);
  open_migrations(paranoid);
  // Nothing of perf may be used: say so plainly instead of recording a hollow file.
  if (!faults_ && !migrations_ && !pmu_ && !denied_.empty())
    return fail(denied_.front(), "perf_event_open on PID " + std::to_string(target.pid) + ": " +
                                     describe_errno(denied_.front()) + " at perf_event_paranoid=" + std::to_string(paranoid) +
                                     "; run as root, lower kernel.perf_event_paranoid, or grant CAP_PERFMON");
  probe_tracepoint();
  evidence.threads.set_migrations_sampled(migrations_);
  return {};
}

void PerfSampling::drain(Evidence& evidence) {
  for (auto& event : events_) {
    if (os::perf_ring_drain(event.ring, event.pending) == 0 && event.pending.empty()) continue;
    DecodeResult decoded = decode_records(event.pending, event.sample_type);
    for (const auto& r : decoded.records) handle(event.kind, r, evidence);
    if (decoded.error) {
      // A malformed record means we lost sync with this ring: drop what is buffered.
      event.pending.clear();
      ++evidence.recording.lost_records;
    } else {
      event.pending.erase(0, decoded.consumed);
    }
  }
}

void PerfSampling::handle_sample(EventKind kind, const SampleRecord& s, Evidence& evidence) {
  const int tid = static_cast<int>(s.tid);
  ThreadEvidence& t = evidence.threads.at(tid);
  const double at = evidence.clock.at_s(s.time);
  t.record.first_seen_s = std::min(t.record.first_seen_s, at);
  t.record.last_seen_s = std::max(t.record.last_seen_s, at);
  const int cpu = static_cast<int>(s.cpu);
  const int node = cpu_nodes_->node_of(cpu);
  if (node >= 0) ++t.sample_residency[node];
  switch (kind) {
    case EventKind::Faults: {
      ++evidence.recording.fault_samples;
      bool first = seen_pages_.insert(s.addr & kPageMask).second;
      AccessSample sample{first, "hint-fault", "fault", tid, cpu, s.addr, first ? fault_sites_.site_address(s) : s.ip, at};
      evidence.samples.push_back(sample);
      break;
    }
    case EventKind::Migrations: {
      ++evidence.recording.migration_samples;
      ++t.sample_migrations;
      int before = t.sample_node >= 0 ? t.sample_node : t.poll_node;
      if (before >= 0 && node >= 0 && node != before) ++t.sample_node_migrations;
      t.sample_node = node;
      break;
    }
    case EventKind::Pmu: {
      ++evidence.recording.pmu_samples;
      DataSource src = decode_data_src(s.data_src);
      AccessSample sample{false, "pmu", mem_class_name(classify_data_src(src)), tid, cpu, s.addr, s.ip, at};
      sample.weight = s.weight;
      sample.load = is_load(src);
      evidence.samples.push_back(sample);
      break;
    }
  }
}

void PerfSampling::handle(EventKind kind, const PerfRecord& record, Evidence& evidence) {
  // Only the target process's threads: children it forks are other processes.
  if (auto* s = std::get_if<SampleRecord>(&record)) {
    if (static_cast<int>(s->pid) == target_.pid) handle_sample(kind, *s, evidence);
  } else if (auto* task = std::get_if<TaskRecord>(&record)) {
    if (static_cast<int>(task->pid) != target_.pid) return;
    const int tid = static_cast<int>(task->tid);
    bool known = evidence.threads.contains(tid);
    ThreadEvidence& t = evidence.threads.at(tid);
    double at = evidence.clock.at_s(task->time);
    if (task->exit) {
      t.record.last_seen_s = at;
      evidence.threads.mark_exited(tid);
    } else {
      if (!known) t.record.first_seen_s = at, t.record.last_seen_s = at;
      // A new thread carries its creator's name until it sets its own.
      if (t.record.name.empty())
        if (auto* parent = evidence.threads.find(static_cast<int>(task->ptid))) t.record.name = parent->record.name;
    }
  } else if (auto* comm = std::get_if<CommRecord>(&record)) {
    if (static_cast<int>(comm->pid) == target_.pid) evidence.threads.at(static_cast<int>(comm->tid)).record.name = comm->comm;
  } else if (auto* lost = std::get_if<LostRecord>(&record)) {
    evidence.recording.lost_records += lost->lost;
  }
}

// The sum over every target's inherited counter.
void PerfSampling::read_counters(Recording& recording) {
  recording.counters.available = counters_;
  if (!counters_) return;
  for (int which = 0; which < 2; ++which)
    for (int fd : counter_fds_[which])
      if (auto v = os::perf_event_read_count(fd))
        (which ? recording.counters.node_load_misses : recording.counters.node_loads) += *v;
}

void PerfSampling::finish(Evidence& evidence) {
  drain(evidence);   // what the program did in its last moments
  for (auto& e : events_) os::perf_event_disable(e.fd);
  read_counters(evidence.recording);
  fault_sites_.add_records(evidence.recording);
  for (auto& p : probes_) evidence.recording.evidence.push_back(std::move(p));
  probes_.clear();
  close_events();
}

void PerfSampling::close_events() {
  for (auto& e : events_) {
    os::perf_ring_unmap(e.ring);
    os::close_fd(e.fd);
  }
  events_.clear();
  for (auto& fds : counter_fds_) {
    for (int fd : fds) os::close_fd(fd);
    fds.clear();
  }
}

}  // namespace

std::unique_ptr<EvidenceSource> make_perf_sampling(const RecordOptions& options) {
  return std::make_unique<PerfSampling>(options);
}

}  // namespace numa_agent::analyzer
