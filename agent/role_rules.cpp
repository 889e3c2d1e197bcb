// Placement by role: the rules' two syntaxes, their resolution and matching, start routine symbols
// (ELF symbol tables), and the process's RoleEngine. See role_rules.hpp.
#include "role_rules.hpp"

#include <cxxabi.h>
#include <elf.h>


#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>

// Header-only, so libnumaagent.so gains no shared-library dependency; errors as values.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "cpu_list.hpp"
#include "os/os.hpp"
#include "pool/pool_runtime.hpp"
#include "printable.hpp"
#include "text.hpp"
#include "thread_registry.hpp"

namespace numa_agent {
namespace {

using text::trim;

constexpr std::string_view kKeys = "start, name, lib, cpus (or affinity), count";

bool valid_role_name(std::string_view role) {
  if (role.empty() || role.size() > 64) return false;
  return std::all_of(role.begin(), role.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

// Stores one key of a rule, or says why not (shared by both syntaxes).
Result<void> set_key(RoleRule& rule, std::string_view key, std::string_view value) {
  std::string* field = nullptr;
  if (key == "start") field = &rule.start;
  else if (key == "name") field = &rule.name;
  else if (key == "lib") field = &rule.lib;
  if (field) {
    if (!field->empty()) return fail(0, "key '" + std::string(key) + "' given twice");
    if (value.empty()) return fail(0, "empty " + std::string(key) + "=");
    *field = std::string(value);
    return {};
  }
  if (key == "cpus" || key == "affinity") {
    if (!rule.cpus.empty()) return fail(0, "cpus given twice");
    if (auto valid = validate_pin_text(value); !valid) return fail(0, "cpus '" + std::string(value) + "' " + valid.error().what);
    rule.cpus = std::string(trim(value));
    return {};
  }
  if (key == "count") {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc{} || ptr != value.data() + value.size() || n == 0 || n > 4096)
      return fail(0, "count '" + std::string(value) + "' is not a number of threads (1..4096)");
    rule.count = n;
    return {};
  }
  return fail(0, "unknown key '" + std::string(key) + "' (keys: " + std::string(kKeys) + ")");
}

Result<void> complete(RoleRule& rule) {
  if (rule.cpus.empty()) return fail(0, "has no cpus= (a CPU expression, spread, compact or none)");
  if (rule.start.empty() && rule.name.empty() && rule.lib.empty()) rule.name = rule.role + "*";
  return {};
}

std::string rule_problem(std::string_view where, std::string_view what, std::string_view why) {
  return std::string(where) + " '" + printable(what, 80) + "': " + std::string(why) + "; rule ignored";
}

// One rule of the compact syntax: "ROLE KEY=VALUE...".
Result<RoleRule> parse_compact_rule(std::string_view text) {
  RoleRule rule;
  bool first = true;
  for (auto word : text::split(text, ' ')) {
    word = trim(word);
    if (word.empty()) continue;
    if (first) {
      first = false;
      if (word.find('=') != std::string_view::npos || !valid_role_name(word))
        return fail(0, "does not start with a role name (letters, digits, _ - .)");
      rule.role = std::string(word);
      continue;
    }
    const auto eq = word.find('=');
    if (eq == std::string_view::npos) return fail(0, "'" + std::string(word) + "' is not KEY=VALUE");
    if (auto ok = set_key(rule, word.substr(0, eq), word.substr(eq + 1)); !ok) return fail(ok.error());
  }
  if (auto ok = complete(rule); !ok) return fail(ok.error());
  return rule;
}

// A TOML value as the text the compact syntax would hold ("0,4" for [0, 4]).
std::optional<std::string> toml_text(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto a = node.as_array()) {
    std::string out;
    for (const auto& element : *a) {
      auto part = toml_text(element);
      if (!part || element.is_array()) return std::nullopt;
      out += (out.empty() ? "" : "@") + *part;   // "0@4" is the OS list 0 then 4
    }
    return out;
  }
  return std::nullopt;
}

std::string at_line(std::string_view path, const toml::node& node) {
  return std::string(path) + ":" + std::to_string(node.source().begin.line);
}

}  // namespace

std::string RoleRule::label() const { return role + " (" + where + ")"; }

std::string RoleRule::compact() const {
  std::string out;
  if (!start.empty()) out += "start=" + start + " ";
  if (!name.empty()) out += "name=" + name + " ";
  if (!lib.empty()) out += "lib=" + lib + " ";
  out += "cpus=" + cpus;
  if (count) out += " count=" + std::to_string(*count);
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative with one backtrack point: linear in practice, no recursion on hostile patterns.
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

RuleSet parse_rules_text(std::string_view text, std::string_view where) {
  RuleSet set;
  std::size_t number = 0;
  for (auto part : text::split(text, ';')) {
    part = trim(part);
    if (part.empty()) continue;
    ++number;
    const std::string here = std::string(where) + " rule " + std::to_string(number);
    auto rule = parse_compact_rule(part);
    if (!rule) {
      set.warnings.push_back(rule_problem(here, part, rule.error().what));
      continue;
    }
    rule->where = here;
    set.rules.push_back(std::move(*rule));
  }
  return set;
}

RuleSet parse_rules_toml(std::string_view document, std::string_view path) {
  RuleSet set;
  toml::parse_result parsed = toml::parse(document, path);
  if (!parsed) {
    const auto& e = parsed.error();
    set.warnings.push_back(std::string(path) + ":" + std::to_string(e.source().begin.line) + ": not valid TOML (" +
                           printable(e.description(), 200) + "); no rules read from it");
    return set;
  }
  const toml::table& root = parsed.table();
  for (const auto& [key, node] : root)
    if (key.str() != "threads")
      set.warnings.push_back(at_line(path, node) + ": unknown table or key '" + printable(key.str(), 60) +
                             "' (rules go in [threads.ROLE]); ignored");
  const toml::table* threads = root["threads"].as_table();
  if (!threads) {
    if (root.contains("threads"))
      set.warnings.push_back(at_line(path, *root.get("threads")) + ": 'threads' is not a table; no rules read from it");
    else if (root.empty())   // also what a directory reads as
      set.warnings.push_back(std::string(path) + ": holds no [threads.ROLE] table (empty, or not a file); no rules read from it");
    return set;
  }
  // toml++ keeps keys sorted; the rules' order is the file's.
  std::vector<std::pair<std::uint32_t, RoleRule>> ordered;
  for (const auto& [role_key, node] : *threads) {
    const std::string role(role_key.str());
    const std::string here = at_line(path, node);
    const toml::table* table = node.as_table();
    if (!valid_role_name(role) || !table) {
      set.warnings.push_back(rule_problem(here, "threads." + role, !table ? "is not a table" : "is not a role name (letters, digits, _ - .)"));
      continue;
    }
    RoleRule rule;
    rule.role = role;
    rule.where = here;
    Result<void> ok;
    for (const auto& [k, v] : *table) {
      auto value = toml_text(v);
      ok = value ? set_key(rule, k.str(), *value)
                 : Result<void>(fail(0, "key '" + std::string(k.str()) + "' is not a string, number or list"));
      if (!ok) {
        ok = fail(0, at_line(path, v) + ": " + ok.error().what);
        break;
      }
    }
    if (ok) ok = complete(rule);
    if (!ok) {
      set.warnings.push_back(rule_problem(here, "threads." + role, ok.error().what));
      continue;
    }
    ordered.emplace_back(node.source().begin.line, std::move(rule));
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [line, rule] : ordered) set.rules.push_back(std::move(rule));
  return set;
}

Result<void> validate_rules_text(std::string_view text) {
  if (trim(text).empty()) return {};
  auto set = parse_rules_text(text);
  if (!set.rules.empty()) return {};
  return fail(0, "holds no usable rule (ROLE [start=GLOB] [name=GLOB] [lib=GLOB] cpus=EXPR [count=N]; ...): " +
                     (set.warnings.empty() ? std::string("empty") : set.warnings.front()));
}

std::vector<ResolvedRule> resolve_rules(const RuleSet& set, const Topology& topology, std::vector<std::string>& warnings) {
  std::vector<ResolvedRule> out;
  for (const auto& rule : set.rules) {
    auto spec = parse_pin_spec(rule.cpus);
    if (!spec) {   // syntax was checked when parsed
      warnings.push_back(rule_problem(rule.where, rule.role, "cpus '" + rule.cpus + "' " + spec.error().what));
      continue;
    }
    ResolvedRule r{rule, {}};
    switch (spec->kind) {
      case PinSpec::Kind::None: break;
      case PinSpec::Kind::Spread: r.slots = spread_order(topology); break;
      case PinSpec::Kind::Compact: r.slots = compact_order(topology); break;
      case PinSpec::Kind::Explicit: {
        auto cpus = resolve_pin_spec(*spec, topology);
        if (!cpus) {
          warnings.push_back(rule_problem(rule.where, rule.role, "cpus '" + rule.cpus + "' cannot be used here: " + cpus.error().what));
          continue;
        }
        r.slots = std::move(*cpus);
        break;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {
// A start= glob may name the full demangled symbol ("app::Worker::run(void*)"), the symbol without
// its parameters ("app::Worker::run") or, for a function in an anonymous namespace, without that.
bool start_matches(std::string_view glob, std::string_view symbol) {
  if (glob_match(glob, symbol)) return true;
  std::string_view bare = symbol;
  if (auto paren = bare.find('('); paren != std::string_view::npos && paren > 0) bare = bare.substr(0, paren);
  if (glob_match(glob, bare)) return true;
  constexpr std::string_view anonymous = "(anonymous namespace)::";
  return symbol.starts_with(anonymous) && start_matches(glob, symbol.substr(anonymous.size()));
}
}  // namespace

std::optional<std::size_t> match_rule(const std::vector<ResolvedRule>& rules, const ThreadIdentity& thread) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const RoleRule& r = rules[i].rule;
    if (!r.start.empty() && (thread.start_symbol.empty() || !start_matches(r.start, thread.start_symbol))) continue;
    if (!r.name.empty() && (thread.name.empty() || !glob_match(r.name, thread.name))) continue;
    if (!r.lib.empty()) {
      if (thread.creator_module.empty()) continue;
      std::string_view module = thread.creator_module;
      if (r.lib.find('/') == std::string::npos) module = module.substr(module.rfind('/') + 1);   // npos+1 == 0
      if (!glob_match(r.lib, module)) continue;
    }
    return i;
  }
  return std::nullopt;
}

// ---- ELF symbol tables ----------------------------------------------------------------------

std::string demangle(const char* symbol) {
  if (!symbol || !*symbol) return "";
  int status = 0;
  char* out = abi::__cxa_demangle(symbol, nullptr, nullptr, &status);
  if (status != 0 || !out) return symbol;
  std::string s(out);
  std::free(out);
  return s;
}

std::string ElfFunctions::symbol_at(std::uint64_t address) const {
  auto it = std::upper_bound(functions.begin(), functions.end(), address,
                             [](std::uint64_t a, const Function& f) { return a < f.value; });
  if (it == functions.begin()) return "";
  --it;
  if (address == it->value || address < it->value + it->size) return it->name;
  return "";
}

ElfFunctions read_elf_functions(std::string_view image) {
  ElfFunctions out;
  const auto fits = [&](std::uint64_t offset, std::uint64_t bytes) {
    return offset <= image.size() && bytes <= image.size() - offset;
  };
  if (!fits(0, sizeof(Elf64_Ehdr)) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0 ||
      image[EI_CLASS] != ELFCLASS64)
    return out;
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof eh);
  out.fixed_address = eh.e_type == ET_EXEC;
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || !fits(eh.e_shoff, std::uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr))) return out;
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (eh.e_shnum) std::memcpy(sections.data(), image.data() + eh.e_shoff, sections.size() * sizeof(Elf64_Shdr));
  // .symtab when the file has one (it names static functions too), else .dynsym.
  for (std::uint32_t wanted : {std::uint32_t{SHT_SYMTAB}, std::uint32_t{SHT_DYNSYM}}) {
    for (const auto& sh : sections) {
      if (sh.sh_type != wanted || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= sections.size()) continue;
      const auto& strtab = sections[sh.sh_link];
      if (!fits(sh.sh_offset, sh.sh_size) || !fits(strtab.sh_offset, strtab.sh_size)) continue;
      const std::string_view names = image.substr(strtab.sh_offset, strtab.sh_size);
      for (std::uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, image.data() + sh.sh_offset + off, sizeof sym);
        if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_name >= names.size()) continue;
        const std::string_view raw = names.substr(sym.st_name, names.find('\0', sym.st_name) - sym.st_name);
        out.functions.push_back({sym.st_value, sym.st_size, demangle(std::string(raw).c_str())});
      }
    }
    if (!out.functions.empty()) break;
  }
  std::sort(out.functions.begin(), out.functions.end(), [](const auto& a, const auto& b) { return a.value < b.value; });
  return out;
}

