// Start-up: what the runtime learns about the process and the machine (ProcessFacts::probe), and
// the runtime's construction from it: options and log at once; the NUMA nodes, the pools and the
// main thread's record when the process first needs them (its first allocation served by the
// pools, its first pthread_create), and placement on first use. Every process of a tree under
// LD_PRELOAD runs the constructor: it reads the environment and the affinity, opens no file and
// allocates nothing when no NUMA_AGENT_* variable is set (bench/README.md, "exec storm"), so a
// process that neither allocates nor creates a thread pays nothing more.
#include <array>
#include <cstring>
#include <thread>

#include "os/os.hpp"
#include "pool/pool_runtime.hpp"
#include "printable.hpp"
#include "runtime.hpp"

namespace numa_agent {
namespace {

constexpr std::array<std::string_view, 4> kOpenMpAffinityVariables{
    "OMP_PLACES", "OMP_PROC_BIND", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"};

}  // namespace

NUMA_AGENT_EVERY_PROCESS ProcessFacts ProcessFacts::probe() {
  ProcessFacts f;
  f.pid = os::current_pid();
  f.secure = os::secure_execution();
  for (const auto& name : os::environment_names_with_prefix("NUMA_AGENT_"))
    if (const char* v = os::environment_value(name)) f.agent_variables.emplace(name, v);
  for (auto var : kOpenMpAffinityVariables)
    if (const char* v = os::environment_value(var); v && *v) {
      f.openmp_affinity_env = true;
      f.openmp_variable = std::string(var) + "=" + v;
      break;
    }
  f.allowed_cpus = os::process_allowed_cpus();
  // Captureless: building them allocates nothing; the reader is made when they run.
  f.read_nodes = [] { return node_layout_from_sysfs(os::sysfs_reader()); };
  f.complete_machine = [] { return topology_from_sysfs(os::sysfs_reader()); };
  return f;
}

NUMA_AGENT_EVERY_PROCESS AgentRuntime::AgentRuntime(ProcessFacts facts) : facts_(std::move(facts)) {
  start_ns_ = os::realtime_ns();
  auto parsed = parse_options(facts_.agent_variables, facts_.secure);
  options_ = std::move(parsed.options);
  warnings_ = std::move(parsed.warnings);

  for (const auto& w : warnings_) warn(w.line());
  if (facts_.secure && !facts_.agent_variables.empty())
    info("secure execution (setuid/setgid): NUMA_AGENT_* variables ignored, defaults in force");

  // Now when the process's start must be seen at once (its placement logged, main pinned at
  // start, a profile or a plan) or the machine is already known (tests' fake machines).
  const bool now = !facts_.read_nodes || options_.pin_main == MainPlacement::Start ||
                   should_log(LogLevel::Info) || !options_.profile.empty() || !options_.plan.empty();
  if (now) ensure_started();
}

bool AgentRuntime::try_start() {
  int expected = kNotStarted;
  if (!start_state_.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) return false;
  try {
    start_now();
  } catch (...) {
    start_state_.store(kStarted, std::memory_order_release);   // no waiter spins for ever
    throw;
  }
  start_state_.store(kStarted, std::memory_order_release);
  return true;
}

void AgentRuntime::ensure_started() {
  if (start_state_.load(std::memory_order_acquire) == kStarted || try_start()) return;
  // Another thread is starting the runtime (or this one is, further up its stack: then the
  // caller is the start itself, which needs nothing it has not done yet).
  if (starting_tid_.load(std::memory_order_relaxed) == os::current_tid()) return;
  while (start_state_.load(std::memory_order_acquire) != kStarted) std::this_thread::yield();
}

void AgentRuntime::start_now() {
  starting_tid_.store(os::current_tid(), std::memory_order_relaxed);
  if (facts_.read_nodes) {
    // When placement follows at once the whole machine is read, once: it holds the nodes.
    const bool whole = facts_.complete_machine &&
                       (placement_wanted_.load(std::memory_order_relaxed) || !options_.pools ||
                        options_.pin_main == MainPlacement::Start || should_log(LogLevel::Info));
    auto nodes = whole ? facts_.complete_machine() : facts_.read_nodes();
    facts_.read_nodes = nullptr;
    if (whole) facts_.complete_machine = nullptr;
    if (nodes) {
      facts_.machine = std::move(*nodes);
    } else {
      // Named, not strerror's text: this may run inside malloc, and strerror's translation
      // takes the lock a setlocale that is allocating holds.
      const char* name = os::errno_name(nodes.error().code);
      facts_.topology_error = nodes.error().what + ": " + (name ? name : "error " + std::to_string(nodes.error().code));
      facts_.complete_machine = nullptr;
    }
  }
  if (!facts_.topology_error.empty())
    warn("cannot read the machine topology (" + facts_.topology_error + "); threads are not pinned");
  // The pools need only the nodes.
  if (facts_.topology_error.empty()) {
    if (auto started = pool::start(pool::pool_config(options_), facts_.machine); !started) warn(started.error().what);
  }
  // Placement now when it is needed from the start, or when the machine is already complete
  // (tests' fake machines); else on first use.
  if (!facts_.complete_machine || options_.pin_main == MainPlacement::Start || should_log(LogLevel::Info))
    ensure_placement();
  if (main_record_wanted_) record_main_thread();
}

void AgentRuntime::ensure_placement() {
  if (placement_ready_.load(std::memory_order_acquire)) return;
  placement_wanted_.store(true, std::memory_order_relaxed);
  ensure_started();
  std::call_once(placement_once_, [this] {
    build_placement();
    placement_ready_.store(true, std::memory_order_release);
  });
}

void AgentRuntime::build_placement() {
  if (facts_.complete_machine && facts_.topology_error.empty()) {
    auto whole = facts_.complete_machine();
    if (whole)
      facts_.machine = std::move(*whole);
    else {
      facts_.topology_error = whole.error().what + ": " + std::strerror(whole.error().code);
      warn("cannot read the machine topology (" + facts_.topology_error + "); threads are not pinned");
    }
  }
  facts_.complete_machine = nullptr;
  allowed_ = facts_.topology_error.empty() ? facts_.machine.restricted_to(facts_.allowed_cpus) : Topology();
  policy_ = PlacementPolicy::build(options_, allowed_, facts_.openmp_affinity_env);
  if (const auto& fallback = policy_.fallback_warning()) warn(*fallback);
  if (facts_.openmp_affinity_env && options_.honor_openmp)
    info(facts_.openmp_variable + " is set: the OpenMP runtime places its threads; the agent pins none");
  log_info_summary();
  // Main's record waited for the policy: when the policy never pins main, say why now (as a
  // start-up with placement would have), whether or not a thread is ever created.
  if (main_reason_deferred_ && !policy_.decide(0).pin) {
    main_placed_ = true;
    main_reason_deferred_ = false;
    registry_.update_placement(main_record_, false, facts_.allowed_cpus, node_of_mask(facts_.allowed_cpus),
                               policy_.decide(0).reason);
  }
}

void AgentRuntime::log_info_summary() {
  if (!should_log(LogLevel::Info)) return;
  info("numa-agent " NUMA_AGENT_VERSION " in pid " + std::to_string(facts_.pid) + "; options:\n" +
       describe_options(options_));
  info("topology: " + (facts_.topology_error.empty() ? facts_.machine.summary() : "unknown") +
       "; allowed cpus " + facts_.allowed_cpus.to_list_string());
  std::string slots;
  for (int c : policy_.slots()) slots += (slots.empty() ? "" : ",") + std::to_string(c);
  if (!policy_.stepped_aside())
    info("policy " + std::string(policy_.pin_text()) + ": slots " + slots);
  else
    info("policy " + std::string(policy_.pin_text()) + ": pinning nothing (" + *policy_.stepped_aside() + ")");
}

}  // namespace numa_agent
