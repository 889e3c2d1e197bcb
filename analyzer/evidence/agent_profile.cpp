// libnumaagent.so's profile (record --agent): the agent writes it at exit into the directory the
// launch set up (Target::agent_profile_dir); it is folded into the recording as written, and its
// sampled allocation call paths become SiteRecords (origin "allocation"), symbolised now.
#include <cerrno>
#include <cstdlib>

#include "agent/os/procfs.hpp"
#include "analyzer/evidence/proc_parsers.hpp"
#include "analyzer/evidence/sources.hpp"
#include "analyzer/evidence/symbolizer.hpp"

namespace numa_agent::analyzer {
namespace {

using nlohmann::json;

// "policy spread" from the profile, "?" when it has no string policy.pin.
std::string pin_policy(const json& profile) {
  const json* pin = profile.contains("policy") && profile["policy"].is_object() && profile["policy"].contains("pin")
                        ? &profile["policy"]["pin"]
                        : nullptr;
  return pin && pin->is_string() ? pin->get<std::string>() : "?";
}

class AgentProfile final : public EvidenceSource {
 public:
  Result<void> start(const Target& target, Evidence&) override {
    pid_ = target.pid;
    dir_ = target.agent_profile_dir;
    return {};
  }
  void poll(const PollRound&, Evidence&) override {}
  void finish(Evidence& evidence) override {
    evidence.recording.evidence.push_back(fold_in(evidence.recording));
    add_allocation_sites(evidence.recording, evidence.mappings.maps);
  }

 private:
  EvidenceProbe fold_in(Recording& rec) const;
  static void add_allocation_sites(Recording& rec, const std::vector<MapsEntry>& maps);

  int pid_ = 0;
  std::string dir_;
};

EvidenceProbe AgentProfile::fold_in(Recording& rec) const {
  if (dir_.empty()) return probe("agent-profile", false, "the program did not run under libnumaagent.so (record --agent)");
  auto text = os::read_text_file(dir_ + "/profile-" + std::to_string(pid_) + ".json");
  if (!text)
    return probe("agent-profile", false,
                 "the agent wrote no profile for PID " + std::to_string(pid_) + " (" + describe_errno(text.error().code) + ")",
                 text.error().code);
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("schema", "") != "numa-agent-profile/1")
    return probe("agent-profile", false, "the agent's profile is not a numa-agent-profile/1 document", EINVAL);
  rec.agent_profile = j;
  std::size_t threads = j.contains("threads") && j["threads"].is_array() ? j["threads"].size() : 0;
  return probe("agent-profile", true,
               "agent profile folded in (" + std::to_string(threads) + " threads, policy " + pin_policy(j) + ")");
}

// A profile frame ({"ip", "module", "offset", "symbol"}) as a file and file offset: through the
// program's last maps (exact), else the agent's module and its offset from the load base
// (a virtual address, turned into a file offset by the ELF's segments).
std::optional<std::pair<std::string, std::uint64_t>> frame_code_point(const json& frame, const std::vector<MapsEntry>& maps,
                                                                      Symbolizer& symbols) {
  auto hex_field = [&](const char* key) -> std::optional<std::uint64_t> {
    if (!frame.contains(key) || !frame[key].is_string()) return std::nullopt;
    const std::string text = frame[key];
    char* end = nullptr;
    std::uint64_t v = std::strtoull(text.c_str(), &end, 16);
    return end && *end == 0 && !text.empty() ? std::optional(v) : std::nullopt;
  };
  if (auto ip = hex_field("ip"))
    if (const MapsEntry* m = find_mapping(maps, *ip); m && !m->path.empty() && !m->path.starts_with("["))
      return std::pair(m->path, *ip - m->start + m->offset);
  auto vaddr = hex_field("offset");
  if (!vaddr || !frame.contains("module") || !frame["module"].is_string()) return std::nullopt;
  const std::string module = frame["module"];
  auto offset = symbols.offset_of_vaddr(module, *vaddr);
  return offset ? std::optional(std::pair(module, *offset)) : std::nullopt;
}

// The agent's sampled call paths (pools.sampling.sites) skip its own frames already; here the
// allocator's (operator new) go too, and the first frame left is the allocation site.
void AgentProfile::add_allocation_sites(Recording& rec, const std::vector<MapsEntry>& maps) {
  const json& profile = rec.agent_profile;
  if (!profile.is_object() || !profile.contains("pools") || !profile["pools"].is_object()) return;
  const json& pools = profile["pools"];
  if (!pools.contains("sampling") || !pools["sampling"].is_object()) return;
  const json& sites = pools["sampling"].value("sites", json::array());
  if (!sites.is_array()) return;
  Symbolizer symbols;
  for (const json& s : sites) {
    if (!s.is_object() || !s.contains("frames") || !s["frames"].is_array()) continue;   // the program's file: take what is well formed
    SiteRecord r;
    r.origin = "allocation";
    r.samples = s.value("count", std::uint64_t{0});
    r.estimated_bytes = s.value("estimated_bytes", std::uint64_t{0});
    if (s.contains("nodes") && s["nodes"].is_array())
      for (const json& n : s["nodes"]) r.nodes.push_back(n.is_number_unsigned() ? n.get<std::uint64_t>() : 0);
    bool found = false, decided = false;
    for (const json& frame : s["frames"]) {
      if (!frame.is_object()) continue;
      auto point = frame_code_point(frame, maps, symbols);
      if (!point) continue;
      const std::string symbol = frame.value("symbol", std::string());
      // A library the agent uses, called by the agent (its profile's std::ofstream), is the agent's work.
      if (found && !decided && point->first != r.frame.module) {
        decided = true;
        if (agent_dependency(r.frame.module) && agent_code(point->first)) r.in_program = false;
      }
      if (skipped_frame(point->first, symbol)) continue;   // callers too: the agent's thread trampoline, libc
      // Every frame left is a return address (the innermost, the sampler's own, is the agent's and
      // dropped): the call is one byte before.
      std::vector<SiteFrame> frames = site_frames(symbols, point->first, point->second - 1);
      if (!found) {
        r.frame = frames.front();
        r.callers.assign(frames.begin() + 1, frames.end());
        found = true;
      } else {
        for (auto& f : frames) r.callers.push_back(std::move(f));
      }
    }
    if (found) rec.sites.push_back(std::move(r));
  }
}

}  // namespace

std::unique_ptr<EvidenceSource> make_agent_profile(const RecordOptions&) { return std::make_unique<AgentProfile>(); }

}  // namespace numa_agent::analyzer
