// See site_table.hpp.
#include "analyzer/views/site_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "analyzer/views/format.hpp"
#include "analyzer/views/render_html.hpp"

namespace numa_agent::analyzer {
namespace {

using nlohmann::json;

}  // namespace

std::string site_label(const json& frame) {
  const json& function = field(frame, "function");
  const json& file = field(frame, "file");
  std::string name = function.is_string() && !function.get<std::string>().empty() ? function.get<std::string>() : "";
  if (name.empty()) return field(frame, "site").is_string() ? frame["site"].get<std::string>() : "?";
  if (file.is_string() && !file.get<std::string>().empty()) {
    std::string path = file;
    name += " (" + path.substr(path.find_last_of('/') + 1) + ":" + std::to_string(field(frame, "line").is_number() ? frame["line"].get<int>() : 0) + ")";
  }
  return name;
}

namespace {

double number(const json& v) { return v.is_number() ? v.get<double>() : 0.0; }

bool has_site_table(const json& report) {
  for (const auto& s : field(report, "sites"))
    if (s.is_object() && s.contains("remote_share")) return true;
  return false;
}

std::string nodes_text(const json& by_node) {
  std::string out;
  double total = 0;
  for (auto& [node, v] : by_node.items()) total += number(v);
  for (auto& [node, v] : by_node.items())
    out += (out.empty() ? "" : " ") + std::string("N") + node + "=" + pct(total > 0 ? json(number(v) / total) : json(nullptr));
  return out.empty() ? "-" : out;
}

std::string bytes_text(const json& v) {
  const double b = number(v);
  char buf[32];
  if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s + " ";
}

}  // namespace

std::string render_site_table_text(const json& report) {
  if (!has_site_table(report)) return "";
  std::ostringstream out;
  out << "Sites in the program (by estimated remote-access cost)\n";
  out << "  " << pad("site", 44) << pad("bytes", 10) << pad("threads", 7) << pad("placed on", 20) << "remote share\n";
  int shown = 0;
  double outside_bytes = 0;
  for (const auto& s : field(report, "sites")) {
    if (field(s, "in_program").is_boolean() && !s["in_program"].get<bool>()) {
      outside_bytes += number(field(s, "bytes"));
      continue;
    }
    if (++shown > 15) break;
    out << "  " << pad(site_label(s), 44) << pad(bytes_text(field(s, "bytes")), 10)
        << pad(std::to_string(field(s, "threads").size()), 7) << pad(nodes_text(field(s, "placed_on_node")), 20)
        << pct(field(s, "remote_share"), true) << "\n";
    int depth = 0;
    for (const auto& c : field(s, "callers"))
      if (++depth <= 3) out << "      <- " << site_label(c) << "\n";
  }
  if (outside_bytes > 0)
    out << "  (" << bytes_text(outside_bytes) << " first touched with no frame of the program in the stack: loader, libc)\n";
  return out.str() + "\n";
}

std::string render_site_table_html(const json& report) {
  if (!has_site_table(report)) return "";
  std::ostringstream s;
  s << "<section id=\"sites\" class=\"card wide\"><h2>Sites in the program</h2><table><tr><th>site</th><th>called from</th>"
       "<th>kind</th><th>bytes</th><th>threads</th><th>placed on</th><th>remote share</th></tr>";
  for (const auto& site : field(report, "sites")) {
    std::string callers;
    for (const auto& c : field(site, "callers")) callers += (callers.empty() ? "" : " ← ") + site_label(c);
    s << "<tr><td><code>" << html_escape(site_label(site)) << "</code></td><td>" << html_escape(callers.empty() ? "-" : callers)
      << "</td><td>" << html_escape(field(site, "kind").is_string() ? site["kind"].get<std::string>() : "-") << "</td><td>"
      << html_escape(bytes_text(field(site, "bytes"))) << "</td><td>" << field(site, "threads").size() << "</td><td>"
      << html_escape(nodes_text(field(site, "placed_on_node"))) << "</td><td>" << pct(field(site, "remote_share"), true)
      << "</td></tr>";
  }
  s << "</table></section>";
  return s.str();
}

}  // namespace numa_agent::analyzer
