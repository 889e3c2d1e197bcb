// kat_check [--expect-fail-list FILE] [--strict] RUN_DIR...: the known-answer suite's checker
// (issue 14 part 5). Each RUN_DIR holds one run of a kat_* program under numa-analyze record:
//   truth.txt    the program's output (its "KAT truth ..." line, see tests/programs/kat_truth.hpp)
//   report.json  numa-analyze report --format json of that recording
//   run.txt      "case=.. nodes=N balancing=0|1 agent=0|1" as kat_suite.sh ran it
// Prints one table row per run (case, nodes, balancing, agent, truth, reported, interval,
// confidence, coverage, top recommendation) and judges the criteria:
//   share    reported remote share within 0.05 of the truth; or, where the report says low
//            confidence or unknown, the truth inside its interval and the interval <= 0.20 wide
//   quiet    a well-placed run (the program expects "none") gets no recommendation
//   binding  a run whose threads used more than one node gets no whole-program single-node
//            binding (numactl --cpunodebind / --membind / -N / -m)
//   top      otherwise the top recommendation is one of the kinds the program expects
//   site     and it names the program's allocation or initialisation (file:line)
// A failure is expected when FILE lists it: lines "KEY CRITERION REASON...", KEY a glob over
// "case/nN/bB/agent" (agent is "agent" or "plain"), CRITERION one of the above, "run" or "*".
// Exit 1 when a criterion fails that is not listed, or a run has no truth or no report; a listed
// failure that now passes is printed as XPASS (remove its line), and fails only with --strict.
// Runs in the busybox guests, hence C++ and not a script.
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

constexpr double kShareTolerance = 0.05;
constexpr double kWidestInterval = 0.20;
constexpr double kEpsilon = 1e-9;

// ---- the report, read defensively ------------------------------------------------------------
// The report schema is changing (fusion with intervals and coverage, issue 14 part 1): every
// field the checker needs is looked up at each place it has been or may be put. This adapter is
// the one function to fix when the schema settles.

const json* at(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object()) return nullptr;
    auto it = p->find(key);
    if (it == p->end()) return nullptr;
    p = &*it;
  }
  return p->is_null() ? nullptr : p;
}

std::optional<double> number(const json* j, std::initializer_list<const char*> keys = {}) {
  if (j == nullptr) return std::nullopt;
  if (j->is_number()) return j->get<double>();
  if (j->is_object())
    for (const char* k : keys) {
      auto it = j->find(k);
      if (it != j->end() && it->is_number()) return it->get<double>();
    }
  return std::nullopt;
}

struct Interval {
  double low, high;
};

// [lo, hi], {"low","high"}, {"lo","hi"} or {"interval": ...}.
std::optional<Interval> interval(const json* j) {
  if (j == nullptr) return std::nullopt;
  if (j->is_array() && j->size() == 2 && (*j)[0].is_number() && (*j)[1].is_number())
    return Interval{(*j)[0].get<double>(), (*j)[1].get<double>()};
  if (j->is_object()) {
    for (auto [lo, hi] : {std::pair{"low", "high"}, std::pair{"lo", "hi"}, std::pair{"lower", "upper"}}) {
      auto l = number(at(*j, {lo})), h = number(at(*j, {hi}));
      if (l && h) return Interval{*l, *h};
    }
    if (auto i = at(*j, {"interval"})) return interval(i);
  }
  return std::nullopt;
}

struct Recommendation {
  std::string kind, title, command, text;   // text: the whole object, to find a site in
};

struct ReportView {
  std::optional<double> remote_share;
  std::optional<Interval> remote_interval;
  std::string confidence;    // high | medium | low | unknown
  std::optional<double> coverage;
  std::string source;
  std::vector<Recommendation> recommendations;
};