// ---- the process's engine -------------------------------------------------------------------

namespace {
// The calling thread's record index, set when the agent started it (constant-initialised TLS:
// no allocation, no TLS wrapper call).
thread_local std::size_t t_record = ThreadRegistry::kNoRecord;
}  // namespace

namespace {
// The engine whose lock fork must not leave held in the child: the process's (the first made).
std::atomic<RoleEngine*> g_fork_engine{nullptr};
}  // namespace

RoleEngine::RoleEngine(const Options& options, const Topology& allowed_topology)
    : options_(options), topology_(&allowed_topology) {
  RoleEngine* none = nullptr;
  if (!g_fork_engine.compare_exchange_strong(none, this)) return;
  static const int registered = os::register_fork_handlers(
      [] { if (auto* e = g_fork_engine.load()) e->mutex_.lock(); },
      [] { if (auto* e = g_fork_engine.load()) e->mutex_.unlock(); },
      [] {
        if (auto* e = g_fork_engine.load()) {
          e->mutex_.unlock();
          e->after_fork_child();
        }
      });
  (void)registered;
}

RoleEngine::~RoleEngine() {
  RoleEngine* me = this;
  g_fork_engine.compare_exchange_strong(me, nullptr);
}

void RoleEngine::after_fork_child() {
  // The child is a new process: the parent's threads are not its own; its roles start again.
  threads_.clear();
  std::fill(role_counts_.begin(), role_counts_.end(), 0);
  t_record = ThreadRegistry::kNoRecord;
}

