// See compare.hpp.
#include "analyzer/rules/compare.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "analyzer/model/json_field.hpp"
#include "analyzer/model/report.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

json delta(const json& before, const json& after) {
  if (!before.is_number() || !after.is_number()) return nullptr;
  double d = after.get<double>() - before.get<double>();
  return std::round(d * 10000) / 10000;
}

json change(const json& before, const json& after) {
  return {{"before", before}, {"after", after}, {"delta", delta(before, after)}};
}

// Threads keyed by name and occurrence ("worker#2"): TIDs differ between runs, the report lists
// threads in the order they appeared.
std::map<std::string, const json*> threads_by_key(const json& report, std::vector<std::string>& order) {
  std::map<std::string, const json*> out;
  std::map<std::string, int> seen;
  for (const auto& t : field(report, "threads")) {
    std::string name = field(t, "name").is_string() ? t["name"].get<std::string>() : "?";
    std::string key = name + "#" + std::to_string(++seen[name]);
    out[key] = &t;
    order.push_back(key);
  }
  return out;
}

json thread_side(const json* t) {
  if (!t) return nullptr;
  return {{"tid", field(*t, "tid")}, {"home_node", field(*t, "home_node")}, {"locality", field(*t, "locality")},
          {"node_migrations", field(*t, "node_migrations")}, {"score", field(*t, "score")}};
}

std::string replace_numbers(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, 2, "0x") == 0) {
      i += 2;
      while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i;
      out += '#';
    } else if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
      out += '#';
    } else {
      out += s[i++];
    }
  }
  return out;
}

json recommendation_summary(const json& r, const std::string& key) {
  return {{"key", key}, {"kind", field(r, "kind")}, {"rank", field(r, "rank")}, {"title", field(r, "title")},
          {"command", field(r, "command")}, {"share_of_remote_cost", field(field(r, "estimated_gain"), "share_of_remote_cost")}};
}

}  // namespace

std::string recommendation_key(const json& r, const json& report) {
  std::string kind = field(r, "kind").is_string() ? r["kind"].get<std::string>() : "?";
  if (kind == "pin-threads" || kind == "use-agent") return kind;
  if (field(r, "mapping").is_string()) {
    for (const auto& m : field(report, "mappings"))
      if (field(m, "start") == r["mapping"])
        return kind + " " + (field(m, "name").is_string() ? m["name"].get<std::string>() : "?") + " " + field(m, "bytes").dump();
  }
  if (field(r, "site").is_string()) return kind + " " + r["site"].get<std::string>();
  return kind + " " + replace_numbers(field(r, "title").is_string() ? r["title"].get<std::string>() : "");
}