ReportView read_report(const json& r) {
  ReportView v;
  const json* components = at(r, {"components"});
  const json empty = json::object();
  const json& c = components ? *components : empty;
  // Remote share: components.remote_share (a number or {value|estimate, interval...}), else
  // 1 - components.locality.
  if (auto share = at(c, {"remote_share"})) {
    v.remote_share = number(share, {"value", "estimate", "point", "share"});
    v.remote_interval = interval(share);
  }
  if (!v.remote_share)
    if (auto loc = number(at(c, {"locality"}), {"value", "estimate", "point"})) v.remote_share = 1.0 - *loc;
  if (!v.remote_interval)
    for (auto path : {std::initializer_list<const char*>{"remote_share_interval"},
                      std::initializer_list<const char*>{"details", "remote_share", "interval"},
                      std::initializer_list<const char*>{"details", "locality", "remote_share_interval"}})
      if ((v.remote_interval = interval(at(c, path)))) break;
  if (!v.remote_interval)   // a locality interval is the remote one mirrored
    for (auto path : {std::initializer_list<const char*>{"locality_interval"},
                      std::initializer_list<const char*>{"locality"},
                      std::initializer_list<const char*>{"details", "locality", "interval"}})
      if (auto i = interval(at(c, path))) {
        v.remote_interval = Interval{1.0 - i->high, 1.0 - i->low};
        break;
      }
  for (auto j : {at(c, {"details", "locality", "confidence"}), at(c, {"confidence"}), at(r, {"evidence", "confidence"})})
    if (j != nullptr && j->is_string()) {
      v.confidence = j->get<std::string>();
      break;
    }
  if (!v.remote_share) v.confidence = "unknown";
  if (v.confidence.empty()) v.confidence = "unknown";
  for (auto j : {at(r, {"evidence", "coverage"}), at(c, {"coverage"}), at(c, {"details", "locality", "coverage"})})
    if ((v.coverage = number(j, {"share", "value", "resident_share", "bytes_share"}))) break;
  if (auto s = at(r, {"evidence", "locality_source"}); s && s->is_string()) v.source = s->get<std::string>();
  if (auto recs = at(r, {"recommendations"}); recs && recs->is_array())
    for (const auto& rec : *recs) {
      auto text = [&](const char* k) {
        auto it = rec.find(k);
        return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      v.recommendations.push_back({text("kind"), text("title"), text("command"), rec.dump()});
    }
  return v;
}

// ---- the program's truth -----------------------------------------------------------------------

struct Truth {
  std::map<std::string, std::string> fields;   // key=value of the KAT truth line
  std::string get(const std::string& k) const {
    auto it = fields.find(k);
    return it == fields.end() ? "" : it->second;
  }
};

std::optional<Truth> read_truth(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto at_kat = line.find("KAT truth ");
    if (at_kat == std::string::npos) continue;
    Truth t;
    std::istringstream words(line.substr(at_kat + 10));
    std::string word;
    while (words >> word)
      if (auto eq = word.find('='); eq != std::string::npos) t.fields[word.substr(0, eq)] = word.substr(eq + 1);
    if (!t.get("case").empty() && !t.get("remote_share").empty()) return t;
  }
  return std::nullopt;
}

std::map<std::string, std::string> read_run(const std::string& path) {
  std::map<std::string, std::string> run;
  std::ifstream in(path);
  std::string word;
  while (in >> word)
    if (auto eq = word.find('='); eq != std::string::npos) run[word.substr(0, eq)] = word.substr(eq + 1);
  return run;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

// ---- the expected-failure list -----------------------------------------------------------------

struct Expected {
  std::string key_glob, criterion, reason;
  int line;
  bool matched = false, passed_somewhere = false;
};

const std::set<std::string> kCriteria = {"run", "share", "quiet", "binding", "top", "site", "*"};

bool read_expected(const std::string& path, std::vector<Expected>& out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "kat_check: cannot read the expect-fail list %s\n", path.c_str());
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream words(line);
    Expected e;
    e.line = n;
    if (!(words >> e.key_glob) || e.key_glob[0] == '#') continue;
    std::getline(words >> e.criterion, e.reason);
    e.reason.erase(0, e.reason.find_first_not_of(" \t"));
    if (kCriteria.count(e.criterion) == 0 || e.reason.empty()) {
      std::fprintf(stderr, "kat_check: %s:%d: want 'CASE/nN/bB/agent|plain CRITERION REASON', got '%s'\n",
                   path.c_str(), n, line.c_str());
      return false;
    }
    out.push_back(e);
  }
  return true;
}