void RoleEngine::say(bool warning, const std::string& line) const {
  if (!log_ready_) return;
  // The runtime's format (AgentRuntime::log_line): prefix, level name, one line on stderr.
  const LogLevel level = warning ? LogLevel::Warn : LogLevel::Info;
  if (options_.log == LogLevel::Off || level > options_.log) return;
  std::string out = "numa-agent[" + std::to_string(os::current_pid()) + "]: " + (warning ? "warning: " : "info: ");
  out += warning ? printable(line, 900) : line;
  out += '\n';
  os::write_stderr(out);
}

void RoleEngine::load() {
  std::call_once(loaded_, [this] {
    // Prints the way the runtime does (prefix, stderr, level), from here on.
    log_ready_ = true;
    RuleSet set = parse_rules_text(options_.rules);
    if (!options_.config.empty()) {
      const std::string where = "NUMA_AGENT_CONFIG='" + options_.config + "'";
      if (auto document = os::read_file(options_.config)) {
        RuleSet from_file = parse_rules_toml(*document, options_.config);
        for (auto& r : from_file.rules) set.rules.push_back(std::move(r));
        for (auto& w : from_file.warnings) set.warnings.push_back(std::move(w));
      } else {
        set.warnings.push_back(where + ": cannot read it (" + std::strerror(document.error().code) + "); no rules read from it");
      }
    }
    warnings_ = std::move(set.warnings);
    rules_ = resolve_rules(set, *topology_, warnings_);
    for (const auto& w : warnings_) say(true, w);
    role_counts_.assign(rules_.size(), 0);
    for (const auto& r : rules_) {
      need_start_ = need_start_ || !r.rule.start.empty();
      need_lib_ = need_lib_ || !r.rule.lib.empty();
      std::string slots;
      for (int c : r.slots) slots += (slots.empty() ? "" : ",") + std::to_string(c);
      say(false, "rule " + r.rule.label() + ": " + r.rule.compact() + " -> cpus " + (slots.empty() ? "of the process" : slots));
    }
  });
}

