// See watchpoint_source.hpp. The "watchpoint-sampling" source of `record`: runs the breakpoint
// self-test on a thread of its own from start() (a launched program waits for it, an attached one
// cannot); once it is done, starts a WatchpointFeed on every thread the target has then (later
// ones arrive as the Session's thread starts), feeds it thread starts and exits and the mappings
// page placement read, emits its hits as access samples (page placement aggregates them), and at the end writes every
// probe into the Recording's exposures and the source's EvidenceProbe.
#include "analyzer/evidence/watchpoint_source.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <tuple>

#include "analyzer/evidence/self_test_cache.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {

namespace {
constexpr auto kSamplerPeriod = std::chrono::milliseconds(2);   // as the sampler was validated
constexpr const char* kProbeName = "watchpoint-sampling";
}  // namespace

// ---- the feed ---------------------------------------------------------------------------------

Result<std::unique_ptr<WatchpointFeed>> WatchpointFeed::start(int pid, MachineInfo machine, const WatchpointOptions& options,
                                                              const os::BreakpointSelfTest* self_test) {
  auto sampler = WatchpointSampler::attach(pid, std::move(machine), options, self_test);
  if (!sampler) return fail(sampler.error());
  std::unique_ptr<WatchpointFeed> feed(new WatchpointFeed(std::move(*sampler)));
  feed->thread_ = std::thread([f = feed.get()] { f->loop(); });
  return feed;
}

WatchpointFeed::WatchpointFeed(std::unique_ptr<WatchpointSampler> sampler) : sampler_(std::move(sampler)) {}

WatchpointFeed::~WatchpointFeed() { stop(); }

void WatchpointFeed::loop() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || !sampler_->poll()) return;
    }
    std::this_thread::sleep_for(kSamplerPeriod);
  }
}

void WatchpointFeed::thread_started(int tid) {
  std::lock_guard lock(mutex_);
  sampler_->thread_started(tid);
}

void WatchpointFeed::thread_exited(int tid) {
  std::lock_guard lock(mutex_);
  sampler_->thread_exited(tid);
}

void WatchpointFeed::set_mappings(const ResidentMappings& mappings) {
  std::lock_guard lock(mutex_);
  sampler_->set_mappings(mappings.maps, mappings.numa_maps);
}

std::vector<WatchpointSample> WatchpointFeed::take_hits() {
  std::lock_guard lock(mutex_);
  const auto& all = sampler_->samples();
  std::vector<WatchpointSample> out(all.begin() + static_cast<std::ptrdiff_t>(taken_), all.end());
  taken_ = all.size();
  return out;
}

void WatchpointFeed::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  sampler_->stop();
}

std::vector<WatchpointSample> WatchpointFeed::samples() const {
  std::lock_guard lock(mutex_);
  return sampler_->samples();
}

std::vector<WatchpointColdProbe> WatchpointFeed::cold() const {
  std::lock_guard lock(mutex_);
  return sampler_->cold();
}

WatchpointCounters WatchpointFeed::counters() const {
  std::lock_guard lock(mutex_);
  return sampler_->counters();
}

// ---- pure helpers -----------------------------------------------------------------------------

AccessSample watchpoint_access_sample(const WatchpointSample& hit, const RecordingClock& clock) {
  AccessSample s;
  s.source = "watchpoint";
  s.mem_class = "hit";
  s.tid = hit.tid;
  s.cpu = hit.cpu;
  s.addr = hit.addr;
  s.ip = hit.ip;
  s.time_s = clock.at_s(hit.time_ns);
  s.memory_node = hit.memory_node;
  return s;
}

