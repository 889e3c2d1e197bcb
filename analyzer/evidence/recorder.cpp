// See recorder.hpp. One Session object per recording: set-up (probe, launch or attach, open
// events), a polling loop (drain rings, poll threads, snapshot placement), and finalisation.
#include "agent/text.hpp"
#include "analyzer/evidence/recorder.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "agent/os/launch.hpp"
#include "agent/os/perf_event.hpp"
#include "agent/os/procfs.hpp"
#include "analyzer/evidence/perf_abi.hpp"
#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/evidence/proc_parsers.hpp"

namespace numa_agent::analyzer {
namespace {

using text::hex;

constexpr std::uint64_t kPageMask = ~std::uint64_t{4095};

std::string describe(int error) { return std::string(std::strerror(error)) + " (" + errno_name(error) + ")"; }

enum class EventKind { Faults, Migrations, Pmu };

struct SampledEvent {
  EventKind kind;
  int fd = -1;
  os::PerfRing ring;
  std::uint64_t sample_type = 0;
  std::string pending;   // bytes of a record not yet complete
};

struct ThreadState {
  ThreadRecord record;
  int poll_node = -1;            // node at the last residency poll
  int sample_node = -1;          // node after the last migration sample
  std::uint64_t poll_node_changes = 0;
  std::uint64_t sample_migrations = 0, sample_node_migrations = 0;
  std::optional<std::uint64_t> first_nr_migrations, last_nr_migrations;
  std::map<int, std::uint64_t> sample_residency;   // node -> samples taken there (for threads never polled)
};

enum class PageUse { FirstTouch, HintFault, Pmu };
struct PendingSample {
  PageUse use;
  int tid = 0;
  int cpu_node = -1;
  std::uint64_t addr = 0, ip = 0, weight = 0;
  MemClass mem_class = MemClass::Unknown;
  bool load = false;
};

struct OpenOutcome {
  int opened = 0;
  int first_error = 0;
};

class Session {
 public:
  Session(const RecordOptions& options, const ProgressSink& progress) : opt_(options), progress_(progress) {}
  ~Session() { cleanup(); }
  Recording run();

 private:
  void start_target();
  void open_all_events(const std::vector<int>& targets, bool launch);
  OpenOutcome open_event(EventKind kind, os::PerfEventSpec spec, const std::vector<int>& targets, bool launch,
                         std::size_t ring_pages);
  void drain();
  void handle(const SampledEvent& event, const PerfRecord& record);
  void resolve_pending();
  void poll_threads();
  void snapshot();
  void refresh_maps();
  ThreadState& thread(int tid);
  double now_s() const { return double(os::monotonic_ns() - start_mono_) / 1e9; }
  // A perf timestamp (CLOCK_MONOTONIC, see use_clockid) as seconds since the recording started.
  double time_s(std::uint64_t perf_ns) const {
    return perf_ns > start_mono_ ? double(perf_ns - start_mono_) / 1e9 : 0.0;
  }
  int node_of_cpu(int cpu) const {
    return cpu >= 0 && static_cast<std::size_t>(cpu) < cpu_node_.size() ? cpu_node_[static_cast<std::size_t>(cpu)] : -1;
  }
  std::string site_of(std::uint64_t ip) const;
  void finish_target(const std::string& reason);
  void read_agent_profile();
  void add_probe(std::string source, bool used, std::string detail, int error = 0) {
    rec_.evidence.push_back({std::move(source), used, std::move(detail), error, errno_name(error)});
  }
  void cleanup();

  RecordOptions opt_;
  ProgressSink progress_;
  Recording rec_;
  std::vector<int> cpu_node_;
  std::vector<int> cpus_;
  int pid_ = 0;
  bool launched_ = false;
  bool reaped_ = false;
  os::LaunchedChild child_;
  int interrupt_fd_ = -1;
  std::uint64_t start_mono_ = 0;
  std::string temp_dir_;
  std::vector<SampledEvent> events_;
  std::vector<int> counter_fds_[2];
  std::map<std::string, std::uint64_t> vmstat_start_;

