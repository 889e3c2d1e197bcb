#include "thread_registry.hpp"

namespace numa_agent {

std::size_t ThreadRegistry::add(ThreadRecord r) {
  std::lock_guard lock(mutex_);
  if (records_.size() >= limit_) {
    ++dropped_;
    return kNoRecord;
  }
  records_.push_back(std::move(r));
  return records_.size() - 1;
}

void ThreadRegistry::finish(std::size_t index, std::uint64_t end_ns, int last_cpu, std::string name) {
  std::lock_guard lock(mutex_);
  if (index >= records_.size()) return;
  auto& r = records_[index];
  r.end_ns = end_ns;
  r.last_cpu = last_cpu;
  if (!name.empty()) r.name = std::move(name);
}

void ThreadRegistry::update_placement(std::size_t index, bool pinned, const CpuSet& cpus, int node,
                                      PlacementReason reason) {
  std::lock_guard lock(mutex_);
  if (index >= records_.size()) return;
  auto& r = records_[index];
  r.pinned = pinned;
  r.cpus = cpus;
  r.node = node;
  r.reason = reason;
}

std::vector<ThreadRecord> ThreadRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::size_t ThreadRegistry::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace numa_agent