std::vector<ExposureBucket> watchpoint_exposures(const std::vector<WatchpointSample>& hits,
                                                 const std::vector<WatchpointColdProbe>& cold) {
  std::map<std::tuple<int, int, std::uint64_t>, ExposureBucket> buckets;
  const auto bucket = [&](int tid, int memory_node, std::uint64_t mapping) -> ExposureBucket& {
    ExposureBucket& b = buckets[{tid, memory_node, mapping}];
    if (b.probes == 0) b.source = "watchpoint", b.tid = tid, b.memory_node = memory_node, b.mapping = mapping;
    return b;
  };
  for (const auto& h : hits) {
    ExposureBucket& b = bucket(h.tid, h.memory_node, h.mapping);
    ++b.probes, ++b.hits;
    b.window_ns += std::max<std::uint64_t>(h.time_to_hit_ns, 1);
  }
  for (const auto& c : cold) {
    ExposureBucket& b = bucket(c.tid, c.memory_node, c.mapping);
    ++b.probes;
    b.window_ns += c.window_ns;
  }
  std::vector<ExposureBucket> out;
  for (auto& [key, b] : buckets) out.push_back(std::move(b));
  return out;
}

EvidenceProbe watchpoint_used_probe(const WatchpointCounters& c, std::size_t hits, std::size_t cold) {
  char line[320];
  if (c.broadcast)
    std::snprintf(line, sizeof line,
                  "%llu probes, each on every one of %llu threads: %zu hits, %llu cold (%zu thread windows without a "
                  "hit), at %.0f probes/s (%s re-aim, %.1f us per trap)",
                  static_cast<unsigned long long>(c.scheduler.aims), static_cast<unsigned long long>(c.threads_attached),
                  hits, static_cast<unsigned long long>(c.scheduler.cold), cold, c.probes_per_second,
                  std::string(watch_path_name(c.path)).c_str(), c.self_test.trap_ns / 1000);
  else
    std::snprintf(line, sizeof line,
                  "%zu probes on %llu threads: %zu hits, %zu cold, at %.0f probes/s (%s re-aim, %.1f us per trap)",
                  hits + cold, static_cast<unsigned long long>(c.threads_attached), hits, cold, c.probes_per_second,
                  std::string(watch_path_name(c.path)).c_str(), c.self_test.trap_ns / 1000);
  std::string detail = line;
  int first_error = 0;
  for (const auto& [error, n] : c.refused_by_errno) {
    detail += (first_error ? ", " : "; refused: ") + std::to_string(n) + " x " + errno_name(error);
    if (!first_error) first_error = error;
  }
  if (first_error) detail += " (" + explain_watchpoint_error(first_error) + ")";
  if (c.lost_records) detail += "; " + std::to_string(c.lost_records) + " hits lost";
  // Where probes went that neither hit nor went cold: a reader can tell a starved sampler from a cold program.
  const auto& sc = c.scheduler;
  if (sc.not_resident || sc.late || sc.dropped || sc.refused)
    detail += "; " + std::to_string(sc.not_resident) + " aims on pages not resident, " + std::to_string(sc.late) +
              " late samples, " + std::to_string(sc.dropped) + " dropped with their thread, " + std::to_string(sc.refused) +
              " refused";
  // Used with refusals: the error says which, but the source still gave evidence.
  return probe(kProbeName, hits + cold > 0, hits + cold > 0 ? detail : "no probe completed: " + detail, first_error);
}

EvidenceProbe watchpoint_refused_probe(const Error& error, int perf_event_paranoid) {
  std::string detail = error.what;
  if (perf_event_paranoid != -99) detail += " (perf_event_paranoid " + std::to_string(perf_event_paranoid) + ")";
  return probe(kProbeName, false, detail, error.code);
}

// ---- the source -------------------------------------------------------------------------------

namespace {

class WatchpointSource final : public EvidenceSource {
 public:
  explicit WatchpointSource(const RecordOptions& options) : enabled_(options.watch), snapshot_s_(options.snapshot_ms / 1000.0) {
    options_.probes_per_second = options.watch_rate;
    // The Session follows threads and reads the mappings: the sampler's own reads are off.
    options_.threads_every_ns = 0;
    options_.regions_every_ns = 0;
  }

