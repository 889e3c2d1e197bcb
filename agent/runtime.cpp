#include "runtime.hpp"

#include "printable.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "os/os.hpp"
#include "pool/pool_runtime.hpp"

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

nlohmann::json topology_json(const Topology& t, const CpuSet& allowed) {
  nlohmann::json nodes = nlohmann::json::array();
  for (std::size_t i = 0; i < t.nodes().size(); ++i) {
    const auto& n = t.nodes()[i];
    nodes.push_back({{"index", i}, {"os_index", n.os_index}, {"cpus", n.cpus.to_list_string()},
                     {"memory_bytes", n.memory_bytes}});
  }
  nlohmann::json dist = nlohmann::json::array();
  for (int a = 0; a < t.distances().size(); ++a) {
    nlohmann::json row = nlohmann::json::array();
    for (int b = 0; b < t.distances().size(); ++b) row.push_back(t.distances().at(a, b));
    dist.push_back(row);
  }
  return {{"summary", t.summary()},      {"allowed_cpus", allowed.to_list_string()},
          {"nodes", nodes},              {"distances", dist},
          {"packages", t.package_count()}, {"cores", t.core_count()},
          {"pus", t.pus().size()}};
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
  std::string policy_warning;
  policy_ = PlacementPolicy::build(options_, allowed_, facts_.openmp_affinity_env, policy_warning);
  if (!policy_warning.empty()) warn(policy_warning);
  if (facts_.openmp_affinity_env && options_.honor_openmp)
    info(facts_.openmp_variable + " is set: the OpenMP runtime places its threads; the agent pins none");

  if (facts_.topology_error.empty()) {
    pool::PoolConfig config;
    config.enabled = options_.pools;
    config.small_max = options_.small_max;
    config.arena_bytes_per_node = options_.arena_size;
    config.sample_bytes = options_.sample;
    if (auto why = pool::start(config, facts_.machine); !why.empty()) warn(why);
  }
  log_info_summary();
}

AgentRuntime::~AgentRuntime() = default;

void AgentRuntime::warn(const std::string& text) {
  const std::string line = printable(text, 900);   // one line whatever a path or value holds
  warning_lines_.push_back(line);
  log_->warn(line);
}

void AgentRuntime::info(const std::string& line) { log_->info(line); }

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

void AgentRuntime::start_main_thread() {
  ThreadPlan plan{0, policy_.decide(0)};
  if (options_.pin_main == MainPlacement::Auto && plan.decision.pin) {
    plan.decision = PlacementDecision{};
    plan.decision.reason = PlacementReason::SingleThreaded;   // until it creates a thread
  } else {
    main_placed_ = true;
  }
  main_record_ = begin_thread(plan);
}

void AgentRuntime::place_main_now() {
  PlacementDecision d = policy_.decide(0);
  if (!d.pin) return;
  int rc = os::set_thread_affinity(facts_.pid, d.cpus);
  if (rc != 0) {
    warn("main thread: cannot pin to CPUs " + d.cpus.to_list_string() + ": " + std::strerror(-rc));
    registry_.update_placement(main_record_, false, facts_.allowed_cpus, -1, PlacementReason::PinFailed);
    return;
  }
  registry_.update_placement(main_record_, true, d.cpus, d.node, PlacementReason::Policy);
  // Main may have allocated before it was placed: its heap follows it to the new node.
  if (os::current_tid() == facts_.pid) pool::thread_placed();
  if (log_->should_log(spdlog::level::info))
    info("thread " + std::to_string(facts_.pid) + " ordinal 0: pinned to cpus " + d.cpus.to_list_string() +
         " (node " + std::to_string(d.node) + ") as it creates its first thread");
}

ThreadPlan AgentRuntime::plan_thread(bool caller_set_affinity) {
  if (!main_placed_.load(std::memory_order_relaxed) && !main_placed_.exchange(true)) place_main_now();
  ThreadPlan plan;
  plan.ordinal = next_ordinal_.fetch_add(1, std::memory_order_relaxed);
  if (caller_set_affinity) {
    plan.decision.reason = PlacementReason::CallerAffinity;
  } else {
    plan.decision = policy_.decide(plan.ordinal);
  }
  return plan;
}

