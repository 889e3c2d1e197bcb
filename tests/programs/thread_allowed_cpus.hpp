// The calling thread's allowed CPUs as the kernel lists them ("0-3,8", Cpus_allowed_list in
// /proc/thread-self/status), or "?" when unreadable: what the report programs and numa-demo print
// to show where the agent pinned a thread. Header only: these are plain programs that link no
// library of the project. They read /proc directly on purpose, to observe what the agent did.
#pragma once
#include <fstream>
#include <string>

inline std::string thread_allowed_cpus() {
  std::ifstream in("/proc/thread-self/status");
  std::string line;
  const std::string key = "Cpus_allowed_list:";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      auto value = line.substr(key.size());
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  return "?";
}
