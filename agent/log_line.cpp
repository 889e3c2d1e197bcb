// See log_line.hpp.
#include "log_line.hpp"

#include <string>

#include "os/os.hpp"

namespace numa_agent {

void write_log_line(LogLevel level, LogLevel threshold, std::string_view text) {
  if (!log_enabled(level, threshold)) return;
  // spdlog's level names, which the log has always used.
  const char* name = level == LogLevel::Error ? "error" : level == LogLevel::Warn ? "warning"
                     : level == LogLevel::Info ? "info" : "debug";
  std::string line = "numa-agent[" + std::to_string(os::current_pid()) + "]: " + name + ": ";
  line.append(text);
  line += '\n';
  os::write_stderr(line);
}

}  // namespace numa_agent
