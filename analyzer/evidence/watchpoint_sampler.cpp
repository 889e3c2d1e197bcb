// See watchpoint_sampler.hpp.
#include "analyzer/evidence/watchpoint_sampler.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <tuple>

#include "agent/os/os.hpp"
#include "agent/os/procfs.hpp"
#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/evidence/self_test_cache.hpp"
#include "analyzer/model/watch_rate.hpp"

namespace numa_agent::analyzer {

namespace {
constexpr int kNotResidentRetries = 3;   // other words of the same region when a page is not resident
constexpr std::size_t kRingPages = 1;    // one sample per armed probe between drains: 48 bytes each

std::string proc_path(int pid, const char* what) { return "/proc/" + std::to_string(pid) + "/" + what; }
}  // namespace

std::optional<WatchPath> parse_watch_path(std::string_view text) {
  if (text == "auto") return WatchPath::Auto;
  if (text == "modify") return WatchPath::Modify;
  if (text == "reopen") return WatchPath::Reopen;
  return std::nullopt;
}

std::string_view watch_path_name(WatchPath path) {
  switch (path) {
    case WatchPath::Auto: return "auto";
    case WatchPath::Modify: return "modify";
    case WatchPath::Reopen: return "reopen";
  }
  return "auto";
}

std::string explain_watchpoint_error(int error) {
  switch (error) {
    case EACCES:
    case EPERM:
      return "not permitted to watch the target's threads (run as root, or with CAP_PERFMON and ptrace rights)";
    case ENOENT:
    case EOPNOTSUPP:
      return "this kernel or CPU has no breakpoint PMU (/sys/bus/event_source/devices/breakpoint)";
    case EINVAL: return "the kernel rejected the breakpoint attributes";
    case ENOSPC: return "no free debug register (a debugger or another tool holds them)";
    case ESRCH: return "the thread or process is gone";
    case EMFILE:
    case ENFILE: return "out of file descriptors (one per thread and per probe)";
    case EPROTO: return "the one-shot watchpoint did not behave (kernel bug)";
    default: return "perf_event_open failed (" + errno_name(error) + ")";
  }
}

std::vector<WatchRegion> watch_regions(const std::vector<MapsEntry>& maps, const std::vector<NumaMapsEntry>& numa_maps) {
  std::unordered_map<std::uint64_t, const NumaMapsEntry*> by_start;
  for (const auto& n : numa_maps) by_start[n.start] = &n;
  std::vector<WatchRegion> out;
  for (const auto& m : maps) {
    if (m.perms.size() < 2 || m.perms[1] != 'w') continue;
    if (m.path == "[vvar]" || m.path == "[vdso]" || m.path == "[vsyscall]") continue;
    auto n = by_start.find(m.start);
    if (n == by_start.end()) continue;
    std::uint64_t bytes = n->second->total_pages() * n->second->page_kb * 1024;
    if (bytes) out.push_back({m.start, m.end, bytes});
  }
  return out;
}

std::vector<AccessBucket> watchpoint_access_buckets(const std::vector<WatchpointSample>& samples) {
  std::map<std::tuple<int, int, int, std::uint64_t>, AccessBucket> buckets;
  for (const auto& s : samples) {
    auto& b = buckets[{s.tid, s.cpu_node, s.memory_node, s.mapping}];
    if (b.count == 0) b = AccessBucket{"watchpoint", s.tid, s.cpu_node, s.memory_node, s.mapping, "hit", 0, 0, 0};
    ++b.count;
  }
  std::vector<AccessBucket> out;
  for (auto& [key, b] : buckets) out.push_back(std::move(b));
  return out;
}

double watchpoint_remote_share(const std::vector<WatchpointSample>& samples, const std::vector<WatchpointColdProbe>& cold,
                               const std::map<std::uint64_t, std::uint64_t>& resident_bytes, std::uint64_t prior_ns) {
  struct Group {
    std::uint64_t hits = 0, remote = 0;
    double exposure_ns = 0;
  };
  std::map<std::pair<int, std::uint64_t>, Group> groups;   // (tid, mapping)
  std::map<int, std::uint64_t> probes;                      // per thread, hits and cold
  for (const auto& s : samples) {
    ++probes[s.tid];
    if (s.cpu_node < 0 || s.memory_node < 0) continue;
    Group& g = groups[{s.tid, s.mapping}];
    ++g.hits;
    g.remote += s.cpu_node != s.memory_node;
    g.exposure_ns += double(std::max<std::uint64_t>(s.time_to_hit_ns, 1));
  }
  for (const auto& c : cold) {
    ++probes[c.tid];
    if (auto g = groups.find({c.tid, c.mapping}); g != groups.end()) g->second.exposure_ns += double(c.window_ns);
  }
  const bool weighted = !resident_bytes.empty();
  double all = 0, remote = 0;
  for (const auto& [key, g] : groups) {
    double accesses = double(g.hits);
    if (weighted) {
      // Rate per word x the words this thread's probes stand for there (model/watch_rate.hpp; the
      // prior keeps a group seen once, hit early by luck, from standing for 1 / its time to hit).
      auto bytes = resident_bytes.find(key.second);
      accesses = bytes == resident_bytes.end() ? 0
                                               : watched_accesses(double(g.hits), g.exposure_ns, double(prior_ns),
                                                                  double(probes[key.first]), double(bytes->second));
    }
    all += accesses;
    remote += accesses * double(g.remote) / double(g.hits);
  }
  return all > 0 ? remote / all : -1;
}

// ---- the sampler ------------------------------------------------------------------------------

Result<std::unique_ptr<WatchpointSampler>> WatchpointSampler::attach(int pid, MachineInfo machine,
                                                                     const WatchpointOptions& options,
                                                                     const os::BreakpointSelfTest* self_test) {
  if (pid <= 0) return fail(EINVAL, "watchpoints: no target process");
  os::BreakpointSelfTest test;
  if (self_test) {
    test = *self_test;
  } else {
    auto measured = cached_breakpoint_self_test().test;   // top: the per-boot cache (self_test_cache.hpp)
    if (!measured) {
      const Error& e = measured.error();
      return fail(e.code, "hardware watchpoints unavailable: " + e.what + ": " + explain_watchpoint_error(e.code));
    }
    test = *measured;
  }
  WatchPath path = options.path == WatchPath::Auto ? (test.modify_works ? WatchPath::Modify : WatchPath::Reopen) : options.path;
  double rate = options.probes_per_second > 0 ? options.probes_per_second
                                              : default_probe_rate(test.trap_ns, options.overhead_budget);
  WatchSchedulerConfig config;
  config.slots_per_thread = options.slots_per_thread;
  config.probes_per_second = rate;
  config.window_ns = options.window_ns;
  config.adaptive = options.adaptive_window;
  config.broadcast = options.broadcast;
  config.page_bytes = os::page_size();
  config.seed = options.seed;
  auto scheduler = WatchpointScheduler::create(config);
  if (!scheduler) return fail(scheduler.error());

  auto tasks = os::list_directory(proc_path(pid, "task"));
  if (!tasks) return fail(tasks.error().code, "watchpoints: process " + std::to_string(pid) + ": " + tasks.error().what);
  std::unique_ptr<WatchpointSampler> sampler(new WatchpointSampler(pid, std::move(machine), options, std::move(*scheduler)));
  sampler->counters_.path = path;
  sampler->counters_.self_test = test;
  sampler->counters_.probes_per_second = rate;
  sampler->counters_.broadcast = options.broadcast;
  for (const auto& t : *tasks) sampler->attach_thread(std::atoi(t.c_str()));
  if (sampler->threads_.empty()) {
    int error = sampler->counters_.refused_by_errno.empty() ? ESRCH : sampler->counters_.refused_by_errno.begin()->first;
    return fail(error, "watchpoints: no thread of process " + std::to_string(pid) + " could be watched: " +
                           explain_watchpoint_error(error));
  }
  if (options.regions_every_ns) sampler->refresh_regions();
  return sampler;
}

WatchpointSampler::WatchpointSampler(int pid, MachineInfo machine, const WatchpointOptions& options,
                                     WatchpointScheduler scheduler)
    : pid_(pid), machine_(std::move(machine)), options_(options), scheduler_(std::move(scheduler)) {}

WatchpointSampler::~WatchpointSampler() { stop(); }

void WatchpointSampler::thread_started(int tid) {
  if (!stopped_ && !threads_.count(tid)) attach_thread(tid);
}

void WatchpointSampler::thread_exited(int tid) {
  if (!threads_.count(tid)) return;
  drain();   // its last hits first
  detach_thread(tid);
  ++counters_.threads_exited;
}

void WatchpointSampler::set_mappings(std::vector<MapsEntry> maps, const std::vector<NumaMapsEntry>& numa_maps) {
  if (maps.empty()) return;   // an exiting process reads empty: keep the last
  maps_ = std::move(maps);
  scheduler_.set_regions(watch_regions(maps_, numa_maps));
}

std::map<std::uint64_t, std::uint64_t> WatchpointSampler::resident_bytes() const {
  std::map<std::uint64_t, std::uint64_t> out;
  for (const auto& r : scheduler_.regions()) out[r.start] = r.resident_bytes;
  return out;
}

void WatchpointSampler::attach_thread(int tid) {
  if (tid <= 0) return;
  auto ring = os::breakpoint_ring_open(tid, kRingPages);
  if (!ring) {
    if (ring.error().code != ESRCH) refuse(ring.error().code);
    return;
  }
  Thread& t = threads_[tid];
  t.ring = *ring;
  t.slots.resize(options_.slots_per_thread);
  scheduler_.add_thread(tid);
  ++counters_.threads_attached;
}

void WatchpointSampler::detach_thread(int tid) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return;
  for (auto& s : it->second.slots)
    if (s.fd >= 0) os::close_fd(s.fd);
  os::breakpoint_ring_close(it->second.ring);
  threads_.erase(it);
  scheduler_.remove_thread(tid);
}

