// How the rules and the report write their numbers: rounded to a fixed number of digits (the
// report's JSON) and shares as "12.3 %" (recommendation texts).
#pragma once
#include <cmath>
#include <cstdio>
#include <string>

namespace numa_agent::analyzer {

inline double rounded(double v, int digits = 4) {
  double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

inline std::string percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", share * 100.0);
  return buf;
}

}  // namespace numa_agent::analyzer
