// See watchpoint_scheduler.hpp.
#include "analyzer/evidence/watchpoint_scheduler.hpp"

#include <algorithm>
#include <cerrno>

namespace numa_agent::analyzer {

namespace {
constexpr double kBurstSeconds = 0.1;   // token bucket capacity: this much of the rate
constexpr std::uint64_t kWord = 8;
constexpr std::size_t kRecentHits = 64;      // times to hit the adaptive window looks at
constexpr std::uint64_t kWindowPerHit = 4;   // window = this x the 90th percentile time to hit
}  // namespace

double default_probe_rate(double trap_ns, double budget) { return trap_ns > 0 ? budget / (trap_ns / 1e9) : 0; }

Result<WatchpointScheduler> WatchpointScheduler::create(const WatchSchedulerConfig& config) {
  if (config.slots_per_thread == 0) return fail(EINVAL, "watchpoint scheduler: slots per thread must be at least 1");
  if (!(config.probes_per_second > 0)) return fail(EINVAL, "watchpoint scheduler: probes per second must be positive");
  if (config.window_ns == 0) return fail(EINVAL, "watchpoint scheduler: the window must be positive");
  if (config.page_bytes < kWord || (config.page_bytes & (config.page_bytes - 1)) != 0)
    return fail(EINVAL, "watchpoint scheduler: the page size must be a power of two of at least 8 bytes");
  return WatchpointScheduler(config);
}

WatchpointScheduler::WatchpointScheduler(const WatchSchedulerConfig& config) : config_(config), rng_(config.seed) {
  if (config_.broadcast) shared_.resize(config_.slots_per_thread);
}

void WatchpointScheduler::set_regions(std::vector<WatchRegion> regions) {
  std::erase_if(regions, [&](const WatchRegion& r) {
    return r.resident_bytes == 0 || r.end < r.start + config_.page_bytes;
  });
  regions_ = std::move(regions);
  cumulative_.clear();
  double sum = 0;
  for (const auto& r : regions_) cumulative_.push_back(sum += double(r.resident_bytes));
}

void WatchpointScheduler::add_thread(int tid) {
  if (threads_.try_emplace(tid, config_.slots_per_thread).second) ++counters_.threads_added;
}

void WatchpointScheduler::remove_thread(int tid) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return;
  for (const auto& s : it->second) counters_.dropped += s.armed;
  threads_.erase(it);
  ++counters_.threads_removed;
}

std::size_t WatchpointScheduler::armed_probes() const {
  std::size_t n = 0;
  for (const auto& [tid, slots] : threads_)
    for (const auto& s : slots) n += s.armed;
  return n;
}

std::uint64_t WatchpointScheduler::window_ns() const {
  if (!config_.adaptive || recent_.empty()) return config_.window_ns;
  std::vector<std::uint64_t> v = recent_;
  auto p90 = v.begin() + static_cast<std::ptrdiff_t>(v.size() * 9 / 10);
  std::nth_element(v.begin(), p90, v.end());
  return std::clamp(kWindowPerHit * *p90, std::min(kMinWindowNs, config_.window_ns), config_.window_ns);
}

std::optional<std::size_t> WatchpointScheduler::draw_region() {
  if (cumulative_.empty()) return std::nullopt;
  std::uniform_real_distribution<double> u(0, cumulative_.back());
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u(rng_));
  return std::min<std::size_t>(static_cast<std::size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
}

std::uint64_t WatchpointScheduler::draw_word_in(std::size_t region) {
  const WatchRegion& r = regions_[region];
  const std::uint64_t mask = ~(config_.page_bytes - 1);
  const std::uint64_t first = (r.start + config_.page_bytes - 1) & mask;
  const std::uint64_t pages = ((r.end & mask) - first) / config_.page_bytes;
  std::uniform_int_distribution<std::uint64_t> page(0, pages - 1), word(0, config_.page_bytes / kWord - 1);
  return first + page(rng_) * config_.page_bytes + word(rng_) * kWord;
}

WatchpointScheduler::Slot* WatchpointScheduler::slot_of(int tid, unsigned slot) {
  auto it = threads_.find(tid);
  return it == threads_.end() || slot >= it->second.size() ? nullptr : &it->second[slot];
}

