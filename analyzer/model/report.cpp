// See report.hpp.
#include "analyzer/model/report.hpp"

#include <cstdio>

#include "analyzer/model/json_field.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

std::optional<int> read_optional_int(const json& j, const char* key) {
  const json& v = field(j, key);
  return v.is_number_integer() ? std::optional<int>(v.get<int>()) : std::nullopt;
}

std::optional<std::string> read_optional_string(const json& j, const char* key) {
  const json& v = field(j, key);
  return v.is_string() ? std::optional<std::string>(v.get<std::string>()) : std::nullopt;
}

std::optional<double> read_optional_number(const json& j, const char* key) {
  const json& v = field(j, key);
  return v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt;
}

}  // namespace

std::string share_interval_text(double value, double low, double high) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%.1f %% [%.1f\u2013%.1f %%]", value * 100.0, low * 100.0, high * 100.0);
  return buf;
}

namespace {
json interval_json(const std::optional<Interval>& i) {
  return i ? json{{"low", i->low}, {"high", i->high}} : json(nullptr);
}
std::optional<Interval> read_interval(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_object() || !field(v, "low").is_number() || !field(v, "high").is_number()) return std::nullopt;
  return Interval{v["low"].get<double>(), v["high"].get<double>()};
}
}  // namespace

json nullable(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
json nullable(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::string RecordingSummary::program() const {
  std::string out;
  for (const auto& a : command) out += (out.empty() ? "" : " ") + a;
  return out;
}

json recording_summary_json(const RecordingSummary& s) {
  return {{"mode", s.mode},
          {"command", s.command},
          {"pid", s.pid},
          {"duration_s", s.duration_s},
          {"stop_reason", s.stop_reason},
          {"exit_code", s.exit_code ? json(*s.exit_code) : json(nullptr)},
          {"exit_signal", s.exit_signal ? json(*s.exit_signal) : json(nullptr)},
          {"agent", s.agent},
          {"tool_version", s.tool_version}};
}

RecordingSummary read_recording_summary(const json& report) {
  const json& j = field(field(report, "evidence"), "recording");
  RecordingSummary s;
  s.mode = field_or(j, "mode", std::string());
  for (const auto& a : field(j, "command"))
    if (a.is_string()) s.command.push_back(a.get<std::string>());
  s.pid = field_or(j, "pid", 0);
  s.duration_s = field_or(j, "duration_s", 0.0);
  s.stop_reason = field_or(j, "stop_reason", std::string());
  s.exit_code = read_optional_int(j, "exit_code");
  s.exit_signal = read_optional_int(j, "exit_signal");
  s.agent = field_or(j, "agent", false);
  s.tool_version = field_or(j, "tool_version", std::string());
  return s;
}

json components_json(const Components& c) {
  json nodes = json::array();
  for (const auto& n : c.nodes)
    nodes.push_back({{"node", n.node}, {"resident_pages", n.resident_pages}, {"resident_bytes", n.resident_bytes},
                     {"accesses_served", n.accesses_served}, {"accesses_issued", n.accesses_issued},
                     {"threads", n.threads}});
  json j = {{"locality", nullable(c.locality)},     {"remote_share", nullable(c.remote_share)},
            {"stability", nullable(c.stability)},   {"balance", nullable(c.balance)},
            {"score_note", nullable(c.score_note)}, {"details", c.details},
            {"nodes", nodes}};
  if (c.recommendation_note) j["recommendation_note"] = *c.recommendation_note;
  j["remote_share_interval"] = interval_json(c.remote_share_interval);
  j["remote_share_estimate"] = nullable(c.remote_share_estimate);
  j["score_interval"] = interval_json(c.score_interval);
  j["unknown_note"] = nullable(c.unknown_note);
  j["coverage"] = c.coverage ? json{{"share", c.coverage->share},
                                    {"counted_bytes", c.coverage->counted_bytes},
                                    {"covered_bytes", c.coverage->covered_bytes},
                                    {"not_counted_bytes", c.coverage->not_counted_bytes},
                                    {"known", c.coverage->known}}
                             : json(nullptr);
  return j;
}

Components read_components(const json& report) {
  const json& j = field(report, "components");
  Components c;
  c.locality = read_optional_number(j, "locality");
  c.remote_share = read_optional_number(j, "remote_share");
  c.stability = read_optional_number(j, "stability");
  c.balance = read_optional_number(j, "balance");
  c.score_note = read_optional_string(j, "score_note");
  c.recommendation_note = read_optional_string(j, "recommendation_note");
  c.remote_share_interval = read_interval(j, "remote_share_interval");
  c.remote_share_estimate = read_optional_number(j, "remote_share_estimate");
  c.score_interval = read_interval(j, "score_interval");
  c.unknown_note = read_optional_string(j, "unknown_note");
  if (const json& cov = field(j, "coverage"); cov.is_object())
    c.coverage = Coverage{field_or(cov, "share", 0.0), field_or<std::uint64_t>(cov, "counted_bytes", 0),
                          field_or<std::uint64_t>(cov, "covered_bytes", 0),
                          field_or<std::uint64_t>(cov, "not_counted_bytes", 0), field_or(cov, "known", false)};
  for (const auto& n : field(j, "nodes"))
    c.nodes.push_back({field_or(n, "node", 0), field_or<std::uint64_t>(n, "resident_pages", 0),
                       field_or<std::uint64_t>(n, "resident_bytes", 0), field_or(n, "accesses_served", 0.0),
                       field_or(n, "accesses_issued", 0.0), field_or(n, "threads", 0)});
  if (field(j, "details").is_object()) c.details = j["details"];
  return c;
}

json recommendation_json(const Recommendation& r) {
  const EstimatedGain& g = r.estimated_gain;
  json j = {{"rank", r.rank},
            {"kind", r.kind},
            {"title", r.title},
            {"evidence", r.evidence},
            {"command", r.command},
            {"estimated_gain",
             {{"cost", g.cost}, {"cost_low", g.cost_low}, {"cost_high", g.cost_high}, {"unit", g.unit},
              {"share_of_remote_cost", g.share_of_remote_cost},
              {"upper_bound", g.upper_bound}}},
            {"rule",
             {{"id", r.rule.id}, {"condition", r.rule.condition}, {"threshold", r.rule.threshold},
              {"source", r.rule.source}}}};
  if (r.mapping) j["mapping"] = *r.mapping;
  if (r.site) j["site"] = *r.site;
  if (r.tids) j["tids"] = *r.tids;
  return j;
}

json agent_placement_json(const AgentThreadRecord& a) {
  json j = {{"pinned", a.pinned}, {"cpus", a.cpus}, {"node", a.node}, {"reason", a.reason}};
  if (a.role) j["role"] = *a.role;
  return j;
}

std::optional<std::string> thread_role(const json& thread) { return read_optional_string(field(thread, "agent"), "role"); }

std::vector<Recommendation> read_recommendations(const json& report) {
  std::vector<Recommendation> out;
  for (const auto& j : field(report, "recommendations")) {
    Recommendation r;
    r.rank = field_or(j, "rank", 0);
    r.kind = field_or(j, "kind", std::string());
    r.title = field_or(j, "title", std::string());
    r.evidence = field_or(j, "evidence", std::string());
    r.command = field_or(j, "command", std::string());
    const json& g = field(j, "estimated_gain");
    r.estimated_gain = {field_or(g, "cost", 0.0), field_or(g, "cost_low", 0.0), field_or(g, "cost_high", 0.0),
                        field_or(g, "unit", std::string()),
                        field_or(g, "share_of_remote_cost", 0.0), field_or(g, "upper_bound", false)};
    const json& rule = field(j, "rule");
    r.rule = {field_or(rule, "id", std::string()), field_or(rule, "condition", std::string()),
              field_or(rule, "threshold", 0.0), field_or(rule, "source", std::string())};
    r.mapping = read_optional_string(j, "mapping");
    r.site = read_optional_string(j, "site");
    if (field(j, "tids").is_array()) {
      r.tids.emplace();
      for (const auto& t : j["tids"])
        if (t.is_number_integer()) r.tids->push_back(t.get<int>());
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace numa_agent::analyzer