void WatchpointSampler::follow_threads() {
  auto tasks = os::list_directory(proc_path(pid_, "task"));
  if (!tasks || !os::process_running(pid_)) {
    counters_.target_exited = true;
    return;
  }
  std::vector<int> live;
  for (const auto& t : *tasks) live.push_back(std::atoi(t.c_str()));
  std::sort(live.begin(), live.end());
  std::vector<int> gone;
  for (const auto& [tid, t] : threads_)
    if (!std::binary_search(live.begin(), live.end(), tid)) gone.push_back(tid);
  for (int tid : gone) thread_exited(tid);
  for (int tid : live)
    if (!threads_.count(tid)) attach_thread(tid);
}

void WatchpointSampler::refresh_regions() {
  auto maps = os::read_text_file(proc_path(pid_, "maps"));
  auto numa_maps = os::read_text_file(proc_path(pid_, "numa_maps"));
  if (!maps || !numa_maps) {
    counters_.numa_maps_error = !maps ? maps.error().code : numa_maps.error().code;
    return;
  }
  set_mappings(parse_maps(*maps), parse_numa_maps(*numa_maps));
}

std::uint64_t WatchpointSampler::mapping_of(std::uint64_t addr) const {
  const MapsEntry* m = find_mapping(maps_, addr);
  return m ? m->start : 0;
}

