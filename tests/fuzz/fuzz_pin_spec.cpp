// Fuzzes CPU expressions: parse, then resolve against fake machines (2 nodes × 4 cores × 2 SMT and
// one with a hole in its cpuset). Invariants: never crashes; a resolved list is non-empty and holds
// only CPUs of the machine.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/cpu_list.hpp"

using namespace numa_agent;

namespace {
Topology machine(bool with_hole) {
  std::vector<NumaNode> nodes(2);
  std::vector<ProcessingUnit> pus;
  for (int cpu = 0; cpu < 16; ++cpu) {
    if (with_hole && (cpu == 3 || cpu == 12)) continue;
    ProcessingUnit p;
    p.os_index = cpu;
    p.core = cpu / 2;
    p.package = cpu / 8;
    p.node = cpu / 8;
    p.smt_rank = cpu % 2;
    pus.push_back(p);
    nodes[static_cast<std::size_t>(p.node)].cpus.add(cpu);
  }
  return Topology(nodes, pus, DistanceMatrix(2, 10, 21));
}
const Topology kFull = machine(false);
const Topology kHoled = machine(true);
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = parse_pin_spec(text);
  if (!spec) {
    if (spec.error().what.empty()) std::abort();
    return 0;
  }
  for (const Topology* t : {&kFull, &kHoled}) {
    if (spec->kind != PinSpec::Kind::Explicit) continue;
    if (auto cpus = resolve_pin_spec(*spec, *t)) {
      if (cpus->empty()) std::abort();
      for (int c : *cpus)
        if (!t->pu(c)) std::abort();
    } else if (cpus.error().what.empty()) {
      std::abort();
    }
  }
  return 0;
}
