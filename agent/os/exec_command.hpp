// Replacing the current process with a command (the numa-agent launcher). Contract: os.hpp.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace numa_agent::os {

// setenv each (NAME, value), then execvp(argv[0], argv). Returns only on failure: -errno.
int exec_command(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& set_env);

}  // namespace numa_agent::os
