// The profile (agent/PROFILE_SCHEMA.md): built from the runtime's state at exit and written
// atomically to NUMA_AGENT_PROFILE.
#include <cstring>

#include "os/os.hpp"
#include "pool/pool_runtime.hpp"
#include "role_rules.hpp"
#include "runtime.hpp"

namespace numa_agent {
namespace {

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
  placement();   // the topology and slots below, if start-up left them for later
  nlohmann::json options = nlohmann::json::object();
  for (const auto& spec : option_table()) options[std::string(spec.variable)] = spec.show(options_);

  nlohmann::json policy = {{"pin", policy_.pin_text()},
                           {"slots", policy_.slots()},
                           {"bind", to_string(options_.bind)},
                           {"skip_mask", option_spec(OptionId::Skip).show(options_)},
                           {"stepped_aside", policy_.stepped_aside() ? nlohmann::json(*policy_.stepped_aside()) : nlohmann::json(nullptr)}};

  nlohmann::json threads = nlohmann::json::array();
  const int me = os::current_tid();
  std::size_t index = 0;
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
    t["rule"] = nullptr;   // placement by role: the rule that placed it last (a rename may move it)
    if (auto placed = policy_.roles() ? policy_.roles()->placement_of(index, r.tid) : std::nullopt)
      t.update({{"role", placed->role}, {"rule", placed->rule}, {"reason", "rule"}, {"pinned", placed->pinned},
                {"cpus", placed->cpus.to_list_string()}, {"node", placed->node}});
    ++index;
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
          {"roles", policy_.roles() ? policy_.roles()->profile_section() : nlohmann::json(nullptr)},
          {"threads", threads},
          {"threads_dropped", registry_.dropped()},
          {"pools", pool::profile_section()}};
}

Result<void> AgentRuntime::write_profile() {
  if (options_.profile.empty() || profile_written_.exchange(true)) return {};
  // What start-up left for later (the topology and policy: profile() builds them).
  if (facts_.command.empty()) facts_.command = os::command_line();
  const std::string path = profile_path();
  std::string text;
  try {
    text = profile().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";   // argv may not be UTF-8
  } catch (const std::exception& e) {
    Error error{0, std::string("cannot build the profile: ") + e.what()};
    warn(error.what);
    return fail(std::move(error));
  }
  if (int rc = os::write_file_atomically(path, text); rc != 0) {
    warn("cannot write profile '" + path + "': " + std::strerror(-rc));
    return fail(-rc, "cannot write profile '" + path + "'");
  }
  info("profile written to " + path);
  return {};
}

}  // namespace numa_agent
