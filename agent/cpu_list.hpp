// CPU expressions in the syntax users know from likwid-pin, taskset and OMP_PLACES-style lists.
//
// Supported (likwid-pin semantics, checked against likwid-pin(1)):
//   0-3,8            OS CPU numbers and ranges
//   N:0-7            logical indices in affinity domain N (the whole allowed machine)
//   S1:0-3, M0:0-3   ... in package (socket) 1, in NUMA memory domain 0
//   L:0-3, L:S0:0-3  the same with likwid's explicit "logical" prefix
//   E:N:8            the first 8 hardware threads of domain N, domain order
//   E:N:8:1:2        8 threads, chunks of 1, stride 2 (one per core on 2-way SMT)
//   M:scatter        spread evenly over all memory domains (also S:scatter, N:scatter)
//   A@B              segments joined: the slots of A, then those of B
// Logical indices count physical cores first, then SMT siblings (likwid's "physical first").
// Expressions (E:) walk the domain in likwid's domain order: SMT siblings adjacent.
// Not supported: cache (C) and die (D) domains, likwid's virtual domains.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "error.hpp"
#include "topology.hpp"

namespace numa_agent {

struct PinSegment {
  enum class Form { OsList, Logical, Expression, Scatter } form = Form::OsList;
  char domain = 'N';      // 'N', 'S' or 'M'
  int domain_index = 0;   // for S and M
  std::vector<std::pair<int, int>> ranges;  // OsList / Logical: inclusive ranges
  int count = 0, chunk = 1, stride = 1;     // Expression
};

struct PinSpec {
  enum class Kind { Spread, Compact, None, Explicit } kind = Kind::Spread;
  std::vector<PinSegment> segments;   // Explicit only
};

// Syntax only; the error says what is wrong and where (code 0). Keywords are case-insensitive.
Result<PinSpec> parse_pin_spec(std::string_view text);
Result<void> validate_pin_text(std::string_view text);

// The OS CPUs of an Explicit spec, in slot order, against `topology` (already restricted to the
// allowed CPUs). Fails when a CPU, domain or index does not exist there.
Result<std::vector<int>> resolve_pin_spec(const PinSpec& spec, const Topology& topology);

// Slot orders of the keyword policies.
// spread: round-robin over NUMA nodes, then over cores within a node, then SMT siblings.
std::vector<int> spread_order(const Topology& topology);
// compact: node 0's cores, then their SMT siblings, then node 1, ...
std::vector<int> compact_order(const Topology& topology);

}  // namespace numa_agent
