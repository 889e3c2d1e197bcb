// The profile's "pools" section of started pools: per-heap and per-node counters, sampled sites.
#include "pool_profile.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "../os/os.hpp"
#include "../text.hpp"

namespace numa_agent::pool {

using text::hex;

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

using text::hex;
namespace {

// Sampled call paths: frames inside the agent itself are dropped, paths that are equal after
// that are merged, most frequent first.
nlohmann::json samples_json(PoolAllocator& pool) {
  const auto self = os::code_location(reinterpret_cast<const void*>(&samples_json));
  const std::uintptr_t self_base = self ? self->module_base : 0;
  struct Site {
    std::uint64_t count = 0, bytes = 0;
    std::vector<std::uint64_t> per_node;
  };
  std::map<std::vector<const void*>, Site> merged;
  pool.for_each_sample([&](const PoolAllocator::SampleView& v) {
    std::vector<const void*> frames;
    int i = 0;
    for (; i < v.depth; ++i) {
      const auto where = os::code_location(v.frames[i]);
      if (!where || where->module_base != self_base) break;
    }
    for (; i < v.depth && frames.size() < 8; ++i) frames.push_back(v.frames[i]);
    Site& s = merged[frames];
    s.count += v.count;
    s.bytes += v.bytes;
    s.per_node.resize(static_cast<std::size_t>(pool.node_count()));
    for (int n = 0; n < pool.node_count(); ++n) s.per_node[static_cast<std::size_t>(n)] += v.per_node[n];
  });
  std::vector<std::pair<const std::vector<const void*>*, const Site*>> order;
  for (const auto& [k, v] : merged) order.emplace_back(&k, &v);
  std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.second->count > b.second->count; });
  nlohmann::json sites = nlohmann::json::array();
  for (std::size_t i = 0; i < order.size() && i < 100; ++i) {
    nlohmann::json frames = nlohmann::json::array();
    for (const void* ip : *order[i].first) {
      nlohmann::json f{{"ip", hex(reinterpret_cast<std::uintptr_t>(ip))}};
      if (const auto where = os::code_location(ip)) {
        if (where->module) f["module"] = where->module;
        f["offset"] = hex(reinterpret_cast<std::uintptr_t>(ip) - where->module_base);
        if (where->symbol) f["symbol"] = where->symbol;
      }
      frames.push_back(std::move(f));
    }
    const Site& s = *order[i].second;
    sites.push_back({{"count", s.count},
                     {"sampled_block_bytes", s.bytes},
                     {"estimated_bytes", s.count * pool.sample_bytes()},
                     {"nodes", s.per_node},
                     {"frames", std::move(frames)}});
  }
  return {{"interval_bytes", pool.sample_bytes()},
          {"sites", std::move(sites)},
          {"sites_total", merged.size()},
          {"dropped", pool.samples_dropped()}};
}

// One node's arena: its heaps' summed counters, then the arena's own bookkeeping.
nlohmann::json node_json(const PoolAllocator& pool, int index, const HeapCounters& counters) {
  const NodeArena& a = pool.node(index);
  nlohmann::json j = counters_json(counters);
  j["index"] = index;
  j["os_index"] = a.os_index;
  j["usable"] = a.usable;
  j["error_errno"] = a.last_error;
  j["reserved_bytes"] = pool.arena_bytes();
  j["committed_bytes"] = a.chunks_committed * kChunkBytes;
  j["spans_in_use"] = a.spans_in_use;
  j["span_bytes_in_use"] = a.spans_in_use * kSpanBytes;
  j["free_spans"] = a.free_span_count;
  j["cold_spans"] = a.cold_span_count;
  j["free_groups"] = a.free_group_count;   // empty groups of kGroupPieces spans (classes above 4 KiB)
  j["cold_groups"] = a.cold_group_count;
  j["spans_decommitted"] = a.spans_decommitted;
  j["heaps_created"] = a.heaps_created;
  j["heaps_adopted"] = a.heaps_adopted;
  j["heaps_abandoned"] = a.heaps_abandoned;
  return j;
}

}  // namespace

nlohmann::json started_pools_json(PoolAllocator& pool) {
  const int nodes = pool.node_count();
  std::vector<HeapCounters> per_node(static_cast<std::size_t>(nodes));
  HeapCounters total;
  nlohmann::json heaps = nlohmann::json::array();
  std::size_t heaps_listed = 0, heap_count = 0;
  constexpr std::size_t kHeapListLimit = 256;
  pool.for_each_heap([&](const Heap& h) {
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
  total.fallthrough[static_cast<unsigned>(FallReason::ThreadExiting)] += pool.exited_thread_fallthroughs();
  nlohmann::json node_list = nlohmann::json::array();
  for (int i = 0; i < nodes; ++i) node_list.push_back(node_json(pool, i, per_node[static_cast<std::size_t>(i)]));
  nlohmann::json out{{"enabled", true},
                     {"reason", nullptr},
                     {"small_max", pool.small_max()},
                     {"span_bytes", kSpanBytes},
                     {"chunk_bytes", kChunkBytes},
                     {"arena_bytes_per_node", pool.arena_bytes()},
                     {"reserved_range", {hex(pool.base()), hex(pool.base() + pool.reserved_bytes())}},
                     {"totals", counters_json(total)},
                     {"nodes", std::move(node_list)},
                     {"heaps", std::move(heaps)},
                     {"heaps_total", heap_count},
                     {"heaps_dropped", heap_count - heaps_listed}};
  if (pool.sample_bytes() > 0) out["sampling"] = samples_json(pool);
  return out;
}

}  // namespace numa_agent::pool