WatchpointSampler::Slot* WatchpointSampler::slot_at(int tid, std::uint64_t addr) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return nullptr;
  for (auto& s : it->second.slots)
    if (s.fd >= 0 && s.addr == addr) return &s;
  return nullptr;
}

void WatchpointSampler::drain() {
  // Every ring first, then the samples in time order: with broadcast probes the first thread to
  // touch a word wins it, whichever ring was read first.
  std::vector<SampleRecord> fired;
  for (auto& [tid, t] : threads_) {
    if (os::perf_ring_drain(t.ring.ring, t.pending) == 0 && t.pending.empty()) continue;
    DecodeResult decoded = decode_records(t.pending, os::kBreakpointSampleType);
    for (const auto& record : decoded.records) {
      if (const auto* s = std::get_if<SampleRecord>(&record)) {
        if (static_cast<int>(s->pid) == pid_) fired.push_back(*s);
      } else if (const auto* lost = std::get_if<LostRecord>(&record)) {
        counters_.lost_records += lost->lost;
      }
    }
    if (decoded.error) {
      ++counters_.decode_errors;
      t.pending.clear();
    } else {
      t.pending.erase(0, decoded.consumed);
    }
  }
  std::stable_sort(fired.begin(), fired.end(), [](const SampleRecord& a, const SampleRecord& b) { return a.time < b.time; });
  std::vector<PendingHit> hits;
  for (const auto& s : fired) {
    const int sample_tid = static_cast<int>(s.tid);
    const Slot* slot = slot_at(sample_tid, s.addr);
    const int aim_node = slot ? slot->aim_node : -1;
    if (auto h = scheduler_.hit(sample_tid, s.addr, static_cast<int>(s.cpu), s.time)) hits.push_back({*h, s.ip, aim_node});
  }
  resolve(hits);
}

