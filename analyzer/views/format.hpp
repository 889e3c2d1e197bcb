// What every view of the report model shares: tolerant field reads (model/json_field.hpp) and a
// share written as a percentage, a number or "-".
#pragma once
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/model/json_field.hpp"
#include "analyzer/model/report.hpp"

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

// A share and its {"low", "high"} interval from the report ("48.0 % [41.0–55.0 %]"), the share
// alone when there is no interval, "-" when there is no share.
inline std::string share_cell(const nlohmann::json& share, const nlohmann::json& interval) {
  if (!share.is_number()) return "-";
  if (!interval.is_object() || !field(interval, "low").is_number() || !field(interval, "high").is_number())
    return pct(share, true);
  return share_interval_text(share.get<double>(), interval["low"].get<double>(), interval["high"].get<double>());
}

// The program's remote share as every view states it: with its interval, or "unknown: ..." and
// the placement estimate when the access evidence saw too little of the memory.
inline std::string remote_share_statement(const Components& c) {
  if (!c.remote_share_estimate || !c.remote_share_interval) return "remote share -";
  const std::string estimate =
      share_interval_text(*c.remote_share_estimate, c.remote_share_interval->low, c.remote_share_interval->high);
  if (c.unknown_note) return "remote share " + *c.unknown_note + " (estimate " + estimate + ")";
  return "remote share " + estimate;
}

}  // namespace numa_agent::analyzer
