// What every view of the report model shares: tolerant field reads (model/json_field.hpp) and a
// share written as a percentage, a number or "-".
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

// A number printed with `fmt` ("%.1f"), or "-" when it is not a number.
inline std::string num(const nlohmann::json& v, const char* fmt) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

}  // namespace numa_agent::analyzer
