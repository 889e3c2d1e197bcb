// sysfs as text for the core's topology readers (agent/topology.hpp: node_layout_from_sysfs,
// topology_from_sysfs): the agent's own discovery, which opens a handful of files where hwloc's
// opens hundreds and loads plugins, so that every process of a tree under LD_PRELOAD pays little.
#include <cerrno>

#include "os.hpp"
#include "procfs.hpp"

namespace numa_agent::os {

SysfsReader sysfs_reader() {
  // hwloc's variable for a recorded sysfs tree: honoured the same way (not in secure mode), so
  // that a tree replayed for hwloc is what the agent sees too.
  std::string root;
  if (!secure_execution())
    if (const char* fsroot = environment_value("HWLOC_FSROOT"); fsroot && *fsroot && std::string_view(fsroot) != "/")
      root = fsroot;
  root += "/sys/devices/system/";
  return [root = std::move(root)](std::string_view relative) -> Result<std::string> {
    return read_text_file(root + std::string(relative), 1 << 20);
  };
}

}  // namespace numa_agent::os
