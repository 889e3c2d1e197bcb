// The agent's diagnostic line: "numa-agent[PID]: LEVEL: text" on stderr, written whole in one
// write (no formatting library inside every process: see the start-up notes in README).
#pragma once
#include <string_view>

#include "options.hpp"

namespace numa_agent {

// True when a line of `level` is printed under the configured `threshold` (NUMA_AGENT_LOG).
constexpr bool log_enabled(LogLevel level, LogLevel threshold) { return level != LogLevel::Off && level <= threshold; }
// Writes the line when log_enabled(level, threshold).
void write_log_line(LogLevel level, LogLevel threshold, std::string_view text);

}  // namespace numa_agent