void WatchpointSampler::resolve(std::vector<PendingHit>& hits) {
  if (hits.empty()) return;
  std::vector<const void*> pages;
  for (const auto& h : hits) pages.push_back(reinterpret_cast<const void*>(h.hit.page));
  std::vector<int> nodes(pages.size(), -ENOENT);
  if (os::page_nodes(pid_, pages.data(), pages.size(), nodes.data()) < 0) std::fill(nodes.begin(), nodes.end(), -ESRCH);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const WatchHit& h = hits[i].hit;
    // The page's node now, or (the program is gone, the page was dropped) where it was when aimed.
    int memory_node = nodes[i] >= 0 ? machine_.node_index(nodes[i]) : hits[i].aim_node;
    if (memory_node < 0) ++counters_.unresolved_pages;
    samples_.push_back({h.tid, h.cpu, machine_.node_of_cpu(h.cpu), memory_node, h.addr, h.page, mapping_of(h.addr),
                        hits[i].ip, h.time_ns, h.time_to_hit_ns});
  }
}

void WatchpointSampler::arm(std::vector<WatchAim> aims) {
  // Pages that are not resident cannot be touched without a fault that first allocates them: look
  // for another word of the same region instead (the weights are resident bytes). Broadcast aims
  // of one slot and word are one probe: looked up once, re-aimed or dropped together.
  std::map<std::pair<unsigned, std::uint64_t>, std::vector<std::size_t>> probes;
  for (std::size_t i = 0; i < aims.size(); ++i) probes[{aims[i].slot, options_.broadcast ? aims[i].addr : i}].push_back(i);
  std::vector<int> aim_nodes(aims.size(), -1);
  std::vector<const std::vector<std::size_t>*> todo;
  for (const auto& [key, members] : probes) todo.push_back(&members);
  for (int round = 0; round <= kNotResidentRetries && !todo.empty(); ++round) {
    std::vector<const void*> pages;
    for (const auto* members : todo) pages.push_back(reinterpret_cast<const void*>(aims[members->front()].page));
    std::vector<int> nodes(pages.size(), -ENOENT);
    int rc = os::page_nodes(pid_, pages.data(), pages.size(), nodes.data());
    std::vector<const std::vector<std::size_t>*> again;
    for (std::size_t k = 0; k < todo.size(); ++k) {
      const auto& members = *todo[k];
      if (rc == 0 && nodes[k] >= 0) {
        for (std::size_t i : members) aim_nodes[i] = machine_.node_index(nodes[k]);
      } else if (rc == 0 && round < kNotResidentRetries) {
        const WatchAim next = scheduler_.retarget(aims[members.front()]);
        for (std::size_t i : members) aims[i].addr = next.addr, aims[i].page = next.page;
        again.push_back(todo[k]);
      } else {
        scheduler_.not_resident(aims[members.front()]);   // broadcast: the whole probe
        for (std::size_t i : members) {
          disarm_slot(aims[i]);
          aims[i].tid = 0;   // not armed
        }
      }
    }
    todo = std::move(again);
  }
  for (std::size_t i = 0; i < aims.size(); ++i) {
    const WatchAim& aim = aims[i];
    auto t = threads_.find(aim.tid);
    if (aim.tid == 0 || t == threads_.end()) continue;
    Slot& slot = t->second.slots[aim.slot];
    int rc = 0;
    const std::uint64_t before = os::monotonic_ns();
    if (counters_.path == WatchPath::Modify && slot.fd >= 0) {
      rc = os::breakpoint_modify(slot.fd, aim.addr);
      if (rc == 0) rc = os::breakpoint_arm(slot.fd);
      ++counters_.modify_reaims;
    } else {
      if (slot.fd >= 0) os::close_fd(slot.fd), ++counters_.reopen_reaims;
      slot.fd = os::breakpoint_open(aim.tid, aim.addr, t->second.ring.fd);
      rc = slot.fd < 0 ? slot.fd : os::breakpoint_arm(slot.fd);
    }
    if (rc < 0) {
      if (slot.fd >= 0) os::close_fd(slot.fd);
      slot.fd = -1;
      scheduler_.refused(aim);
      if (-rc != ESRCH) refuse(-rc);   // ESRCH: the thread is exiting; churn, not refusal
      continue;
    }
    // The breakpoint went live at some point of the re-aim (when the IPI ran on the thread's CPU):
    // the middle errs least either way; the end would drop the hits of the words touched soonest.
    scheduler_.armed(aim, before + (os::monotonic_ns() - before) / 2);
    slot.addr = aim.addr;
    slot.aim_node = aim_nodes[i];
    ++counters_.armed;
  }
}

