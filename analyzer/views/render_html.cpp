// See render_html.hpp.
#include "analyzer/views/render_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string_view>

#include "analyzer/model/report.hpp"
#include "analyzer/views/format.hpp"
#include "analyzer/views/site_table.hpp"
namespace numa_agent::analyzer {

using nlohmann::json;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

double number(const json& v, double fallback = 0) { return v.is_number() ? v.get<double>() : fallback; }

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == std::floor(d) && std::abs(d) < 1e15) return fmt("%.0f", d);
    return fmt("%.4g", d);
  }
  return v.dump();
}

std::string e(const json& v) { return html_escape(text(v)); }
std::string e(const std::string& s) { return html_escape(s); }

// Light to dark blue by share 0..1 (the heat-map scale).
std::string heat_color(double share) {
  share = std::clamp(share, 0.0, 1.0);
  int r = static_cast<int>(std::lround(240 - share * (240 - 23)));
  int g = static_cast<int>(std::lround(244 - share * (244 - 80)));
  int b = static_cast<int>(std::lround(250 - share * (250 - 160)));
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
  return buf;
}

constexpr int kChartWidth = 560;
constexpr int kLabelWidth = 120;

// Horizontal bars: one row per item, value scaled to the largest (or to `scale_max` when > 0).
struct Bar {
  std::string label, value_text, css_class;
  double value = 0;
  bool missing = false;
};
std::string bar_chart(const char* chart, const std::string& title, const std::vector<Bar>& bars, double scale_max) {
  const int row = 30, top = 8;
  double max = scale_max;
  if (max <= 0)
    for (const auto& b : bars) max = std::max(max, b.value);
  const int plot = kChartWidth - kLabelWidth - 120;
  const int height = top * 2 + row * static_cast<int>(std::max<std::size_t>(bars.size(), 1));
  std::ostringstream s;
  s << "<svg data-chart=\"" << chart << "\" role=\"img\" aria-label=\"" << e(title) << "\" width=\"" << kChartWidth
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << kChartWidth << ' ' << height << "\">";
  s << "<title>" << e(title) << "</title>";
  int y = top;
  for (const auto& b : bars) {
    double w = max > 0 && !b.missing ? plot * std::clamp(b.value / max, 0.0, 1.0) : 0;
    s << "<text x=\"" << kLabelWidth - 8 << "\" y=\"" << y + 19 << "\" text-anchor=\"end\" class=\"label\">" << e(b.label)
      << "</text>";
    s << "<rect class=\"track\" x=\"" << kLabelWidth << "\" y=\"" << y + 5 << "\" width=\"" << plot << "\" height=\"20\"/>";
    s << "<rect class=\"bar " << b.css_class << "\" x=\"" << kLabelWidth << "\" y=\"" << y + 5 << "\" width=\""
      << fmt("%.1f", w) << "\" height=\"20\"/>";
    s << "<text x=\"" << kLabelWidth + plot + 8 << "\" y=\"" << y + 19 << "\" class=\"value\">"
      << e(b.missing ? "n/a" : b.value_text) << "</text>";
    y += row;
  }
  if (bars.empty()) s << "<text x=\"8\" y=\"26\" class=\"label\">no data</text>";
  s << "</svg>";
  return s.str();
}

