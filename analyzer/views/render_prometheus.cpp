// See render_prometheus.hpp.
#include "analyzer/views/render_prometheus.hpp"

#include <charconv>
#include <cmath>
#include <sstream>
#include <utility>
#include <vector>

#include "analyzer/model/report.hpp"
#include "analyzer/views/format.hpp"
namespace numa_agent::analyzer {

using nlohmann::json;

std::string prometheus_label_escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

// Shortest text that parses back to the same double.
std::string value_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string help_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

// One metric family: HELP and TYPE once, then its samples; a family without samples is left out.
class Family {
 public:
  Family(std::string name, std::string type, std::string help)
      : name_(std::move(name)), type_(std::move(type)), help_(std::move(help)) {}
  // Adds a sample when `v` is a number; nulls and non-numbers are no sample.
  void add(const Labels& labels, const json& v) {
    if (!v.is_number() && !v.is_boolean()) return;
    double d = v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
    samples_ << name_;
    if (!labels.empty()) {
      samples_ << '{';
      for (std::size_t i = 0; i < labels.size(); ++i)
        samples_ << (i ? "," : "") << labels[i].first << "=\"" << prometheus_label_escape(labels[i].second) << '"';
      samples_ << '}';
    }
    samples_ << ' ' << value_text(d) << '\n';
    ++count_;
  }
  void write(std::ostringstream& out) const {
    if (!count_) return;
    out << "# HELP " << name_ << ' ' << help_escape(help_) << '\n' << "# TYPE " << name_ << ' ' << type_ << '\n'
        << samples_.str();
  }

 private:
  std::string name_, type_, help_;
  std::ostringstream samples_;
  int count_ = 0;
};

std::string label_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

}  // namespace