void WatchpointSampler::disarm_slot(const WatchAim& aim) {
  // Modify keeps the event for the next re-aim. (Also for a dropped aim: a slot re-aimed in the
  // same plan as its cold end got no release, and its event still watches the old word.)
  auto t = threads_.find(aim.tid);
  if (t == threads_.end() || aim.slot >= t->second.slots.size()) return;
  Slot& slot = t->second.slots[aim.slot];
  if (slot.fd < 0) return;
  if (counters_.path == WatchPath::Modify) {
    os::perf_event_disable(slot.fd);
  } else {
    os::close_fd(slot.fd);
    slot.fd = -1;
  }
}

bool WatchpointSampler::poll() {
  if (stopped_) return false;
  std::uint64_t t = os::monotonic_ns();
  const std::uint64_t started = t;
  // Adds the time since the last step to `into`.
  const auto step = [&t](std::uint64_t& into) {
    const std::uint64_t now = os::monotonic_ns();
    into += now - t;
    t = now;
  };
  drain();
  step(counters_.drain_ns);
  const std::uint64_t now = t;
  if (options_.threads_every_ns && now >= next_threads_ns_) {
    follow_threads();
    next_threads_ns_ = now + options_.threads_every_ns;
    step(counters_.threads_ns);
  }
  if (counters_.target_exited) {
    stop();
    return false;
  }
  if (options_.regions_every_ns && now >= next_regions_ns_) {
    refresh_regions();
    next_regions_ns_ = now + options_.regions_every_ns;
    step(counters_.regions_ns);
  }
  WatchpointScheduler::Plan plan = scheduler_.plan(now);
  for (const auto& c : plan.cold) {
    const Slot* slot = slot_at(c.tid, c.addr);
    cold_.push_back({c.tid, slot ? slot->aim_node : -1, c.addr, c.page, mapping_of(c.addr), c.window_ns});
  }
  for (const auto& r : plan.release) disarm_slot({r.tid, r.slot});
  arm(std::move(plan.aims));
  step(counters_.arm_ns);
  ++counters_.polls;
  counters_.poll_ns += t - started;
  return true;
}

void WatchpointSampler::run(std::uint64_t duration_ns, std::uint64_t period_ns) {
  const std::uint64_t end = duration_ns ? os::monotonic_ns() + duration_ns : UINT64_MAX;
  while (os::monotonic_ns() < end && poll()) std::this_thread::sleep_for(std::chrono::nanoseconds(period_ns));
}

void WatchpointSampler::stop() {
  if (stopped_) return;
  drain();
  std::vector<int> tids;
  for (const auto& [tid, t] : threads_) tids.push_back(tid);
  for (int tid : tids) detach_thread(tid);
  stopped_ = true;
}

}  // namespace numa_agent::analyzer
