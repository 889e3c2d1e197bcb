// The pools as the runtime sees them: start (once, from the library constructor), thread-exit and
// fork hooks, and the profile section.
#include "pool_runtime.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "pool_global.hpp"

namespace numa_agent::pool {

constinit PoolAllocator g_pool;
__thread Heap* tl_heap __attribute__((tls_model("initial-exec"))) = &g_detached_heap;

namespace {

// Why the pools are off, for the profile: a fixed buffer (no destructor: the profile may be
// written late in exit).
constinit char g_off_reason[320] = "pools not started";
constinit bool g_started = false;
constinit bool g_start_failed = false;   // not just disabled: the profile counts the fall-throughs
constinit pthread_key_t g_exit_key{};

Heap** current_slot() { return &tl_heap; }

// Runs at thread exit (pthread key destructor) for threads that took a heap.
void thread_ended(void*) { g_pool.thread_exit(&tl_heap); }

void heap_attached(Heap* h) { pthread_setspecific(g_exit_key, h); }

void before_fork() { g_pool.fork_prepare(); }
void after_fork_parent() { g_pool.fork_parent(); }
void after_fork_child() { g_pool.fork_child(); }

}  // namespace

namespace {

void set_off_reason(const std::string& text) {
  const std::size_t n = std::min(text.size(), sizeof g_off_reason - 1);
  std::memcpy(g_off_reason, text.data(), n);
  g_off_reason[n] = '\0';
}

std::string gib(std::size_t bytes) {
  const std::size_t g = bytes >> 30;
  return g > 0 ? std::to_string(g) + " GiB" : std::to_string(bytes >> 20) + " MiB";
}

// "pools off: WHAT (DETAIL): every allocation goes to the real allocator"
std::string off_line(const char* what, int error) {
  std::string line = std::string("pools off: ") + what;
  const char* name = error > 0 ? strerrorname_np(error) : nullptr;
  if (std::strcmp(what, "cannot reserve the pools' address space") == 0)
    line += " of " + gib(g_pool.start_bytes()) + " (" + (name ? name : "error") +
            "; RLIMIT_AS / ulimit -v too small? NUMA_AGENT_ARENA_SIZE sets the size per node)";
  else if (name)
    line += std::string(" (") + name + ")";
  return line + ": every allocation goes to the real allocator";
}

}  // namespace

std::string start(const PoolConfig& config, const Topology& topology) {
  if (g_started) return {};
  if (!config.enabled) {
    set_off_reason("disabled by NUMA_AGENT_POOLS=0");
    return {};
  }
  // Created first, while few keys exist: keys below 32 live inside the thread descriptor, so
  // pthread_setspecific from the allocator's slow path allocates nothing.
  if (pthread_key_create(&g_exit_key, thread_ended) != 0) {
    std::string line = off_line("no pthread key left for the thread-exit handler", 0);
    set_off_reason(line);
    return line;
  }
  if (const char* why = g_pool.start(config, topology, production_pool_os(), ThreadHooks{current_slot, heap_attached})) {
    std::string line = off_line(why, g_pool.start_errno());
    set_off_reason(line);
    g_start_failed = true;
    return line;
  }
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  g_started = true;
  g_off_reason[0] = '\0';
  return {};
}

void thread_placed() {
  if (g_started) g_pool.thread_placed(&tl_heap);
}

namespace {

nlohmann::json counters_json(const HeapCounters& c) {
  nlohmann::json fall = nlohmann::json::object();
  std::uint64_t fall_total = 0;
  for (unsigned i = 0; i < static_cast<unsigned>(FallReason::kCount); ++i) {
    fall[kFallReasonNames[i]] = c.fallthrough[i];
    fall_total += c.fallthrough[i];
  }
  return {{"pool_allocations", c.pool_allocs},
          {"slow_path_allocations", c.slow_allocs},
          {"fallthrough", fall},
          {"fallthrough_total", fall_total},
          {"cross_thread_frees_sent", c.remote_frees_sent},
          {"cross_thread_frees_received", c.remote_frees_collected},
          {"real_allocator_frees", c.real_frees},
          {"spans_acquired", c.spans_acquired},
          {"spans_released", c.spans_released},
          {"samples", c.samples},
          {"node_moves", c.node_moves}};
}

std::string hex(std::uintptr_t v) {
  char buf[2 + 16 + 1];
  static const char digits[] = "0123456789abcdef";
  int i = sizeof(buf) - 1;
  buf[i] = '\0';
  do {
    buf[--i] = digits[v & 15];
    v >>= 4;
  } while (v && i > 2);
  buf[--i] = 'x';
  buf[--i] = '0';
  return std::string(buf + i);
}

// Sampled call paths: frames inside the agent itself are dropped, paths that are equal after
// that are merged, most frequent first.
nlohmann::json samples_json() {
  Dl_info self{};
  dladdr(reinterpret_cast<void*>(&profile_section), &self);
  struct Site {
    std::uint64_t count = 0, bytes = 0;
    std::vector<std::uint64_t> per_node;
  };
  std::map<std::vector<const void*>, Site> merged;
  g_pool.for_each_sample([&](const PoolAllocator::SampleView& v) {
    std::vector<const void*> frames;
    int i = 0;
    for (Dl_info info{}; i < v.depth; ++i)
      if (!dladdr(v.frames[i], &info) || info.dli_fbase != self.dli_fbase) break;
    for (; i < v.depth && frames.size() < 8; ++i) frames.push_back(v.frames[i]);
    Site& s = merged[frames];
    s.count += v.count;
    s.bytes += v.bytes;
    s.per_node.resize(static_cast<std::size_t>(g_pool.node_count()));
    for (int n = 0; n < g_pool.node_count(); ++n) s.per_node[static_cast<std::size_t>(n)] += v.per_node[n];
  });
  std::vector<std::pair<const std::vector<const void*>*, const Site*>> order;
  for (const auto& [k, v] : merged) order.emplace_back(&k, &v);
  std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.second->count > b.second->count; });
  nlohmann::json sites = nlohmann::json::array();
  for (std::size_t i = 0; i < order.size() && i < 100; ++i) {
    nlohmann::json frames = nlohmann::json::array();
    for (const void* ip : *order[i].first) {
      Dl_info info{};
      nlohmann::json f{{"ip", hex(reinterpret_cast<std::uintptr_t>(ip))}};
      if (dladdr(ip, &info)) {
        if (info.dli_fname) f["module"] = info.dli_fname;
        f["offset"] = hex(reinterpret_cast<std::uintptr_t>(ip) - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
        if (info.dli_sname) f["symbol"] = info.dli_sname;
      }
      frames.push_back(std::move(f));
    }
    const Site& s = *order[i].second;
    sites.push_back({{"count", s.count},
                     {"sampled_block_bytes", s.bytes},
                     {"estimated_bytes", s.count * g_pool.sample_bytes()},
                     {"nodes", s.per_node},
                     {"frames", std::move(frames)}});
  }
  return {{"interval_bytes", g_pool.sample_bytes()},
          {"sites", std::move(sites)},
          {"sites_total", merged.size()},
          {"dropped", g_pool.samples_dropped()}};
}

}  // namespace

