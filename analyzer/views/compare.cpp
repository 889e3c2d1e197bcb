// See compare.hpp.
#include "analyzer/views/compare.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "agent/os/procfs.hpp"
#include "analyzer/model/recording.hpp"
#include "analyzer/model/report.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

const json& at(const json& j, const char* key) {
  static const json null_value;
  return j.is_object() && j.contains(key) ? j[key] : null_value;
}

json delta(const json& before, const json& after) {
  if (!before.is_number() || !after.is_number()) return nullptr;
  double d = after.get<double>() - before.get<double>();
  return std::round(d * 10000) / 10000;
}

json change(const json& before, const json& after) {
  return {{"before", before}, {"after", after}, {"delta", delta(before, after)}};
}

// A report must carry these with these types to be rendered at all.
void validate_report(const json& j, const std::string& origin) {
  auto need = [&](const char* key, bool ok) {
    if (!ok) throw ReportInputError(origin + ": corrupt report: \"" + key + "\" is missing or has the wrong type");
  };
  need("score", j.contains("score") && (j["score"].is_number() || j["score"].is_null()));
  need("components", j.contains("components") && j["components"].is_object());
  need("machine", j.contains("machine") && j["machine"].is_object() && at(j["machine"], "nodes").is_array());
  need("threads", j.contains("threads") && j["threads"].is_array());
  need("mappings", j.contains("mappings") && j["mappings"].is_array());
  need("recommendations", j.contains("recommendations") && j["recommendations"].is_array());
  need("evidence", j.contains("evidence") && j["evidence"].is_object());
  for (const auto& t : j["threads"])
    if (!t.is_object() || !t.contains("tid") || !t["tid"].is_number_integer())
      throw ReportInputError(origin + ": corrupt report: a thread without a numeric \"tid\"");
  for (const auto& r : j["recommendations"])
    if (!r.is_object() || !at(r, "kind").is_string() || !at(r, "title").is_string())
      throw ReportInputError(origin + ": corrupt report: a recommendation without \"kind\" and \"title\"");
}

std::string program_of(const json& report) {
  std::string out;
  for (const auto& a : at(at(at(report, "evidence"), "recording"), "command"))
    if (a.is_string()) out += (out.empty() ? "" : " ") + a.get<std::string>();
  return out;
}

// Threads keyed by name and occurrence ("worker#2"): TIDs differ between runs, the report lists
// threads in the order they appeared.
std::map<std::string, const json*> threads_by_key(const json& report, std::vector<std::string>& order) {
  std::map<std::string, const json*> out;
  std::map<std::string, int> seen;
  for (const auto& t : at(report, "threads")) {
    std::string name = at(t, "name").is_string() ? t["name"].get<std::string>() : "?";
    std::string key = name + "#" + std::to_string(++seen[name]);
    out[key] = &t;
    order.push_back(key);
  }
  return out;
}

json thread_side(const json* t) {
  if (!t) return nullptr;
  return {{"tid", at(*t, "tid")}, {"home_node", at(*t, "home_node")}, {"locality", at(*t, "locality")},
          {"node_migrations", at(*t, "node_migrations")}, {"score", at(*t, "score")}};
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
  return {{"key", key}, {"kind", at(r, "kind")}, {"rank", at(r, "rank")}, {"title", at(r, "title")},
          {"command", at(r, "command")}, {"share_of_remote_cost", at(at(r, "estimated_gain"), "share_of_remote_cost")}};
}

std::string pct(const json& share) {
  if (!share.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", share.get<double>() * 100.0);
  return buf;
}

std::string num(const json& v, const char* fmt = "%.1f") {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

std::string signed_num(const json& v, double scale, const char* unit) {
  if (!v.is_number()) return "";
  char buf[48];
  std::snprintf(buf, sizeof buf, "  (%+.1f%s)", v.get<double>() * scale, unit);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() >= width) return s.substr(0, width - 1) + " ";
  s.resize(width, ' ');
  return s;
}

}  // namespace

json report_model_from_text(const std::string& text, const std::string& origin) {
  if (text.empty()) throw ReportInputError(origin + ": empty file, not a numa-analyze recording or report");
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ReportInputError(origin + ": not a numa-analyze recording or report (truncated or corrupt JSON)");
  if (!j.is_object() || !at(j, "schema").is_string())
    throw ReportInputError(origin + ": not a numa-analyze recording or report (no \"schema\" key)");
  std::string schema = j["schema"];
  if (schema.starts_with(std::string(kRecordingSchemaName) + "/")) {
    try {
      return build_report(parse_recording(text, origin));
    } catch (const RecordingError& e) {
      throw ReportInputError(e.what());
    }
  }
  const std::string prefix = "numa-analyze-report/";
  if (!schema.starts_with(prefix))
    throw ReportInputError(origin + ": a '" + schema + "' file, not a numa-analyze recording or report");
  if (schema != kReportSchema)
    throw ReportInputError(origin + ": report format '" + schema + "' is not supported by this numa-analyze (reads " +
                           kReportSchema + ")");
  validate_report(j, origin);
  return j;
}

