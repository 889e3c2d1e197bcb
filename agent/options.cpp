#include "agent/text.hpp"
#include "options.hpp"

#include <array>
#include <charconv>
#include <cctype>

#include "cpu_list.hpp"
#include "printable.hpp"

namespace numa_agent {
namespace {

using text::hex;
using text::lower;
using text::trim;

std::string show_size(std::size_t v) {
  static constexpr std::array<std::pair<std::size_t, char>, 3> units{
      {{std::size_t{1} << 30, 'G'}, {std::size_t{1} << 20, 'M'}, {std::size_t{1} << 10, 'k'}}};
  for (auto [mult, suffix] : units)
    if (v >= mult && v % mult == 0) return std::to_string(v / mult) + suffix;
  return std::to_string(v);
}

// A size within [lo, hi]; `what` names the bound in the error.
std::string apply_size(std::size_t& field, std::string_view text, std::size_t lo, std::size_t hi) {
  std::size_t v = 0;
  if (!parse_size(text, v)) return "is not a size (examples: 1024, 64k, 16G)";
  if (v < lo || v > hi) return "is outside " + show_size(lo) + ".." + show_size(hi);
  field = v;
  return "";
}

std::string apply_bool(bool& field, std::string_view text) {
  return parse_bool(text, field) ? "" : "is not a boolean (1/0, true/false, yes/no, on/off)";
}

constexpr std::size_t kGiB = std::size_t{1} << 30;

// The table. Order is the order of the README and of the info listing.
constexpr std::array kOptionTable = std::to_array<OptionSpec>({
    {"pin", "NUMA_AGENT_PIN", "policy | CPU expression", "spread", "",
     "Where threads go: spread (round-robin over NUMA nodes, then cores, then SMT siblings), compact "
     "(fill node 0's cores first), none (do not pin), or a CPU expression: 0-3,8 | N:0-7 | S0:0-3 | "
     "M1:0-3 | L:N:0-7 | E:N:8[:chunk:stride] | M:scatter | S:scatter | N:scatter, several joined by @.",
     [](Options& o, std::string_view t) -> std::string {
       std::string err;
       if (!validate_pin_text(t, err)) return err;
       o.pin = std::string(trim(t));
       return "";
     },
     [](const Options& o) { return o.pin; }},
    {"skip", "NUMA_AGENT_SKIP", "hex mask", "0x0", "",
     "likwid-pin skip mask: bit k-1 set leaves the k-th created thread unpinned (e.g. 0x1 for a "
     "runtime's shepherd thread). Skipped threads do not use up a slot.",
     [](Options& o, std::string_view t) -> std::string {
       return parse_hex_mask(t, o.skip_mask) ? "" : "is not a hex mask (example: 0x1)";
     },
     [](const Options& o) { return hex(o.skip_mask); }},
    {"bind", "NUMA_AGENT_BIND", "cpu | core | node", "cpu", "",
     "Width of a pinned thread's CPU mask: its one CPU (likwid-pin), all SMT siblings of its core, or "
     "all CPUs of its NUMA node (the kernel may then balance within the node).",
     [](Options& o, std::string_view t) -> std::string {
       std::string v = lower(trim(t));
       if (v == "cpu") o.bind = BindScope::Cpu;
       else if (v == "core") o.bind = BindScope::Core;
       else if (v == "node") o.bind = BindScope::Node;
       else return "is not one of cpu, core, node";
       return "";
     },
     [](const Options& o) { return std::string(to_string(o.bind)); }},
    {"pin_main", "NUMA_AGENT_PIN_MAIN", "auto | start | no", "auto", "",
     "When the main thread takes the first slot (ordinal 0). auto: when the program creates its "
     "first thread, so single-threaded processes (shells, compilers, tools the program runs) are "
     "never pinned; start: at start-up, as likwid-pin does; no: never (created threads then start "
     "at slot 0).",
     [](Options& o, std::string_view t) -> std::string {
       std::string v = lower(trim(t));
       if (v == "auto") o.pin_main = MainPlacement::Auto;
       else if (v == "start" || v == "1" || v == "yes") o.pin_main = MainPlacement::Start;
       else if (v == "no" || v == "0" || v == "none") o.pin_main = MainPlacement::No;
       else return "is not one of auto, start, no";
       return "";
     },
     [](const Options& o) { return std::string(to_string(o.pin_main)); }},
    {"honor_openmp", "NUMA_AGENT_HONOR_OPENMP", "bool", "1", "",
     "Step aside (pin nothing) when OMP_PLACES, OMP_PROC_BIND, GOMP_CPU_AFFINITY or KMP_AFFINITY is "
     "set, so the OpenMP runtime's own placement wins.",
     [](Options& o, std::string_view t) { return apply_bool(o.honor_openmp, t); },
     [](const Options& o) { return std::string(o.honor_openmp ? "1" : "0"); }},
    {"log", "NUMA_AGENT_LOG", "off | error | warn | info | debug", "warn", "",
     "What the agent prints to stderr. info: the effective options, the topology and each thread's "
     "placement. Never printed from inside an allocation.",
     [](Options& o, std::string_view t) -> std::string {
       std::string v = lower(trim(t));
       static constexpr std::array<std::pair<std::string_view, LogLevel>, 6> names{{
           {"off", LogLevel::Off}, {"error", LogLevel::Error}, {"warn", LogLevel::Warn},
           {"warning", LogLevel::Warn}, {"info", LogLevel::Info}, {"debug", LogLevel::Debug}}};
       for (auto [n, l] : names)
         if (v == n) { o.log = l; return ""; }
       return "is not one of off, error, warn, info, debug";
     },
     [](const Options& o) { return std::string(to_string(o.log)); }},
    {"profile", "NUMA_AGENT_PROFILE", "path", "", "",
     "Write a JSON profile (schema numa-agent-profile/1) to this path at exit; %p is replaced by the "
     "PID. Empty: no profile. A symlink at the path is replaced, never followed.",
     [](Options& o, std::string_view t) -> std::string {
       if (t.find('\0') != std::string_view::npos) return "contains a NUL byte";
       o.profile = std::string(t);
       return "";
     },
     [](const Options& o) { return o.profile; }},
    {"pools", "NUMA_AGENT_POOLS", "bool", "1", "",
     "Serve small allocations from node-local per-thread pools. 0: pinning only; every allocation "
     "goes to the program's own allocator.",
     [](Options& o, std::string_view t) { return apply_bool(o.pools, t); },
     [](const Options& o) { return std::string(o.pools ? "1" : "0"); }},
    {"small_max", "NUMA_AGENT_SMALL_MAX", "size", "32k", "bytes",
     "Largest request served by the pools (16..32k). 32k covers the small, hot objects (nodes, "
     "strings, messages) that dominate allocation counts and the medium buffers that often carry "
     "most of the bytes; larger ones go to the real allocator.",
     [](Options& o, std::string_view t) { return apply_size(o.small_max, t, 16, 32 * 1024); },
     [](const Options& o) { return show_size(o.small_max); }},
    {"arena_size", "NUMA_AGENT_ARENA_SIZE", "size", "16G", "bytes",
     "Address space reserved per NUMA node for the pools (virtual; pages are committed as used). "
     "When a node's arena is full, allocations fall through to the real allocator.",
     [](Options& o, std::string_view t) { return apply_size(o.arena_size, t, 64u << 20, 1024 * kGiB); },
     [](const Options& o) { return show_size(o.arena_size); }},
    {"sample", "NUMA_AGENT_SAMPLE", "size", "0", "bytes",
     "Allocation-site sampling: record a backtrace about every N bytes of pool allocations (0: off). "
     "Sites go into the profile.",
     [](Options& o, std::string_view t) -> std::string {
       std::size_t v = 0;
       if (!parse_size(t, v)) return "is not a size (examples: 0, 512k, 1M)";
       o.sample = v;
       return "";
     },
     [](const Options& o) { return show_size(o.sample); }},
});

}  // namespace

std::span<const OptionSpec> option_table() { return kOptionTable; }

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::Off: return "off";
    case LogLevel::Error: return "error";
    case LogLevel::Warn: return "warn";
    case LogLevel::Info: return "info";
    case LogLevel::Debug: return "debug";
  }
  return "warn";
}

