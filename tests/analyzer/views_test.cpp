// numa-analyze views on the real binary: compare (deltas, gates, bad input), report --format
// prometheus (a strict exposition-format parser, values equal to the JSON report's), report
// --format html (rendered in headless Chromium), and top (plain mode on a live process, a PID
// that exits, a PID that does not exist). Synthetic two-node recordings give the views real
// scores on this one-node machine; the files are genuine recordings, scored by the binary.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "analyze_cli.hpp"
#include "synthetic_recording.hpp"
#include "analyzer/model/recording.hpp"

using nlohmann::json;
using namespace numa_agent::analyzer;
using namespace numa_agent::test;

namespace {

const std::string kTool = analyze_tool();

void spit(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// ---- synthetic two-node recordings ----

Recording two_nodes() {
  Recording r = synthetic_recording(2, {"/usr/bin/app", "--size", "64M"});
  r.exit_code = 0;
  r.machine.kernel = "6.1.0-test";
  r.vmstat_delta = {{"numa_hint_faults", 2000}, {"numa_hint_faults_local", 1100}, {"numa_pages_migrated", 7}};
  r.evidence.push_back({"numa-hint-faults", true, "synthetic", 0, ""});
  return r;
}

void add_thread(Recording& r, int tid, const std::string& name, std::map<int, std::uint64_t> residency,
                std::uint64_t node_migrations = 0) {
  ThreadRecord t;
  t.tid = tid;
  t.name = name;
  t.first_seen_s = tid % 10 * 0.01;
  t.last_seen_s = r.duration_s;
  t.residency = std::move(residency);
  t.node_migrations = node_migrations;
  r.threads.push_back(t);
}

constexpr std::uint64_t kA = 0x7f0000000000, kB = 0x7f2000000000;

// BEFORE: two workers on node 1 use an array whose pages are on node 0 (locality 5 %).
Recording before_fix() {
  Recording r = two_nodes();
  add_thread(r, 100, "app", {{0, 200}});
  add_thread(r, 101, "worker", {{1, 180}, {0, 20}}, 6);
  add_thread(r, 102, "worker", {{1, 200}});
  add_thread(r, 103, "logger \"main\"\\x", {{0, 200}});   // a name that needs escaping everywhere
  add_mapping(r, kA, {{0, 16384}});
  add_access(r, 100, 0, 0, kA, 100);
  add_access(r, 101, 1, 0, kA, 950);
  add_access(r, 102, 1, 0, kA, 950);
  return r;
}

// AFTER: the array moved to node 1 (other TIDs and addresses, as in a second run).
Recording after_fix() {
  Recording r = two_nodes();
  r.pid = 200;
  add_thread(r, 200, "app", {{0, 200}});
  add_thread(r, 201, "worker", {{1, 200}});
  add_thread(r, 202, "worker", {{1, 200}});
  add_thread(r, 203, "logger \"main\"\\x", {{0, 200}});
  add_mapping(r, kB, {{1, 16384}});
  add_access(r, 200, 0, 1, kB, 100);
  add_access(r, 201, 1, 1, kB, 950);
  add_access(r, 202, 1, 1, kB, 950);
  return r;
}

}  // namespace

// ================================ compare ================================

TEST_CASE("compare: score and component deltas, thread changes, resolved recommendations") {
  TempDir dir("numa-views-test");
  spit(dir / "before.rec", serialize_recording(before_fix()));
  spit(dir / "after.rec", serialize_recording(after_fix()));
  json before = report_json(dir / "before.rec"), after = report_json(dir / "after.rec");
  REQUIRE(before["score"].is_number());
  REQUIRE(after["score"].is_number());
  REQUIRE_FALSE(before["recommendations"].empty());

  ProgramResult r = run_shell(kTool + " compare " + (dir / "before.rec") + " " + (dir / "after.rec") + " --format json");
  INFO(r.err);
  REQUIRE(r.status == 0);
  json c = json::parse(r.out);
  CHECK(c["schema"] == "numa-analyze-compare/1");
  // The reports' own numbers, not rescored ones.
  CHECK(c["score"]["before"] == before["score"]);
  CHECK(c["score"]["after"] == after["score"]);
  CHECK(c["score"]["delta"].get<double>() ==
        Approx(after["score"].get<double>() - before["score"].get<double>()).margin(1e-4));
  CHECK(c["score"]["delta"].get<double>() > 0);
  CHECK(c["components"]["locality"]["before"].get<double>() == Approx(0.05));
  CHECK(c["components"]["locality"]["after"].get<double>() == Approx(0.95));   // app reads node 1 from node 0
  CHECK(c["components"]["locality"]["delta"].get<double>() == Approx(0.9));
  // Threads matched by name and order although every TID differs.
  std::map<std::string, json> threads;
  for (const auto& t : c["threads"]) threads[t["key"]] = t;
  REQUIRE(threads.size() == 4);
  CHECK(threads["worker#1"]["status"] == "both");
  CHECK(threads["worker#1"]["before"]["tid"] == 101);
  CHECK(threads["worker#1"]["after"]["tid"] == 201);
  CHECK(threads["worker#1"]["locality_delta"].get<double>() == Approx(1.0));
  CHECK(threads["app#1"]["locality_delta"].get<double>() == Approx(-1.0));   // app now reads node 1 from node 0
  // Per node: pages moved from node 0 to node 1.
  CHECK(c["nodes"][0]["resident_pages"]["delta"] == -16384);
  CHECK(c["nodes"][1]["resident_pages"]["delta"] == 16384);
  // Every recommendation of BEFORE is resolved; AFTER has none.
  CHECK(c["recommendations"]["resolved"].size() == before["recommendations"].size());
  std::set<std::string> kinds;
  for (const auto& x : c["recommendations"]["resolved"]) kinds.insert(x["kind"]);
  INFO(before["recommendations"].dump(1));
  CHECK(kinds.count("colocate") == 1);
  CHECK(c["recommendations"]["new"].empty());
  CHECK(c["recommendations"]["persisting"].empty());

  // Reversed: the same recommendations are new.
  ProgramResult rev = run_shell(kTool + " compare " + (dir / "after.rec") + " " + (dir / "before.rec") + " --format json");
  REQUIRE(rev.status == 0);
  json cr = json::parse(rev.out);
  CHECK(cr["recommendations"]["new"].size() == before["recommendations"].size());
  CHECK(cr["recommendations"]["resolved"].empty());

  // Comparing a run with itself: everything persists, every delta is 0.
  ProgramResult same = run_shell(kTool + " compare " + (dir / "before.rec") + " " + (dir / "before.rec") + " --format json");
  json cs = json::parse(same.out);
  CHECK(cs["score"]["delta"] == 0);
  CHECK(cs["recommendations"]["persisting"].size() == before["recommendations"].size());

  // Text renders the same comparison.
  ProgramResult text = run_shell(kTool + " compare " + (dir / "before.rec") + " " + (dir / "after.rec"));
  CHECK(text.status == 0);
  CHECK(text.out.find("Score:") != std::string::npos);
  CHECK(text.out.find("resolved") != std::string::npos);
  CHECK(text.out.find("worker#2") != std::string::npos);
}

TEST_CASE("compare: report JSON files give the same comparison as their recordings") {
  TempDir dir("numa-views-test");
  spit(dir / "before.rec", serialize_recording(before_fix()));
  spit(dir / "after.rec", serialize_recording(after_fix()));
  REQUIRE(run_shell(kTool + " report " + (dir / "before.rec") + " --format json -o " + (dir / "before.json")).status == 0);
  REQUIRE(run_shell(kTool + " report " + (dir / "after.rec") + " --format json -o " + (dir / "after.json")).status == 0);
  json from_rec = json::parse(run_shell(kTool + " compare " + (dir / "before.rec") + " " + (dir / "after.rec") + " --format json").out);
  json from_json = json::parse(run_shell(kTool + " compare " + (dir / "before.json") + " " + (dir / "after.json") + " --format json").out);
  for (auto* j : {&from_rec, &from_json}) (*j)["before"].erase("file"), (*j)["after"].erase("file");
  CHECK(from_rec == from_json);
  // `report` also renders an existing report JSON unchanged.
  CHECK(report_json(dir / "before.json") == report_json(dir / "before.rec"));
}

TEST_CASE("compare: --fail-below and --fail-if-worse gate on AFTER's score") {
  TempDir dir("numa-views-test");
  spit(dir / "before.rec", serialize_recording(before_fix()));
  spit(dir / "after.rec", serialize_recording(after_fix()));
  const double after = report_json(dir / "after.rec")["score"];
  const std::string better = " " + (dir / "before.rec") + " " + (dir / "after.rec");
  const std::string worse = " " + (dir / "after.rec") + " " + (dir / "before.rec");
  auto threshold = [](double v) { return std::to_string(v); };

  ProgramResult pass = run_shell(kTool + " compare" + better + " --fail-below " + threshold(after - 1) + " --fail-if-worse 0");
  CHECK(pass.status == 0);
  CHECK(pass.err.empty());
  ProgramResult below = run_shell(kTool + " compare" + better + " --fail-below " + threshold(after + 1) + " --format json");
  CHECK(below.status == 1);
  CHECK(error_lines(below.err) == 1);
  CHECK(below.err.find("below") != std::string::npos);
  CHECK(json::parse(below.out)["gate"]["passed"] == false);   // the comparison is still printed
  ProgramResult dropped = run_shell(kTool + " compare" + worse + " --fail-if-worse 5");
  CHECK(dropped.status == 1);
  CHECK(dropped.err.find("dropped by") != std::string::npos);
  ProgramResult tolerated = run_shell(kTool + " compare" + worse + " --fail-if-worse 100");
  CHECK(tolerated.status == 0);

  // A one-node report has no score: the gate cannot be evaluated (2), not passed.
  Recording one = two_nodes();
  one.machine.nodes.resize(1);
  one.machine.distances = {{10}};
  one.vmstat_delta.clear();
  add_thread(one, 300, "app", {{0, 10}});
  spit(dir / "one.rec", serialize_recording(one));
  ProgramResult null_score = run_shell(kTool + " compare" + better.substr(0, better.find(' ', 1)) + " " + (dir / "one.rec") + " --fail-below 50");
  CHECK(null_score.status == 2);
  CHECK(error_lines(null_score.err) == 1);
  CHECK(null_score.err.find("no score") != std::string::npos);
  ProgramResult no_gate = run_shell(kTool + " compare" + better.substr(0, better.find(' ', 1)) + " " + (dir / "one.rec"));
  CHECK(no_gate.status == 0);
  CHECK(no_gate.out.find("different node counts") != std::string::npos);
}

TEST_CASE("compare: missing, corrupt and foreign input: one-line error, exit 2, no output") {
  TempDir dir("numa-views-test");
  std::string good = dir / "good.rec";
  spit(good, serialize_recording(before_fix()));
  std::string text = read_file(good);
  json report = report_json(good);
  json future = report;
  future["schema"] = "numa-analyze-report/2";
  json broken = report;
  broken.erase("threads");
  spit(dir / "trunc.json", text.substr(0, text.size() / 2));
  spit(dir / "foreign.json", json{{"schema", "numa-agent-profile/1"}, {"pid", 1}}.dump());
  spit(dir / "noschema.json", "[1, 2, 3]");
  spit(dir / "future.json", future.dump());
  spit(dir / "broken.json", broken.dump());
  spit(dir / "empty.json", "");
  struct Case {
    const char* what;
    std::string file;
    const char* message;
  };
  const Case cases[] = {
      {"missing", dir / "absent.json", "No such file or directory (ENOENT)"},
      {"truncated", dir / "trunc.json", "truncated or corrupt"},
      {"empty", dir / "empty.json", "empty file"},
      {"foreign", dir / "foreign.json", "'numa-agent-profile/1' file, not a numa-analyze recording or report"},
      {"no schema", dir / "noschema.json", "no \"schema\" key"},
      {"future report", dir / "future.json", "not supported"},
      {"report missing a key", dir / "broken.json", "\"threads\" is missing"},
  };
  ProgramResult one_file = run_shell(kTool + " compare " + good);   // usage error: AFTER missing
  CHECK(one_file.status == 2);
  CHECK(one_file.out.empty());
  for (const auto& c : cases) {
    for (bool bad_first : {true, false}) {
      INFO(c.what << (bad_first ? " as BEFORE" : " as AFTER"));
      ProgramResult r = run_shell(kTool + " compare " + (bad_first ? c.file + " " + good : good + " " + c.file));
      CHECK(r.status == 2);
      CHECK(error_lines(r.err) == 1);
      CHECK(r.err.find(c.message) != std::string::npos);
      CHECK(r.err.find(c.file) != std::string::npos);
      CHECK(r.out.empty());
    }
  }
}

// ================================ prometheus ================================

namespace {

// A strict reader of the text exposition format (version 0.0.4) as node_exporter's textfile
// collector accepts it: HELP and TYPE once per family and before its samples, names
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, label values with only \\, \" and
// \n escapes, no duplicate series, no timestamps, counters ending in _total.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;
};

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  static const std::regex help_re(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex type_re(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex name_re(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*)");
  static const std::regex label_name_re(R"(^[a-zA-Z_][a-zA-Z0-9_]*)");
  std::set<std::string> helped, series, finished;
  std::string current;
  std::istringstream in(text);
  int line_no = 0;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    INFO("line " << line_no << ": " << line);
    REQUIRE(!line.empty());
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      REQUIRE(std::regex_match(line, m, help_re));
      REQUIRE(helped.insert(m[1]).second);
      if (!current.empty() && current != m[1].str()) finished.insert(current);
      REQUIRE(finished.count(m[1]) == 0);
      current = m[1];
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      REQUIRE(std::regex_match(line, m, type_re));
      REQUIRE(m[1] == current);   // HELP then TYPE, for the family being written
      REQUIRE(e.types.emplace(m[1], m[2]).second);
      continue;
    }
    REQUIRE(line[0] != '#');
    Sample s;
    REQUIRE(std::regex_search(line, m, name_re));
    s.name = m[0];
    REQUIRE(s.name == current);   // samples follow their family's HELP and TYPE
    REQUIRE(e.types.count(s.name) == 1);
    std::size_t i = s.name.size();
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        REQUIRE(i < line.size());
        std::smatch lm;
        std::string rest = line.substr(i);
        REQUIRE(std::regex_search(rest, lm, label_name_re));
        std::string label = lm[0];
        i += label.size();
        REQUIRE(line.compare(i, 2, "=\"") == 0);
        i += 2;
        std::string value;
        for (;; ++i) {
          REQUIRE(i < line.size());
          char c = line[i];
          if (c == '"') break;
          if (c == '\\') {
            REQUIRE(i + 1 < line.size());
            char n = line[++i];
            REQUIRE((n == '\\' || n == '"' || n == 'n'));
            value += n == 'n' ? '\n' : n;
          } else {
            value += c;
          }
        }
        ++i;
        REQUIRE(s.labels.emplace(label, value).second);
        if (line[i] == ',') { ++i; continue; }
        REQUIRE(line[i] == '}');
        ++i;
        break;
      }
    }
    REQUIRE(line[i] == ' ');
    std::string value = line.substr(i + 1);
    REQUIRE(value.find(' ') == std::string::npos);   // no timestamp
    std::size_t used = 0;
    s.value = std::stod(value, &used);
    REQUIRE(used == value.size());
    std::string key = s.name;
    for (auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    REQUIRE(series.insert(key).second);
    e.samples.push_back(s);
  }
  for (auto& [name, type] : e.types) {
    INFO(name);
    CHECK((type == "counter") == (name.size() > 6 && name.substr(name.size() - 6) == "_total"));
  }
  return e;
}

