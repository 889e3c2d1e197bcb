#include "agent/text.hpp"
#include "options.hpp"

#include <array>
#include <charconv>
#include <cctype>

#include "cpu_list.hpp"
#include "printable.hpp"
#include "role_rules.hpp"

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

// Why a value is rejected: no OS error behind it.
Failure rejected(std::string why) { return fail(0, std::move(why)); }

// A size within [lo, hi].
Result<void> apply_size(std::size_t& field, std::string_view text, std::size_t lo, std::size_t hi) {
  auto v = parse_size(text);
  if (!v) return rejected(v.error().what);
  if (*v < lo || *v > hi) return rejected("is outside " + show_size(lo) + ".." + show_size(hi));
  field = *v;
  return {};
}

// A file path, taken as written (a path may hold any byte but NUL).
Result<void> apply_path(std::string& field, std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return rejected("contains a NUL byte");
  field = std::string(text);
  return {};
}

Result<void> apply_bool(bool& field, std::string_view text) {
  auto v = parse_bool(text);
  if (!v) return rejected(v.error().what);
  field = *v;
  return {};
}

// One of `names` (case-insensitive), else `why`.
template <typename T, std::size_t N>
Result<void> apply_choice(T& field, std::string_view text, const std::array<std::pair<std::string_view, T>, N>& names,
                          const char* why) {
  const std::string v = lower(trim(text));
  for (auto [name, value] : names)
    if (v == name) {
      field = value;
      return {};
    }
  return rejected(why);
}

constexpr std::size_t kGiB = std::size_t{1} << 30;

