#include "install_layout.hpp"

#ifndef NUMA_AGENT_MULTIARCH
#define NUMA_AGENT_MULTIARCH ""   // no multiarch triplet known at build time: ../lib only
#endif

namespace numa_agent {

std::vector<std::string> agent_library_candidates(std::string_view executable_path) {
  const auto slash = executable_path.find_last_of('/');
  const std::string dir(slash == std::string_view::npos ? "./" : executable_path.substr(0, slash + 1));
  const std::string name(kAgentLibraryName);
  std::vector<std::string> out{dir + name};
  if (constexpr std::string_view multiarch = NUMA_AGENT_MULTIARCH; !multiarch.empty())
    out.push_back(dir + "../lib/" + std::string(multiarch) + "/" + name);
  out.push_back(dir + "../lib/" + name);
  return out;
}

}  // namespace numa_agent