  std::unordered_map<int, ThreadState> threads_;
  std::unordered_set<std::uint64_t> seen_pages_;
  // The node each sampled page was found on at its last query: samples still in the rings when
  // the program exits can no longer be queried (the last round of faults before exit would be
  // lost, a bias towards whatever the program touched last), so they take their page's last node.
  std::unordered_map<std::uint64_t, int> last_page_node_;
  std::uint64_t remembered_pages_ = 0;
  std::vector<PendingSample> pending_;
  std::vector<MapsEntry> maps_;
  // site_of() per instruction address for the current maps_ (the same few sites fault thousands of times).
  std::unordered_map<std::uint64_t, std::string> site_cache_;
  std::vector<NumaMapsEntry> numa_maps_;
  std::map<std::tuple<std::string, int, int, int, std::uint64_t, std::string>, AccessBucket> accesses_;
  std::map<std::tuple<int, int, int, std::uint64_t, std::string>, FirstTouchBucket> first_touch_;
  int numa_maps_error_ = 0, numa_maps_reads_ = 0;
  int move_pages_error_ = 0;
  std::uint64_t resolved_pages_ = 0;
  std::uint64_t polls_ = 0;
  int sched_reads_ = 0, sched_numa_lines_ = 0, sched_error_ = 0;
  bool fault_events_ = false, migration_events_ = false, pmu_events_ = false;
};

ThreadState& Session::thread(int tid) {
  auto [it, inserted] = threads_.try_emplace(tid);
  if (inserted) {
    it->second.record.tid = tid;
    it->second.record.first_seen_s = now_s();
    it->second.record.last_seen_s = it->second.record.first_seen_s;
  }
  return it->second;
}

void Session::start_target() {
  if (opt_.pid > 0) {
    pid_ = opt_.pid;
    rec_.mode = "attach";
    std::string maps_path = "/proc/" + std::to_string(pid_) + "/maps";
    auto maps = os::read_text_file(maps_path);
    if (auto* err = (maps ? nullptr : &maps.error())) {
      if (err->code == ENOENT || err->code == ESRCH) throw RecordError("no process with PID " + std::to_string(pid_));
      throw RecordError("cannot record PID " + std::to_string(pid_) + ": " + maps_path + ": " + describe(err->code) +
                        "; numa-analyze needs ptrace read access to the target (same user, or CAP_SYS_PTRACE)");
    }
    if (!os::process_running(pid_)) throw RecordError("PID " + std::to_string(pid_) + " is not running (zombie)");
    auto cmdline = os::read_text_file("/proc/" + std::to_string(pid_) + "/cmdline");
    if (auto* text = (cmdline ? &*cmdline : nullptr)) {
      std::string arg;
      for (char c : *text) {
        if (c == '\0') rec_.command.push_back(arg), arg.clear();
        else arg += c;
      }
      if (!arg.empty()) rec_.command.push_back(arg);
    }
    return;
  }
  rec_.mode = "launch";
  rec_.command = opt_.command;
  std::vector<std::pair<std::string, std::string>> env;
  if (opt_.agent) {
    auto dir = os::make_temp_directory("numa-analyze-agent-");
    if (auto* err = (dir ? nullptr : &dir.error()))
      throw RecordError("cannot create a temporary directory for the agent profile: " + describe(err->code));
    temp_dir_ = *dir;
    const char* existing = std::getenv("LD_PRELOAD");
    env.emplace_back("LD_PRELOAD", opt_.agent_library + (existing && *existing ? std::string(":") + existing : ""));
    env.emplace_back("NUMA_AGENT_PROFILE", temp_dir_ + "/profile-%p.json");
  }
  auto child = os::launch_suspended(opt_.command, env);
  if (auto* err = (child ? nullptr : &child.error()))
    throw RecordError("cannot start '" + opt_.command[0] + "': " + err->what + ": " + describe(err->code));
  child_ = *child;
  pid_ = child_.pid;
  launched_ = true;
}

OpenOutcome Session::open_event(EventKind kind, os::PerfEventSpec spec, const std::vector<int>& targets, bool launch,
                                std::size_t ring_pages) {
  OpenOutcome outcome;
  spec.inherit = true;
  spec.disabled = launch;
  spec.enable_on_exec = launch;
  spec.clockid = os::monotonic_clock_id();
  bool sampling = spec.sample_period != 0;
  for (int target : targets) {
    // Sampling events with inherit must be per CPU (the kernel refuses to mmap inherited per-task
    // rings); counting events can follow the task on any CPU.
    std::vector<int> cpus = sampling ? cpus_ : std::vector<int>{-1};
    for (int cpu : cpus) {
      int fd = os::perf_event_open(spec, target, cpu);
      if (fd < 0) {
        if (!outcome.first_error) outcome.first_error = -fd;
        continue;
      }
      if (!sampling) {
        // HW_CACHE config: result in bits 16+ (0 access = node-loads, 1 miss = node-load-misses).
        counter_fds_[spec.config >> 16 ? 1 : 0].push_back(fd);
        ++outcome.opened;
        continue;
      }
      auto ring = os::perf_ring_map(fd, ring_pages);
      if (auto* err = (ring ? nullptr : &ring.error())) {
        if (!outcome.first_error) outcome.first_error = err->code;
        os::close_fd(fd);
        continue;
      }
      events_.push_back({kind, fd, (*ring), spec.sample_type, {}});
      ++outcome.opened;
    }
  }
  return outcome;
}

void Session::open_all_events(const std::vector<int>& targets, bool launch) {
  int paranoid = rec_.machine.perf_event_paranoid;
  std::vector<int> denied;   // errno of each perf source that failed for lack of permission

  // 1. Precise memory sampling (PMU).
  MemorySamplingPlan plan = plan_memory_sampling(opt_.pmu_frequency_hz);
  if (!plan.available) {
    // Show what the kernel says about hardware events at all: ENOENT when there is no PMU.
    os::PerfEventSpec cycles;
    cycles.type = perf_abi::kTypeHardware;
    cycles.exclude_kernel = true;
    int fd = os::perf_event_open(cycles, pid_, -1);
    std::string hw = fd >= 0 ? "hardware events work but no memory sampling PMU is exposed"
                             : "perf_event_open(PERF_TYPE_HARDWARE cycles) fails with " + errno_name(-fd) + ": " +
                                   explain_perf_error(-fd, paranoid, true);
    if (fd >= 0) os::close_fd(fd);
    add_probe("pmu-memory-sampling", false, plan.detail + "; " + hw, plan.error);
  } else {
    OpenOutcome o = open_event(EventKind::Pmu, plan.spec, targets, launch, 256);
    pmu_events_ = o.opened > 0;
    if (pmu_events_) add_probe("pmu-memory-sampling", true, plan.detail);
    else {
      add_probe("pmu-memory-sampling", false, plan.name + ": " + explain_perf_error(o.first_error, paranoid, true),
                o.first_error);
      if (o.first_error == EACCES || o.first_error == EPERM) denied.push_back(o.first_error);
    }
  }
  // 2. node-loads / node-load-misses counters.
  {
    OpenOutcome loads = open_event(EventKind::Pmu, node_counter_spec(false), targets, launch, 0);
    OpenOutcome misses = open_event(EventKind::Pmu, node_counter_spec(true), targets, launch, 0);
    rec_.counters.available = loads.opened > 0 && misses.opened > 0;
    int err = loads.first_error ? loads.first_error : misses.first_error;
    if (rec_.counters.available)
      add_probe("pmu-node-counters", true, "node-loads / node-load-misses counted (local / remote DRAM reads on Intel)");
    else
      add_probe("pmu-node-counters", false,
                "node-loads/node-load-misses: " + explain_perf_error(err, paranoid, true) +
                    " (on AMD Zen they are never mapped; raw fill events would be needed)",
                err);
  }
  // 3. Software page faults with addresses: first touch and NUMA hint faults.
  {
    OpenOutcome o = open_event(EventKind::Faults, page_fault_spec(std::max<std::uint64_t>(1, opt_.fault_period)), targets,
                               launch, 256);
    fault_events_ = o.opened > 0;
    if (fault_events_)
      add_probe("page-fault-sampling", true,
                "software page-fault samples with data address (every " + std::to_string(opt_.fault_period) +
                    " fault(s)): first touch per page, later faults are NUMA hint faults");
    else {
      add_probe("page-fault-sampling", false, explain_perf_error(o.first_error, paranoid, false), o.first_error);
      if (o.first_error == EACCES || o.first_error == EPERM) denied.push_back(o.first_error);
    }
  }
  // 4. Migration sequence.
  {
    OpenOutcome o = open_event(EventKind::Migrations, migration_spec(), targets, launch, 16);
    migration_events_ = o.opened > 0;
    if (migration_events_)
      add_probe("cpu-migration-sampling", true, "software cpu-migrations samples: the exact CPU sequence of every thread");
    else {
      add_probe("cpu-migration-sampling", false,
                explain_perf_error(o.first_error, paranoid, false) +
                    " (the event fires in the scheduler, so it needs kernel samples); thread residency polling is used instead",
                o.first_error);
    }
  }
  // Nothing of perf may be used: say so plainly instead of recording a hollow file.
  if (!fault_events_ && !migration_events_ && !pmu_events_ && !denied.empty())
    throw RecordError("perf_event_open on PID " + std::to_string(pid_) + ": " + describe(denied.front()) +
                      " at perf_event_paranoid=" + std::to_string(paranoid) +
                      "; run as root, lower kernel.perf_event_paranoid, or grant CAP_PERFMON");
  // 5. The tracepoint: the software event above gives the same per-thread sequence unprivileged.
  {
    auto id = os::read_text_file("/sys/kernel/tracing/events/sched/sched_migrate_task/id");
    int err = !id.has_value() ? id.error().code : 0;
    std::string instead = migration_events_ ? "cpu-migrations samples give the same per-thread sequence"
                                            : "thread residency polling approximates the migration sequence";
    add_probe("sched-migrate-tracepoint", false,
              err ? "tracefs is not readable (" + describe(err) + "); " + instead : "not needed: " + instead, err);
  }
}

std::string Session::site_of(std::uint64_t ip) const {
  if (ip == 0) return "unknown";
  const MapsEntry* m = find_mapping(maps_, ip);
  if (!m) return hex(ip);
  std::string name = m->path.empty() ? "[anon]" : m->path.substr(m->path.find_last_of('/') + 1);
  return name + "+" + hex(ip - m->start + m->offset);
}

void Session::handle(const SampledEvent& event, const PerfRecord& record) {
  // Only the target process's threads: children it forks are other processes.
  if (auto* s = std::get_if<SampleRecord>(&record)) {
    if (static_cast<int>(s->pid) != pid_) return;
    ThreadState& t = thread(static_cast<int>(s->tid));
    t.record.first_seen_s = std::min(t.record.first_seen_s, time_s(s->time));
    t.record.last_seen_s = std::max(t.record.last_seen_s, time_s(s->time));
    int node = node_of_cpu(static_cast<int>(s->cpu));
    if (node >= 0) ++t.sample_residency[node];
    switch (event.kind) {
      case EventKind::Faults: {
        ++rec_.fault_samples;
        std::uint64_t page = s->addr & kPageMask;
        bool first = seen_pages_.insert(page).second;
        pending_.push_back({first ? PageUse::FirstTouch : PageUse::HintFault, static_cast<int>(s->tid), node, s->addr, s->ip});
        break;
      }
      case EventKind::Migrations: {
        ++rec_.migration_samples;
        ++t.sample_migrations;
        int before = t.sample_node >= 0 ? t.sample_node : t.poll_node;
        if (before >= 0 && node >= 0 && node != before) ++t.sample_node_migrations;
        t.sample_node = node;
        break;
      }
      case EventKind::Pmu: {
        ++rec_.pmu_samples;
        DataSource src = decode_data_src(s->data_src);
        PendingSample p{PageUse::Pmu, static_cast<int>(s->tid), node, s->addr, s->ip, s->weight};
        p.mem_class = classify_data_src(src);
        p.load = is_load(src);
        pending_.push_back(p);
        break;
      }
    }
  } else if (auto* task = std::get_if<TaskRecord>(&record)) {
    if (static_cast<int>(task->pid) != pid_) return;
    bool known = threads_.count(static_cast<int>(task->tid)) > 0;
    ThreadState& t = thread(static_cast<int>(task->tid));
    double at = time_s(task->time);
    if (task->exit) {
      t.record.last_seen_s = at;
    } else {
      if (!known) t.record.first_seen_s = at, t.record.last_seen_s = at;
      // A new thread carries its creator's name until it sets its own.
      if (t.record.name.empty())
        if (auto parent = threads_.find(static_cast<int>(task->ptid)); parent != threads_.end())
          t.record.name = parent->second.record.name;
    }
  } else if (auto* comm = std::get_if<CommRecord>(&record)) {
    if (static_cast<int>(comm->pid) != pid_) return;
    thread(static_cast<int>(comm->tid)).record.name = comm->comm;
  } else if (auto* lost = std::get_if<LostRecord>(&record)) {
    rec_.lost_records += lost->lost;
  }
}

void Session::drain() {
  for (auto& event : events_) {
    if (os::perf_ring_drain(event.ring, event.pending) == 0 && event.pending.empty()) continue;
    DecodeResult decoded = decode_records(event.pending, event.sample_type);
    for (const auto& r : decoded.records) handle(event, r);
    if (!decoded.error.empty()) {
      // A malformed record means we lost sync with this ring: drop what is buffered.
      event.pending.clear();
      ++rec_.lost_records;
    } else {
      event.pending.erase(0, decoded.consumed);
    }
  }
  if (!pending_.empty()) {
    refresh_maps();
    resolve_pending();
  }
}

void Session::refresh_maps() {
  auto text = os::read_text_file("/proc/" + std::to_string(pid_) + "/maps");
  // An exited program's maps read empty: keep the last ones for the samples drained after exit.
  if (auto* t = (text ? &*text : nullptr))
    if (auto parsed = parse_maps(*t); !parsed.empty()) maps_ = std::move(parsed), site_cache_.clear();
}

void Session::resolve_pending() {
  std::vector<const void*> pages;
  pages.reserve(pending_.size());
  for (const auto& p : pending_) pages.push_back(reinterpret_cast<const void*>(p.addr & kPageMask));
  std::vector<int> nodes(pages.size(), -ENOENT);
  int rc = pages.empty() ? 0 : os::page_nodes(pid_, pages.data(), pages.size(), nodes.data());
  if (rc < 0) {
    if (!move_pages_error_) move_pages_error_ = -rc;
    std::fill(nodes.begin(), nodes.end(), rc);
  }
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    const PendingSample& p = pending_[i];
    const std::uint64_t page = p.addr & kPageMask;
    int memory_node = nodes[i] >= 0 ? rec_.machine.node_index(nodes[i]) : -1;
    if (memory_node >= 0) {
      ++resolved_pages_;
      last_page_node_[page] = memory_node;
    } else if (auto known = last_page_node_.find(page); rc < 0 && known != last_page_node_.end()) {
      // The query failed as a whole (the program is gone), not for this page: its last node.
      memory_node = known->second;
      ++remembered_pages_;
    } else {
      ++rec_.unresolved_pages;
    }
    const MapsEntry* m = find_mapping(maps_, p.addr);
    std::uint64_t mapping = m ? m->start : 0;
    if (p.use == PageUse::FirstTouch) {
      auto cached = site_cache_.find(p.ip);
      if (cached == site_cache_.end()) cached = site_cache_.emplace(p.ip, site_of(p.ip)).first;
      const std::string& site = cached->second;
      auto& b = first_touch_[{p.tid, p.cpu_node, memory_node, mapping, site}];
      if (b.pages == 0) b.tid = p.tid, b.cpu_node = p.cpu_node, b.memory_node = memory_node, b.mapping = mapping, b.site = site;
      ++b.pages;
      continue;
    }
    std::string source = p.use == PageUse::Pmu ? "pmu" : "hint-fault";
    std::string cls = p.use == PageUse::Pmu ? std::string(mem_class_name(p.mem_class)) : "fault";
    auto& b = accesses_[{source, p.tid, p.cpu_node, memory_node, mapping, cls}];
    b.source = source, b.tid = p.tid, b.cpu_node = p.cpu_node, b.memory_node = memory_node, b.mapping = mapping;
    b.mem_class = cls;
    ++b.count;
    if (p.load) ++b.loads;
    b.weight_sum += p.weight;
  }
  pending_.clear();
}

void Session::poll_threads() {
  auto tasks = os::list_directory("/proc/" + std::to_string(pid_) + "/task");
  auto* names = (tasks ? &*tasks : nullptr);
  if (!names) return;
  ++polls_;
  for (const auto& name : *names) {
    int tid = 0;
    try {
      tid = std::stoi(name);
    } catch (...) {
      continue;
    }
    auto text = os::read_text_file("/proc/" + std::to_string(pid_) + "/task/" + name + "/stat");
    auto* t = (text ? &*text : nullptr);
    if (!t) continue;
    auto stat = parse_task_stat(*t);
    if (!stat) continue;
    ThreadState& ts = thread(tid);
    ts.record.last_seen_s = now_s();
    if (ts.record.name.empty()) ts.record.name = stat->comm;
    int node = node_of_cpu(stat->processor);
    if (node < 0) continue;
    if (ts.poll_node >= 0 && node != ts.poll_node) ++ts.poll_node_changes;
    ts.poll_node = node;
    ++ts.record.residency[node];
    if (ts.sample_node < 0) ts.sample_node = node;
  }
}

void Session::snapshot() {
  std::string base = "/proc/" + std::to_string(pid_);
  auto numa_maps = os::read_text_file(base + "/numa_maps");
  if (auto* t = (numa_maps ? &*numa_maps : nullptr)) {
    auto parsed = parse_numa_maps(*t);
    if (!parsed.empty()) numa_maps_ = std::move(parsed), ++numa_maps_reads_;
    refresh_maps();
  } else if (!numa_maps_error_) {
    numa_maps_error_ = numa_maps.error().code;
  }
  for (auto& [tid, ts] : threads_) {
    auto text = os::read_text_file(base + "/task/" + std::to_string(tid) + "/sched");
    auto* t = (text ? &*text : nullptr);
    if (!t) {
      auto err = text.error().code;
      if (err != ENOENT && err != ESRCH && !sched_error_) sched_error_ = err;
      continue;
    }
    TaskSched s = parse_task_sched(*t);
    ++sched_reads_;
    if (s.nr_migrations) {
      if (!ts.first_nr_migrations) ts.first_nr_migrations = s.nr_migrations;
      ts.last_nr_migrations = s.nr_migrations;
    }
    if (!s.numa_faults.empty()) {
      ++sched_numa_lines_;
      ts.record.numa_faults.clear();
      for (const auto& f : s.numa_faults) ts.record.numa_faults.push_back({f.node, f.task_private, f.task_shared});
    }
  }
}

void Session::finish_target(const std::string& reason) {
  rec_.stop_reason = reason;
  if (!launched_ || reaped_) return;
  // The program is still running (duration reached or interrupted): stop it, then reap it.
  os::send_signal(pid_, reason == "interrupted" ? os::interrupt_signal() : 15 /* SIGTERM */);
  for (int waited = 0; waited < 5000; waited += 50) {
    auto st = os::poll_child(pid_);
    if (auto* s = (st ? &*st : nullptr); s && *s) {
      rec_.exit_code = (*s)->exited ? (*s)->exit_code : -1;
      rec_.exit_signal = (*s)->signal;
      reaped_ = true;
      return;
    }
    if (os::wait_readable(interrupt_fd_, 50) > 0) os::interrupt_fd_take(interrupt_fd_);   // else it stays readable
  }
  os::send_signal(pid_, 9);
  auto st = os::wait_child(pid_);
  if (auto* s = (st ? &*st : nullptr)) rec_.exit_signal = s->signal;
  reaped_ = true;
}

void Session::read_agent_profile() {
  if (!opt_.agent) {
    add_probe("agent-profile", false, "the program did not run under libnumaagent.so (record --agent)");
    return;
  }
  std::string path = temp_dir_ + "/profile-" + std::to_string(pid_) + ".json";
  auto text = os::read_text_file(path);
  if (auto* err = (text ? nullptr : &text.error())) {
    add_probe("agent-profile", false,
              "the agent wrote no profile for PID " + std::to_string(pid_) + " (" + describe(err->code) + ")", err->code);
    return;
  }
  auto j = nlohmann::json::parse((*text), nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("schema", "") != "numa-agent-profile/1") {
    add_probe("agent-profile", false, "the agent's profile is not a numa-agent-profile/1 document", EINVAL);
    return;
  }
  rec_.agent_profile = j;
  add_probe("agent-profile", true,
            "agent profile folded in (" + std::to_string(j.contains("threads") && j["threads"].is_array() ? j["threads"].size() : 0) +
                " threads, policy " + (j.contains("policy") && j["policy"].is_object() && j["policy"].contains("pin") &&
                         j["policy"]["pin"].is_string()
                     ? j["policy"]["pin"].get<std::string>()
                     : std::string("?")) + ")");
}

void Session::cleanup() {
  for (auto& e : events_) {
    os::perf_ring_unmap(e.ring);
    os::close_fd(e.fd);
  }
  events_.clear();
  for (auto& fds : counter_fds_) {
    for (int fd : fds) os::close_fd(fd);
    fds.clear();
  }
  if (launched_ && !reaped_) {
    // Set-up failed after fork: the child is still waiting for its go byte.
    if (child_.go_fd >= 0) os::close_fd(child_.go_fd), child_.go_fd = -1;
    if (child_.exec_error_fd >= 0) os::close_fd(child_.exec_error_fd), child_.exec_error_fd = -1;
    os::send_signal(pid_, 9);
    (void)os::wait_child(pid_);   // reaping is all that matters here
    reaped_ = true;
  }
  if (!temp_dir_.empty()) {
    auto files = os::list_directory(temp_dir_);
    if (auto* names = (files ? &*files : nullptr))
      for (const auto& f : *names) os::remove_file(temp_dir_ + "/" + f);
    os::remove_directory(temp_dir_);
    temp_dir_.clear();
  }
  if (interrupt_fd_ >= 0) os::close_fd(interrupt_fd_), interrupt_fd_ = -1;
}

Recording Session::run() {
  rec_.tool_version = NUMA_AGENT_VERSION;
  rec_.agent = opt_.agent;
  rec_.machine = probe_machine();
  for (std::size_t n = 0; n < rec_.machine.nodes.size(); ++n)
    for (int cpu : rec_.machine.nodes[n].cpus) {
      if (static_cast<std::size_t>(cpu) >= cpu_node_.size()) cpu_node_.resize(static_cast<std::size_t>(cpu) + 1, -1);
      cpu_node_[static_cast<std::size_t>(cpu)] = static_cast<int>(n);
      cpus_.push_back(cpu);
    }
  std::sort(cpus_.begin(), cpus_.end());
  if (auto vm = os::read_text_file("/proc/vmstat"); vm.has_value())
    vmstat_start_ = parse_vmstat(*vm);
  interrupt_fd_ = os::interrupt_fd_open(/*wake_on_child_exit=*/opt_.pid <= 0);

  start_target();
  std::vector<int> targets{pid_};
  if (!launched_) {
    targets.clear();
    if (auto tasks = os::list_directory("/proc/" + std::to_string(pid_) + "/task");
        tasks.has_value())
      for (const auto& t : *tasks) targets.push_back(std::stoi(t));
  }
  open_all_events(targets, launched_);

  rec_.pid = pid_;
  rec_.start_realtime_ns = os::realtime_ns();
  start_mono_ = os::monotonic_ns();
  if (launched_) {
    int rc = os::release_child(child_);
    if (rc < 0) {
      reaped_ = true;
      throw RecordError("cannot run '" + opt_.command[0] + "': " + describe(-rc));
    }
  }

  std::string reason;
  double next_snapshot = 0, next_progress = 1.0;
  const bool live = os::is_terminal(2);
  while (reason.empty()) {
    drain();
    poll_threads();
    double t = now_s();
    if (t >= next_snapshot) snapshot(), next_snapshot = t + opt_.snapshot_ms / 1000.0;
    if (launched_) {
      auto st = os::poll_child(pid_);
      if (auto* s = (st ? &*st : nullptr); s && *s) {
        rec_.exit_code = (*s)->exited ? (*s)->exit_code : -1;
        rec_.exit_signal = (*s)->signal;
        reaped_ = true;
        reason = "exited";
        break;
      }
    } else if (!os::process_running(pid_)) {
      reason = "vanished";
      break;
    }
    if (opt_.duration_s > 0 && t >= opt_.duration_s) {
      reason = "duration";
      break;
    }
    if (progress_ && t >= next_progress) {
      char line[200];
      std::snprintf(line, sizeof line, "recording PID %d: %.0f s, %zu threads, %llu fault / %llu migration / %llu PMU samples",
                    pid_, t, threads_.size(), static_cast<unsigned long long>(rec_.fault_samples),
                    static_cast<unsigned long long>(rec_.migration_samples),
                    static_cast<unsigned long long>(rec_.pmu_samples));
      progress_(line, false);
      next_progress = t + (live ? 1.0 : 10.0);
    }
    if (os::wait_readable(interrupt_fd_, opt_.poll_ms) > 0) {
      // SIGCHLD only cuts the wait short: the next pass reaps the program after a last drain.
      if (os::interrupt_fd_take(interrupt_fd_) == os::SignalTaken::Interrupt) {
        reason = "interrupted";
        break;
      }
    }
  }
  // While the target still lives, take the last placement snapshot.
  if (reason != "exited" && reason != "vanished") {
    drain();
    snapshot();
  }
  rec_.duration_s = now_s();
  finish_target(reason);
  drain();
  for (auto& e : events_) os::perf_event_disable(e.fd);

  // Counters: the sum over every target's inherited counter.
  if (rec_.counters.available) {
    for (int which = 0; which < 2; ++which)
      for (int fd : counter_fds_[which])
        if (auto v = os::perf_event_read_count(fd); v.has_value())
          (which ? rec_.counters.node_load_misses : rec_.counters.node_loads) += *v;
  }
  if (auto vm = os::read_text_file("/proc/vmstat"); vm.has_value())
    for (const auto& [k, v] : parse_vmstat(*vm))
      if (k.starts_with("numa_") && vmstat_start_.count(k)) rec_.vmstat_delta[k] = v - vmstat_start_[k];

  // Threads.
  for (auto& [tid, ts] : threads_) {
    ThreadRecord r = ts.record;
    if (migration_events_) {
      r.cpu_migrations = ts.sample_migrations;
      // Polls see node changes too (a lower bound); samples see every one when they see any.
      r.node_migrations = std::max(ts.sample_node_migrations, ts.poll_node_changes);
    } else {
      r.cpu_migrations = ts.first_nr_migrations && ts.last_nr_migrations ? *ts.last_nr_migrations - *ts.first_nr_migrations : 0;
      r.node_migrations = ts.poll_node_changes;
    }
    if (r.residency.empty()) r.residency = ts.sample_residency;
    rec_.threads.push_back(std::move(r));
  }
  std::sort(rec_.threads.begin(), rec_.threads.end(), [](const ThreadRecord& a, const ThreadRecord& b) {
    return a.first_seen_s != b.first_seen_s ? a.first_seen_s < b.first_seen_s : a.tid < b.tid;
  });
  // Mappings: the last numa_maps snapshot, with ends from maps.
  for (const auto& nm : numa_maps_) {
    MappingRecord m;
    m.start = nm.start;
    m.name = nm.name;
    m.policy = nm.policy;
    m.page_kb = nm.page_kb;
    const MapsEntry* e = find_mapping(maps_, nm.start);
    m.end = e ? e->end : nm.start + nm.total_pages() * nm.page_kb * 1024;
    if (m.name.empty() && e) m.name = e->path;
    for (const auto& [os_node, pages] : nm.pages_by_node) {
      int idx = rec_.machine.node_index(os_node);
      if (idx >= 0) m.pages_by_node[idx] += pages;
    }
    rec_.mappings.push_back(std::move(m));
  }
  for (auto& [k, b] : accesses_) rec_.accesses.push_back(b);
  for (auto& [k, b] : first_touch_) rec_.first_touch.push_back(b);

  // Evidence of the /proc side.
  const bool one_node = rec_.machine.nodes.size() < 2;
  add_probe("thread-residency", polls_ > 0,
            polls_ > 0 ? std::to_string(polls_) + " polls of /proc/PID/task/TID/stat field 39 (CPU last run on)"
                       : "the target ended before the first poll");
  if (numa_maps_reads_ > 0)
    add_probe("numa-maps", true, std::to_string(numa_maps_reads_) + " snapshots of /proc/PID/numa_maps (the last one is kept)");
  else
    add_probe("numa-maps", false,
              numa_maps_error_ ? "/proc/PID/numa_maps: " + describe(numa_maps_error_)
                               : "the program ended before a snapshot with resident pages was taken",
              numa_maps_error_);
  if (resolved_pages_ > 0)
    add_probe("move-pages", true, std::to_string(resolved_pages_) + " sampled pages placed by move_pages, " +
                                      std::to_string(remembered_pages_) +
                                      " sampled after the program ended placed where move_pages last found them, " +
                                      std::to_string(rec_.unresolved_pages) + " gone before they could be queried");
  else
    add_probe("move-pages", false,
              move_pages_error_ ? "move_pages: " + describe(move_pages_error_)
                                : "no sampled page could be queried before it was freed",
              move_pages_error_);
  std::uint64_t hint_delta = rec_.vmstat_delta.count("numa_hint_faults") ? rec_.vmstat_delta["numa_hint_faults"] : 0;
  if (one_node)
    add_probe("numa-hint-faults", false, "one NUMA node: the kernel has nothing to balance, so there are no hint faults");
  else if (rec_.machine.numa_balancing <= 0)
    add_probe("numa-hint-faults", false,
              "NUMA balancing is off (/proc/sys/kernel/numa_balancing=" + std::to_string(rec_.machine.numa_balancing) +
                  "): the kernel takes no hint faults; pages stay where first touched");
  else
    add_probe("numa-hint-faults", hint_delta > 0,
              "NUMA balancing is on; /proc/vmstat numa_hint_faults +" + std::to_string(hint_delta) + " (local +" +
                  std::to_string(rec_.vmstat_delta.count("numa_hint_faults_local") ? rec_.vmstat_delta["numa_hint_faults_local"] : 0) +
                  ", pages migrated +" +
                  std::to_string(rec_.vmstat_delta.count("numa_pages_migrated") ? rec_.vmstat_delta["numa_pages_migrated"] : 0) + ")");
  bool faults_nonzero = false;
  for (const auto& t : rec_.threads)
    for (const auto& f : t.numa_faults) faults_nonzero |= f.task_private + f.task_shared > 0;
  if (sched_reads_ == 0)
    add_probe("task-numa-faults", false,
              sched_error_ ? "/proc/PID/task/TID/sched: " + describe(sched_error_) : "no thread lived long enough to be read",
              sched_error_);
  else if (sched_numa_lines_ == 0)
    add_probe("task-numa-faults", false, "/proc/PID/task/TID/sched has no numa_faults lines (kernel without CONFIG_NUMA_BALANCING)");
  else
    add_probe("task-numa-faults", faults_nonzero,
              faults_nonzero ? "per-thread numa_faults by memory node from /proc/PID/task/TID/sched"
                             : "per-thread numa_faults are all zero (no NUMA balancing scans happened)");
  read_agent_profile();
  if (progress_) {
    char line[240];
    std::snprintf(line, sizeof line, "recorded PID %d for %.2f s (%s): %zu threads, %llu fault, %llu migration, %llu PMU samples%s",
                  pid_, rec_.duration_s, reason.c_str(), rec_.threads.size(),
                  static_cast<unsigned long long>(rec_.fault_samples), static_cast<unsigned long long>(rec_.migration_samples),
                  static_cast<unsigned long long>(rec_.pmu_samples),
                  rec_.lost_records ? (", " + std::to_string(rec_.lost_records) + " lost").c_str() : "");
    progress_(line, true);
  }
  cleanup();
  return rec_;
}

}  // namespace

Recording record(const RecordOptions& options, const ProgressSink& progress) {
  if (options.pid <= 0 && options.command.empty()) throw RecordError("nothing to record: give a command after -- or -p PID");
  Session session(options, progress);
  return session.run();
}

}  // namespace numa_agent::analyzer
