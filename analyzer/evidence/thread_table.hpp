// The recorded program's threads while recording: what each source learned about each thread
// (perf samples, residency polls, sched snapshots), merged into ThreadRecords at the end. Shared
// by the evidence sources through Evidence (evidence_source.hpp).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

class RecordingClock;

struct ThreadEvidence {
  ThreadRecord record;             // name, first/last seen, residency (polls), numa_faults (sched)
  bool alive = true;
  int poll_node = -1;              // node at the last residency poll
  std::uint64_t poll_node_changes = 0;
  int sample_node = -1;            // node after the last migration sample
  std::uint64_t sample_migrations = 0, sample_node_migrations = 0;
  std::optional<std::uint64_t> first_nr_migrations, last_nr_migrations;   // sched se.nr_migrations
  std::map<int, std::uint64_t> sample_residency;   // node -> samples taken there (for threads never polled)
};

class ThreadTable {
 public:
  explicit ThreadTable(const RecordingClock& clock) : clock_(clock) {}

  // The thread, first seen now if it is new (then it is reported in started()).
  ThreadEvidence& at(int tid);
  ThreadEvidence* find(int tid);
  bool contains(int tid) const { return threads_.count(tid) > 0; }
  void mark_exited(int tid);
  std::vector<int> live_tids() const;
  std::unordered_map<int, ThreadEvidence>& all() { return threads_; }

  // Thread starts and exits since the previous call (the Session hands them to every source).
  struct Changes {
    std::vector<int> started, exited;
  };
  Changes take_changes();

  // Set by the perf source when cpu-migrations samples are recorded: then migration counts come
  // from samples (exact), else from sched's se.nr_migrations and the residency polls.
  void set_migrations_sampled(bool sampled) { migrations_sampled_ = sampled; }
  // The records of every thread ever seen, by first sight then tid.
  std::vector<ThreadRecord> records() const;

 private:
  const RecordingClock& clock_;
  std::unordered_map<int, ThreadEvidence> threads_;
  Changes changes_;
  bool migrations_sampled_ = false;
};

}  // namespace numa_agent::analyzer