std::string score_section(const json& report) {
  const Components comp = read_components(report);
  const json& weights = field(field(comp.details, "score"), "weights");
  std::vector<Bar> bars;
  const std::pair<const char*, const std::optional<double>*> parts[] = {
      {"locality", &comp.locality}, {"stability", &comp.stability}, {"balance", &comp.balance}};
  for (const auto& [k, part] : parts) {
    const json v = nullable(*part);
    std::string label = std::string(k) + (field(weights, k).is_number() ? " ×" + fmt("%.1f", number(field(weights, k))) : "");
    bars.push_back({label, pct(v, true), std::string("c-") + k, number(v), !v.is_number()});
  }
  std::ostringstream s;
  const json& score = field(report, "score");
  s << "<section id=\"score\" class=\"card\"><h2>NUMA efficiency score</h2>";
  s << "<div class=\"score-row\"><div class=\"score\" data-score=\"" << e(score) << "\">"
    << (score.is_number() ? fmt("%.1f", number(score)) : "n/a") << "<small>/ 100</small></div>";
  s << "<div>" << bar_chart("score", "Score breakdown: components 0-100 %, with their weights", bars, 1.0) << "</div></div>";
  if (comp.score_note) s << "<p class=\"note\">" << e(*comp.score_note) << "</p>";
  const json& ev = field(report, "evidence");
  s << "<p>Locality from <b>" << e(field(ev, "locality_source")) << "</b>"
    << (field(ev, "confidence").is_string() ? " (confidence " + e(field(ev, "confidence")) + ")" : "") << "; "
    << e(remote_share_statement(comp)) << ".</p>";
  if (comp.score_interval)
    s << "<p>Score interval " << fmt("%.1f", comp.score_interval->low) << "&ndash;" << fmt("%.1f", comp.score_interval->high)
      << ".</p>";
  if (comp.coverage)
    s << "<p class=\"note\">Access evidence saw " << fmt("%.1f", comp.coverage->share * 100.0) << " % of "
      << fmt("%.1f", double(comp.coverage->counted_bytes) / (1 << 20)) << " MiB counted resident memory ("
      << fmt("%.1f", double(comp.coverage->not_counted_bytes) / (1 << 20)) << " MiB of unsampled file pages not counted).</p>";
  for (const auto& n : field(ev, "notes")) s << "<p class=\"note\">" << e(n) << "</p>";
  s << "</section>";
  return s.str();
}

std::string nodes_section(const json& report) {
  const std::vector<NodeSummary> nodes = read_components(report).nodes;
  const json& machine_nodes = field(field(report, "machine"), "nodes");
  std::vector<Bar> memory, traffic;
  for (const auto& n : nodes) {
    std::string node = "node " + std::to_string(n.node);
    double pages = double(n.resident_pages);
    memory.push_back({node, fmt("%.0f pages", pages), "c-memory", pages});
    traffic.push_back({node + " served", text(json(n.accesses_served)), "c-served", n.accesses_served});
    traffic.push_back({node + " issued", text(json(n.accesses_issued)), "c-issued", n.accesses_issued});
  }
  std::ostringstream s;
  s << "<section id=\"nodes\" class=\"card\"><h2>Per node</h2>";
  s << "<h3>Resident memory of the program (pages, from numa_maps)</h3>"
    << bar_chart("memory", "Resident pages per node", memory, 0);
  s << "<h3>Sampled memory traffic (accesses served by each node's memory, issued by its CPUs)</h3>"
    << bar_chart("traffic", "Sampled accesses per node", traffic, 0);
  s << "<table><tr><th>node</th><th>OS node</th><th>CPUs</th><th>capacity</th><th>threads at home</th></tr>";
  for (std::size_t i = 0; i < machine_nodes.size(); ++i) {
    const json& m = machine_nodes[i];
    const std::string threads_at_home = i < nodes.size() ? std::to_string(nodes[i].threads) : "-";
    s << "<tr><td>" << e(field(m, "node")) << "</td><td>" << e(field(m, "os_index")) << "</td><td>" << e(field(m, "cpus"))
      << "</td><td>" << fmt("%.1f GiB", number(field(m, "memory_bytes")) / (1024.0 * 1024 * 1024)) << "</td><td>"
      << e(threads_at_home) << "</td></tr>";
  }
  s << "</table></section>";
  return s.str();
}

constexpr std::size_t kMaxHeatmapThreads = 256;

