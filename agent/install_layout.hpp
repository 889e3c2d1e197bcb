// Where libnumaagent.so sits relative to a tool that loads it (numa-agent, numa-analyze record
// --agent): beside the tool in the build tree, in the multiarch library directory of an installed
// tree (/usr/bin -> /usr/lib/x86_64-linux-gnu, as the .deb installs it), or in ../lib of a
// `cmake --install --prefix` tree. One list, so the tools cannot disagree.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace numa_agent {

inline constexpr std::string_view kAgentLibraryName = "libnumaagent.so";

// Candidate paths for the agent, best first, for a tool whose executable is `executable_path`.
std::vector<std::string> agent_library_candidates(std::string_view executable_path);

}  // namespace numa_agent
