// See render_compare.hpp.
#include "analyzer/views/render_compare.hpp"

#include <cstdio>
#include <sstream>

#include "analyzer/views/format.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

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

std::string render_compare_text(const json& c) {
  std::ostringstream out;
  out << "numa-analyze compare (" << field(c, "schema").get<std::string>() << ")\n";
  for (const char* side : {"before", "after"}) {
    const json& s = field(c, side);
    out << "  " << pad(std::string(side) + ":", 8) << field(s, "file").get<std::string>() << "  ("
        << (field(s, "program").get<std::string>().empty() ? "-" : field(s, "program").get<std::string>())
        << (field(s, "agent").is_boolean() && s["agent"].get<bool>() ? ", under the agent" : "") << ")\n";
  }
  const json& s = field(c, "score");
  out << "\nScore: " << num(field(s, "before"), "%.1f") << " -> " << num(field(s, "after"), "%.1f") << signed_num(field(s, "delta"), 1, "")
      << "\n";
  for (const char* side : {"before", "after"})
    if (field(field(c, side), "score_note").is_string())
      out << "  " << side << ": " << field(field(c, side), "score_note").get<std::string>() << "\n";
  for (const char* name : {"locality", "remote_share", "stability", "balance"}) {
    const json& v = field(field(c, "components"), name);
    out << "  " << pad(name, 14) << pad(pct(field(v, "before")), 8) << "-> " << pad(pct(field(v, "after")), 8)
        << signed_num(field(v, "delta"), 100, " pts") << "\n";
  }

  out << "\nPer node\n  " << pad("node", 6) << pad("threads", 12) << pad("resident pages", 24) << "accesses served\n";
  auto pair = [](const json& v) { return num(field(v, "before"), "%.0f") + " -> " + num(field(v, "after"), "%.0f"); };
  for (const auto& n : field(c, "nodes"))
    out << "  " << pad(n["node"].dump(), 6) << pad(pair(n["threads"]), 12) << pad(pair(n["resident_pages"]), 24)
        << pair(n["accesses_served"]) << "\n";

  out << "\nThreads (matched by name and order of appearance)\n  " << pad("thread", 20) << pad("home node", 12)
      << pad("locality", 20) << "change\n";
  for (const auto& t : field(c, "threads")) {
    std::string status = t["status"];
    std::string home = (t["before"].is_null() ? "-" : field(t["before"], "home_node").dump()) + " -> " +
                       (t["after"].is_null() ? "-" : field(t["after"], "home_node").dump());
    std::string loc = pct(field(t["before"], "locality")) + " -> " + pct(field(t["after"], "locality"));
    std::string what = status == "both" ? signed_num(t["locality_delta"], 100, " pts") : "  (" + status + ")";
    out << "  " << pad(t["key"].get<std::string>(), 20) << pad(home, 12) << pad(loc, 20) << what << "\n";
  }

  out << "\nRecommendations\n";
  const json& recs = field(c, "recommendations");
  auto list = [&](const char* key, const char* label) {
    for (const auto& r : field(recs, key))
      out << "  " << pad(label, 12) << "[" << r["kind"].get<std::string>() << "] " << r["title"].get<std::string>() << "\n";
  };
  list("resolved", "resolved");
  list("new", "new");
  list("persisting", "still open");
  if (field(recs, "resolved").empty() && field(recs, "new").empty() && field(recs, "persisting").empty()) out << "  none in either report\n";
  for (const auto& n : field(c, "notes")) out << "\nnote: " << n.get<std::string>() << "\n";
  return out.str();
}

}  // namespace numa_agent::analyzer