json load_report_model(const std::string& path) {
  auto text = os::read_text_file(path);
  if (auto* err = (text ? nullptr : &text.error()))
    throw ReportInputError("cannot read " + path + ": " + std::strerror(err->code) + " (" + errno_name(err->code) + ")");
  return report_model_from_text((*text), path);
}

std::string recommendation_key(const json& r, const json& report) {
  std::string kind = at(r, "kind").is_string() ? r["kind"].get<std::string>() : "?";
  if (kind == "pin-threads" || kind == "use-agent") return kind;
  if (at(r, "mapping").is_string()) {
    for (const auto& m : at(report, "mappings"))
      if (at(m, "start") == r["mapping"])
        return kind + " " + (at(m, "name").is_string() ? m["name"].get<std::string>() : "?") + " " + at(m, "bytes").dump();
  }
  if (at(r, "site").is_string()) return kind + " " + r["site"].get<std::string>();
  return kind + " " + replace_numbers(at(r, "title").is_string() ? r["title"].get<std::string>() : "");
}

json compare_reports(const json& before, const json& after, const std::string& before_name, const std::string& after_name) {
  json out;
  out["schema"] = kCompareSchema;
  auto side = [](const json& report, const std::string& name) {
    const json& rec = at(at(report, "evidence"), "recording");
    return json{{"file", name}, {"program", program_of(report)}, {"pid", at(rec, "pid")},
                {"duration_s", at(rec, "duration_s")}, {"agent", at(rec, "agent")},
                {"locality_source", at(at(report, "evidence"), "locality_source")},
                {"confidence", at(at(report, "evidence"), "confidence")},
                {"score_note", at(at(report, "components"), "score_note")}};
  };
  out["before"] = side(before, before_name);
  out["after"] = side(after, after_name);
  out["score"] = change(at(before, "score"), at(after, "score"));
  json components = json::object();
  for (const char* k : {"locality", "remote_share", "stability", "balance"})
    components[k] = change(at(at(before, "components"), k), at(at(after, "components"), k));
  out["components"] = components;

  // Per node, by node index (both reports must describe the same machine shape to line up).
  json nodes = json::array();
  const json& bn = at(at(before, "components"), "nodes");
  const json& an = at(at(after, "components"), "nodes");
  std::size_t node_count = std::max(bn.is_array() ? bn.size() : 0, an.is_array() ? an.size() : 0);
  for (std::size_t i = 0; i < node_count; ++i) {
    const json& b = bn.is_array() && i < bn.size() ? bn[i] : json();
    const json& a = an.is_array() && i < an.size() ? an[i] : json();
    json entry = {{"node", i}};
    for (const char* k : {"threads", "resident_pages", "accesses_served", "accesses_issued"})
      entry[k] = change(at(b, k), at(a, k));
    nodes.push_back(entry);
  }
  out["nodes"] = nodes;

  // Threads.
  std::vector<std::string> border, aorder;
  auto bt = threads_by_key(before, border);
  auto at_ = threads_by_key(after, aorder);
  std::vector<std::string> keys = border;
  for (const auto& k : aorder)
    if (!bt.count(k)) keys.push_back(k);
  json threads = json::array();
  for (const auto& key : keys) {
    const json* b = bt.count(key) ? bt[key] : nullptr;
    const json* a = at_.count(key) ? at_[key] : nullptr;
    const json* any = b ? b : a;
    threads.push_back({{"key", key},
                       {"name", at(*any, "name")},
                       {"status", b && a ? "both" : b ? "only-before" : "only-after"},
                       {"before", thread_side(b)},
                       {"after", thread_side(a)},
                       {"locality_delta", b && a ? delta(at(*b, "locality"), at(*a, "locality")) : json(nullptr)},
                       {"home_node_changed", b && a && at(*b, "home_node") != at(*a, "home_node")}});
  }
  out["threads"] = threads;

  // Recommendations.
  std::map<std::string, const json*> brec, arec;
  for (const auto& r : at(before, "recommendations")) brec.emplace(recommendation_key(r, before), &r);
  for (const auto& r : at(after, "recommendations")) arec.emplace(recommendation_key(r, after), &r);
  json resolved = json::array(), fresh = json::array(), persisting = json::array();
  for (const auto& r : at(before, "recommendations")) {
    std::string key = recommendation_key(r, before);
    if (!arec.count(key)) resolved.push_back(recommendation_summary(r, key));
  }
  for (const auto& r : at(after, "recommendations")) {
    std::string key = recommendation_key(r, after);
    if (!brec.count(key)) {
      fresh.push_back(recommendation_summary(r, key));
    } else {
      json entry = recommendation_summary(r, key);
      entry["before_rank"] = at(*brec[key], "rank");
      persisting.push_back(entry);
    }
  }
  out["recommendations"] = {{"resolved", resolved}, {"new", fresh}, {"persisting", persisting}};

  json notes = json::array();
  if (at(at(before, "machine"), "nodes").size() != at(at(after, "machine"), "nodes").size())
    notes.push_back("the two reports come from machines with different node counts; per-node rows do not line up");
  if (at(at(before, "evidence"), "locality_source") != at(at(after, "evidence"), "locality_source"))
    notes.push_back("locality comes from different evidence (" + at(at(before, "evidence"), "locality_source").dump() +
                    " before, " + at(at(after, "evidence"), "locality_source").dump() +
                    " after): the locality delta mixes two measurements");
  out["notes"] = notes;
  return out;
}