std::string_view to_string(MainPlacement m) {
  switch (m) {
    case MainPlacement::Auto: return "auto";
    case MainPlacement::Start: return "start";
    case MainPlacement::No: return "no";
  }
  return "auto";
}

std::string_view to_string(BindScope b) {
  switch (b) {
    case BindScope::Cpu: return "cpu";
    case BindScope::Core: return "core";
    case BindScope::Node: return "node";
  }
  return "cpu";
}

bool parse_size(std::string_view text, std::size_t& out) {
  text = trim(text);
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr == text.data()) return false;
  std::string suffix = lower(std::string_view(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") shift = 30;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib") shift = 40;
  else return false;
  if (shift && v > (UINT64_MAX >> shift)) return false;
  out = static_cast<std::size_t>(v << shift);
  return true;
}

bool parse_bool(std::string_view text, bool& out) {
  std::string v = lower(trim(text));
  if (v == "1" || v == "true" || v == "yes" || v == "on") { out = true; return true; }
  if (v == "0" || v == "false" || v == "no" || v == "off") { out = false; return true; }
  return false;
}

bool parse_hex_mask(std::string_view text, std::uint64_t& out) {
  text = trim(text);
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  if (text.empty()) return false;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return false;
  out = v;
  return true;
}

std::string OptionWarning::line() const {
  // The value and the parser's reason (which may quote the value) are the user's bytes: escaped
  // and bounded so that the warning stays one readable line.
  std::string l = variable + "='" + printable(value, 60) + "' " + printable(reason, 200);
  if (!default_text.empty()) l += "; using default '" + default_text + "'";
  return l;
}

