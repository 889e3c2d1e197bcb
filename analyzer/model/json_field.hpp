// Tolerant reads of a report document: the report JSON that compare and the views read may be one
// a user wrote, so a missing key or a non-object reads as null, never throws.
#pragma once
#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

// j[key], or null when j is not an object or has no such key.
inline const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json null_value;
  return j.is_object() && j.contains(key) ? j[key] : null_value;
}

}  // namespace numa_agent::analyzer
