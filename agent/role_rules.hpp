// Placement by role (issue 19): rules that place a thread by what it is — the symbol of its start
// routine, its name, the library that created it — instead of by its creation ordinal.
//
// Sources: NUMA_AGENT_RULES (compact syntax below) and NUMA_AGENT_CONFIG=file.toml, read lazily at
// the first pthread_create or thread rename, never on the allocator's path. The environment's
// rules come first; the first rule whose matchers all match a thread places it; a thread no rule
// matches is placed by NUMA_AGENT_PIN as before (the fallback).
//
//   NUMA_AGENT_RULES='ingest start=ingest_loop cpus=M0:0@M1:0 count=2; worker name=worker-* cpus=1,2,5,6'
//
//   [threads.ingest]                 # NUMA_AGENT_CONFIG file (TOML)
//   start = "ingest_loop"            # glob on the demangled start routine
//   count = 2                        # per-thread slots: the k-th ingest thread takes slot k mod 2
//   affinity = [0, 4]                # CPU numbers, or a CPU expression string ("M0:0@M1:0")
//
// Matchers (globs: * and ?): start= the start routine's symbol (dladdr, else the module's ELF
// symbol table, so static functions resolve; for a std::thread the callable's _State_impl<...>::_M_run,
// so a functor's class or a lambda's enclosing function); name= the thread's own name (set by
// pthread_setname_np or prctl(PR_SET_NAME); a renamed thread is placed again); lib= the file name
// of the module that called pthread_create (a path when the glob holds a '/'). A rule without
// matchers matches threads named ROLE*. cpus= is a CPU expression of NUMA_AGENT_PIN's vocabulary,
// or spread | compact, or none (the thread keeps the process's CPUs). Without count every thread
// of the role gets all of the role's CPUs; with count=N the role has N slots (the list, wrapping)
// and its k-th thread takes slot k mod N.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cpu_set.hpp"
#include "error.hpp"
#include "options.hpp"
#include "placement_policy.hpp"
#include "topology.hpp"


namespace numa_agent {

struct RoleRule {
  std::string role;
  std::string start, name, lib;       // globs; empty: not checked
  std::string cpus;                   // CPU expression, spread, compact or none
  std::optional<std::size_t> count;   // per-thread slots
  std::string where;                  // "NUMA_AGENT_RULES rule 2", "/etc/app.toml:7"
  // "ingest (NUMA_AGENT_RULES rule 1)": what the log and the profile name.
  std::string label() const;
  // "start=ingest_loop cpus=0,4 count=2": the rule in the compact syntax.
  std::string compact() const;
};

// Rules that parsed, and one line per rule that did not (naming it and where it is).
struct RuleSet {
  std::vector<RoleRule> rules;
  std::vector<std::string> warnings;
};

// Shell-style glob: '*' any run of characters, '?' one character; everything else literal.
bool glob_match(std::string_view pattern, std::string_view text);

// NUMA_AGENT_RULES: rules separated by ';', each "ROLE KEY=VALUE..." (keys start, name, lib,
// cpus, count). `where` names the source in warnings.
RuleSet parse_rules_text(std::string_view text, std::string_view where = "NUMA_AGENT_RULES");
// A NUMA_AGENT_CONFIG document (TOML, [threads.ROLE] tables); `path` names it in warnings.
RuleSet parse_rules_toml(std::string_view document, std::string_view path);
// For the option table: fails (code 0) only when the text holds rules and none of them parses,
// so that garbage is one warning; a partly bad list is accepted and its bad rules are reported
// one line each when the rules are loaded.
Result<void> validate_rules_text(std::string_view text);

// A rule resolved against the process's allowed topology.
struct ResolvedRule {
  RoleRule rule;
  std::vector<int> slots;   // OS CPUs in slot order; empty: none (the process's CPUs)
};

// Resolves each rule's CPUs; a rule whose CPUs do not exist here is left out with one line.
std::vector<ResolvedRule> resolve_rules(const RuleSet& set, const Topology& topology, std::vector<std::string>& warnings);

// What a thread is, as far as the rules look: filled only with what some rule needs.
struct ThreadIdentity {
  std::string start_symbol;    // demangled start routine, "" unknown
  std::string creator_module;  // path of the module that called pthread_create, "" unknown
  std::string name;            // the thread's own name; "" while it has only its creator's
};

// The index of the first rule all of whose matchers match, or nullopt.
std::optional<std::size_t> match_rule(const std::vector<ResolvedRule>& rules, const ThreadIdentity& thread);

// The symbol of the function that starts at (or contains) `offset` in an ELF image (.symtab, else
// .dynsym), demangled; "" when the image is not ELF or has no such symbol. `offset` is the address
// minus the load base for a shared object or PIE, the address itself for a fixed-address executable.
struct ElfFunctions {
  bool fixed_address = false;   // ET_EXEC
  struct Function { std::uint64_t value, size; std::string name; };
  std::vector<Function> functions;   // sorted by value
  std::string symbol_at(std::uint64_t address) const;
};
ElfFunctions read_elf_functions(std::string_view image);
std::string demangle(const char* symbol);

// The process's role placement: rules loaded on first use, each thread's role and slot, renames.
// Thread-safe; its state is reached through PlacementPolicy::roles(). Indexes are the thread
// records' (ThreadRegistry) indexes; the main thread's is 0.
class RoleEngine {
 public:
  struct Choice {
    std::size_t rule = 0;
    std::size_t role_index = 0;   // this thread is the role's role_index-th
    PlacementDecision decision;
  };