WatchpointScheduler::Plan WatchpointScheduler::plan(std::uint64_t now_ns) {
  const double capacity = std::max(1.0, config_.probes_per_second * kBurstSeconds);
  if (!started_) {
    tokens_ = capacity;
    started_ = true;
  } else if (now_ns > last_ns_) {
    tokens_ = std::min(capacity, tokens_ + config_.probes_per_second * double(now_ns - last_ns_) / 1e9);
  }
  last_ns_ = std::max(last_ns_, now_ns);

  Plan plan;
  if (config_.broadcast) {
    plan_broadcast(now_ns, plan);
    return plan;
  }
  std::vector<WatchSlotRef> expired;
  for (auto& [tid, slots] : threads_) {
    for (unsigned i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (!s.armed || now_ns < s.aimed_ns + s.window_ns) continue;
      plan.cold.push_back({tid, s.addr, s.page, s.window_ns});
      expired.push_back({tid, i});
      s.armed = false;
      ++counters_.cold;
    }
  }

  // Round-robin: one aim per thread per round, starting after the thread served last.
  std::vector<int> order;
  for (auto it = threads_.lower_bound(cursor_); it != threads_.end(); ++it) order.push_back(it->first);
  for (auto it = threads_.begin(); it != threads_.end() && it->first < cursor_; ++it) order.push_back(it->first);
  const std::uint64_t window = window_ns();
  bool progress = !regions_.empty();
  bool starved = false;
  while (progress && !starved) {
    progress = false;
    for (int tid : order) {
      auto& slots = threads_[tid];
      auto free = std::find_if(slots.begin(), slots.end(), [](const Slot& s) { return !s.armed; });
      if (free == slots.end()) continue;
      if (tokens_ < 1) {
        starved = true;
        ++counters_.rate_limited;
        break;
      }
      std::size_t region = *draw_region();
      std::uint64_t addr = draw_word_in(region);
      *free = Slot{true, addr, addr & ~(config_.page_bytes - 1), now_ns, window};
      plan.aims.push_back({tid, static_cast<unsigned>(free - slots.begin()), addr, free->page, region});
      tokens_ -= 1;
      ++counters_.aims;
      cursor_ = tid + 1;
      progress = true;
    }
  }
  for (const auto& e : expired)
    if (const Slot* s = slot_of(e.tid, e.slot); s && !s->armed) plan.release.push_back(e);
  return plan;
}

void WatchpointScheduler::end_shared(unsigned slot, std::uint64_t addr, std::uint64_t end_ns) {
  for (auto& [tid, slots] : threads_) {
    Slot& s = slots[slot];
    if (!s.armed || s.addr != addr) continue;
    const std::uint64_t armed_for = end_ns > s.aimed_ns ? end_ns - s.aimed_ns : 0;
    ended_cold_.push_back({tid, s.addr, s.page, std::max<std::uint64_t>(std::min(armed_for, s.window_ns), 1)});
    ended_release_.push_back({tid, slot});
    s.armed = false;
  }
}

bool WatchpointScheduler::shared_pending(unsigned slot) const {
  const std::uint64_t probe = shared_[slot].probe;
  for (const auto& [tid, slots] : threads_)
    if (slots[slot].armed && slots[slot].probe == probe) return true;
  return false;
}

void WatchpointScheduler::plan_broadcast(std::uint64_t now_ns, Plan& plan) {
  for (unsigned i = 0; i < shared_.size(); ++i) {
    Slot& shared = shared_[i];
    if (!shared.armed) continue;
    const std::uint64_t window_end = shared.aimed_ns + shared.window_ns;
    const bool hit = shared.grace_end_ns != 0;
    if (hit && shared_pending(i) && now_ns < std::min(shared.grace_end_ns, window_end)) continue;
    if (!hit && now_ns < window_end) continue;
    end_shared(i, shared.addr, hit ? std::min(shared.grace_end_ns, window_end) : now_ns);
    shared.armed = false;
    if (!hit) ++counters_.cold;
  }
  plan.cold = std::move(ended_cold_);
  ended_cold_.clear();
  const std::vector<WatchSlotRef> ended = std::move(ended_release_);
  ended_release_.clear();

  const std::uint64_t window = window_ns();
  for (unsigned i = 0; i < shared_.size(); ++i) {
    Slot& shared = shared_[i];
    if (!shared.armed) {
      if (regions_.empty() || threads_.empty()) continue;
      if (tokens_ < 1) {
        ++counters_.rate_limited;
        break;
      }
      const std::size_t region = *draw_region();
      const std::uint64_t addr = draw_word_in(region);
      shared = Slot{true, addr, addr & ~(config_.page_bytes - 1), now_ns, window, next_probe_++, region, 0};
      tokens_ -= 1;
      ++counters_.aims;
    }
    // Every thread not on it yet joins: new probes, and threads that started since.
    for (auto& [tid, slots] : threads_) {
      Slot& s = slots[i];
      if (s.probe == shared.probe) continue;
      if (shared.grace_end_ns != 0) continue;   // hit already: a thread that starts now does not join
      s = Slot{true, shared.addr, shared.page, now_ns, shared.aimed_ns + shared.window_ns - now_ns, shared.probe, shared.region, 0};
      plan.aims.push_back({tid, i, shared.addr, shared.page, shared.region});
    }
  }
  for (const auto& e : ended)
    if (const Slot* s = slot_of(e.tid, e.slot); s && !s->armed) plan.release.push_back(e);
}