GateOutcome evaluate_gates(const json& c, const CompareGates& gates) {
  const json& s = at(c, "score");
  char buf[256];
  if (gates.fail_below) {
    if (!at(s, "after").is_number())
      return {2, "--fail-below: AFTER has no score (" + (at(at(c, "after"), "score_note").is_string()
                                                             ? at(at(c, "after"), "score_note").get<std::string>()
                                                             : std::string("null")) + ")"};
    double after = s["after"].get<double>();
    if (after < *gates.fail_below) {
      std::snprintf(buf, sizeof buf, "AFTER's score %.1f is below %.1f (--fail-below)", after, *gates.fail_below);
      return {1, buf};
    }
  }
  if (gates.fail_if_worse) {
    if (!at(s, "delta").is_number())
      return {2, "--fail-if-worse: a score is missing (before " + at(s, "before").dump() + ", after " +
                     at(s, "after").dump() + ")"};
    double drop = -s["delta"].get<double>();
    if (drop > *gates.fail_if_worse) {
      std::snprintf(buf, sizeof buf, "score dropped by %.1f (%.1f -> %.1f), more than %.1f (--fail-if-worse)", drop,
                    s["before"].get<double>(), s["after"].get<double>(), *gates.fail_if_worse);
      return {1, buf};
    }
  }
  return {};
}

std::string render_compare_text(const json& c) {
  std::ostringstream out;
  out << "numa-analyze compare (" << at(c, "schema").get<std::string>() << ")\n";
  for (const char* side : {"before", "after"}) {
    const json& s = at(c, side);
    out << "  " << pad(std::string(side) + ":", 8) << at(s, "file").get<std::string>() << "  ("
        << (at(s, "program").get<std::string>().empty() ? "-" : at(s, "program").get<std::string>())
        << (at(s, "agent").is_boolean() && s["agent"].get<bool>() ? ", under the agent" : "") << ")\n";
  }
  const json& s = at(c, "score");
  out << "\nScore: " << num(at(s, "before")) << " -> " << num(at(s, "after")) << signed_num(at(s, "delta"), 1, "")
      << "\n";
  for (const char* side : {"before", "after"})
    if (at(at(c, side), "score_note").is_string())
      out << "  " << side << ": " << at(at(c, side), "score_note").get<std::string>() << "\n";
  for (const char* name : {"locality", "remote_share", "stability", "balance"}) {
    const json& v = at(at(c, "components"), name);
    out << "  " << pad(name, 14) << pad(pct(at(v, "before")), 8) << "-> " << pad(pct(at(v, "after")), 8)
        << signed_num(at(v, "delta"), 100, " pts") << "\n";
  }

  out << "\nPer node\n  " << pad("node", 6) << pad("threads", 12) << pad("resident pages", 24) << "accesses served\n";
  auto pair = [](const json& v) { return num(at(v, "before"), "%.0f") + " -> " + num(at(v, "after"), "%.0f"); };
  for (const auto& n : at(c, "nodes"))
    out << "  " << pad(n["node"].dump(), 6) << pad(pair(n["threads"]), 12) << pad(pair(n["resident_pages"]), 24)
        << pair(n["accesses_served"]) << "\n";

  out << "\nThreads (matched by name and order of appearance)\n  " << pad("thread", 20) << pad("home node", 12)
      << pad("locality", 20) << "change\n";
  for (const auto& t : at(c, "threads")) {
    std::string status = t["status"];
    std::string home = (t["before"].is_null() ? "-" : at(t["before"], "home_node").dump()) + " -> " +
                       (t["after"].is_null() ? "-" : at(t["after"], "home_node").dump());
    std::string loc = pct(at(t["before"], "locality")) + " -> " + pct(at(t["after"], "locality"));
    std::string what = status == "both" ? signed_num(t["locality_delta"], 100, " pts") : "  (" + status + ")";
    out << "  " << pad(t["key"].get<std::string>(), 20) << pad(home, 12) << pad(loc, 20) << what << "\n";
  }

  out << "\nRecommendations\n";
  const json& recs = at(c, "recommendations");
  auto list = [&](const char* key, const char* label) {
    for (const auto& r : at(recs, key))
      out << "  " << pad(label, 12) << "[" << r["kind"].get<std::string>() << "] " << r["title"].get<std::string>() << "\n";
  };
  list("resolved", "resolved");
  list("new", "new");
  list("persisting", "still open");
  if (at(recs, "resolved").empty() && at(recs, "new").empty() && at(recs, "persisting").empty()) out << "  none in either report\n";
  for (const auto& n : at(c, "notes")) out << "\nnote: " << n.get<std::string>() << "\n";
  return out.str();
}

}  // namespace numa_agent::analyzer