std::string RoleEngine::symbol_of(const void* address) {
  const auto key = reinterpret_cast<std::uintptr_t>(address);
  if (auto it = symbols_.find(key); it != symbols_.end()) return it->second;
  std::string symbol;
  if (auto where = os::code_location(address)) {
    std::string module = where->module ? where->module : "";
    // The main program's entry holds argv[0] (or nothing): read it through /proc.
    const auto argv = os::command_line();
    if (module.empty() || (!argv.empty() && module == argv.front())) module = "/proc/self/exe";
    auto elf = elf_.find(module);
    if (elf == elf_.end()) {
      auto image = os::read_file(module);
      elf = elf_.emplace(module, image ? read_elf_functions(*image) : ElfFunctions{}).first;
    }
    const std::uint64_t at = elf->second.fixed_address ? key : key - where->module_base;
    symbol = elf->second.symbol_at(at);
    if (symbol.empty()) symbol = demangle(where->symbol);   // stripped: the nearest exported symbol
  }
  symbols_.emplace(key, symbol);
  return symbol;
}

ThreadIdentity RoleEngine::identify(const void* start_routine, const void* arg, const void* caller) {
  load();
  ThreadIdentity id;
  if (rules_.empty()) return id;
  std::lock_guard lock(mutex_);
  if (need_start_) id.start_symbol = symbol_of(start_routine);
  if (need_start_ && arg && (id.start_symbol.empty() || id.start_symbol == "execute_native_thread_routine")) {
    // libstdc++ starts threads only for std::thread, through a static function its .dynsym does not
    // name; then arg is a std::thread::_State*: vtable slots 0 and 1 are its destructors, slot 2 _M_run.
    auto where = os::code_location(start_routine);
    const std::string_view module = where && where->module ? where->module : "";
    if (module.substr(module.rfind('/') + 1).starts_with("libstdc++.so")) {
      const void* const* vtable = *static_cast<const void* const* const*>(arg);
      if (vtable && os::code_location(vtable))
        if (std::string run = symbol_of(vtable[2]); run.find("::_M_run") != std::string::npos) id.start_symbol = run;
    }
  }
  if (need_lib_)
    if (auto where = os::code_location(caller); where && where->module) id.creator_module = where->module;
  return id;
}

