// Pure parts of the views: top's screen layout and sort keys on a synthetic frame, the
// recommendation key compare matches on, and the escaping of HTML and Prometheus label values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "agent/text.hpp"
#include "analyzer/rules/compare.hpp"
#include "analyzer/views/render_html.hpp"
#include "analyzer/views/render_prometheus.hpp"
#include "analyzer/rules/report.hpp"
#include "analyzer/views/render_text.hpp"
#include "analyzer/views/top_frame.hpp"
#include "synthetic_recording.hpp"

using namespace numa_agent::analyzer;
using nlohmann::json;

namespace {

// Three threads on two nodes, each sort key ordering them differently: 11 on node 0, local and
// still; 12 on node 1, 90 % remote, 4 node migrations/s; 13 on node 0, half remote, 6/s.
TopFrame frame() {
  Recording r;
  r.mode = "attach";
  r.pid = 10;
  r.duration_s = 10;
  for (int n = 0; n < 2; ++n) {
    r.machine.nodes.push_back({n, {n}, 1ULL << 30});
    r.machine.distances.push_back(n == 0 ? std::vector<std::uint32_t>{10, 21} : std::vector<std::uint32_t>{21, 10});
  }
  auto thread = [&](int tid, int node, std::uint64_t migrations, std::uint64_t local, std::uint64_t remote) {
    ThreadRecord t;
    t.tid = tid;
    t.name = "t" + std::to_string(tid);
    t.last_seen_s = 10;
    t.residency[node] = 100;
    t.node_migrations = migrations;
    t.numa_faults = {{node, local, 0}, {1 - node, remote, 0}};
    r.threads.push_back(t);
  };
  thread(11, 0, 0, 100, 0);
  thread(12, 1, 40, 10, 90);
  thread(13, 0, 60, 50, 50);
  TopFrame f;
  f.pid = 10;
  f.command = "./app";
  f.interval_s = 2;
  f.report = build_report(r);
  f.threads = {{11, "t11", 0, 0, 0}, {12, "t12", 1, 1, 5}, {13, "t13", 0, 0, 7}};
  return f;
}

// TIDs in the order the thread table lists them.
std::vector<int> thread_order(const std::vector<std::string>& lines) {
  std::vector<int> tids;
  bool table = false;
  for (const auto& l : lines) {
    if (l.find("TID NAME") != std::string::npos) {
      table = true;
      continue;
    }
    if (l.empty()) table = false;
    if (!table) continue;
    std::istringstream in(l);
    int tid = 0;
    if (in >> tid) tids.push_back(tid);
  }
  return tids;
}

}  // namespace

TEST_CASE("top: sort keys order the thread table by node, score (worst first) and migrations") {
  TopFrame f = frame();
  REQUIRE(f.report["score"].is_number());
  TopLayout layout;
  layout.sort = TopSort::Node;
  CHECK(thread_order(render_top_frame(f, layout)) == std::vector<int>{11, 13, 12});
  layout.sort = TopSort::Score;
  CHECK(thread_order(render_top_frame(f, layout)) == std::vector<int>{12, 13, 11});   // 10 % local first
  layout.sort = TopSort::Migrations;
  CHECK(thread_order(render_top_frame(f, layout)) == std::vector<int>{13, 12, 11});
  // Scores come from the report model: thread 11 (all local, still) scores 100.
  auto lines = render_top_frame(f, {});
  auto row11 = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find(" 11 t11 ") != std::string::npos; });
  REQUIRE(row11 != lines.end());
  CHECK(row11->find("100.0%") != std::string::npos);
  char score[32];
  std::snprintf(score, sizeof score, "score %.1f ", f.report["score"].get<double>());
  CHECK(lines[1].rfind(score, 0) == 0);
  // Node rows: threads there now (from the live frame).
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("0     0", 0) == 0 || l.rfind("1     1", 0) == 0; }) == 2);
}

TEST_CASE("top: a small screen keeps the header and cuts the thread list with a count, lines to the width") {
  TopFrame f = frame();
  TopLayout layout;
  layout.rows = 12;
  layout.columns = 40;
  auto lines = render_top_frame(f, layout);
  CHECK(lines.size() <= 12u);
  for (const auto& l : lines) CHECK(l.size() <= 40u);
  CHECK(lines[0].rfind("numa-analyze top - PID 10", 0) == 0);
  CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) { return l.find("more threads") != std::string::npos; }));
  layout.rows = 40;
  layout.columns = 0;
  auto tall = render_top_frame(f, layout);
  CHECK(thread_order(tall).size() == 3);
  CHECK(std::none_of(tall.begin(), tall.end(), [](const std::string& l) { return l.find("more threads") != std::string::npos; }));
}