Options default_options() {
  Options o;
  for (const auto& spec : kOptionTable) spec.apply(o, spec.default_text);
  return o;
}

ParsedOptions parse_options(const std::map<std::string, std::string, std::less<>>& env, bool secure) {
  ParsedOptions result{default_options(), {}};
  if (secure) return result;
  for (const auto& [name, value] : env) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : kOptionTable)
      if (s.variable == name) spec = &s;
    if (!spec) {
      result.warnings.push_back({name, value, "is not a numa-agent option (see NUMA_AGENT_LOG=info for the list)", ""});
      continue;
    }
    std::string why = spec->apply(result.options, value);
    if (!why.empty()) {
      spec->apply(result.options, spec->default_text);   // back to the default, whatever apply did
      result.warnings.push_back({name, value, why, std::string(spec->default_text)});
    }
  }
  return result;
}

std::string describe_options(const Options& o) {
  std::string out;
  for (const auto& s : kOptionTable) {
    std::string line = "  " + std::string(s.variable) + "=" + s.show(o);
    if (line.size() < 40) line.resize(40, ' ');
    out += line + " (" + std::string(s.type) + ", default '" + std::string(s.default_text) + "')\n";
  }
  return out;
}

std::string options_markdown() {
  std::string out = "| Variable | Type | Default | Unit | Meaning |\n|---|---|---|---|---|\n";
  for (const auto& s : kOptionTable) {
    std::string type(s.type);
    for (std::size_t p = 0; (p = type.find('|', p)) != std::string::npos; p += 2) type.replace(p, 1, "\\|");
    std::string help(s.help);
    for (std::size_t p = 0; (p = help.find('|', p)) != std::string::npos; p += 2) help.replace(p, 1, "\\|");
    out += "| `" + std::string(s.variable) + "` | " + type + " | `" +
           (s.default_text.empty() ? std::string("(empty)") : std::string(s.default_text)) + "` | " +
           std::string(s.unit) + " | " + help + " |\n";
  }
  return out;
}

}  // namespace numa_agent