PlacementDecision RoleEngine::decision_for(std::size_t rule, std::size_t role_index) const {
  const ResolvedRule& r = rules_[rule];
  PlacementDecision d;
  d.reason = PlacementReason::Rule;
  d.pin = true;
  if (r.slots.empty()) {   // none: the process's CPUs
    for (const auto& n : topology_->nodes()) d.cpus = d.cpus | n.cpus;
    d.pin = !d.cpus.empty();
    return d;
  }
  if (r.rule.count) {
    const std::size_t slot = (role_index % *r.rule.count) % r.slots.size();
    d = pin_decision(*topology_, options_.bind, r.slots[slot]);
    d.reason = PlacementReason::Rule;
    return d;
  }
  // Shared: every thread of the role may run on any of its CPUs.
  for (int c : r.slots) d.cpus = d.cpus | pin_decision(*topology_, options_.bind, c).cpus;
  d.slot_cpu = r.slots.front();
  d.node = topology_->node_of_cpu(r.slots.front());
  for (int c : r.slots)
    if (topology_->node_of_cpu(c) != d.node) d.node = -1;
  return d;
}

std::optional<RoleEngine::Choice> RoleEngine::choose_locked(const ThreadIdentity& thread) {
  auto rule = match_rule(rules_, thread);
  if (!rule) return std::nullopt;
  Choice c;
  c.rule = *rule;
  c.role_index = role_counts_[*rule]++;
  c.decision = decision_for(c.rule, c.role_index);
  return c;
}

