// See thread_table.hpp.
#include "analyzer/evidence/thread_table.hpp"

#include <algorithm>
#include <utility>

#include "analyzer/evidence/evidence_source.hpp"

namespace numa_agent::analyzer {

ThreadEvidence& ThreadTable::at(int tid) {
  auto [it, inserted] = threads_.try_emplace(tid);
  if (inserted) {
    it->second.record.tid = tid;
    it->second.record.first_seen_s = clock_.now_s();
    it->second.record.last_seen_s = it->second.record.first_seen_s;
    changes_.started.push_back(tid);
  }
  return it->second;
}

ThreadEvidence* ThreadTable::find(int tid) {
  auto it = threads_.find(tid);
  return it == threads_.end() ? nullptr : &it->second;
}

void ThreadTable::mark_exited(int tid) {
  if (auto* t = find(tid); t && t->alive) {
    t->alive = false;
    changes_.exited.push_back(tid);
  }
}

std::vector<int> ThreadTable::live_tids() const {
  std::vector<int> tids;
  for (const auto& [tid, t] : threads_)
    if (t.alive) tids.push_back(tid);
  std::sort(tids.begin(), tids.end());
  return tids;
}

ThreadTable::Changes ThreadTable::take_changes() { return std::exchange(changes_, {}); }

std::vector<ThreadRecord> ThreadTable::records() const {
  std::vector<ThreadRecord> out;
  for (const auto& [tid, t] : threads_) {
    ThreadRecord r = t.record;
    if (migrations_sampled_) {
      r.cpu_migrations = t.sample_migrations;
      // Polls see node changes too (a lower bound); samples see every one when they see any.
      r.node_migrations = std::max(t.sample_node_migrations, t.poll_node_changes);
    } else {
      r.cpu_migrations = t.first_nr_migrations && t.last_nr_migrations ? *t.last_nr_migrations - *t.first_nr_migrations : 0;
      r.node_migrations = t.poll_node_changes;
    }
    if (r.residency.empty()) r.residency = t.sample_residency;
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const ThreadRecord& a, const ThreadRecord& b) {
    return a.first_seen_s != b.first_seen_s ? a.first_seen_s < b.first_seen_s : a.tid < b.tid;
  });
  return out;
}

}  // namespace numa_agent::analyzer