// The table, one entry per OptionId in its order (checked below): the order of the README and of
// the info listing.
using Id = OptionId;
constexpr std::array kOptionTable = std::to_array<OptionSpec>({
    {Id::Pin, "pin", "NUMA_AGENT_PIN", "policy | CPU expression", "spread", "",
     "Where threads go: spread (round-robin over NUMA nodes, then cores, then SMT siblings), compact "
     "(fill node 0's cores first), none (do not pin), or a CPU expression: 0-3,8 | N:0-7 | S0:0-3 | "
     "M1:0-3 | L:N:0-7 | E:N:8[:chunk:stride] | M:scatter | S:scatter | N:scatter, several joined by @.",
     [](Options& o, std::string_view t) -> Result<void> {
       if (auto valid = validate_pin_text(t); !valid) return fail(valid.error());
       o.pin = std::string(trim(t));
       return {};
     },
     [](const Options& o) { return o.pin; }},
    {Id::Skip, "skip", "NUMA_AGENT_SKIP", "hex mask", "0x0", "",
     "likwid-pin skip mask: bit k-1 set leaves the k-th created thread unpinned (e.g. 0x1 for a "
     "runtime's shepherd thread). Skipped threads do not use up a slot.",
     [](Options& o, std::string_view t) -> Result<void> {
       auto v = parse_hex_mask(t);
       if (!v) return rejected(v.error().what);
       o.skip_mask = *v;
       return {};
     },
     [](const Options& o) { return hex(o.skip_mask); }},
    {Id::Rules, "rules", "NUMA_AGENT_RULES", "role rules", "", "",
     "Placement by role, before NUMA_AGENT_PIN: rules separated by ';', each ROLE [start=GLOB] "
     "[name=GLOB] [lib=GLOB] cpus=EXPR [count=N], e.g. 'ingest start=ingest_loop cpus=M0:0@M1:0 "
     "count=2; io name=io-* cpus=3'. start: the start routine's symbol (static ones too; for a "
     "std::thread, its callable's type); name: the name a thread "
     "gives itself (renamed threads are placed again); lib: the library that created it; no "
     "matcher: threads named ROLE*. cpus: a CPU expression, spread, compact or none. count=N: the "
     "k-th thread of the role takes slot k mod N of the list; without it the role shares the list. "
     "The first matching rule wins; other threads follow NUMA_AGENT_PIN. A bad rule is one warning, "
     "the others apply.",
     [](Options& o, std::string_view t) -> Result<void> {
       if (auto valid = validate_rules_text(t); !valid) return fail(valid.error());
       o.rules = std::string(trim(t));
       return {};
     },
     [](const Options& o) { return o.rules; }},
    {Id::Config, "config", "NUMA_AGENT_CONFIG", "path", "", "",
     "TOML file of role rules, read at the first pthread_create: [threads.ROLE] tables with the keys "
     "of NUMA_AGENT_RULES (affinity = [0, 4] or a CPU expression string; count = 2), after "
     "NUMA_AGENT_RULES' rules. Empty: none. A missing or malformed file or a bad rule is one warning.",
     [](Options& o, std::string_view t) { return apply_path(o.config, t); },
     [](const Options& o) { return o.config; }},
    {Id::Bind, "bind", "NUMA_AGENT_BIND", "cpu | core | node", "cpu", "",
     "Width of a pinned thread's CPU mask: its one CPU (likwid-pin), all SMT siblings of its core, or "
     "all CPUs of its NUMA node (the kernel may then balance within the node).",
     [](Options& o, std::string_view t) {
       static constexpr std::array<std::pair<std::string_view, BindScope>, 3> names{
           {{"cpu", BindScope::Cpu}, {"core", BindScope::Core}, {"node", BindScope::Node}}};
       return apply_choice(o.bind, t, names, "is not one of cpu, core, node");
     },
     [](const Options& o) { return std::string(to_string(o.bind)); }},
    {Id::PinMain, "pin_main", "NUMA_AGENT_PIN_MAIN", "auto | start | no", "auto", "",
     "When the main thread takes the first slot (ordinal 0). auto: when the program creates its "
     "first thread, so single-threaded processes (shells, compilers, tools the program runs) are "
     "never pinned; start: at start-up, as likwid-pin does; no: never (created threads then start "
     "at slot 0).",
     [](Options& o, std::string_view t) {
       static constexpr std::array<std::pair<std::string_view, MainPlacement>, 7> names{
           {{"auto", MainPlacement::Auto}, {"start", MainPlacement::Start}, {"1", MainPlacement::Start},
            {"yes", MainPlacement::Start}, {"no", MainPlacement::No}, {"0", MainPlacement::No},
            {"none", MainPlacement::No}}};
       return apply_choice(o.pin_main, t, names, "is not one of auto, start, no");
     },
     [](const Options& o) { return std::string(to_string(o.pin_main)); }},
    {Id::HonorOpenmp, "honor_openmp", "NUMA_AGENT_HONOR_OPENMP", "bool", "1", "",
     "Step aside (pin nothing) when OMP_PLACES, OMP_PROC_BIND, GOMP_CPU_AFFINITY or KMP_AFFINITY is "
     "set, so the OpenMP runtime's own placement wins.",
     [](Options& o, std::string_view t) { return apply_bool(o.honor_openmp, t); },
     [](const Options& o) { return std::string(o.honor_openmp ? "1" : "0"); }},
    {Id::Log, "log", "NUMA_AGENT_LOG", "off | error | warn | info | debug", "warn", "",
     "What the agent prints to stderr. info: the effective options, the topology and each thread's "
     "placement. Never printed from inside an allocation.",
     [](Options& o, std::string_view t) {
       static constexpr std::array<std::pair<std::string_view, LogLevel>, 6> names{{
           {"off", LogLevel::Off}, {"error", LogLevel::Error}, {"warn", LogLevel::Warn},
           {"warning", LogLevel::Warn}, {"info", LogLevel::Info}, {"debug", LogLevel::Debug}}};
       return apply_choice(o.log, t, names, "is not one of off, error, warn, info, debug");
     },
     [](const Options& o) { return std::string(to_string(o.log)); }},
    {Id::Profile, "profile", "NUMA_AGENT_PROFILE", "path", "", "",
     "Write a JSON profile (schema numa-agent-profile/1) to this path at exit; %p is replaced by the "
     "PID. Empty: no profile. A symlink at the path is replaced, never followed.",
     [](Options& o, std::string_view t) { return apply_path(o.profile, t); },
     [](const Options& o) { return o.profile; }},
    {Id::Pools, "pools", "NUMA_AGENT_POOLS", "bool", "1", "",
     "Serve small allocations from node-local per-thread pools. 0: pinning only; every allocation "
     "goes to the program's own allocator.",
     [](Options& o, std::string_view t) { return apply_bool(o.pools, t); },
     [](const Options& o) { return std::string(o.pools ? "1" : "0"); }},
    {Id::SmallMax, "small_max", "NUMA_AGENT_SMALL_MAX", "size", "32k", "bytes",
     "Largest request served by the pools (16..32k). 32k covers the small, hot objects (nodes, "
     "strings, messages) that dominate allocation counts and the 1..32 KiB buffers that often carry "
     "most of the bytes (node-local, no lock on another thread's free; blocks above 4 KiB come from "
     "256 KiB span groups); larger ones go to the real allocator.",
     [](Options& o, std::string_view t) { return apply_size(o.small_max, t, 16, 32 * 1024); },
     [](const Options& o) { return show_size(o.small_max); }},
    {Id::ArenaSize, "arena_size", "NUMA_AGENT_ARENA_SIZE", "size", "16G", "bytes",
     "Address space reserved per NUMA node for the pools (virtual; pages are committed as used). "
     "When a node's arena is full, allocations fall through to the real allocator.",
     [](Options& o, std::string_view t) { return apply_size(o.arena_size, t, 64u << 20, 1024 * kGiB); },
     [](const Options& o) { return show_size(o.arena_size); }},
    {Id::Sample, "sample", "NUMA_AGENT_SAMPLE", "size", "0", "bytes",
     "Allocation-site sampling: record a backtrace about every N bytes of pool allocations (0: off). "
     "Sites go into the profile.",
     [](Options& o, std::string_view t) -> Result<void> {
       auto v = parse_size(t);
       if (!v) return rejected("is not a size (examples: 0, 512k, 1M)");
       o.sample = *v;
       return {};
     },
     [](const Options& o) { return show_size(o.sample); }},
    {Id::Plan, "plan", "NUMA_AGENT_PLAN", "path", "", "",
     "Placement plan (numa-agent-plan/1, from numa-analyze plan): large malloc/calloc/posix_memalign/"
     "aligned_alloc/operator new blocks of the planned allocation sites get memory the agent maps "
     "itself, with the site's policy (interleave, bind, prefer, partition) set before the first touch. "
     "Empty: none. A missing or malformed plan, or one for another build of the program, is one "
     "warning and no plan.",
     [](Options& o, std::string_view t) { return apply_path(o.plan, t); },
     [](const Options& o) { return o.plan; }},
});

