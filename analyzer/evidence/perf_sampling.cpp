// The perf_event_open source: page-fault samples with data addresses (the first fault on a page is
// its first touch, later ones are NUMA hint faults), cpu-migrations samples (each thread's exact CPU
// sequence), PMU memory samples where the CPU has them, and the node-loads counters. Its rings are
// drained every round; the samples go to page placement through evidence.samples.
#include <algorithm>
#include <cerrno>
#include <optional>
#include <unordered_set>

#include "agent/os/perf_event.hpp"
#include "agent/os/procfs.hpp"
#include "analyzer/evidence/perf_abi.hpp"
#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {
namespace {

constexpr std::uint64_t kPageMask = ~std::uint64_t{4095};

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
      auto ring = os::perf_ring_map(fd, ring_pages);
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
  OpenOutcome o = open_event(EventKind::Faults, page_fault_spec(fault_period_), 256);
  faults_ = o.opened > 0;
  if (faults_) {
    probes_.push_back(probe("page-fault-sampling", true,
                            "software page-fault samples with data address (every " + std::to_string(fault_period_) +
                                " fault(s)): first touch per page, later faults are NUMA hint faults"));
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
      AccessSample sample{first, "hint-fault", "fault", tid, cpu, s.addr, s.ip, at};
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