json compare_reports(const json& before, const json& after, const std::string& before_name, const std::string& after_name) {
  json out;
  out["schema"] = kCompareSchema;
  auto side = [](const json& report, const std::string& name) {
    const json& rec = field(field(report, "evidence"), "recording");
    return json{{"file", name}, {"program", read_recording_summary(report).program()}, {"pid", field(rec, "pid")},
                {"duration_s", field(rec, "duration_s")}, {"agent", field(rec, "agent")},
                {"locality_source", field(field(report, "evidence"), "locality_source")},
                {"confidence", field(field(report, "evidence"), "confidence")},
                {"score_note", nullable(read_components(report).score_note)}};
  };
  out["before"] = side(before, before_name);
  out["after"] = side(after, after_name);
  out["score"] = change(field(before, "score"), field(after, "score"));
  const Components bc = read_components(before), ac = read_components(after);
  out["components"] = {{"locality", change(nullable(bc.locality), nullable(ac.locality))},
                       {"remote_share", change(nullable(bc.remote_share), nullable(ac.remote_share))},
                       {"stability", change(nullable(bc.stability), nullable(ac.stability))},
                       {"balance", change(nullable(bc.balance), nullable(ac.balance))}};

  // Per node, by node index (both reports must describe the same machine shape to line up).
  json nodes = json::array();
  auto node_value = [](const Components& c, std::size_t i, auto member) {
    return i < c.nodes.size() ? json(c.nodes[i].*member) : json(nullptr);
  };
  auto node_change = [&](std::size_t i, auto member) { return change(node_value(bc, i, member), node_value(ac, i, member)); };
  for (std::size_t i = 0; i < std::max(bc.nodes.size(), ac.nodes.size()); ++i)
    nodes.push_back({{"node", i},
                     {"threads", node_change(i, &NodeSummary::threads)},
                     {"resident_pages", node_change(i, &NodeSummary::resident_pages)},
                     {"accesses_served", node_change(i, &NodeSummary::accesses_served)},
                     {"accesses_issued", node_change(i, &NodeSummary::accesses_issued)}});
  out["nodes"] = nodes;

  // Threads.
  std::vector<std::string> border, aorder;
  auto before_threads = threads_by_key(before, border);
  auto after_threads = threads_by_key(after, aorder);
  std::vector<std::string> keys = border;
  for (const auto& k : aorder)
    if (!before_threads.count(k)) keys.push_back(k);
  json threads = json::array();
  for (const auto& key : keys) {
    const json* b = before_threads.count(key) ? before_threads[key] : nullptr;
    const json* a = after_threads.count(key) ? after_threads[key] : nullptr;
    const json* any = b ? b : a;
    threads.push_back({{"key", key},
                       {"name", field(*any, "name")},
                       {"status", b && a ? "both" : b ? "only-before" : "only-after"},
                       {"before", thread_side(b)},
                       {"after", thread_side(a)},
                       {"locality_delta", b && a ? delta(field(*b, "locality"), field(*a, "locality")) : json(nullptr)},
                       {"home_node_changed", b && a && field(*b, "home_node") != field(*a, "home_node")}});
  }
  out["threads"] = threads;

  // Recommendations.
  std::map<std::string, const json*> brec, arec;
  for (const auto& r : field(before, "recommendations")) brec.emplace(recommendation_key(r, before), &r);
  for (const auto& r : field(after, "recommendations")) arec.emplace(recommendation_key(r, after), &r);
  json resolved = json::array(), fresh = json::array(), persisting = json::array();
  for (const auto& r : field(before, "recommendations")) {
    std::string key = recommendation_key(r, before);
    if (!arec.count(key)) resolved.push_back(recommendation_summary(r, key));
  }
  for (const auto& r : field(after, "recommendations")) {
    std::string key = recommendation_key(r, after);
    if (!brec.count(key)) {
      fresh.push_back(recommendation_summary(r, key));
    } else {
      json entry = recommendation_summary(r, key);
      entry["before_rank"] = field(*brec[key], "rank");
      persisting.push_back(entry);
    }
  }
  out["recommendations"] = {{"resolved", resolved}, {"new", fresh}, {"persisting", persisting}};

  json notes = json::array();
  if (field(field(before, "machine"), "nodes").size() != field(field(after, "machine"), "nodes").size())
    notes.push_back("the two reports come from machines with different node counts; per-node rows do not line up");
  if (field(field(before, "evidence"), "locality_source") != field(field(after, "evidence"), "locality_source"))
    notes.push_back("locality comes from different evidence (" + field(field(before, "evidence"), "locality_source").dump() +
                    " before, " + field(field(after, "evidence"), "locality_source").dump() +
                    " after): the locality delta mixes two measurements");
  out["notes"] = notes;
  return out;
}

GateOutcome evaluate_gates(const json& c, const CompareGates& gates) {
  const json& s = field(c, "score");
  char buf[256];
  if (gates.fail_below) {
    if (!field(s, "after").is_number())
      return {2, "--fail-below: AFTER has no score (" + (field(field(c, "after"), "score_note").is_string()
                                                             ? field(field(c, "after"), "score_note").get<std::string>()
                                                             : std::string("null")) + ")"};
    double after = s["after"].get<double>();
    if (after < *gates.fail_below) {
      std::snprintf(buf, sizeof buf, "AFTER's score %.1f is below %.1f (--fail-below)", after, *gates.fail_below);
      return {1, buf};
    }
  }
  if (gates.fail_if_worse) {
    if (!field(s, "delta").is_number())
      return {2, "--fail-if-worse: a score is missing (before " + field(s, "before").dump() + ", after " +
                     field(s, "after").dump() + ")"};
    double drop = -s["delta"].get<double>();
    if (drop > *gates.fail_if_worse) {
      std::snprintf(buf, sizeof buf, "score dropped by %.1f (%.1f -> %.1f), more than %.1f (--fail-if-worse)", drop,
                    s["before"].get<double>(), s["after"].get<double>(), *gates.fail_if_worse);
      return {1, buf};
    }
  }
  return {};
}

}  // namespace numa_agent::analyzer
