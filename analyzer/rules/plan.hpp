// `numa-analyze plan`: from a recording's first-touch sites and the accesses to their memory, a
// placement plan (agent/plan.hpp, analyzer/PLAN_SCHEMA.md) the agent applies without a code change.
//
// For each symbolised first-touch site of the program whose pages form an anonymous mapping of at
// least kPlanMinBytes, with at least kPlanMinAccesses sampled accesses of which at least
// kPlanRemoteWorthIt were remote:
//   * one node made >= kPlanDominantShare of the accesses      -> bind to that node;
//   * several nodes used it and one thread first-touched
//     >= kPlanSerialShare of its pages (serial initialisation)  -> partition: the accessing threads
//     in creation order each get an equal slice, on their node (the usual static split: the k-th
//     worker works on the k-th slice);
//   * several nodes used it, touched by several threads        -> interleave over those nodes.
// The entry covers the allocation calls in the function holding the site (the ELF symbol range,
// from `function_range`) for sizes that give a mapping of that size. No site qualifying is an
// empty plan whose summary says why. Pure: no I/O (the command supplies function ranges).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "agent/plan.hpp"
#include "analyzer/model/recording.hpp"
#include "analyzer/rules/rule_inputs.hpp"

namespace numa_agent::analyzer {

inline constexpr std::uint64_t kPlanMinBytes = std::uint64_t{1} << 20;
inline constexpr double kPlanMinAccesses = 20;
inline constexpr double kPlanRemoteWorthIt = 0.2;
inline constexpr double kPlanDominantShare = 0.8;
inline constexpr double kPlanSerialShare = 0.9;
inline constexpr double kPlanUserShare = 0.05;   // a thread or node below this share is not a user

enum class MultiNodePolicy { Auto, Interleave, Partition };

struct PlanInputs {
  // [start, end) file offsets of the function holding `frame`'s code, or nullopt (then the site
  // is left out: without a range the agent could not recognise its allocation calls).
  std::function<std::optional<std::pair<std::uint64_t, std::uint64_t>>(const SiteFrame& frame)> function_range;
  MultiNodePolicy multi_node = MultiNodePolicy::Auto;
  std::string source;   // the recording's path, written into the plan
};

plan::Plan generate_plan(const Recording& recording, const PlanInputs& inputs);

// Recommendations about a mapping the plan places (its site's evidence names the mapping) get the
// plan's fix instead of a code change or a whole-program numactl line: the command becomes
// `numa-analyze apply -- <program>` and the evidence says which policy for which site.
void offer_plan(std::vector<Candidate>& candidates, const plan::Plan& plan, const std::string& program);
// The plan a report offers: generate_plan with every symbolised site's function taken as known
// (the report reads no ELF file; `plan`/`apply` check the program's symbol table and build-id).
plan::Plan plan_for_report(const Recording& recording);

}  // namespace numa_agent::analyzer