TEST_CASE("compare: recommendation keys ignore addresses, TIDs and counts that differ between runs") {
  json report_a = {{"mappings", {{{"start", "0x7f00"}, {"name", "[anon]"}, {"bytes", 4096}}}}};
  json report_b = {{"mappings", {{{"start", "0x5500"}, {"name", "[anon]"}, {"bytes", 4096}}}}};
  json a = {{"kind", "colocate"}, {"title", "Move anonymous (0.0 MiB at 0x7f00) to node 1"}, {"mapping", "0x7f00"}};
  json b = {{"kind", "colocate"}, {"title", "Move anonymous (0.0 MiB at 0x5500) to node 1"}, {"mapping", "0x5500"}};
  CHECK(recommendation_key(a, report_a) == recommendation_key(b, report_b));
  json other_size = report_b;
  other_size["mappings"][0]["bytes"] = 8192;
  CHECK(recommendation_key(a, report_a) != recommendation_key(b, other_size));
  CHECK(recommendation_key({{"kind", "pin-threads"}, {"title", "Pin the 3 thread(s)"}}, json::object()) ==
        recommendation_key({{"kind", "pin-threads"}, {"title", "Pin the 5 thread(s)"}}, json::object()));
  CHECK(recommendation_key({{"kind", "colocate"}, {"title", "Run thread 101 (worker) next to its memory"}}, json::object()) ==
        recommendation_key({{"kind", "colocate"}, {"title", "Run thread 207 (worker) next to its memory"}}, json::object()));
  CHECK(recommendation_key({{"kind", "colocate"}, {"title", "Run thread 101 (worker) next to its memory"}}, json::object()) !=
        recommendation_key({{"kind", "colocate"}, {"title", "Run thread 101 (logger) next to its memory"}}, json::object()));
}

TEST_CASE("escaping: HTML text and attributes, Prometheus label values") {
  CHECK(html_escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  CHECK(prometheus_label_escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(prometheus_label_escape("plain") == "plain");
}

#include "analyzer/views/render_text.hpp"

// The fused estimate's interval, or "unknown", everywhere the remote share is shown.
TEST_CASE("views: the remote share is shown with its interval, or as unknown with the estimate") {
  Recording r;
  r.mode = "launch";
  r.command = {"./app"};
  r.duration_s = 10;
  for (int n = 0; n < 2; ++n) {
    r.machine.nodes.push_back({n, {2 * n, 2 * n + 1}, 1ULL << 30});
    r.machine.distances.push_back(n == 0 ? std::vector<std::uint32_t>{10, 21} : std::vector<std::uint32_t>{21, 10});
  }
  r.machine.numa_balancing = 1;
  ThreadRecord t;
  t.tid = 1, t.name = "w", t.last_seen_s = 10, t.residency[1] = 100;
  r.threads.push_back(t);
  MappingRecord m;
  m.start = 0x7f0000000000, m.end = m.start + (64 << 20), m.policy = "default", m.pages_by_node = {{0, 16384}};
  r.mappings.push_back(m);
  AccessBucket a;
  a.source = "hint-fault", a.tid = 1, a.cpu_node = 1, a.memory_node = 0, a.mapping = m.start, a.mem_class = "fault";
  a.count = 50;
  r.accesses.push_back(a);
  a.memory_node = 1, a.count = 50;   // half of 100 faults remote: Wilson 40.4-59.6 %
  r.accesses.push_back(a);
  const json report = build_report(r);
  const std::string text = render_report_text(report);
  CHECK(text.find("remote share 50.0 % [40.4\u201359.6 %]") != std::string::npos);
  const std::string html = render_report_html(report);
  CHECK(html.find("remote share 50.0 % [40.4\u201359.6 %]") != std::string::npos);
  const std::string prom = render_report_prometheus(report);
  CHECK(prom.find("numa_agent_remote_access_ratio_low{program=\"app\"} 0.4038") != std::string::npos);
  CHECK(prom.find("numa_agent_access_coverage_ratio{program=\"app\"} 1") != std::string::npos);

  // No sample at all: unknown, with the placement estimate (thread on node 1, pages on node 0).
  r.accesses.clear();
  const std::string unknown = render_report_text(build_report(r));
  CHECK(unknown.find("remote share unknown: no access evidence for 100 % of resident memory (estimate 100.0 % [100.0\u2013100.0 %])") !=
        std::string::npos);
}

// The thread table's role column: there when a role rule placed some thread, absent otherwise.
TEST_CASE("views: the text thread table has a role column only when some thread has a role") {
  Recording r = numa_agent::test::synthetic_recording(2);
  for (int tid : {100, 101}) {
    ThreadRecord t;
    t.tid = tid, t.name = tid == 100 ? "app" : "ingest-0", t.last_seen_s = 10, t.residency[0] = 100;
    r.threads.push_back(t);
  }
  r.agent = true;
  r.agent_profile = {{"schema", "numa-agent-profile/1"},
                     {"threads", {{{"tid", 100}, {"pinned", true}, {"cpus", "0"}, {"node", 0}, {"reason", "policy"}},
                                  {{"tid", 101}, {"pinned", true}, {"cpus", "1"}, {"node", 0}, {"reason", "rule"},
                                   {"role", "ingest"}}}}};
  auto thread_table = [](const std::string& text) {
    const auto begin = text.find("Threads\n"), end = text.find("\n\n", begin);
    return text.substr(begin, end - begin);
  };
  const std::string with_role = thread_table(render_report_text(build_report(r)));
  INFO(with_role);
  const std::vector<std::string_view> lines = numa_agent::text::split(with_role, '\n');
  REQUIRE(lines.size() == 4);   // title, header, two threads
  const auto column = lines[1].find("role");
  REQUIRE(column != std::string::npos);
  CHECK(lines[2].substr(column, 2) == "- ");
  CHECK(lines[3].substr(column, 7) == "ingest ");

  r.agent_profile["threads"][1].erase("role");
  r.agent_profile["threads"][1]["reason"] = "policy";
  const std::string without = thread_table(render_report_text(build_report(r)));
  INFO(without);
  CHECK(without.find("role") == std::string::npos);
  CHECK(without.find("ingest-0") != std::string::npos);
}