void WatchpointScheduler::armed(const WatchAim& aim, std::uint64_t armed_ns) {
  // The window keeps its length (broadcast: the probe keeps its end), so a late arm is armed less.
  if (Slot* s = slot_of(aim.tid, aim.slot); s && s->armed && s->addr == aim.addr && armed_ns > s->aimed_ns) {
    const std::uint64_t late = armed_ns - s->aimed_ns;
    s->aimed_ns = armed_ns;
    if (config_.broadcast) s->window_ns = s->window_ns > late ? s->window_ns - late : 1;
  }
}

void WatchpointScheduler::refused(const WatchAim& aim) {
  if (Slot* s = slot_of(aim.tid, aim.slot); s && s->armed && s->addr == aim.addr) s->armed = false;
  ++counters_.refused;
}

void WatchpointScheduler::not_resident(const WatchAim& aim) {
  if (config_.broadcast && aim.slot < shared_.size() && shared_[aim.slot].armed && shared_[aim.slot].addr == aim.addr) {
    shared_[aim.slot].armed = false;
    for (auto& [tid, slots] : threads_)
      if (Slot& s = slots[aim.slot]; s.armed && s.addr == aim.addr) s.armed = false;
  }
  if (Slot* s = slot_of(aim.tid, aim.slot); s && s->armed && s->addr == aim.addr) s->armed = false;
  ++counters_.not_resident;
}

WatchAim WatchpointScheduler::retarget(const WatchAim& aim) {
  WatchAim next = aim;
  if (aim.region < regions_.size()) next.addr = draw_word_in(aim.region);
  next.page = next.addr & ~(config_.page_bytes - 1);
  if (config_.broadcast && aim.slot < shared_.size() && shared_[aim.slot].addr == aim.addr) {
    Slot& shared = shared_[aim.slot];
    for (auto& [tid, slots] : threads_)
      if (Slot& s = slots[aim.slot]; s.probe == shared.probe) s.addr = next.addr, s.page = next.page;
    shared.addr = next.addr;
    shared.page = next.page;
  }
  if (Slot* s = slot_of(aim.tid, aim.slot)) {
    s->armed = true;
    s->addr = next.addr;
    s->page = next.page;
  }
  ++counters_.aims;
  return next;
}

std::optional<WatchHit> WatchpointScheduler::hit(int tid, std::uint64_t addr, int cpu, std::uint64_t time_ns) {
  auto it = threads_.find(tid);
  if (it != threads_.end()) {
    for (unsigned i = 0; i < it->second.size(); ++i) {
      Slot& s = it->second[i];
      if (!s.armed || s.addr != addr) continue;
      const std::uint64_t tth = time_ns > s.aimed_ns ? time_ns - s.aimed_ns : 0;
      if (config_.broadcast && i < shared_.size() && shared_[i].armed && shared_[i].probe == s.probe) {
        Slot& shared = shared_[i];
        // After the grace (or the window) the probe is over: a sample from then is late.
        const std::uint64_t end = shared.grace_end_ns ? shared.grace_end_ns : shared.aimed_ns + shared.window_ns;
        if (time_ns > end) break;
        if (!shared.grace_end_ns) shared.grace_end_ns = std::max<std::uint64_t>(time_ns + tth, time_ns + 1);
        ended_release_.push_back({tid, i});   // its event would trap on every touch until the probe ends
      }
      s.armed = false;
      ++counters_.hits;
      if (recent_.size() < kRecentHits) recent_.push_back(tth);
      else recent_[recent_next_++ % kRecentHits] = tth;
      return WatchHit{tid, cpu, addr, s.page, time_ns, tth};
    }
  }
  ++counters_.late;
  return std::nullopt;
}

}  // namespace numa_agent::analyzer