std::size_t AgentRuntime::begin_thread(const ThreadPlan& plan) {
  ThreadRecord r;
  r.tid = os::current_tid();
  r.ordinal = plan.ordinal;
  r.start_ns = os::realtime_ns();
  r.reason = plan.decision.reason;
  if (plan.decision.pin) {
    int rc = os::set_current_thread_affinity(plan.decision.cpus);
    if (rc == 0) {
      r.pinned = true;
      r.node = plan.decision.node;
      pool::thread_placed();
    } else {
      r.reason = PlacementReason::PinFailed;
      warn("thread " + std::to_string(r.tid) + ": cannot pin to CPUs " +
           plan.decision.cpus.to_list_string() + ": " + std::strerror(-rc) + "; left where it is");
    }
  } else if (plan.decision.reason == PlacementReason::SkipMask && !facts_.allowed_cpus.empty()) {
    // A new thread inherits its creator's mask, which the agent narrowed; a skipped thread gets
    // the process's original CPUs, as it would have without the agent.
    os::set_current_thread_affinity(facts_.allowed_cpus);
    pool::thread_placed();
  }
  if (auto cpus = os::thread_affinity(0)) r.cpus = *cpus;
  if (r.node < 0) {
    // Unpinned: the node is known only when the whole mask sits on one node.
    int node = -1;
    for (int c = r.cpus.first(); c >= 0; c = r.cpus.next(c)) {
      int n = allowed_.node_of_cpu(c);
      if (node == -1) node = n;
      else if (n != node) { node = -1; break; }
    }
    r.node = node;
  }
  if (log_->should_log(spdlog::level::info))
    info("thread " + std::to_string(r.tid) + " ordinal " + std::to_string(r.ordinal) + ": " +
         (r.pinned ? "pinned to cpus " + r.cpus.to_list_string() + " (node " + std::to_string(r.node) + ")"
                   : "not pinned (" + std::string(to_string(r.reason)) + ")"));
  return registry_.add(std::move(r));
}

void AgentRuntime::end_thread(std::size_t record) {
  if (record == ThreadRegistry::kNoRecord) return;
  registry_.finish(record, os::realtime_ns(), os::current_cpu(), os::current_thread_name());
}

void AgentRuntime::before_fork() { registry_.lock_for_fork(); }
void AgentRuntime::after_fork_parent() { registry_.unlock_after_fork(); }
void AgentRuntime::after_fork_child() {
  registry_.unlock_after_fork();
  // The child is a new process: its one thread is its main thread, with the original CPUs back.
  if (!facts_.allowed_cpus.empty()) os::set_current_thread_affinity(facts_.allowed_cpus);
  facts_.pid = os::current_pid();
  start_ns_ = os::realtime_ns();
  registry_.clear();
  next_ordinal_ = 1;
  main_placed_ = false;
  ThreadPlan plan;
  plan.decision.reason = PlacementReason::SingleThreaded;
  main_record_ = begin_thread(plan);
}

std::string AgentRuntime::profile_path() const {
  std::string out;
  const std::string& p = options_.profile;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%' && i + 1 < p.size()) {
      if (p[i + 1] == 'p') { out += std::to_string(facts_.pid); ++i; continue; }
      if (p[i + 1] == '%') { out += '%'; ++i; continue; }
    }
    out += p[i];
  }
  return out;
}

nlohmann::json AgentRuntime::profile() const {
  nlohmann::json options = nlohmann::json::object();
  for (const auto& spec : option_table()) options[std::string(spec.variable)] = spec.show(options_);

  std::string slots_aside(policy_.stepped_aside());
  nlohmann::json policy = {{"pin", policy_.pin_text()},
                           {"slots", policy_.slots()},
                           {"bind", to_string(options_.bind)},
                           {"skip_mask", option_table()[1].show(options_)},
                           {"stepped_aside", slots_aside.empty() ? nlohmann::json(nullptr) : nlohmann::json(slots_aside)}};

  nlohmann::json threads = nlohmann::json::array();
  const int me = os::current_tid();
  for (const auto& r : registry_.snapshot()) {
    nlohmann::json t = {{"tid", r.tid},       {"name", r.name},     {"ordinal", r.ordinal},
                        {"pinned", r.pinned}, {"cpus", r.cpus.to_list_string()},
                        {"node", r.node},     {"reason", to_string(r.reason)},
                        {"start_ns", r.start_ns}};
    if (r.end_ns) {
      t["end_ns"] = *r.end_ns;
      t["last_cpu"] = r.last_cpu;
    } else {
      t["end_ns"] = nullptr;   // still running when the profile was written
      t["last_cpu"] = r.tid == me ? os::current_cpu() : os::thread_last_cpu(r.tid);
      if (t["name"].get<std::string>().empty()) t["name"] = os::thread_name(r.tid);
    }
    threads.push_back(std::move(t));
  }
  return {{"schema", "numa-agent-profile/1"},
          {"agent_version", NUMA_AGENT_VERSION},
          {"pid", facts_.pid},
          {"command", facts_.command},
          {"start_time_ns", start_ns_},
          {"end_time_ns", os::realtime_ns()},
          {"options", options},
          {"warnings", warning_lines_},
          {"topology", topology_json(facts_.topology_error.empty() ? allowed_ : Topology(), facts_.allowed_cpus)},
          {"policy", policy},
          {"threads", threads},
          {"threads_dropped", registry_.dropped()},
          {"pools", pool::profile_section()}};
}

std::string AgentRuntime::write_profile() {
  if (options_.profile.empty() || profile_written_.exchange(true)) return "";
  const std::string path = profile_path();
  std::string text;
  try {
    text = profile().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";   // argv may not be UTF-8
  } catch (const std::exception& e) {
    warn(std::string("cannot build the profile: ") + e.what());
    return "";
  }
  int rc = os::write_file_atomically(path, text);
  if (rc != 0) {
    warn("cannot write profile '" + path + "': " + std::strerror(-rc));
    return "";
  }
  info("profile written to " + path);
  return path;
}

}  // namespace numa_agent
