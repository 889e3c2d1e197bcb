// See rules.hpp.
#include "analyzer/rules/rules.hpp"

#include <stdexcept>
#include <string>

namespace numa_agent::analyzer {

std::string_view kind_name(RecommendationKind kind) {
  switch (kind) {
    case RecommendationKind::Colocate: return "colocate";
    case RecommendationKind::Interleave: return "interleave";
    case RecommendationKind::Replicate: return "replicate";
    case RecommendationKind::PinThreads: return "pin-threads";
    case RecommendationKind::UseAgent: return "use-agent";
    case RecommendationKind::FirstTouch: return "first-touch";
  }
  return "?";
}

const RuleDefinition& rule(RecommendationKind kind) {
  for (const auto& r : kRules)
    if (r.kind == kind) return r;
  throw std::logic_error("no rule for kind");
}

const MetricDefinition& metric(std::string_view id) {
  for (const auto& m : kMetrics)
    if (m.id == id) return m;
  throw std::logic_error("no metric " + std::string(id));
}

}  // namespace numa_agent::analyzer
