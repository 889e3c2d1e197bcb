// numa-agent-help: prints the agent's options from the option table — the same table that parses
// them — as text (default) or as the README's markdown table (--markdown).
#include <cstdio>
#include <cstring>

#include "agent/options.hpp"

int main(int argc, char** argv) {
  using namespace numa_agent;
  if (argc > 1 && std::strcmp(argv[1], "--markdown") == 0) {
    std::fputs(options_markdown().c_str(), stdout);
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "--help") != 0) {
    std::fprintf(stderr, "usage: numa-agent-help [--markdown]\n");
    return 2;
  }
  std::puts("numa-agent " NUMA_AGENT_VERSION ": LD_PRELOAD=libnumaagent.so ./app, set with environment variables:\n");
  for (const auto& s : option_table()) {
    std::printf("  %s  (%.*s, default '%.*s'%s%.*s)\n", std::string(s.variable).c_str(),
                static_cast<int>(s.type.size()), s.type.data(), static_cast<int>(s.default_text.size()),
                s.default_text.data(), s.unit.empty() ? "" : ", ", static_cast<int>(s.unit.size()), s.unit.data());
    std::printf("      %.*s\n\n", static_cast<int>(s.help.size()), s.help.data());
  }
  return 0;
}
