// Tolerant reads of documents numa-analyze did not necessarily write: a report JSON that compare
// and the views read may be one a user wrote, and the agent's profile inside a recording is the
// program's file. A missing key, a non-object or a value of another type reads as null or as the
// fallback, never throws.
#pragma once
#include <type_traits>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

// j[key], or null when j is not an object or has no such key.
inline const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json null_value;
  return j.is_object() && j.contains(key) ? j[key] : null_value;
}

// j[key] as a T (bool, an integer, a floating-point number or std::string), or `fallback` when it
// is missing or of another type.
template <typename T>
T field_or(const nlohmann::json& j, const char* key, T fallback) {
  const nlohmann::json& v = field(j, key);
  if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean() ? v.template get<bool>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    return v.is_number_integer() ? v.template get<T>() : fallback;
  } else if constexpr (std::is_floating_point_v<T>) {
    return v.is_number() ? v.template get<T>() : fallback;
  } else {
    return v.is_string() ? v.template get<T>() : fallback;
  }
}

}  // namespace numa_agent::analyzer
