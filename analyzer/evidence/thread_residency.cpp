// Thread residency: every round, /proc/PID/task/TID/stat field 39 (the CPU each thread last ran
// on) gives the node it runs on. It also notices threads (new ones, ones that ended) when perf
// does not, and is the migration evidence when cpu-migrations samples are refused.
#include <unordered_set>

#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {
namespace {

class ThreadResidency final : public EvidenceSource {
 public:
  Result<void> start(const Target& target, Evidence&) override {
    pid_ = target.pid;
    cpu_nodes_.emplace(*target.machine);
    return {};
  }
  void poll(const PollRound& round, Evidence& evidence) override;
  void finish(Evidence& evidence) override {
    evidence.recording.evidence.push_back(
        probe("thread-residency", polls_ > 0,
              polls_ > 0 ? std::to_string(polls_) + " polls of /proc/PID/task/TID/stat field 39 (CPU last run on)"
                         : "the target ended before the first poll"));
  }

 private:
  int pid_ = 0;
  std::optional<CpuNodes> cpu_nodes_;
  std::uint64_t polls_ = 0;
};

void ThreadResidency::poll(const PollRound& round, Evidence& evidence) {
  if (round.last) return;   // a count of polls: the moment the recording ends adds nothing
  auto stats = read_task_stats(pid_);
  if (!stats) return;
  ++polls_;
  std::unordered_set<int> listed;
  for (const auto& stat : *stats) {
    listed.insert(stat.tid);
    ThreadEvidence& t = evidence.threads.at(stat.tid);
    t.record.last_seen_s = evidence.clock.now_s();
    if (t.record.name.empty()) t.record.name = stat.comm;
    int node = cpu_nodes_->node_of(stat.processor);
    if (node < 0) continue;
    if (t.poll_node >= 0 && node != t.poll_node) ++t.poll_node_changes;
    t.poll_node = node;
    ++t.record.residency[node];
    if (t.sample_node < 0) t.sample_node = node;
  }
  for (int tid : evidence.threads.live_tids())
    if (!listed.count(tid)) evidence.threads.mark_exited(tid);
}

}  // namespace

std::unique_ptr<EvidenceSource> make_thread_residency(const RecordOptions&) { return std::make_unique<ThreadResidency>(); }

}  // namespace numa_agent::analyzer
