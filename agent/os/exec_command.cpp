#include "exec_command.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace numa_agent::os {

int exec_command(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& set_env) {
  if (argv.empty()) return -EINVAL;
  for (const auto& [name, value] : set_env)
    if (setenv(name.c_str(), value.c_str(), 1) != 0) return -errno;
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  return -errno;
}

}  // namespace numa_agent::os