std::optional<RoleEngine::Choice> RoleEngine::choose_at_create(const ThreadIdentity& thread) {
  load();
  if (rules_.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  return choose_locked(thread);
}

void RoleEngine::thread_started(std::size_t record, int tid, const ThreadIdentity& thread,
                                const std::string& creator_name, const std::optional<Choice>& choice,
                                const PlacementDecision& fallback) {
  if (rules_.empty() || record == ThreadRegistry::kNoRecord) return;
  std::lock_guard lock(mutex_);
  Tracked t;
  t.tid = tid;
  t.identity = thread;
  t.fallback = fallback;
  t.current = choice ? choice->decision : fallback;
  if (choice) {
    t.rule = choice->rule;
    t.role_index = choice->role_index;
    if (options_.log >= LogLevel::Info)
      say(false, "thread " + std::to_string(tid) + ": rule " + rules_[choice->rule].rule.label() + ", thread " +
                     std::to_string(choice->role_index) + " of the role, cpus " + choice->decision.cpus.to_list_string());
  }
  auto& tracked = threads_[record] = std::move(t);
  t_record = record;
  // Named by its creator before it ran: the name rules see that name now.
  const std::string name = os::current_thread_name();
  if (name != creator_name) {
    tracked.identity.name = name;
    reconsider_locked(record, tracked, true);
  }
}

void RoleEngine::thread_ended(std::size_t record) {
  std::lock_guard lock(mutex_);
  if (auto it = threads_.find(record); it != threads_.end()) it->second.live = false;
}

void RoleEngine::reconsider_locked(std::size_t record, Tracked& t, bool self) {
  auto rule = match_rule(rules_, t.identity);
  if (rule == t.rule) return;   // same role: keeps its slot
  std::optional<Choice> choice;
  if (rule) choice = choose_locked(t.identity);
  PlacementDecision next = choice ? choice->decision : t.fallback;
  CpuSet mask = next.cpus;
  if (!next.pin)
    for (const auto& n : topology_->nodes()) mask = mask | n.cpus;   // unpinned: the process's CPUs
  const int rc = self ? os::set_current_thread_affinity(mask) : os::set_thread_affinity(t.tid, mask);
  if (rc != 0) {
    say(true, "thread " + std::to_string(t.tid) + " renamed '" + t.identity.name + "': cannot pin to CPUs " +
                  mask.to_list_string() + ": " + std::strerror(-rc) + "; left where it is");
    return;
  }
  if (self) pool::thread_placed();
  t.rule = choice ? std::optional<std::size_t>(choice->rule) : std::nullopt;
  t.role_index = choice ? choice->role_index : 0;
  t.current = next;
  t.current.cpus = mask;
  (void)record;
  if (options_.log >= LogLevel::Info)
    say(false, "thread " + std::to_string(t.tid) + " renamed '" + t.identity.name + "': " +
                   (choice ? "rule " + rules_[choice->rule].rule.label() + ", thread " + std::to_string(choice->role_index) +
                                 " of the role"
                           : std::string("no rule, the fallback policy")) +
                   ", cpus " + mask.to_list_string());
}

void RoleEngine::renamed_self(std::string_view name) {
  load();
  if (rules_.empty()) return;
  const int tid = os::current_tid();
  std::size_t record = t_record;
  if (record == ThreadRegistry::kNoRecord) {
    if (tid != os::current_pid()) return;   // a thread the agent did not start
    record = 0;                             // the main thread's record
  }
  std::lock_guard lock(mutex_);
  auto it = threads_.find(record);
  if (it == threads_.end() || it->second.tid != tid) {
    // The main thread, seen for the first time: placed by the policy so far.
    Tracked t;
    t.tid = tid;
    t.identity.start_symbol = "main";
    if (auto cpus = os::thread_affinity(0)) t.fallback.cpus = *cpus;
    t.fallback.pin = true;
    t.current = t.fallback;
    it = threads_.insert_or_assign(record, std::move(t)).first;
  }
  std::string own(name.substr(0, 15));   // the kernel keeps 15 bytes
  if (it->second.identity.name == own) return;
  it->second.identity.name = std::move(own);
  reconsider_locked(record, it->second, true);
}

void RoleEngine::renamed_other(std::string_view name) {
  load();
  if (rules_.empty()) return;
  const std::string own(name.substr(0, 15));
  std::lock_guard lock(mutex_);
  // Newest first: a creator usually names the thread it has just created.
  for (auto it = threads_.rbegin(); it != threads_.rend(); ++it) {
    Tracked& t = it->second;
    if (!t.live || t.identity.name == own) continue;
    if (os::thread_name(t.tid) != own) continue;
    t.identity.name = own;
    reconsider_locked(it->first, t, t.tid == os::current_tid());
    return;
  }
}

std::optional<RoleEngine::Placement> RoleEngine::placement_of(std::size_t index, int tid) const {
  std::lock_guard lock(mutex_);
  auto it = threads_.find(index);
  if (it == threads_.end() || it->second.tid != tid || !it->second.rule) return std::nullopt;
  const Tracked& t = it->second;
  return Placement{rules_[*t.rule].rule.role, rules_[*t.rule].rule.label(), t.current.pin, t.current.cpus, t.current.node};
}

nlohmann::json RoleEngine::profile_section() const {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& r : rules_)
    rules.push_back({{"role", r.rule.role}, {"where", r.rule.where}, {"rule", r.rule.compact()}, {"slots", r.slots}});
  return {{"rules", rules}, {"warnings", warnings_}};
}

}  // namespace numa_agent