std::string render_report_prometheus(const json& report) {
  const json& ev = field(report, "evidence");
  const RecordingSummary rec = read_recording_summary(report);
  const std::vector<Recommendation> recommendations = read_recommendations(report);
  const Components comp = read_components(report);
  std::string program = "unknown";
  if (!rec.command.empty()) program = rec.command[0].substr(rec.command[0].find_last_of('/') + 1);
  const Labels base{{"program", program}};
  auto with = [&](Labels extra) {
    Labels l = base;
    l.insert(l.end(), extra.begin(), extra.end());
    return l;
  };

  Family info("numa_agent_report_info", "gauge",
              "Constant 1; labels describe the report (schema, evidence behind locality, confidence, kernel)");
  info.add(with({{"schema", label_text(field(report, "schema"))},
                 {"locality_source", label_text(field(ev, "locality_source"))},
                 {"confidence", label_text(field(ev, "confidence"))},
                 {"kernel", label_text(field(field(report, "machine"), "kernel"))},
                 {"tool_version", rec.tool_version}}),
           1);
  Family score("numa_agent_score", "gauge", "NUMA efficiency score, 0-100 (absent when null: one node or no evidence)");
  score.add(base, field(report, "score"));
  Family locality("numa_agent_locality_ratio", "gauge", "Share (0-1) of sampled accesses served by the accessing thread's own node");
  locality.add(base, nullable(comp.locality));
  Family remote("numa_agent_remote_access_ratio", "gauge", "Share (0-1) of sampled accesses served by another node");
  remote.add(base, nullable(comp.remote_share));
  // The interval and coverage are present also when the share is unknown (remote_access_ratio absent).
  Family remote_low("numa_agent_remote_access_ratio_low", "gauge", "Lower end of the 95 % interval of the remote share");
  Family remote_high("numa_agent_remote_access_ratio_high", "gauge", "Upper end of the 95 % interval of the remote share");
  if (comp.remote_share_interval) {
    remote_low.add(base, comp.remote_share_interval->low);
    remote_high.add(base, comp.remote_share_interval->high);
  }
  Family coverage("numa_agent_access_coverage_ratio", "gauge",
                  "Share (0-1) of the counted resident bytes that access evidence saw (below 0.5 the share is unknown)");
  if (comp.coverage) coverage.add(base, comp.coverage->share);
  Family stability("numa_agent_stability_ratio", "gauge", "1 / (1 + cross-node migrations per thread-second)");
  stability.add(base, nullable(comp.stability));
  Family balance("numa_agent_balance_ratio", "gauge", "1 - CV(per-node traffic) / sqrt(nodes - 1); 1 is even");
  balance.add(base, nullable(comp.balance));
  Family duration("numa_agent_recording_duration_seconds", "gauge", "Length of the recording the report scores");
  duration.add(base, rec.duration_s);
  Family agent("numa_agent_under_agent", "gauge", "1 when the program ran under libnumaagent.so");
  agent.add(base, rec.agent);

  Family node_capacity("numa_agent_node_memory_bytes", "gauge", "Memory of the NUMA node (capacity)");
  for (const auto& n : field(field(report, "machine"), "nodes"))
    node_capacity.add(with({{"node", label_text(field(n, "node"))}}), field(n, "memory_bytes"));
  Family node_bytes("numa_agent_node_resident_bytes", "gauge", "Memory of the program resident on the node (numa_maps)");
  Family node_threads("numa_agent_node_threads", "gauge", "Threads whose home (most frequent) node is this node");
  Family served("numa_agent_node_accesses_served_total", "counter",
                "Sampled memory accesses served by the node's memory during the recording");
  Family issued("numa_agent_node_accesses_issued_total", "counter",
                "Sampled memory accesses issued by the node's CPUs during the recording");
  for (const auto& n : comp.nodes) {
    Labels l = with({{"node", std::to_string(n.node)}});
    node_bytes.add(l, n.resident_bytes);
    node_threads.add(l, n.threads);
    served.add(l, n.accesses_served);
    issued.add(l, n.accesses_issued);
  }

  Family thread_locality("numa_agent_thread_locality_ratio", "gauge", "Share (0-1) of the thread's sampled accesses that were local");
  Family thread_residency("numa_agent_thread_residency_ratio", "gauge", "Share (0-1) of the thread's time on the node's CPUs");
  Family thread_node_migr("numa_agent_thread_node_migrations_total", "counter", "Moves of the thread to another node's CPU");
  Family thread_cpu_migr("numa_agent_thread_cpu_migrations_total", "counter", "Moves of the thread to another CPU");
  Family thread_life("numa_agent_thread_lifetime_seconds", "gauge", "How long the thread was seen during the recording");
  for (const auto& t : field(report, "threads")) {
    Labels l = with({{"tid", label_text(field(t, "tid"))}, {"thread", label_text(field(t, "name"))}});
    thread_locality.add(l, field(t, "locality"));
    thread_node_migr.add(l, field(t, "node_migrations"));
    thread_cpu_migr.add(l, field(t, "cpu_migrations"));
    thread_life.add(l, field(t, "lifetime_s"));
    if (field(t, "residency").is_object())
      for (auto& [node, share] : t["residency"].items()) {
        Labels ln = l;
        ln.emplace_back("node", node);
        thread_residency.add(ln, share);
      }
  }

  Family recs("numa_agent_recommendations", "gauge", "Number of recommendations in the report");
  recs.add(base, static_cast<double>(recommendations.size()));
  Family rec_share("numa_agent_recommendation_remote_cost_share_ratio", "gauge",
                   "Estimated share (0-1) of the remote-access cost the recommendation removes");
  for (const auto& r : recommendations)
    rec_share.add(with({{"rank", std::to_string(r.rank)}, {"kind", r.kind}, {"rule", r.rule.id}}),
                  r.estimated_gain.share_of_remote_cost);

  Family kernel_events("numa_agent_kernel_numa_events_total", "counter",
                       "/proc/vmstat numa_* counter increase during the recording (system-wide)");
  if (field(ev, "vmstat_delta").is_object())
    for (auto& [name, v] : ev["vmstat_delta"].items()) kernel_events.add(with({{"event", name}}), v);
  Family samples("numa_agent_samples_total", "counter", "Samples numa-analyze took during the recording, by kind");
  if (field(ev, "samples").is_object())
    for (auto& [name, v] : ev["samples"].items()) samples.add(with({{"kind", name}}), v);

  std::ostringstream out;
  for (const Family* f : {&info, &score, &locality, &remote, &remote_low, &remote_high, &coverage, &stability, &balance, &duration, &agent, &node_capacity,
                          &node_bytes, &node_threads, &served, &issued, &thread_locality, &thread_residency,
                          &thread_node_migr, &thread_cpu_migr, &thread_life, &recs, &rec_share, &kernel_events, &samples})
    f->write(out);
  return out.str();
}

}  // namespace numa_agent::analyzer