std::string heatmap_section(const json& report) {
  const json& threads = field(report, "threads");
  const std::size_t nodes = field(field(report, "machine"), "nodes").size();
  const std::size_t rows = std::min(threads.size(), kMaxHeatmapThreads);
  const int label = 190, cell_w = std::max(40, std::min(90, static_cast<int>((kChartWidth - label) / std::max<std::size_t>(nodes, 1)))),
            cell_h = 22, top = 24;
  const int width = label + cell_w * static_cast<int>(nodes) + 10;
  const int height = top + cell_h * static_cast<int>(std::max<std::size_t>(rows, 1)) + 6;
  std::ostringstream s;
  s << "<section id=\"heatmap\" class=\"card\"><h2>Threads × nodes</h2>"
    << "<p>Share of each thread's time on each node's CPUs (residency); darker is more. "
       "Hover a cell for the thread's NUMA faults by memory node.</p>";
  s << "<svg data-chart=\"heatmap\" role=\"img\" aria-label=\"thread by node residency heat map\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height << "\">";
  for (std::size_t n = 0; n < nodes; ++n)
    s << "<text class=\"label\" x=\"" << label + cell_w * static_cast<int>(n) + cell_w / 2 << "\" y=\"16\" text-anchor=\"middle\">node "
      << n << "</text>";
  for (std::size_t i = 0; i < rows; ++i) {
    const json& t = threads[i];
    int y = top + cell_h * static_cast<int>(i);
    s << "<text class=\"label\" x=\"" << label - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << e(field(t, "name"))
      << " " << e(field(t, "tid")) << "</text>";
    const std::optional<std::string> role = thread_role(t);   // only when a role rule placed it
    std::string faults;
    for (auto& [node, v] : field(t, "numa_faults_by_memory_node").items()) faults += " N" + node + "=" + text(v);
    for (std::size_t n = 0; n < nodes; ++n) {
      const json& share = field(field(t, "residency"), std::to_string(n).c_str());
      double v = number(share);
      s << "<rect class=\"cell\" data-tid=\"" << e(field(t, "tid")) << "\" data-node=\"" << n << "\" data-share=\""
        << fmt("%.3f", v) << "\" x=\"" << label + cell_w * static_cast<int>(n) << "\" y=\"" << y << "\" width=\""
        << cell_w - 2 << "\" height=\"" << cell_h - 2 << "\" fill=\"" << heat_color(v) << "\"><title>thread "
        << e(field(t, "tid")) << " (" << e(field(t, "name")) << (role ? ", role " + e(*role) : "") << ") on node " << n << ": "
        << pct(share, true)
        << (faults.empty() ? "" : "; NUMA faults by memory node:" + e(faults)) << "</title></rect>";
      s << "<text class=\"cell-text" << (v > 0.55 ? " dark" : "") << "\" x=\""
        << label + cell_w * static_cast<int>(n) + cell_w / 2 - 1 << "\" y=\"" << y + 15 << "\" text-anchor=\"middle\">"
        << fmt("%.0f%%", v * 100) << "</text>";
    }
  }
  if (rows == 0) s << "<text class=\"label\" x=\"8\" y=\"" << top + 15 << "\">no threads were seen</text>";
  s << "</svg>";
  if (threads.size() > rows)
    s << "<p class=\"note\">First " << rows << " of " << threads.size() << " threads shown.</p>";
  s << "</section>";
  return s.str();
}

std::string recommendations_section(const json& report) {
  std::ostringstream s;
  s << "<section id=\"recommendations\" class=\"card\"><h2>Recommendations, ranked by estimated gain</h2>";
  const std::vector<Recommendation> recs = read_recommendations(report);
  if (recs.empty()) {
    const auto note = read_components(report).recommendation_note;
    s << "<p>None" << (note ? ": " + e(*note) : ".") << "</p>";
  } else {
    s << "<ol class=\"recs\">";
    for (const auto& r : recs) {
      const EstimatedGain& g = r.estimated_gain;
      s << "<li class=\"rec\" data-kind=\"" << e(r.kind) << "\"><div class=\"rec-title\"><span class=\"kind\">"
        << e(r.kind) << "</span> " << e(r.title) << "</div>";
      s << "<div class=\"why\">" << e(r.evidence) << "</div>";
      s << "<pre class=\"command\"><code>" << e(r.command) << "</code></pre>";
      s << "<div class=\"gain\">gain: " << e(json(g.cost)) << " [" << e(json(g.cost_low)) << "&ndash;"
        << e(json(g.cost_high)) << "] " << e(g.unit) << " — "
        << pct(json(g.share_of_remote_cost), true) << " of the remote-access cost" << (g.upper_bound ? " (upper bound)" : "")
        << "; rule " << e(r.rule.id) << ": " << e(r.rule.source) << "</div></li>";
    }
    s << "</ol>";
  }
  s << "</section>";
  return s.str();
}

