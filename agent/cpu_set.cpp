#include "cpu_set.hpp"

namespace numa_agent {

std::string CpuSet::to_list_string() const {
  std::string out;
  int c = first();
  while (c >= 0) {
    int end = c;
    while (contains(end + 1)) ++end;
    if (!out.empty()) out += ',';
    out += std::to_string(c);
    if (end > c) out += '-' + std::to_string(end);
    c = next(end);
  }
  return out;
}

}  // namespace numa_agent
