// /proc/vmstat's numa_* counters from the start of the recording to its end: system-wide, but the
// only count of NUMA-balancing hint faults (sampled accesses) and page migrations without a PMU.
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {
namespace {

class VmstatDelta final : public EvidenceSource {
 public:
  Result<void> start(const Target& target, Evidence&) override {
    machine_ = target.machine;
    start_ = read_vmstat();
    return {};
  }
  void poll(const PollRound&, Evidence&) override {}
  void finish(Evidence& evidence) override;

 private:
  const MachineInfo* machine_ = nullptr;
  std::map<std::string, std::uint64_t> start_;
};

void VmstatDelta::finish(Evidence& evidence) {
  Recording& rec = evidence.recording;
  rec.vmstat_delta = numa_vmstat_deltas(read_vmstat(), start_);
  auto delta = [&](const char* key) { return rec.vmstat_delta.count(key) ? rec.vmstat_delta.at(key) : 0; };
  if (machine_->nodes.size() < 2)
    rec.evidence.push_back(
        probe("numa-hint-faults", false, "one NUMA node: the kernel has nothing to balance, so there are no hint faults"));
  else if (machine_->numa_balancing <= 0)
    rec.evidence.push_back(probe("numa-hint-faults", false,
                                 "NUMA balancing is off (/proc/sys/kernel/numa_balancing=" +
                                     std::to_string(machine_->numa_balancing) +
                                     "): the kernel takes no hint faults; pages stay where first touched"));
  else
    rec.evidence.push_back(probe("numa-hint-faults", delta("numa_hint_faults") > 0,
                                 "NUMA balancing is on; /proc/vmstat numa_hint_faults +" +
                                     std::to_string(delta("numa_hint_faults")) + " (local +" +
                                     std::to_string(delta("numa_hint_faults_local")) + ", pages migrated +" +
                                     std::to_string(delta("numa_pages_migrated")) + ")"));
}

}  // namespace

std::unique_ptr<EvidenceSource> make_vmstat_delta(const RecordOptions&) { return std::make_unique<VmstatDelta>(); }

}  // namespace numa_agent::analyzer