const Sample* find(const Exposition& e, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : e.samples) {
    if (s.name != name) continue;
    bool all = true;
    for (auto& [k, v] : labels) all &= s.labels.count(k) && s.labels.at(k) == v;
    if (all) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("report --format prometheus: strict exposition format, values equal to the JSON report's") {
  TempDir dir("numa-views-test");
  std::string rec = dir / "before.rec";
  spit(rec, serialize_recording(before_fix()));
  json report = report_json(rec);
  ProgramResult r = run_shell(kTool + " report " + rec + " --format prometheus");
  INFO(r.err);
  REQUIRE(r.status == 0);
  Exposition e = parse_exposition(r.out);
  for (const auto& s : e.samples) {
    INFO(s.name);
    CHECK(s.name.rfind("numa_agent_", 0) == 0);
    CHECK(s.labels.at("program") == "app");
    if (s.name.size() > 6 && s.name.substr(s.name.size() - 6) == "_ratio") CHECK((s.value >= 0 && s.value <= 1));
  }
  auto value = [&](const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    const Sample* s = find(e, name, labels);
    INFO(name);
    REQUIRE(s);
    return s->value;
  };
  const json& comp = report["components"];
  CHECK(value("numa_agent_score") == report["score"].get<double>());
  CHECK(value("numa_agent_locality_ratio") == comp["locality"].get<double>());
  CHECK(value("numa_agent_remote_access_ratio") == comp["remote_share"].get<double>());
  CHECK(value("numa_agent_stability_ratio") == comp["stability"].get<double>());
  CHECK(value("numa_agent_balance_ratio") == comp["balance"].get<double>());
  CHECK(value("numa_agent_recording_duration_seconds") == report["evidence"]["recording"]["duration_s"].get<double>());
  CHECK(e.types.at("numa_agent_node_accesses_served_total") == "counter");
  for (const auto& n : comp["nodes"]) {
    std::string node = std::to_string(n["node"].get<int>());
    CHECK(value("numa_agent_node_resident_bytes", {{"node", node}}) == n["resident_bytes"].get<double>());
    CHECK(value("numa_agent_node_accesses_served_total", {{"node", node}}) == n["accesses_served"].get<double>());
    CHECK(value("numa_agent_node_accesses_issued_total", {{"node", node}}) == n["accesses_issued"].get<double>());
    CHECK(value("numa_agent_node_memory_bytes", {{"node", node}}) ==
          report["machine"]["nodes"][n["node"].get<std::size_t>()]["memory_bytes"].get<double>());
  }
  for (const auto& t : report["threads"]) {
    std::map<std::string, std::string> l{{"tid", std::to_string(t["tid"].get<int>())}, {"thread", t["name"]}};
    INFO(t.dump());
    if (t["locality"].is_number()) CHECK(value("numa_agent_thread_locality_ratio", l) == t["locality"].get<double>());
    else CHECK(find(e, "numa_agent_thread_locality_ratio", l) == nullptr);   // null is no sample
    CHECK(value("numa_agent_thread_node_migrations_total", l) == t["node_migrations"].get<double>());
    for (auto& [node, share] : t["residency"].items()) {
      auto ln = l;
      ln["node"] = node;
      CHECK(value("numa_agent_thread_residency_ratio", ln) == share.get<double>());
    }
  }
  // The escaped thread name came back intact through the label grammar.
  CHECK(find(e, "numa_agent_thread_node_migrations_total", {{"thread", "logger \"main\"\\x"}}) != nullptr);
  CHECK(value("numa_agent_recommendations") == static_cast<double>(report["recommendations"].size()));
  for (const auto& rec_entry : report["recommendations"])
    CHECK(value("numa_agent_recommendation_remote_cost_share_ratio",
                {{"rank", std::to_string(rec_entry["rank"].get<int>())}, {"kind", rec_entry["kind"]}}) ==
          rec_entry["estimated_gain"]["share_of_remote_cost"].get<double>());
  CHECK(value("numa_agent_kernel_numa_events_total", {{"event", "numa_hint_faults"}}) == 2000);

  // One node: the score is null in the model, so there is no score sample at all.
  Recording one = two_nodes();
  one.machine.nodes.resize(1);
  one.machine.distances = {{10}};
  add_thread(one, 300, "app", {{0, 10}});
  spit(dir / "one.rec", serialize_recording(one));
  ProgramResult r1 = run_shell(kTool + " report " + (dir / "one.rec") + " --format prometheus");
  REQUIRE(r1.status == 0);
  Exposition e1 = parse_exposition(r1.out);
  CHECK(find(e1, "numa_agent_score") == nullptr);
  CHECK(find(e1, "numa_agent_locality_ratio") == nullptr);
  CHECK(find(e1, "numa_agent_report_info") != nullptr);
}

// ================================ html ================================

namespace {

std::string chromium_binary() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (file_exists(p)) return p;
  return "";
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("report --format html: self-contained page renders in headless Chromium without console errors") {
  const std::string chromium = chromium_binary();
  if (chromium.empty()) {
    WARN("chromium is not installed (Debian package chromium): skipped");
    std::exit(77);
  }
  TempDir dir("numa-views-test");
  std::string rec = dir / "before.rec";
  spit(rec, serialize_recording(before_fix()));
  json report = report_json(rec);
  std::string html = dir / "report.html";
  ProgramResult r = run_shell(kTool + " report " + rec + " --format html -o " + html);
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::string page = read_file(html);
  // Self-contained: nothing to fetch (the CSP would block it and log it, which fails below too).
  CHECK(page.find("http://") == std::string::npos);
  CHECK(page.find("https://") == std::string::npos);
  CHECK(page.find(" src=") == std::string::npos);
  CHECK(page.find("logger &quot;main&quot;\\x") != std::string::npos);   // escaped, not raw

  const std::string flags = " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
                            "--user-data-dir=" + (dir / "profile") + " --enable-logging=stderr --v=0 ";
  ProgramResult dom = run_shell("timeout 20 " + chromium + flags + "--window-size=1366,900 --virtual-time-budget=2000 --dump-dom file://" + html);
  INFO(dom.err.substr(0, 4000));
  REQUIRE(dom.status == 0);
  // Console messages of the page (CSP violations, script errors, console.*) come as ":CONSOLE" lines.
  CHECK(dom.err.find(":CONSOLE") == std::string::npos);
  CHECK(dom.err.find("Uncaught") == std::string::npos);
  // The inline script ran to its end and measured every chart.
  CHECK(dom.out.find("data-render-check=\"ok\"") != std::string::npos);
  std::regex size_re(R"re(data-chart="([a-z]+)"[^>]*data-rendered-size="(\d+)x(\d+)")re");
  std::map<std::string, std::pair<int, int>> sizes;
  for (auto it = std::sregex_iterator(dom.out.begin(), dom.out.end(), size_re); it != std::sregex_iterator(); ++it)
    sizes[(*it)[1]] = {std::stoi((*it)[2]), std::stoi((*it)[3])};
  for (const char* chart : {"score", "memory", "traffic", "heatmap"}) {
    INFO(chart);
    REQUIRE(sizes.count(chart));
    CHECK(sizes[chart].first > 100);
    CHECK(sizes[chart].second > 20);
  }
  // Heat map: one cell per thread and node.
  const std::size_t threads = report["threads"].size(), nodes = report["machine"]["nodes"].size();
  CHECK(count(dom.out, "class=\"cell\"") == static_cast<int>(threads * nodes));
  CHECK(dom.out.find("data-tid=\"101\" data-node=\"1\" data-share=\"0.900\"") != std::string::npos);
  // Ranked recommendations with their commands.
  CHECK(count(dom.out, "class=\"rec\"") == static_cast<int>(report["recommendations"].size()));
  for (const auto& rec_entry : report["recommendations"]) {
    std::string cmd = rec_entry["command"];
    std::string escaped;
    // --dump-dom serialises a text node escaping & < > only (quotes stand as they are).
    for (char c : cmd) escaped += c == '&' ? std::string("&amp;") : c == '<' ? std::string("&lt;") : c == '>' ? std::string("&gt;") : std::string(1, c);
    CHECK(dom.out.find(escaped) != std::string::npos);
  }

  // A screenshot at laptop size: a PNG of that size with something drawn on it.
  std::string png = dir / "report.png";
  ProgramResult shot = run_shell("timeout 20 " + chromium + flags + "--window-size=1366,900 --hide-scrollbars --screenshot=" + png +
                     " file://" + html);
  REQUIRE(shot.status == 0);
  std::string bytes = read_file(png);
  REQUIRE(bytes.size() > 24);
  CHECK(bytes.substr(1, 3) == "PNG");
  auto be32 = [&](std::size_t at) {
    return (unsigned(static_cast<unsigned char>(bytes[at])) << 24) | (unsigned(static_cast<unsigned char>(bytes[at + 1])) << 16) |
           (unsigned(static_cast<unsigned char>(bytes[at + 2])) << 8) | unsigned(static_cast<unsigned char>(bytes[at + 3]));
  };
  CHECK(be32(16) == 1366);
  CHECK(be32(20) == 900);
  CHECK(bytes.size() > 20000);   // a blank 1366x900 PNG compresses to a few kB
  if (const char* keep = std::getenv("NUMA_VIEWS_SCREENSHOT")) std::system(("cp " + png + " " + keep).c_str());
}

// ================================ top ================================

namespace {

int last_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  int last = 0;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) last = c;
  return last;
}

int node_of_cpu(int cpu) {
  for (int n = 0; file_exists("/sys/devices/system/node/node" + std::to_string(n)); ++n)
    if (file_exists("/sys/devices/system/node/node" + std::to_string(n) + "/cpu" + std::to_string(cpu))) return n;
  return 0;
}

// A child pinned to one CPU with `workers` named threads that wake every 10 ms; killed by the caller.
pid_t spawn_pinned(int cpu, int workers) {
  pid_t pid = fork();
  if (pid == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
    for (int i = 0; i < workers; ++i) {
      std::thread([] {
        pthread_setname_np(pthread_self(), "views-worker");
        for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }).detach();
    }
    for (;;) pause();
  }
  return pid;
}

std::string list_directory(const std::string& path) {
  FILE* p = popen(("ls " + path).c_str(), "r");
  std::string out;
  char buf[256];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}

struct ThreadRow {
  int tid = 0, cpu = -1, node = -1;
  std::string name;
};

// Thread rows of the last block of plain output: the lines after the "TID" header.
std::vector<ThreadRow> last_block_threads(const std::string& out) {
  std::vector<ThreadRow> rows;
  std::istringstream in(out);
  bool table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("TID NAME") != std::string::npos || line.find("     TID ") == 0) {
      rows.clear();
      table = true;
      continue;
    }
    if (line.empty()) table = false;
    if (!table) continue;
    std::istringstream f(line);
    ThreadRow r;
    f >> r.tid >> r.name >> r.cpu >> r.node;
    if (f) rows.push_back(r);
  }
  return rows;
}

}  // namespace

