// numa-analyze subcommands, one source file each (like perf's builtin-*.c). Each registers its
// CLI11 subcommand; the callback stores the process exit status in `exit_code`.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "agent/plan.hpp"
#include "analyzer/model/recording.hpp"
#include "analyzer/rules/plan.hpp"

namespace numa_agent::analyzer {

// The one exit-status table of every subcommand (documented in numa-analyze(1) and the README).
enum ExitStatus : int {
  kExitOk = 0,          // done
  kExitGate = 1,        // a gate failed: compare --fail-below/--fail-if-worse, apply made things worse
  kExitBadInput = 2,    // bad usage, or an input that is missing, unreadable or malformed
  kExitFailed = 3,      // the work could not be done: the program did not start, perf refused,
                        // the output could not be written, the target vanished early
};

void register_record_command(CLI::App& app, int& exit_code);
void register_report_command(CLI::App& app, int& exit_code);
void register_topology_command(CLI::App& app, int& exit_code);
void register_compare_command(CLI::App& app, int& exit_code);
void register_top_command(CLI::App& app, int& exit_code);
void register_plan_command(CLI::App& app, int& exit_code);
void register_apply_command(CLI::App& app, int& exit_code);

// Shared by plan and apply (builtin_plan.cpp): the plan of a recording, with the function ranges
// of its sites read from the recorded program's symbol table; the --multi-node option.
plan::Plan plan_from_recording(const Recording& recording, const std::string& source, MultiNodePolicy multi_node);
void add_multi_node_option(CLI::App* sub, std::string& value);
MultiNodePolicy multi_node_policy(const std::string& value);

// Shared by the commands: "numa-analyze: <message>" on stderr.
void print_error(const std::string& message);
// Writes `text` to `path` atomically, or to stdout when path is empty or "-". Returns false
// after printing a one-line error.
bool write_output(const std::string& path, const std::string& text);

inline constexpr const char* kDefaultRecordingPath = "numa-analyze.rec.json";

}  // namespace numa_agent::analyzer