std::string tables_section(const json& report) {
  std::ostringstream s;
  s << "<section id=\"threads\" class=\"card wide\"><h2>Threads</h2><table><tr><th>tid</th><th>name</th><th>home node</th>"
       "<th>node migrations</th><th>per s</th><th>local</th><th>remote</th><th>locality</th><th>score</th><th>remote share</th></tr>";
  for (const auto& t : field(report, "threads"))
    s << "<tr><td>" << e(field(t, "tid")) << "</td><td>" << e(field(t, "name")) << "</td><td>" << e(field(t, "home_node"))
      << "</td><td>" << e(field(t, "node_migrations")) << "</td><td>" << e(field(t, "node_migrations_per_s")) << "</td><td>"
      << e(field(field(t, "accesses"), "local")) << "</td><td>" << e(field(field(t, "accesses"), "remote")) << "</td><td>"
      << pct(field(t, "locality"), true) << "</td><td>" << e(field(t, "score")) << "</td><td>"
      << e(share_cell(field(t, "remote_share_estimate"), field(t, "remote_share_interval")))
      << (field(t, "remote_share_basis") == "placement-estimate" ? " (placement estimate)" : "") << "</td></tr>";
  s << "</table></section>";

  s << "<section id=\"mappings\" class=\"card wide\"><h2>Top mappings</h2><table><tr><th>start</th><th>name</th>"
       "<th>policy</th><th>bytes</th><th>pages by node</th><th>local</th><th>remote</th><th>locality</th><th>remote share</th></tr>";
  int shown = 0;
  for (const auto& m : field(report, "mappings")) {
    if (++shown > 15) break;
    std::string pages;
    for (auto& [node, v] : field(m, "pages_by_node").items()) pages += (pages.empty() ? "N" : " N") + node + "=" + text(v);
    s << "<tr><td><code>" << e(field(m, "start")) << "</code></td><td>" << e(field(m, "name")) << "</td><td>"
      << e(field(m, "policy")) << "</td><td>" << e(field(m, "bytes")) << "</td><td>" << e(pages.empty() ? "-" : pages)
      << "</td><td>" << e(field(field(m, "accesses"), "local")) << "</td><td>" << e(field(field(m, "accesses"), "remote"))
      << "</td><td>" << pct(field(m, "locality"), true) << "</td><td>"
      << e(share_cell(field(m, "remote_share_estimate"), field(m, "remote_share_interval")))
      << (field(m, "basis") == "sampled" || !field(m, "basis").is_string() ? "" : " (" + e(m["basis"]) + ")") << "</td></tr>";
  }
  s << "</table></section>";

  s << render_site_table_html(report);
  const json& ev = field(report, "evidence");
  s << "<section id=\"evidence\" class=\"card wide\"><h2>Evidence</h2><table><tr><th>source</th><th>used</th><th>detail</th></tr>";
  for (const auto& src : field(ev, "sources"))
    s << "<tr class=\"" << (field(src, "used").is_boolean() && src["used"].get<bool>() ? "used" : "unused") << "\"><td>"
      << e(field(src, "source")) << "</td><td>" << (field(src, "used").is_boolean() && src["used"].get<bool>() ? "yes" : "no")
      << "</td><td>" << e(field(src, "detail")) << "</td></tr>";
  s << "</table>";
  for (const auto& n : field(ev, "notes")) s << "<p class=\"note\">" << e(n) << "</p>";
  s << "</section>";
  return s.str();
}

