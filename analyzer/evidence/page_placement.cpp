// Page placement: /proc/PID/numa_maps snapshots (RecordOptions::snapshot_ms apart; the last one
// is the Recording's mappings, with the mappings earlier snapshots saw and a later one no longer
// did or saw smaller under the same start, as last seen at their largest: a program that frees its big array before it exits would otherwise leave its
// working set out of the recording) and, every round, the memory node of each sampled page by
// move_pages. It takes the access samples other sources emitted, places each on its node and
// aggregates them into the Recording's accesses and first_touch buckets.
#include <algorithm>
#include <cerrno>
#include <map>
#include <tuple>
#include <unordered_map>

#include "agent/os/os.hpp"
#include "agent/text.hpp"
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {
namespace {

constexpr std::uint64_t kPageMask = ~std::uint64_t{4095};

class PagePlacement final : public EvidenceSource {
 public:
  explicit PagePlacement(const RecordOptions& options) : snapshot_s_(options.snapshot_ms / 1000.0) {}
  Result<void> start(const Target& target, Evidence&) override {
    pid_ = target.pid;
    machine_ = target.machine;
    cpu_nodes_.emplace(*target.machine);
    return {};
  }
  void poll(const PollRound& round, Evidence& evidence) override;
  void finish(Evidence& evidence) override;

 private:
  void refresh_maps(ResidentMappings& mappings);
  void snapshot(ResidentMappings& mappings);
  void place_samples(Evidence& evidence);
  // The node of each sample's page by move_pages (-1: unknown), remembering each page's last node.
  std::vector<int> page_nodes(const std::vector<AccessSample>& samples, const ResidentMappings& mappings, Recording& rec);
  // The node of `addr` when its mapping's policy binds it to one node (numa_maps), else -1.
  int bound_node_of(std::uint64_t addr, const ResidentMappings& mappings) const;
  const std::string& site_of(std::uint64_t ip, const std::vector<MapsEntry>& maps);
  void add_probes(Recording& rec) const;
  // Mappings of the snapshot being replaced that the new one no longer has go to freed_.
  void keep_freed(const ResidentMappings& before, const std::vector<MappingRecord>& now);

  double snapshot_s_;
  double next_snapshot_s_ = 0;
  int pid_ = 0;
  const MachineInfo* machine_ = nullptr;
  std::optional<CpuNodes> cpu_nodes_;
  int numa_maps_reads_ = 0, numa_maps_error_ = 0, move_pages_error_ = 0, freed_kept_ = 0;
  std::uint64_t resolved_pages_ = 0, remembered_pages_ = 0, bound_pages_ = 0;
  // The node each sampled page was found on at its last query: samples still in the rings when
  // the program exits can no longer be queried (the last round of faults before exit would be
  // lost, a bias towards whatever the program touched last), so they take their page's last node.
  std::unordered_map<std::uint64_t, int> last_page_node_;
  std::map<std::uint64_t, MappingRecord> freed_;   // by start: gone from the snapshots, as last seen
  // site_of() per instruction address for the current maps (the same few sites fault thousands of times).
  std::unordered_map<std::uint64_t, std::string> site_cache_;
  std::map<std::tuple<std::string, int, int, int, std::uint64_t, std::string>, AccessBucket> accesses_;
  std::map<std::tuple<int, int, int, std::uint64_t, std::string>, FirstTouchBucket> first_touch_;
};

void PagePlacement::poll(const PollRound& round, Evidence& evidence) {
  place_samples(evidence);
  double now = evidence.clock.now_s();
  if (!round.last && now < next_snapshot_s_) return;
  snapshot(evidence.mappings);
  next_snapshot_s_ = now + snapshot_s_;
}

void PagePlacement::refresh_maps(ResidentMappings& mappings) {
  // An exited program's maps read empty: keep the last ones for the samples drained after exit.
  if (auto maps = read_maps(pid_); !maps.empty()) mappings.maps = std::move(maps), site_cache_.clear();
}

void PagePlacement::snapshot(ResidentMappings& mappings) {
  auto numa_maps = read_numa_maps(pid_);
  if (!numa_maps) {
    if (!numa_maps_error_) numa_maps_error_ = numa_maps.error().code;
    return;
  }
  if (numa_maps->empty()) return refresh_maps(mappings);
  const ResidentMappings before = mappings;
  mappings.numa_maps = std::move(*numa_maps), ++numa_maps_reads_;
  refresh_maps(mappings);
  if (!before.numa_maps.empty()) keep_freed(before, mapping_records(mappings.numa_maps, mappings.maps, *machine_));
}

namespace {
bool overlaps(const MappingRecord& a, const MappingRecord& b) { return a.start < b.end && b.start < a.end; }
std::uint64_t resident_pages(const MappingRecord& m) {
  std::uint64_t pages = 0;
  for (const auto& [node, n] : m.pages_by_node) pages += n;
  return pages;
}
// A range in use again: some mapping with resident pages overlaps it. (One without any does not
// count: the agent returns a freed planned block to its PROT_NONE reservation, which merges into
// that reservation's mapping.)
bool overlaps_any(const MappingRecord& m, const std::vector<MappingRecord>& all) {
  return std::any_of(all.begin(), all.end(), [&](const MappingRecord& o) { return overlaps(m, o) && resident_pages(o) > 0; });
}
}  // namespace

void PagePlacement::keep_freed(const ResidentMappings& before, const std::vector<MappingRecord>& now) {
  for (auto& m : mapping_records(before.numa_maps, before.maps, *machine_)) {
    const std::uint64_t pages = resident_pages(m);
    if (pages == 0) continue;
    // Gone, or shrunk under the same start (a block merged with its neighbour, then freed): the
    // larger view is kept; a range in use by another mapping again is not.
    const auto same = std::find_if(now.begin(), now.end(), [&](const MappingRecord& o) { return o.start == m.start; });
    const bool shrunk = same != now.end() && resident_pages(*same) < pages && same->end <= m.end;
    if (same == now.end() ? !overlaps_any(m, now) : shrunk) {
      auto& kept = freed_[m.start];
      if (resident_pages(kept) < pages) kept = std::move(m);
    }
  }
  std::erase_if(freed_, [&](const auto& f) {
    return std::any_of(now.begin(), now.end(), [&](const MappingRecord& o) {
      return overlaps(f.second, o) && resident_pages(o) > 0 &&
             (o.start != f.second.start || resident_pages(o) >= resident_pages(f.second));
    });
  });
}

const std::string& PagePlacement::site_of(std::uint64_t ip, const std::vector<MapsEntry>& maps) {
  auto cached = site_cache_.find(ip);
  if (cached != site_cache_.end()) return cached->second;
  std::string site;
  if (ip == 0) {
    site = "unknown";
  } else if (const MapsEntry* m = find_mapping(maps, ip); !m) {
    site = text::hex(ip);
  } else {
    std::string name = m->path.empty() ? "[anon]" : m->path.substr(m->path.find_last_of('/') + 1);
    site = name + "+" + text::hex(ip - m->start + m->offset);
  }
  return site_cache_.emplace(ip, std::move(site)).first->second;
}

int PagePlacement::bound_node_of(std::uint64_t addr, const ResidentMappings& mappings) const {
  const MapsEntry* m = find_mapping(mappings.maps, addr);
  if (!m) return -1;
  for (const auto& n : mappings.numa_maps)
    if (n.start == m->start)
      if (auto os_node = single_bound_node(n.policy)) return machine_->node_index(*os_node);
  return -1;
}

std::vector<int> PagePlacement::page_nodes(const std::vector<AccessSample>& samples, const ResidentMappings& mappings, Recording& rec) {
  std::vector<const void*> pages;
  std::vector<std::size_t> asked;   // index of the sample behind each queried page
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (samples[i].memory_node < 0) pages.push_back(reinterpret_cast<const void*>(samples[i].addr & kPageMask)), asked.push_back(i);
  std::vector<int> os_nodes(pages.size(), -ENOENT);
  int rc = pages.empty() ? 0 : os::page_nodes(pid_, pages.data(), pages.size(), os_nodes.data());
  if (rc < 0) {
    if (!move_pages_error_) move_pages_error_ = -rc;
    std::fill(os_nodes.begin(), os_nodes.end(), rc);
  }
  std::vector<int> nodes(samples.size(), -1);
  for (std::size_t i = 0; i < samples.size(); ++i) nodes[i] = samples[i].memory_node;
  for (std::size_t k = 0; k < asked.size(); ++k) {
    const std::uint64_t page = samples[asked[k]].addr & kPageMask;
    int node = os_nodes[k] >= 0 ? machine_->node_index(os_nodes[k]) : -1;
    if (node >= 0) {
      ++resolved_pages_;
      last_page_node_[page] = node;
    } else if (auto known = last_page_node_.find(page); rc < 0 && known != last_page_node_.end()) {
      // The query failed as a whole (the program is gone), not for this page: its last node.
      node = known->second;
      ++remembered_pages_;
    } else if (rc < 0 && (node = bound_node_of(page, mappings)) >= 0) {
      // Gone with the program, never queried (a recorder that fell behind on a busy host): a
      // page its mapping's policy binds to one node is on that node.
      ++bound_pages_;
    } else {
      ++rec.unresolved_pages;
    }
    nodes[asked[k]] = node;
  }
  return nodes;
}

void PagePlacement::place_samples(Evidence& evidence) {
  if (evidence.samples.empty()) return;
  refresh_maps(evidence.mappings);
  const std::vector<AccessSample> samples = std::exchange(evidence.samples, {});
  const std::vector<int> nodes = page_nodes(samples, evidence.mappings, evidence.recording);
  const auto& maps = evidence.mappings.maps;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const AccessSample& s = samples[i];
    const int cpu_node = cpu_nodes_->node_of(s.cpu), memory_node = nodes[i];
    const MapsEntry* m = find_mapping(maps, s.addr);
    const std::uint64_t mapping = m ? m->start : 0;
    if (s.first_touch) {
      const std::string& site = site_of(s.ip, maps);
      auto& b = first_touch_[{s.tid, cpu_node, memory_node, mapping, site}];
      if (b.pages == 0) b.tid = s.tid, b.cpu_node = cpu_node, b.memory_node = memory_node, b.mapping = mapping, b.site = site;
      ++b.pages;
      continue;
    }
    std::string source(s.source), mem_class(s.mem_class);
    auto& b = accesses_[{source, s.tid, cpu_node, memory_node, mapping, mem_class}];
    b.source = source, b.tid = s.tid, b.cpu_node = cpu_node, b.memory_node = memory_node, b.mapping = mapping;
    b.mem_class = mem_class;
    ++b.count;
    if (s.load) ++b.loads;
    b.weight_sum += s.weight;
  }
}

void PagePlacement::add_probes(Recording& rec) const {
  if (numa_maps_reads_ > 0)
    rec.evidence.push_back(probe("numa-maps", true,
                                 std::to_string(numa_maps_reads_) + " snapshots of /proc/PID/numa_maps (the last one is kept" +
                                     (freed_kept_ ? ", with " + std::to_string(freed_kept_) +
                                                        " mapping(s) freed or shrunk before it as an earlier one saw them)"
                                                  : std::string(")"))));
  else
    rec.evidence.push_back(probe("numa-maps", false,
                                 numa_maps_error_ ? "/proc/PID/numa_maps: " + describe_errno(numa_maps_error_)
                                                  : "the program ended before a snapshot with resident pages was taken",
                                 numa_maps_error_));
  if (resolved_pages_ > 0 || bound_pages_ > 0)
    rec.evidence.push_back(probe("move-pages", true,
                                 std::to_string(resolved_pages_) + " sampled pages placed by move_pages, " +
                                     std::to_string(remembered_pages_) +
                                     " sampled after the program ended placed where move_pages last found them, " +
                                     (bound_pages_ > 0 ? std::to_string(bound_pages_) +
                                                             " never queried placed on the one node their mapping is bound to, "
                                                       : std::string()) +
                                     std::to_string(rec.unresolved_pages) + " gone before they could be queried"));
  else
    rec.evidence.push_back(probe("move-pages", false,
                                 move_pages_error_ ? "move_pages: " + describe_errno(move_pages_error_)
                                                   : "no sampled page could be queried before it was freed",
                                 move_pages_error_));
}

void PagePlacement::finish(Evidence& evidence) {
  place_samples(evidence);   // those drained after the program ended
  Recording& rec = evidence.recording;
  rec.mappings = mapping_records(evidence.mappings.numa_maps, evidence.mappings.maps, *machine_);
  for (const auto& kept : freed_) {
    const MappingRecord& m = kept.second;
    auto same = std::find_if(rec.mappings.begin(), rec.mappings.end(), [&](const MappingRecord& o) { return o.start == m.start; });
    if (same != rec.mappings.end() && resident_pages(*same) < resident_pages(m)) *same = m, ++freed_kept_;
    else if (same == rec.mappings.end() && !overlaps_any(m, rec.mappings)) rec.mappings.push_back(m), ++freed_kept_;
  }
  std::sort(rec.mappings.begin(), rec.mappings.end(), [](const MappingRecord& a, const MappingRecord& b) { return a.start < b.start; });
  for (auto& [key, bucket] : accesses_) rec.accesses.push_back(bucket);
  for (auto& [key, bucket] : first_touch_) rec.first_touch.push_back(bucket);
  add_probes(rec);
}

}  // namespace

std::unique_ptr<EvidenceSource> make_page_placement(const RecordOptions& options) {
  return std::make_unique<PagePlacement>(options);
}

}  // namespace numa_agent::analyzer