TEST_CASE("top --plain: every thread of a live process, with its CPU and node") {
  TempDir dir("numa-views-test");
  const int cpu = last_cpu();
  pid_t pid = spawn_pinned(cpu, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ProgramResult r = run_shell(kTool + " top -p " + std::to_string(pid) + " --interval 0.5 --iterations 3");   // stdout is a file: plain
  std::set<int> tasks;
  std::istringstream listing(list_directory("/proc/" + std::to_string(pid) + "/task"));
  for (int tid; listing >> tid;) tasks.insert(tid);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("\033[") == std::string::npos);   // no screen control when stdout is not a terminal
  CHECK(count(r.out, "numa-analyze top - PID " + std::to_string(pid)) == 3);
  CHECK(r.out.find("4 threads") != std::string::npos);
  auto rows = last_block_threads(r.out);
  REQUIRE(rows.size() == 4);
  int workers = 0;
  for (const auto& row : rows) {
    INFO(row.tid);
    CHECK(tasks.count(row.tid) == 1);
    CHECK(row.cpu == cpu);
    CHECK(row.node == node_of_cpu(cpu));
    workers += row.name == "views-worker";
  }
  CHECK(workers == 3);
  // Per node lines: one per node.
  CHECK(r.out.find("NODE  CPUS") != std::string::npos);
  if (online_nodes() == 1) CHECK(r.out.find("score -") != std::string::npos);   // one node: nothing to score
}

