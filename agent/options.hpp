// Options: every NUMA_AGENT_* setting, declared once in kOptionTable (options.cpp). The table drives
// parsing, the NUMA_AGENT_LOG=info listing, `numa-analyze`'s help and the README table, so the
// documented default is, by construction, the default that is used.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace numa_agent {

enum class LogLevel { Off, Error, Warn, Info, Debug };
enum class BindScope { Cpu, Core, Node };   // how wide a pinned thread's affinity mask is
// When the main thread takes slot 0: when the program creates its first thread (so single-threaded
// processes — shells, compilers, the tools a program runs — are never pinned), at start-up
// (likwid-pin's behaviour), or never.
enum class MainPlacement { Auto, Start, No };

// The effective settings. Members start zeroed, not at their defaults: a default lives only in the
// option table (default_options() applies it), so it cannot drift from what the README says.
struct Options {
  std::string pin;                 // spread | compact | none | CPU expression (cpu_list.hpp)
  std::uint64_t skip_mask{};       // bit k-1 set: the k-th created thread is not pinned
  std::string rules;               // placement by role, compact syntax (role_rules.hpp)
  std::string config;              // TOML file of role rules; empty: none
  BindScope bind{};
  MainPlacement pin_main{};
  bool honor_openmp{};
  LogLevel log{};
  std::string profile;             // empty: no profile
  bool pools{};
  std::size_t small_max{};
  std::size_t arena_size{};
  std::uint64_t sample{};
  std::string plan;                // placement plan file (numa-agent-plan/1); empty: none
};

// Every option, in table order (the order of the README, the info listing and numa-agent-help).
// option_spec(OptionId) finds an option's entry by name, never by position.
enum class OptionId : unsigned {
  Pin, Skip, Rules, Config, Bind, PinMain, HonorOpenmp, Log, Profile, Pools, SmallMax, ArenaSize, Sample, Plan, kCount
};

struct OptionSpec {
  OptionId option;               // its own index in the table (checked at compile time)
  std::string_view name;         // short name, as in the profile's "options" and the README
  std::string_view variable;     // NUMA_AGENT_*
  std::string_view type;         // what the value looks like
  std::string_view default_text; // parsed with `apply` like any user value
  std::string_view unit;
  std::string_view help;
  // Stores `text` into `out`, or fails with why the text is not valid (Error::what, code 0).
  Result<void> (*apply)(Options& out, std::string_view text);
  // The effective value, in the same syntax users write.
  std::string (*show)(const Options& in);
};

std::span<const OptionSpec> option_table();
const OptionSpec& option_spec(OptionId option);

struct OptionWarning {
  std::string variable;
  std::string value;
  std::string reason;
  std::string default_text;   // empty for unknown variables
  // One line, e.g. "NUMA_AGENT_SKIP='zz' is not a hex mask; using default '0x0'".
  std::string line() const;
};

struct ParsedOptions {
  Options options;
  std::vector<OptionWarning> warnings;
};

// `env` holds the NUMA_AGENT_* variables of the process (name → value). In secure execution
// (setuid/setgid) the environment is ignored entirely, as glibc ignores LD_LIBRARY_PATH there.
ParsedOptions parse_options(const std::map<std::string, std::string, std::less<>>& env, bool secure);

// Defaults only (what parse_options gives for an empty environment).
Options default_options();

// "NUMA_AGENT_PIN=spread  (policy)  ..." one option per line, effective values.
std::string describe_options(const Options& o);
// The README's option table (markdown), generated from kOptionTable.
std::string options_markdown();

// Value parsers shared with other parsers of user text. Each fails (code 0) on invalid input,
// with what the text is not, in the option warnings' words ("is not a size ...").
Result<std::size_t> parse_size(std::string_view text);      // "1024", "64k", "16G", "2MiB"
Result<bool> parse_bool(std::string_view text);             // 1/0/true/false/yes/no/on/off
Result<std::uint64_t> parse_hex_mask(std::string_view text);// "0x1f" or "1f"

std::string_view to_string(LogLevel l);
std::string_view to_string(BindScope b);
std::string_view to_string(MainPlacement m);

}  // namespace numa_agent