  Result<void> start(const Target& target, Evidence&) override {
    paranoid_ = target.machine->perf_event_paranoid;
    pid_ = target.pid;
    machine_ = *target.machine;
    if (enabled_) self_test_ = std::async(std::launch::async, [] { return cached_breakpoint_self_test(); });
    // A launched program is still suspended: it waits for the self-test, which is measured once
    // per boot (cached) and took 0.2-4.6 s in a TCG guest whose CPUs the program's threads kept
    // busy; run beside the program, a two-second program was over before its first probe.
    if (enabled_ && target.launched) self_test_.wait();
    return {};
  }

  void poll(const PollRound& round, Evidence& evidence) override {
    if (!feed_ && self_test_.valid() && self_test_.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
      attach();
    if (!feed_) return;
    for (int tid : round.started) feed_->thread_started(tid);
    for (int tid : round.exited) feed_->thread_exited(tid);
    // Page placement refreshes the mappings every snapshot: take them at that pace.
    if (const double now = evidence.clock.now_s(); now >= next_mappings_s_ && !evidence.mappings.numa_maps.empty()) {
      feed_->set_mappings(evidence.mappings);
      next_mappings_s_ = now + snapshot_s_;
    }
    emit(feed_->take_hits(), evidence);
  }

  void finish(Evidence& evidence) override {
    Recording& rec = evidence.recording;
    if (!enabled_) {
      rec.evidence.push_back(probe(kProbeName, false, "switched off (--no-watch)"));
      return;
    }
    if (!feed_ && self_test_.valid()) {   // the program ended while the self-test ran
      self_test_note_ = self_test_.get().note;
      refused_ = {ESRCH, "watchpoints: the program ended before the breakpoint self-test finished"};
    }
    if (!feed_) {
      rec.evidence.push_back(watchpoint_refused_probe(refused_, paranoid_));
      if (!self_test_note_.empty()) rec.evidence.back().detail += "; " + self_test_note_;
      return;
    }
    feed_->stop();
    emit(feed_->take_hits(), evidence);
    const auto hits = feed_->samples();
    const auto cold = feed_->cold();
    const auto exposures = watchpoint_exposures(hits, cold);
    rec.exposures.insert(rec.exposures.end(), exposures.begin(), exposures.end());
    rec.lost_records += feed_->counters().lost_records;
    rec.evidence.push_back(watchpoint_used_probe(feed_->counters(), hits.size(), cold.size()));
    if (!self_test_note_.empty()) rec.evidence.back().detail += "; " + self_test_note_;
  }

 private:
  void attach() {
    SelfTestOutcome outcome = self_test_.get();
    self_test_note_ = outcome.note;
    auto& test = outcome.test;
    if (!test) {
      const Error& e = test.error();
      refused_ = {e.code, "hardware watchpoints unavailable: " + e.what + ": " + explain_watchpoint_error(e.code)};
      return;
    }
    auto feed = WatchpointFeed::start(pid_, machine_, options_, &*test);
    if (!feed) refused_ = feed.error();
    else feed_ = std::move(*feed), next_mappings_s_ = 0;
  }

  void emit(const std::vector<WatchpointSample>& hits, Evidence& evidence) {
    for (const auto& h : hits) evidence.samples.push_back(watchpoint_access_sample(h, evidence.clock));
  }

  bool enabled_;
  double snapshot_s_;
  double next_mappings_s_ = 0;
  WatchpointOptions options_;
  int paranoid_ = -99;
  int pid_ = 0;
  MachineInfo machine_;
  std::future<SelfTestOutcome> self_test_;
  std::string self_test_note_;
  Error refused_;
  std::unique_ptr<WatchpointFeed> feed_;
};

}  // namespace

std::unique_ptr<EvidenceSource> make_watchpoint_sampling(const RecordOptions& options) {
  return std::make_unique<WatchpointSource>(options);
}

}  // namespace numa_agent::analyzer
