// What every view of the report model shares: tolerant field reads (model/json_field.hpp) and a
// share written as a percentage.
#pragma once
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/model/json_field.hpp"

namespace numa_agent::analyzer {

// A share 0..1 as "12.3%" ("12.3 %" with `spaced`), or "-" when it is not a number.
inline std::string pct(const nlohmann::json& share, bool spaced = false) {
  if (!share.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, spaced ? "%.1f %%" : "%.1f%%", share.get<double>() * 100.0);
  return buf;
}

}  // namespace numa_agent::analyzer