  RoleEngine(const Options& options, const Topology& allowed_topology);
  ~RoleEngine();
  RoleEngine(const RoleEngine&) = delete;
  RoleEngine& operator=(const RoleEngine&) = delete;

  // In pthread_create, in the parent: what the rules need to know about the thread.
  // For std::thread (libstdc++'s execute_native_thread_routine) the start symbol is the callable's
  // _State_impl<...>::_M_run, read from the state object `arg` points to, so the callable's type
  // (a functor class, a lambda's enclosing function) is what start= sees.
  ThreadIdentity identify(const void* start_routine, const void* arg, const void* caller);
  // The rule placement for a thread being created, or nullopt (the fallback policy places it).
  std::optional<Choice> choose_at_create(const ThreadIdentity& thread);
  // In the new thread after it was placed: remember it; if its creator named it already, apply
  // the name rules now. `fallback` is the decision the policy made for it.
  void thread_started(std::size_t record, int tid, const ThreadIdentity& thread, const std::string& creator_name,
                      const std::optional<Choice>& choice, const PlacementDecision& fallback);
  void thread_ended(std::size_t record);
  // The calling thread named itself (prctl PR_SET_NAME, or pthread_setname_np on itself).
  void renamed_self(std::string_view name);
  // pthread_setname_np on a thread that may not be the caller: finds which one changed.
  void renamed_other(std::string_view name);

  // For the profile: the rule that last placed record `index` (of thread `tid`), if any.
  struct Placement {
    std::string role, rule;
    bool pinned = false;
    CpuSet cpus;
    int node = -1;
  };
  std::optional<Placement> placement_of(std::size_t index, int tid) const;
  // The profile's "rules": each loaded rule and the warnings about rules.
  nlohmann::json profile_section() const;

  // Tests: load now (normally done on first use) and see the outcome.
  void load();
  const std::vector<ResolvedRule>& rules() const { return rules_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Tracked {
    int tid = 0;
    bool live = true;
    ThreadIdentity identity;
    std::optional<std::size_t> rule;
    std::size_t role_index = 0;
    PlacementDecision current;
    PlacementDecision fallback;
  };
  void after_fork_child();
  PlacementDecision decision_for(std::size_t rule, std::size_t role_index) const;
  std::optional<Choice> choose_locked(const ThreadIdentity& thread);
  void reconsider_locked(std::size_t record, Tracked& t, bool self);
  std::string symbol_of(const void* address);
  void say(bool warning, const std::string& line) const;

  Options options_;
  const Topology* topology_;
  std::once_flag loaded_;
  std::vector<ResolvedRule> rules_;
  std::vector<std::string> warnings_;
  bool need_start_ = false, need_lib_ = false;
  mutable std::mutex mutex_;
  std::vector<std::size_t> role_counts_;                 // threads placed by each rule so far
  std::map<std::size_t, Tracked> threads_;               // by record index
  std::map<std::uintptr_t, std::string> symbols_;        // start routine → symbol
  std::map<std::string, ElfFunctions> elf_;              // module path → its functions
  bool log_ready_ = false;                               // set by load()
};

}  // namespace numa_agent
