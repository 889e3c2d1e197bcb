// See render_folded.hpp.
#include "analyzer/views/render_folded.hpp"

#include <algorithm>
#include <cmath>

#include "analyzer/views/format.hpp"
#include "analyzer/views/site_table.hpp"

namespace numa_agent::analyzer {
namespace {

constexpr double kFoldedCountsPerCost = 1e6;

// A frame's name in a folded line: ';' separates frames and the last space precedes the count,
// so neither may be taken for that (spaces inside a frame are fine for flamegraph.pl).
std::string frame_name(const nlohmann::json& frame) {
  std::string name = site_label(frame);
  std::replace(name.begin(), name.end(), ';', ',');
  std::replace(name.begin(), name.end(), '\n', ' ');
  return name;
}

}  // namespace

std::string render_report_folded(const nlohmann::json& report) {
  std::string out;
  for (const auto& site : field(report, "sites")) {
    const nlohmann::json& cost = field(site, "cost");
    if (!site.is_object() || !site.contains("remote_share") || !cost.is_number() || cost.get<double>() <= 0) continue;
    std::string line;
    const nlohmann::json& callers = field(site, "callers");
    for (auto c = callers.rbegin(); c != callers.rend(); ++c) line += frame_name(*c) + ";";
    line += frame_name(site);
    // A site's cost is its share of the program's remote excess (evidence.cost_unit, a fraction):
    // folded counts are integers, so they are that cost in millionths.
    out += line + " " + std::to_string(std::max<long long>(1, std::llround(cost.get<double>() * kFoldedCountsPerCost))) + "\n";
  }
  return out;
}

}  // namespace numa_agent::analyzer
