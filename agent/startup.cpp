// Start-up: what the runtime learns about the process and the machine (ProcessFacts::probe), and
// the runtime's construction from it: options, logger, placement policy, pools.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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

spdlog::level::level_enum spd_level(LogLevel l) {
  switch (l) {
    case LogLevel::Off: return spdlog::level::off;
    case LogLevel::Error: return spdlog::level::err;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Debug: return spdlog::level::debug;
  }
  return spdlog::level::warn;
}

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
  auto topo = os::load_topology({});
  if (topo) {
    f.machine = std::move(*topo);
  } else {
    f.topology_error = topo.error().what + ": " + std::strerror(topo.error().code);
  }
  f.command = os::command_line();
  return f;
}

AgentRuntime::AgentRuntime(ProcessFacts facts) : facts_(std::move(facts)) {
  start_ns_ = os::realtime_ns();
  auto parsed = parse_options(facts_.agent_variables, facts_.secure);
  options_ = std::move(parsed.options);
  warnings_ = std::move(parsed.warnings);

  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  log_ = std::make_shared<spdlog::logger>("numa-agent", sink);
  log_->set_pattern("numa-agent[%P]: %l: %v");
  log_->set_level(spd_level(options_.log));
  log_->flush_on(spdlog::level::trace);

  for (const auto& w : warnings_) warn(w.line());
  if (facts_.secure && !facts_.agent_variables.empty())
    info("secure execution (setuid/setgid): NUMA_AGENT_* variables ignored, defaults in force");

  if (!facts_.topology_error.empty()) {
    warn("cannot read the machine topology (" + facts_.topology_error + "); threads are not pinned");
    allowed_ = Topology();
  } else {
    allowed_ = facts_.machine.restricted_to(facts_.allowed_cpus);
  }
  policy_ = PlacementPolicy::build(options_, allowed_, facts_.openmp_affinity_env);
  if (const auto& fallback = policy_.fallback_warning()) warn(*fallback);
  if (facts_.openmp_affinity_env && options_.honor_openmp)
    info(facts_.openmp_variable + " is set: the OpenMP runtime places its threads; the agent pins none");

  if (facts_.topology_error.empty()) {
    if (auto started = pool::start(pool::pool_config(options_), facts_.machine); !started) warn(started.error().what);
  }
  log_info_summary();
}

void AgentRuntime::log_info_summary() {
  if (!log_->should_log(spdlog::level::info)) return;
  info("numa-agent " NUMA_AGENT_VERSION " in pid " + std::to_string(facts_.pid) + "; options:\n" +
       describe_options(options_));
  info("topology: " + (facts_.topology_error.empty() ? facts_.machine.summary() : "unknown") +
       "; allowed cpus " + facts_.allowed_cpus.to_list_string());
  std::string slots;
  for (int c : policy_.slots()) slots += (slots.empty() ? "" : ",") + std::to_string(c);
  if (policy_.stepped_aside().empty())
    info("policy " + std::string(policy_.pin_text()) + ": slots " + slots);
  else
    info("policy " + std::string(policy_.pin_text()) + ": pinning nothing (" + std::string(policy_.stepped_aside()) + ")");
}

}  // namespace numa_agent
