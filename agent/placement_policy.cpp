#include "placement_policy.hpp"

#include <bit>

#include "cpu_list.hpp"
#include "role_rules.hpp"

namespace numa_agent {

std::string_view to_string(PlacementReason r) {
  switch (r) {
    case PlacementReason::Policy: return "policy";
    case PlacementReason::SkipMask: return "skip-mask";
    case PlacementReason::CallerAffinity: return "caller-affinity";
    case PlacementReason::OpenMpEnv: return "openmp-env";
    case PlacementReason::PolicyNone: return "none";
    case PlacementReason::PinFailed: return "pin-failed";
    case PlacementReason::SingleThreaded: return "single-threaded";
    case PlacementReason::Rule: return "rule";
  }
  return "none";
}

PlacementDecision pin_decision(const Topology& topology, BindScope bind, int cpu) {
  PlacementDecision d;
  d.pin = true;
  d.slot_cpu = cpu;
  d.node = topology.node_of_cpu(cpu);
  d.reason = PlacementReason::Policy;
  switch (bind) {
    case BindScope::Cpu: d.cpus.add(cpu); break;
    case BindScope::Core: d.cpus = topology.core_siblings(cpu); break;
    case BindScope::Node:
      d.cpus = d.node >= 0 ? topology.nodes()[static_cast<std::size_t>(d.node)].cpus : CpuSet::of({cpu});
      break;
  }
  if (d.cpus.empty()) d.cpus.add(cpu);
  return d;
}

PlacementPolicy PlacementPolicy::build(const Options& options, const Topology& topology, bool openmp_env_present) {
  PlacementPolicy p;
  p.topology_ = &topology;
  // Rules are read on first use (the first pthread_create), not here at start-up.
  if (!options.rules.empty() || !options.config.empty()) p.roles_ = std::make_shared<RoleEngine>(options, topology);
  p.pin_text_ = options.pin;
  p.skip_mask_ = options.skip_mask;
  p.bind_ = options.bind;
  p.pin_main_ = options.pin_main != MainPlacement::No;

  PinSpec spec;
  if (auto parsed = parse_pin_spec(options.pin)) {
    spec = std::move(*parsed);
  } else {   // options validated it; be safe anyway
    p.fallback_warning_ = "NUMA_AGENT_PIN='" + options.pin + "' " + parsed.error().what + "; using default 'spread'";
    p.pin_text_ = "spread";
  }
  switch (spec.kind) {
    case PinSpec::Kind::None:
      p.stepped_aside_ = "policy none";
      return p;
    case PinSpec::Kind::Spread: p.slots_ = spread_order(topology); break;
    case PinSpec::Kind::Compact: p.slots_ = compact_order(topology); break;
    case PinSpec::Kind::Explicit:
      if (auto cpus = resolve_pin_spec(spec, topology)) {
        p.slots_ = std::move(*cpus);
      } else {
        p.fallback_warning_ = "NUMA_AGENT_PIN='" + options.pin + "' cannot be used here: " + cpus.error().what +
                              "; using default 'spread'";
        p.pin_text_ = "spread";
        p.slots_ = spread_order(topology);
      }
      break;
  }
  if (options.honor_openmp && openmp_env_present) {
    p.stepped_aside_ = "an OpenMP affinity variable (OMP_PLACES, OMP_PROC_BIND, GOMP_CPU_AFFINITY or KMP_AFFINITY) is set";
    p.aside_reason_ = PlacementReason::OpenMpEnv;
    p.slots_.clear();
  } else if (p.slots_.empty()) {
    p.stepped_aside_ = "no allowed CPU is known to the topology";
  }
  return p;
}

PlacementDecision PlacementPolicy::decide(std::uint64_t ordinal) const {
  PlacementDecision d;
  if (stepped_aside_) {
    d.reason = aside_reason_;
    return d;
  }
  if (ordinal == 0 && !pin_main_) {
    d.reason = PlacementReason::PolicyNone;
    return d;
  }
  std::uint64_t slot = ordinal;
  if (ordinal >= 1) {
    const std::uint64_t bit = ordinal - 1;   // bit k-1 ↔ the k-th created thread
    if (bit < 64 && (skip_mask_ >> bit) & 1u) {
      d.reason = PlacementReason::SkipMask;
      return d;
    }
    const std::uint64_t below = bit >= 64 ? skip_mask_ : skip_mask_ & ((std::uint64_t{1} << bit) - 1);
    slot = ordinal - static_cast<std::uint64_t>(std::popcount(below)) - (pin_main_ ? 0 : 1);
  }
  return pin_decision(*topology_, bind_, slots_[static_cast<std::size_t>(slot % slots_.size())]);
}

}  // namespace numa_agent