constexpr std::string_view kStyle = R"(
:root{--ink:#1d2433;--muted:#5b6475;--line:#d9dee7;--bg:#f5f7fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header{padding:14px 24px;background:#1d2433;color:#fff}
header h1{margin:0;font-size:20px;font-weight:600}
header p{margin:4px 0 0;color:#c9d1e0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(600px,1fr));gap:16px;padding:16px 24px;max-width:1400px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;overflow-x:auto}
.wide{grid-column:1/-1}
h2{margin:0 0 8px;font-size:16px}
h3{margin:10px 0 4px;font-size:13px;color:var(--muted);font-weight:500}
.score-row{display:flex;align-items:center;gap:16px;flex-wrap:wrap}
.score{font-size:44px;font-weight:700;min-width:130px}
.score small{font-size:16px;color:var(--muted);font-weight:400;margin-left:4px}
svg{display:block;max-width:100%;height:auto}
svg .label{font-size:12px;fill:var(--ink)}
svg .value{font-size:12px;fill:var(--muted)}
svg .track{fill:#eef1f6}
svg .bar{fill:#3b6fd8}
svg .c-stability{fill:#2f9e72}
svg .c-balance{fill:#d9822b}
svg .c-memory{fill:#7a5cc7}
svg .c-served{fill:#3b6fd8}
svg .c-issued{fill:#8fb0f0}
svg .cell{stroke:#fff}
svg .cell-text{font-size:11px;fill:#1d2433;pointer-events:none}
svg .cell-text.dark{fill:#fff}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500}
tr.unused td{color:var(--muted)}
.note{color:var(--muted)}
ol.recs{padding-left:22px;margin:0}
.rec{margin:0 0 12px}
.rec-title{font-weight:600}
.kind{display:inline-block;background:#eef1f6;border-radius:4px;padding:0 6px;font-size:12px;font-weight:500;margin-right:4px}
.why,.gain{color:var(--muted)}
pre.command{background:#1d2433;color:#e8ecf3;padding:8px 10px;border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere;margin:6px 0}
)";

// Stamps each chart with its laid-out size and the page with "ok" (tests read both from the DOM).
constexpr std::string_view kScript = R"((function () {
  var charts = document.querySelectorAll('svg[data-chart]');
  for (var i = 0; i < charts.length; i++) {
    var r = charts[i].getBoundingClientRect();
    charts[i].setAttribute('data-rendered-size', Math.round(r.width) + 'x' + Math.round(r.height));
  }
  document.documentElement.setAttribute('data-render-check', 'ok');
})();)";

}  // namespace

std::string render_report_html(const json& report) {
  const RecordingSummary rec = read_recording_summary(report);
  std::string program = rec.program();
  if (program.empty()) program = "(unknown program)";
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\" data-render-check=\"pending\"><head><meta charset=\"utf-8\">"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; img-src data:\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    << "<meta name=\"generator\" content=\"numa-analyze " << e(rec.tool_version) << "\">"
    << "<title>numa-analyze: " << e(program) << "</title><style>" << kStyle << "</style></head><body>";
  s << "<header><h1>numa-analyze report: " << e(program) << "</h1><p>PID " << rec.pid << " · " << e(rec.mode) << " · "
    << e(json(rec.duration_s)) << " s · stopped: " << e(rec.stop_reason) << (rec.agent ? " · under libnumaagent.so" : "")
    << " · "
    << field(field(report, "machine"), "nodes").size() << " NUMA node(s), kernel " << e(field(field(report, "machine"), "kernel"))
    << " · " << e(field(report, "schema")) << "</p></header><main>";
  s << score_section(report) << nodes_section(report) << heatmap_section(report) << recommendations_section(report)
    << tables_section(report);
  s << "</main><script>" << kScript << "</script></body></html>\n";
  return s.str();
}

}  // namespace numa_agent::analyzer
