// numa-analyze: measures how much of a program's memory traffic crosses NUMA nodes, and why.
#include <cstdio>
#include <cstring>
#include <iostream>

#include "agent/os/os.hpp"
#include "analyzer/commands/commands.hpp"

namespace numa_agent::analyzer {

void print_error(const std::string& message) { std::fprintf(stderr, "numa-analyze: %s\n", message.c_str()); }

bool write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  int rc = os::write_file_atomically(path, text);
  if (rc < 0) {
    print_error("cannot write " + path + ": " + std::strerror(-rc));
    return false;
  }
  return true;
}

}  // namespace numa_agent::analyzer

int main(int argc, char** argv) {
  using namespace numa_agent::analyzer;
  CLI::App app{"numa-analyze: NUMA efficiency scores and ranked recommendations for unmodified programs",
               "numa-analyze"};
  app.set_version_flag("--version", std::string("numa-analyze ") + NUMA_AGENT_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  register_record_command(app, exit_code);
  register_report_command(app, exit_code);
  register_topology_command(app, exit_code);
  register_compare_command(app, exit_code);
  register_top_command(app, exit_code);
  register_plan_command(app, exit_code);
  register_apply_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, like bad input (CLI11's own codes
    // are 100+ and differ per error kind, which scripts cannot rely on).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
