// libnumaagent.so's profile (record --agent): the agent writes it at exit into the directory the
// launch set up (Target::agent_profile_dir); it is folded into the recording as written.
#include <cerrno>

#include "agent/os/procfs.hpp"
#include "analyzer/evidence/sources.hpp"

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
  void finish(Evidence& evidence) override { evidence.recording.evidence.push_back(fold_in(evidence.recording)); }

 private:
  EvidenceProbe fold_in(Recording& rec) const;

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

}  // namespace

std::unique_ptr<EvidenceSource> make_agent_profile(const RecordOptions&) { return std::make_unique<AgentProfile>(); }

}  // namespace numa_agent::analyzer