Expected* listed(std::vector<Expected>& list, const std::string& key, const std::string& criterion) {
  for (auto& e : list)
    if ((e.criterion == criterion || e.criterion == "*") && fnmatch(e.key_glob.c_str(), key.c_str(), 0) == 0) return &e;
  return nullptr;
}

std::string fixed(std::optional<double> v, const char* fmt = "%.3f") {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, *v);
  return buf;
}

// A whole-program single-node binding: numactl pinning every thread or all memory to one node.
bool single_node_binding(const std::string& command) {
  if (command.find("numactl") == std::string::npos) return false;
  for (const char* opt : {"--cpunodebind", "--membind", " -N ", " -m ", "--physcpubind", " -C "})
    if (command.find(opt) != std::string::npos) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Expected> expected;
  std::string list_path;
  bool strict = false;
  std::vector<std::string> runs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--expect-fail-list" && i + 1 < argc) {
      list_path = argv[++i];
      if (!read_expected(list_path, expected)) return 2;
    } else if (a == "--strict") {
      strict = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "usage: kat_check [--expect-fail-list FILE] [--strict] RUN_DIR...\n");
      return 2;
    } else {
      runs.push_back(a);
    }
  }
  if (runs.empty()) {
    std::fprintf(stderr, "usage: kat_check [--expect-fail-list FILE] [--strict] RUN_DIR...\n");
    return 2;
  }

  int failed = 0, expected_failures = 0, passed = 0;
  std::printf("%-15s %-2s %-3s %-5s %-6s %-8s %-13s %-7s %-5s %-6s %s\n", "case", "n", "bal", "agent", "truth",
              "reported", "interval", "conf", "cover", "result", "top recommendation");
  for (const auto& dir : runs) {
    auto run = read_run(dir + "/run.txt");
    const auto truth = read_truth(dir + "/truth.txt");
    const std::string case_name = truth ? truth->get("case") : run["case"];
    const std::string agent = run["agent"] == "1" ? "agent" : "plain";
    const std::string key = case_name + "/n" + run["nodes"] + "/b" + run["balancing"] + "/" + agent;

    std::vector<std::pair<std::string, std::string>> failures;   // criterion, why
    std::vector<std::string> passes;
    std::optional<ReportView> view;
    std::string report_error;
    try {
      std::ifstream in(dir + "/report.json");
      if (!in) throw std::runtime_error("no report.json");
      view = read_report(json::parse(in));
    } catch (const std::exception& e) {
      report_error = e.what();
    }
    if (!truth) failures.push_back({"run", "the program printed no KAT truth line (see " + dir + "/truth.txt)"});
    if (!view) failures.push_back({"run", "no readable report: " + report_error});

    const double want = truth ? std::strtod(truth->get("remote_share").c_str(), nullptr) : NAN;
    std::string top_text = "-";
    if (truth && view) {
      passes.push_back("run");
      const auto& v = *view;
      // share
      char why[240];
      const bool low = v.confidence == "low" || v.confidence == "unknown";
      const bool near = v.remote_share && std::fabs(*v.remote_share - want) <= kShareTolerance + kEpsilon;
      const bool inside = v.remote_interval && v.remote_interval->high - v.remote_interval->low <= kWidestInterval + kEpsilon &&
                          v.remote_interval->low - kEpsilon <= want && want <= v.remote_interval->high + kEpsilon;
      if (near || (low && inside)) {
        passes.push_back("share");
      } else {
        if (!v.remote_share && !v.remote_interval)
          std::snprintf(why, sizeof why, "no remote share and no interval reported (truth %.3f)", want);
        else if (low && v.remote_interval)
          std::snprintf(why, sizeof why, "confidence %s and the interval [%.3f, %.3f] %s the truth %.3f", v.confidence.c_str(),
                        v.remote_interval->low, v.remote_interval->high,
                        v.remote_interval->high - v.remote_interval->low > kWidestInterval + kEpsilon ? "is wider than 0.20 around" : "misses",
                        want);
        else
          std::snprintf(why, sizeof why, "reported %s, truth %.3f: off by more than %.2f (confidence %s, %s)",
                        fixed(v.remote_share).c_str(), want, kShareTolerance, v.confidence.c_str(),
                        low ? "no interval" : "not low, so no interval excuses it");
        failures.push_back({"share", why});
      }
      const auto expect = split_commas(truth->get("expect"));
      const bool well_placed = expect.empty() || (expect.size() == 1 && expect[0] == "none");
      if (!v.recommendations.empty()) {
        const auto& top = v.recommendations[0];
        top_text = top.kind + ": " + top.title.substr(0, 70);
      }
      if (well_placed) {
        if (v.recommendations.empty()) passes.push_back("quiet");
        else failures.push_back({"quiet", std::to_string(v.recommendations.size()) + " recommendation(s) for a well-placed run"});
      } else {
        const bool right_kind = !v.recommendations.empty() &&
            std::find(expect.begin(), expect.end(), v.recommendations[0].kind) != expect.end();
        if (right_kind) passes.push_back("top");
        else failures.push_back({"top", "top recommendation " + (v.recommendations.empty() ? std::string("none") : v.recommendations[0].kind) +
                                            ", want " + truth->get("expect")});
        // site=function@file:line; the recommendation must name file:line.
        const std::string site = truth->get("site");
        const std::string file_line = site.substr(site.find('@') == std::string::npos ? 0 : site.find('@') + 1);
        if (!v.recommendations.empty() && v.recommendations[0].text.find(file_line) != std::string::npos) passes.push_back("site");
        else failures.push_back({"site", "top recommendation does not name " + file_line + " (" + site + ")"});
      }
      if (split_commas(truth->get("thread_nodes")).size() > 1) {
        std::string binding;
        for (const auto& r : v.recommendations)
          if (single_node_binding(r.command)) binding = r.command;
        if (binding.empty()) passes.push_back("binding");
        else failures.push_back({"binding", "threads ran on nodes " + truth->get("thread_nodes") + ", yet: " + binding});
      }
    }

    std::string result = failures.empty() ? "PASS" : "FAIL";
    std::vector<std::string> notes;
    bool unlisted = false;
    for (const auto& [criterion, why] : failures) {
      if (Expected* e = listed(expected, key, criterion)) {
        e->matched = true;
        notes.push_back("  XFAIL " + criterion + ": " + why + " (known: " + e->reason + ")");
      } else {
        unlisted = true;
        notes.push_back("  FAIL  " + criterion + ": " + why);
      }
    }
    for (const auto& criterion : passes)
      if (criterion != "*")
        for (auto& e : expected)
          if (e.criterion == criterion && fnmatch(e.key_glob.c_str(), key.c_str(), 0) == 0) {
            e.passed_somewhere = true;
            notes.push_back("  XPASS " + criterion + ": listed at " + list_path + ":" + std::to_string(e.line) +
                            " but passes now: remove or narrow that line");
          }
    if (!failures.empty() && !unlisted) result = "xfail";
    if (unlisted) ++failed;
    else if (failures.empty()) ++passed;
    else ++expected_failures;

    std::string range = "-";
    if (view && view->remote_interval) range = "[" + fixed(view->remote_interval->low, "%.2f") + "," + fixed(view->remote_interval->high, "%.2f") + "]";
    std::printf("%-15s %-2s %-3s %-5s %-6s %-8s %-13s %-7s %-5s %-6s %s\n", case_name.c_str(), run["nodes"].c_str(),
                run["balancing"].c_str(), agent == "agent" ? "yes" : "no", fixed(truth ? std::optional<double>(want) : std::nullopt).c_str(),
                view ? fixed(view->remote_share).c_str() : "-", range.c_str(), view ? view->confidence.c_str() : "-",
                view ? fixed(view->coverage, "%.2f").c_str() : "-", result.c_str(), top_text.c_str());
    for (const auto& n : notes) std::printf("%s\n", n.c_str());
  }
  int xpass = 0;
  for (const auto& e : expected)
    if (e.passed_somewhere && !e.matched) ++xpass;
  std::printf("kat_check: %d run(s): %d pass, %d fail only where %s expects it, %d fail; %d list line(s) not needed by these runs\n",
              static_cast<int>(runs.size()), passed, expected_failures, list_path.empty() ? "no list" : list_path.c_str(), failed, xpass);
  return failed > 0 || (strict && xpass > 0) ? 1 : 0;
}
