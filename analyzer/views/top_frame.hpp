// `numa-analyze top`'s screen: the report model of the evidence since top started, plus what only
// a live view has (model/top_sample.hpp), rendered as lines. Pure: no OS, no evidence.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/model/top_sample.hpp"

namespace numa_agent::analyzer {

struct TopFrame : TopSample {
  nlohmann::json report;                      // build_report of the evidence since top started
};

enum class TopSort { Node, Score, Migrations };

struct TopLayout {
  TopSort sort = TopSort::Node;
  int columns = 0;   // 0: no limit (plain mode)
  int rows = 0;      // 0: no limit
};
// The screen (or the plain block) for a frame, one string per line, without ANSI sequences.
std::vector<std::string> render_top_frame(const TopFrame& frame, const TopLayout& layout);

}  // namespace numa_agent::analyzer