TEST_CASE("top: a process that exits ends top with a clear line and exit 0") {
  TempDir dir("numa-views-test");
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "1.5", static_cast<char*>(nullptr));
    _exit(127);
  }
  ProgramResult r = run_shell("timeout 30 " + kTool + " top --plain -p " + std::to_string(pid) + " --interval 0.3");
  waitpid(pid, nullptr, 0);
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.err == "numa-analyze: process " + std::to_string(pid) + " exited\n");
  CHECK(count(r.out, "numa-analyze top - PID") >= 2);
}

TEST_CASE("top: a PID that does not exist is a one-line error and exit 2") {
  TempDir dir("numa-views-test");
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);   // reaped: the PID is free
  ProgramResult r = run_shell(kTool + " top -p " + std::to_string(pid) + " --iterations 1");
  CHECK(r.status == 2);
  CHECK(r.err == "numa-analyze: no process with PID " + std::to_string(pid) + "\n");
  CHECK(r.out.empty());
  ProgramResult usage = run_shell(kTool + " top --iterations 1");   // no -p
  CHECK(usage.status == 2);
  CHECK(usage.err.find("--pid is required") != std::string::npos);
  ProgramResult bad_interval = run_shell(kTool + " top -p 1 --interval 0");
  CHECK(bad_interval.status == 2);
  CHECK(error_lines(bad_interval.err) == 1);
}