nlohmann::json profile_section() {
  if (!g_started) {
    nlohmann::json off{{"enabled", false}, {"reason", g_off_reason[0] ? g_off_reason : "off"}};
    if (g_start_failed) {
      // Everything the pools were asked for went to the real allocator.
      HeapCounters total;
      total.fallthrough[static_cast<unsigned>(FallReason::PoolsOff)] = g_pool.pools_off_fallthroughs();
      off["totals"] = counters_json(total);
    }
    return off;
  }
  const int nodes = g_pool.node_count();
  std::vector<HeapCounters> per_node(static_cast<std::size_t>(nodes));
  HeapCounters total;
  nlohmann::json heaps = nlohmann::json::array();
  std::size_t heaps_listed = 0, heap_count = 0;
  constexpr std::size_t kHeapListLimit = 256;
  g_pool.for_each_heap([&](const Heap& h) {
    per_node[static_cast<std::size_t>(h.node)] += h.counters;
    total += h.counters;
    ++heap_count;
    if (heaps_listed < kHeapListLimit) {
      ++heaps_listed;
      nlohmann::json j = counters_json(h.counters);
      j["node"] = h.node;
      j["last_tid"] = h.tid;
      j["threads"] = h.attaches;
      j["state"] = h.state == HeapState::Active ? "active" : "abandoned";
      heaps.push_back(std::move(j));
    }
  });
  total.fallthrough[static_cast<unsigned>(FallReason::ThreadExiting)] += g_pool.exited_thread_fallthroughs();
  nlohmann::json node_list = nlohmann::json::array();
  for (int i = 0; i < nodes; ++i) {
    const NodeArena& a = g_pool.node(i);
    nlohmann::json j = counters_json(per_node[static_cast<std::size_t>(i)]);
    j["index"] = i;
    j["os_index"] = a.os_index;
    j["usable"] = a.usable;
    j["error_errno"] = a.last_error;
    j["reserved_bytes"] = g_pool.arena_bytes();
    j["committed_bytes"] = a.chunks_committed * kChunkBytes;
    j["spans_in_use"] = a.spans_in_use;
    j["span_bytes_in_use"] = a.spans_in_use * kSpanBytes;
    j["free_spans"] = a.free_span_count;
    j["cold_spans"] = a.cold_span_count;
    j["spans_decommitted"] = a.spans_decommitted;
    j["heaps_created"] = a.heaps_created;
    j["heaps_adopted"] = a.heaps_adopted;
    j["heaps_abandoned"] = a.heaps_abandoned;
    node_list.push_back(std::move(j));
  }
  nlohmann::json out{{"enabled", true},
                     {"reason", nullptr},
                     {"small_max", g_pool.small_max()},
                     {"span_bytes", kSpanBytes},
                     {"chunk_bytes", kChunkBytes},
                     {"arena_bytes_per_node", g_pool.arena_bytes()},
                     {"reserved_range", {hex(g_pool.base()), hex(g_pool.base() + g_pool.reserved_bytes())}},
                     {"totals", counters_json(total)},
                     {"nodes", std::move(node_list)},
                     {"heaps", std::move(heaps)},
                     {"heaps_total", heap_count},
                     {"heaps_dropped", heap_count - heaps_listed}};
  if (g_pool.sample_bytes() > 0) out["sampling"] = samples_json();
  return out;
}

}  // namespace numa_agent::pool
