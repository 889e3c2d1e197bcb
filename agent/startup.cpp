// Start-up: what the runtime learns about the process and the machine (ProcessFacts::probe), and
// the runtime's construction from it: options, log, pools, and (now or on first use) placement.
// Every process of a tree under LD_PRELOAD runs this: it reads the environment, the affinity and
// 2 + 2 x nodes sysfs files, and loads no library (bench/README.md, "exec storm").
#include <array>
#include <cstring>

#include "os/os.hpp"
#include "pool/pool_runtime.hpp"
#include "printable.hpp"
#include "runtime.hpp"

namespace numa_agent {
namespace {

constexpr std::array<std::string_view, 4> kOpenMpAffinityVariables{
    "OMP_PLACES", "OMP_PROC_BIND", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"};

}  // namespace

ProcessFacts ProcessFacts::probe() {
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
  const SysfsReader read = os::sysfs_reader();
  if (auto nodes = node_layout_from_sysfs(read)) {
    f.machine = std::move(*nodes);
    f.complete_machine = [read] { return topology_from_sysfs(read); };
  } else {
    f.topology_error = nodes.error().what + ": " + std::strerror(nodes.error().code);
  }
  return f;
}

AgentRuntime::AgentRuntime(ProcessFacts facts) : facts_(std::move(facts)) {
  start_ns_ = os::realtime_ns();
  auto parsed = parse_options(facts_.agent_variables, facts_.secure);
  options_ = std::move(parsed.options);
  warnings_ = std::move(parsed.warnings);

  for (const auto& w : warnings_) warn(w.line());
  if (facts_.secure && !facts_.agent_variables.empty())
    info("secure execution (setuid/setgid): NUMA_AGENT_* variables ignored, defaults in force");

  if (!facts_.topology_error.empty())
    warn("cannot read the machine topology (" + facts_.topology_error + "); threads are not pinned");
  // The pools need only the nodes, which probe() has read.
  if (facts_.topology_error.empty()) {
    if (auto started = pool::start(pool::pool_config(options_), facts_.machine); !started) warn(started.error().what);
  }
  // Placement now when it is needed from the start, or when the machine is already complete
  // (tests' fake machines); else on first use.
  if (!facts_.complete_machine || options_.pin_main == MainPlacement::Start || should_log(LogLevel::Info))
    ensure_placement();
}

void AgentRuntime::ensure_placement() {
  if (placement_ready_.load(std::memory_order_acquire)) return;
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
