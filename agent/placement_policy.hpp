// PlacementPolicy: which CPUs thread number k gets. Built once from the options and the topology
// restricted to the process's allowed CPUs; decisions are then pure lookups.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cpu_set.hpp"
#include "options.hpp"
#include "topology.hpp"

namespace numa_agent {

// Why a thread got (or did not get) its placement. The strings are the profile's "reason".
enum class PlacementReason { Policy, SkipMask, CallerAffinity, OpenMpEnv, PolicyNone, PinFailed, SingleThreaded, Rule };
std::string_view to_string(PlacementReason r);

struct PlacementDecision {
  bool pin = false;
  CpuSet cpus;        // the mask to apply when pin
  int slot_cpu = -1;  // the slot's CPU (first of the mask's intent)
  int node = -1;      // node index of slot_cpu
  PlacementReason reason = PlacementReason::PolicyNone;
};

// The decision that pins to slot CPU `cpu`, widened to `bind` (reason Policy).
PlacementDecision pin_decision(const Topology& topology, BindScope bind, int cpu);

class RoleEngine;   // role_rules.hpp

class PlacementPolicy {
 public:
  // Never fails: an expression that does not resolve on this machine yields the spread policy,
  // and fallback_warning() says so.
  static PlacementPolicy build(const Options& options, const Topology& allowed_topology, bool openmp_env_present);

  // Ordinal 0 is the main thread; created threads are 1, 2, ... in pthread_create order.
  PlacementDecision decide(std::uint64_t ordinal) const;

  const std::vector<int>& slots() const { return slots_; }
  // Why the policy pins nothing at all; nullopt when it pins.
  const std::optional<std::string>& stepped_aside() const { return stepped_aside_; }
  std::string_view pin_text() const { return pin_text_; }
  // Why NUMA_AGENT_PIN was not usable and spread is used instead: one line naming the variable.
  const std::optional<std::string>& fallback_warning() const { return fallback_warning_; }
  // Placement by role (NUMA_AGENT_RULES, NUMA_AGENT_CONFIG), before the slots above; nullptr when
  // no rule source is set. Internally synchronised, so usable through a const policy.
  RoleEngine* roles() const { return roles_.get(); }

 private:
  const Topology* topology_ = nullptr;
  std::vector<int> slots_;
  std::string pin_text_;
  std::optional<std::string> stepped_aside_;
  std::optional<std::string> fallback_warning_;
  PlacementReason aside_reason_ = PlacementReason::PolicyNone;
  std::uint64_t skip_mask_ = 0;
  BindScope bind_ = BindScope::Cpu;
  bool pin_main_ = true;   // the main thread uses slot 0
  std::shared_ptr<RoleEngine> roles_;
};

}  // namespace numa_agent