static_assert(kOptionTable.size() == static_cast<std::size_t>(OptionId::kCount), "one entry per OptionId");
static_assert([] {
  for (std::size_t i = 0; i < kOptionTable.size(); ++i)
    if (kOptionTable[i].option != static_cast<OptionId>(i)) return false;
  return true;
}(), "kOptionTable[i].option == OptionId(i): entries in OptionId order");

}  // namespace

std::span<const OptionSpec> option_table() { return kOptionTable; }

const OptionSpec& option_spec(OptionId option) { return kOptionTable[static_cast<std::size_t>(option)]; }

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

Result<std::size_t> parse_size(std::string_view text) {
  const auto invalid = [] { return rejected("is not a size (examples: 1024, 64k, 16G)"); };
  text = trim(text);
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr == text.data()) return invalid();
  std::string suffix = lower(std::string_view(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") shift = 30;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib") shift = 40;
  else return invalid();
  if (shift && v > (UINT64_MAX >> shift)) return invalid();
  return static_cast<std::size_t>(v << shift);
}

Result<bool> parse_bool(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, bool>, 8> names{
      {{"1", true}, {"true", true}, {"yes", true}, {"on", true},
       {"0", false}, {"false", false}, {"no", false}, {"off", false}}};
  bool value = false;
  if (auto ok = apply_choice(value, text, names, "is not a boolean (1/0, true/false, yes/no, on/off)"); !ok)
    return fail(ok.error());
  return value;
}

Result<std::uint64_t> parse_hex_mask(std::string_view text) {
  const auto invalid = [] { return rejected("is not a hex mask (example: 0x1)"); };
  text = trim(text);
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  if (text.empty()) return invalid();
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return invalid();
  return v;
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
  for (const auto& spec : kOptionTable) (void)spec.apply(o, spec.default_text);   // defaults are valid (tested)
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
    if (auto applied = spec->apply(result.options, value); !applied) {
      (void)spec->apply(result.options, spec->default_text);   // back to the default, whatever apply did
      result.warnings.push_back({name, value, applied.error().what, std::string(spec->default_text)});
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
