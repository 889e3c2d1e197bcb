#include "launch_plan.hpp"

#include <algorithm>
#include <array>

#include "agent/options.hpp"
#include "agent/text.hpp"

namespace numa_agent::launcher {
namespace {

// Each flag and the option-table variable it sets. A flag without a value sets `fixed_value`.
struct FlagSpec {
  std::string_view flag;
  std::string_view variable;
  bool takes_value;
  std::string_view fixed_value;
};

constexpr std::array kFlags{
    FlagSpec{"-c", "NUMA_AGENT_PIN", true, ""},
    FlagSpec{"-s", "NUMA_AGENT_SKIP", true, ""},
    FlagSpec{"-q", "NUMA_AGENT_LOG", false, "error"},
    FlagSpec{"--bind", "NUMA_AGENT_BIND", true, ""},
    FlagSpec{"--no-pools", "NUMA_AGENT_POOLS", false, "0"},
    FlagSpec{"--profile", "NUMA_AGENT_PROFILE", true, ""},
    FlagSpec{"--rules", "NUMA_AGENT_RULES", true, ""},
    FlagSpec{"--config", "NUMA_AGENT_CONFIG", true, ""},
};

// "" when the option table accepts `value` for `variable`, else its reason.
std::string table_rejects(std::string_view variable, std::string_view value) {
  for (const auto& spec : option_table())
    if (spec.variable == variable) {
      Options scratch = default_options();
      auto applied = spec.apply(scratch, value);
      return applied ? std::string() : applied.error().what;
    }
  return "is not in the option table";
}

// The flag `arg` names (also "-cEXPR" and "--bind=VALUE" forms), with its inline value if any.
const FlagSpec* match_flag(std::string_view arg, std::string_view& inline_value, bool& has_inline) {
  has_inline = false;
  for (const auto& f : kFlags) {
    if (arg == f.flag) return &f;
    if (!f.takes_value || !arg.starts_with(f.flag)) continue;
    std::string_view rest = arg.substr(f.flag.size());
    if (f.flag.starts_with("--")) {
      if (!rest.starts_with("=")) continue;
      rest.remove_prefix(1);
    }
    inline_value = rest;
    has_inline = true;
    return &f;
  }
  return nullptr;
}

}  // namespace

Result<LaunchPlan> parse_launcher_arguments(const std::vector<std::string>& args) {
  LaunchPlan plan;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") { ++i; break; }
    if (arg == "-h" || arg == "--help") { plan.show_help = true; return plan; }
    if (arg == "-p") { plan.print_domains = true; continue; }
    if (!arg.starts_with("-")) break;   // the command (likwid-pin: no "--" needed)
    std::string_view value;
    bool has_inline = false;
    const FlagSpec* flag = match_flag(arg, value, has_inline);
    if (!flag) return fail(0, "unknown option '" + std::string(arg) + "'");
    if (flag->takes_value && !has_inline) {
      if (i + 1 >= args.size() || args[i + 1] == "--") return fail(0, std::string(flag->flag) + " needs a value");
      value = args[++i];
    }
    if (!flag->takes_value) value = flag->fixed_value;
    if (std::string why = table_rejects(flag->variable, value); !why.empty())
      return fail(0, std::string(flag->flag) + " '" + std::string(value) + "': " + why);
    plan.environment.emplace_back(std::string(flag->variable), std::string(value));
  }
  plan.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (plan.command.empty() && !plan.print_domains) return fail(0, "no command given");
  return plan;
}

std::string planned_value(const LaunchPlan& plan, std::string_view variable) {
  std::string value;
  for (const auto& [name, v] : plan.environment)
    if (name == variable) value = v;   // the last flag wins, as in the environment
  return value;
}

std::string preload_with_agent(std::string_view existing, std::string_view agent_library) {
  // ld.so splits LD_PRELOAD at spaces and colons.
  for (auto part : text::split(existing, ':'))
    for (auto word : text::split(part, ' '))
      if (word == agent_library) return std::string(existing);
  if (text::trim(existing).empty()) return std::string(agent_library);
  return std::string(existing) + ":" + std::string(agent_library);
}

std::string usage_text() {
  return "usage: numa-agent [-c EXPR] [-s SKIPMASK] [-q] [-p] [--bind cpu|core|node] [--no-pools]\n"
         "                  [--profile FILE] [--rules RULES] [--config FILE] [--] CMD ARGS...\n"
         "Runs CMD with libnumaagent.so preloaded (likwid-pin vocabulary):\n"
         "  -c EXPR          where threads go (NUMA_AGENT_PIN): 0-3,8 | N:0-7 | S0:0-3 | M1:0-3 |\n"
         "                   E:N:8[:chunk:stride] | M:scatter | spread | compact | none, joined by @\n"
         "  -s SKIPMASK      hex mask of created threads left unpinned (NUMA_AGENT_SKIP)\n"
         "  -q               quiet: only errors from the agent (NUMA_AGENT_LOG=error)\n"
         "  -p               print the affinity domains (N, S#, M#) and their CPUs in logical order; exit\n"
         "  --bind SCOPE     width of a pinned thread's mask: cpu, core or node (NUMA_AGENT_BIND)\n"
         "  --no-pools       pinning only, no node-local pools (NUMA_AGENT_POOLS=0)\n"
         "  --profile FILE   JSON profile at exit, %p = PID (NUMA_AGENT_PROFILE)\n"
         "  --rules RULES    placement by role (NUMA_AGENT_RULES), e.g.\n"
         "                   'ingest start=ingest_loop cpus=M0:0@M1:0 count=2; io name=io-* cpus=3'\n"
         "  --config FILE    role rules from a TOML file, [threads.ROLE] tables (NUMA_AGENT_CONFIG)\n"
         "  -h, --help       this text\n"
         "Other NUMA_AGENT_* variables pass through from the environment (numa-agent-help lists them).\n"
         "Exit status: CMD's; 2 on a bad option; 127 when CMD cannot be run. See numa-agent(1).\n";
}

}  // namespace numa_agent::launcher
