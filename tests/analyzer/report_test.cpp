// Scores, evidence choice and recommendation rules on synthetic recordings (table-driven), plus
// the recording file's validation.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

#include "agent/role_rules.hpp"
#include "analyzer/model/mem_class.hpp"
#include "analyzer/model/recording.hpp"
#include "analyzer/rules/report.hpp"
#include "analyzer/rules/rules.hpp"
#include "synthetic_recording.hpp"

using namespace numa_agent::analyzer;
using namespace numa_agent::test;
using nlohmann::json;

namespace {

void add_thread(Recording& r, int tid, int node, std::uint64_t node_migrations = 0) {
  ThreadRecord t;
  t.tid = tid;
  t.name = "worker";
  t.first_seen_s = 0;
  t.last_seen_s = r.duration_s;
  t.residency[node] = 100;
  t.node_migrations = node_migrations;
  r.threads.push_back(t);
}

constexpr std::uint64_t kA = 0x7f0000000000, kB = 0x7f1000000000;

struct Scenario {
  const char* name;
  Recording recording;
  double locality;                 // expected components.locality
  const char* top;                 // expected kind of recommendation 1, "" for none
  const char* source;              // expected evidence.locality_source
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0), add_thread(r, 2, 1);
    add_mapping(r, kA, {{0, 16384}}), add_mapping(r, kB, {{1, 16384}});
    add_access(r, 1, 0, 0, kA, 1000), add_access(r, 2, 1, 1, kB, 1000);
    out.push_back({"all-local", r, 1.0, "", "numa-hint-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 1);
    add_mapping(r, kA, {{0, 16384}}, "bind:0");
    add_access(r, 1, 1, 0, kA, 1000);
    out.push_back({"all-remote", r, 0.0, "colocate", "numa-hint-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0);
    add_mapping(r, kA, {{0, 8192}, {1, 8192}}, "interleave:0-1");
    add_access(r, 1, 0, 0, kA, 500), add_access(r, 1, 0, 1, kA, 500);
    out.push_back({"50/50", r, 0.5, "colocate", "numa-hint-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0, /*node_migrations=*/50);
    r.threads[0].residency = {{0, 50}, {1, 50}};
    add_mapping(r, kA, {{0, 16384}});
    add_access(r, 1, 0, 0, kA, 500), add_access(r, 1, 1, 0, kA, 500);
    out.push_back({"migrating thread", r, 0.5, "pin-threads", "numa-hint-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0), add_thread(r, 2, 1);
    add_mapping(r, kA, {{0, 16384}});
    add_access(r, 1, 0, 0, kA, 500), add_access(r, 2, 1, 0, kA, 500);
    out.push_back({"hot shared array", r, 0.5, "interleave", "numa-hint-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0), add_thread(r, 2, 1);
    add_mapping(r, kA, {{0, 16384}});
    add_access(r, 2, 1, 0, kA, 900), add_access(r, 1, 0, 0, kA, 50);
    FirstTouchBucket f;
    f.tid = 1, f.cpu_node = 0, f.memory_node = 0, f.mapping = kA, f.site = "app+0x1234", f.pages = 16000;
    r.first_touch.push_back(f);
    out.push_back({"initialised by the wrong thread", r, 50.0 / 950.0, "first-touch", "numa-hint-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0), add_thread(r, 2, 1);
    add_mapping(r, kA, {{0, 16384}});
    add_access(r, 1, 0, 0, kA, 500, "pmu", "local-dram", 500);
    add_access(r, 2, 1, 0, kA, 500, "pmu", "remote-dram", 490);
    // Hint faults disagree; the PMU wins.
    add_access(r, 2, 1, 1, kA, 5000);
    out.push_back({"read-mostly shared (PMU)", r, 0.5, "replicate", "pmu-memory-sampling"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0);
    r.counters = {true, 300, 100};
    out.push_back({"node counters", r, 0.75, "", "pmu-node-counters"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 1);
    r.threads[0].numa_faults = {{0, 900, 0}, {1, 100, 0}};
    out.push_back({"per-task sched faults", r, 0.1, "colocate", "task-numa-faults"});
  }
  {
    Recording r = synthetic_recording(2);
    add_thread(r, 1, 0);
    add_mapping(r, kA, {{0, 300}, {1, 100}});
    // Placement alone is no measurement: unknown (tested in "fusion: placement alone is unknown").
    out.push_back({"placement only", r, -1, "", "placement-estimate"});
  }
  return out;
}

}  // namespace

TEST_CASE("metric formulas") {
  CHECK_FALSE(coefficient_of_variation({5}));
  CHECK_FALSE(coefficient_of_variation({0, 0}));
  CHECK(coefficient_of_variation({1, 1, 1}).value() == Approx(0.0));
  CHECK(coefficient_of_variation({2, 0}).value() == Approx(1.0));
  CHECK(coefficient_of_variation({4, 0, 0, 0}).value() == Approx(std::sqrt(3.0)));
  CHECK(balance_from_cv(1.0, 2).value() == Approx(0.0));
  CHECK(balance_from_cv(std::sqrt(3.0), 4).value() == Approx(0.0));
  CHECK(balance_from_cv(0.0, 4).value() == Approx(1.0));
  CHECK_FALSE(balance_from_cv(0.5, 1));
  CHECK(stability_from_rate(0) == Approx(1.0));
  CHECK(stability_from_rate(1) == Approx(0.5));
}

TEST_CASE("every rule cites a threshold and a source, every kind has a rule") {
  for (const auto& r : kRules) {
    CHECK_FALSE(r.source.empty());
    CHECK(r.threshold > 0);
  }
  for (auto kind : {RecommendationKind::Colocate, RecommendationKind::Interleave, RecommendationKind::Replicate,
                    RecommendationKind::PinThreads, RecommendationKind::UseAgent, RecommendationKind::FirstTouch})
    CHECK(rule(kind).kind == kind);
  // The published thresholds the issue names.
  CHECK(rule(RecommendationKind::Colocate).threshold == 0.80);
  CHECK(rule(RecommendationKind::Interleave).threshold == 0.35);
  CHECK(rule(RecommendationKind::UseAgent).threshold == 0.70);
  CHECK(kWellPlacedLocality == 0.90);
}

// Rules as data: each row of the table carries its own condition as code, what it judges and how
// it ranks among near-equal costs.
TEST_CASE("every rule has an evaluator, the subjects it judges and its own tie rank") {
  std::set<int> tie_ranks;
  for (const auto& r : kRules) {
    INFO(r.id);
    CHECK(r.evaluate != nullptr);
    CHECK(r.subjects != 0);
    CHECK(tie_ranks.insert(r.tie_rank).second);
    CHECK(r.applies_when_well_placed == (r.kind == RecommendationKind::PinThreads));
  }
}

TEST_CASE("each recommendation cites the rule of its kind, with that rule's threshold") {
  for (auto& s : scenarios()) {
    INFO(s.name);
    const json report = build_report(s.recording);
    for (const auto& rec : report["recommendations"]) {
      const RuleDefinition* cited = nullptr;
      for (const auto& r : kRules)
        if (r.id == rec["rule"]["id"].get<std::string>()) cited = &r;
      REQUIRE(cited != nullptr);
      CHECK(kind_name(cited->kind) == rec["kind"].get<std::string>());
      CHECK(rec["rule"]["threshold"].get<double>() == cited->threshold);
    }
  }
}

// The typed parts of the report model are written and read in one place: reading what
// build_report wrote and writing it again gives the same JSON.
TEST_CASE("typed report parts round-trip: recording summary, components, recommendations") {
  for (auto& s : scenarios()) {
    INFO(s.name);
    const json report = build_report(s.recording);
    CHECK(recording_summary_json(read_recording_summary(report)) == report["evidence"]["recording"]);
    CHECK(components_json(read_components(report)) == report["components"]);
    json recs = json::array();
    for (const auto& r : read_recommendations(report)) recs.push_back(recommendation_json(r));
    CHECK(recs == report["recommendations"]);
  }
  // A report a user wrote may lack fields: they read as defaults, never throw.
  const json sparse = {{"components", {{"locality", "high"}, {"nodes", {{{"node", 1}}}}}},
                       {"recommendations", {{{"kind", "colocate"}, {"title", "t"}}}}};
  const Components c = read_components(sparse);
  CHECK_FALSE(c.locality);
  REQUIRE(c.nodes.size() == 1);
  CHECK(c.nodes[0].node == 1);
  CHECK(c.nodes[0].resident_pages == 0);
  const auto recs = read_recommendations(sparse);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].kind == "colocate");
  CHECK_FALSE(recs[0].mapping);
  CHECK(read_recording_summary(sparse).program().empty());
}

TEST_CASE("memory classes: names round-trip, only the three remote classes are remote") {
  for (MemClass c : {MemClass::Unknown, MemClass::LocalCache, MemClass::LocalHitm, MemClass::LocalDram,
                     MemClass::RemoteDram, MemClass::RemoteCache, MemClass::RemoteHitm, MemClass::Uncached})
    CHECK(parse_mem_class(mem_class_name(c)) == c);
  CHECK(parse_mem_class("fault") == MemClass::Unknown);
  CHECK(is_remote(parse_mem_class("remote-hitm")));
  CHECK_FALSE(is_remote(parse_mem_class("local-dram")));
}

TEST_CASE("scenarios: locality, evidence and top recommendation") {
  for (auto& s : scenarios()) {
    INFO(s.name);
    json report = build_report(s.recording);
    CHECK(report["schema"] == "numa-analyze-report/1");
    for (const char* key : {"machine", "evidence", "score", "components", "threads", "mappings", "sites", "recommendations"})
      CHECK(report.contains(key));
    CHECK(report["evidence"]["locality_source"] == s.source);
    if (s.locality < 0) {
      CHECK(report["components"]["locality"].is_null());
      CHECK(report["score"].is_null());
      continue;
    }
    REQUIRE(report["components"]["locality"].is_number());
    CHECK(report["components"]["locality"].get<double>() == Approx(s.locality).margin(1e-3));
    CHECK(report["score"].is_number());
    const json& recs = report["recommendations"];
    if (std::string(s.top).empty()) {
      if (s.locality >= 0.9) CHECK(recs.empty());
    } else {
      REQUIRE_FALSE(recs.empty());
      CHECK(recs[0]["kind"] == s.top);
      CHECK(recs[0]["rank"] == 1);
      for (const auto& r : recs) {
        for (const char* key : {"rank", "kind", "title", "evidence", "command", "estimated_gain", "rule"}) CHECK(r.contains(key));
        CHECK_FALSE(r["rule"]["source"].get<std::string>().empty());
      }
    }
  }
}

TEST_CASE("a well-placed run gets no recommendation and a high score") {
  auto all = scenarios();
  json report = build_report(all[0].recording);
  CHECK(report["recommendations"].empty());
  CHECK(report["score"].get<double>() >= 90.0);
  CHECK(report["components"]["recommendation_note"].get<std::string>().find("90") != std::string::npos);
}

TEST_CASE("a worse placement scores lower") {
  auto all = scenarios();
  double local = build_report(all[0].recording)["score"];
  double half = build_report(all[2].recording)["score"];
  double remote = build_report(all[1].recording)["score"];
  CHECK(local > half);
  CHECK(half > remote);
}

TEST_CASE("recommendations are ranked by remote-access cost") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 1), add_thread(r, 2, 0);
  add_mapping(r, kA, {{0, 4096}}, "bind:0");    // 16 MiB resident, all remote
  add_mapping(r, kB, {{1, 12288}}, "bind:1");   // 48 MiB resident, all remote
  add_access(r, 1, 1, 0, kA, 900);
  add_access(r, 2, 0, 1, kB, 100);
  json recs = build_report(r)["recommendations"];
  REQUIRE(recs.size() >= 2);
  CHECK(recs[0]["mapping"] == "0x7f1000000000");
  CHECK(recs[1]["mapping"] == "0x7f0000000000");
  CHECK(recs[0]["estimated_gain"]["cost"].get<double>() > recs[1]["estimated_gain"]["cost"].get<double>());
  // Gain: the mapping's share of resident bytes x its remote share x (SLIT 21/10 - 1 = 1.1 extra
  // local-access units per remote access), not its sample count.
  CHECK(recs[0]["estimated_gain"]["cost"].get<double>() == Approx(0.75 * 1.0 * 1.1).epsilon(1e-3));
  CHECK(recs[1]["estimated_gain"]["cost"].get<double>() == Approx(0.25 * 1.0 * 1.1).epsilon(1e-3));
  CHECK(recs[0]["estimated_gain"]["share_of_remote_cost"].get<double>() == Approx(0.75).epsilon(1e-3));
  CHECK(recs.back()["kind"] == "use-agent");
}

TEST_CASE("the agent suppresses the use-agent recommendation") {
  auto all = scenarios();
  Recording r = all[1].recording;
  r.agent = true;
  const json report = build_report(r);   // kept: a range-for over a temporary's member dangles
  for (const auto& rec : report["recommendations"]) CHECK(rec["kind"] != "use-agent");
}

TEST_CASE("one node: nothing to measure, never 100") {
  Recording r = synthetic_recording(1);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 100}});
  add_access(r, 1, 0, 0, kA, 1000);
  json report = build_report(r);
  CHECK(report["score"].is_null());
  CHECK(report["components"]["locality"].is_null());
  CHECK(report["components"]["score_note"].get<std::string>().find("nothing to measure") != std::string::npos);
  CHECK(report["recommendations"].empty());
  CHECK(report["threads"].size() == 1);
}

TEST_CASE("recordings survive a round trip through the file format") {
  auto all = scenarios();
  Recording r = all[5].recording;
  r.evidence.push_back({"pmu-memory-sampling", false, "no PMU", 2, "ENOENT"});
  r.agent_profile = json{{"schema", "numa-agent-profile/1"}, {"threads", json::array()}};
  Recording back = parse_recording(serialize_recording(r), "test");
  CHECK(back.threads.size() == r.threads.size());
  CHECK(back.accesses.size() == r.accesses.size());
  CHECK(back.first_touch.at(0).site == "app+0x1234");
  CHECK(back.evidence.at(0).error_name == "ENOENT");
  CHECK(back.mappings.at(0).pages_by_node.at(0) == 16384);
  CHECK(back.agent_profile["schema"] == "numa-agent-profile/1");
  CHECK(build_report(back) == build_report(r));
}

TEST_CASE("bad recording files are refused with a one-line reason") {
  auto all = scenarios();
  std::string good = serialize_recording(all[1].recording);
  auto error_of = [](const std::string& text) {
    try {
      parse_recording(text, "f.json");
    } catch (const RecordingError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  struct Case {
    const char* what;
    std::string text;
    const char* expect;
  };
  json future = json::parse(good);
  future["schema"] = "numa-analyze-recording/2";
  json foreign = json::parse(good);
  foreign["schema"] = "numa-agent-profile/1";
  json missing = json::parse(good);
  missing.erase("threads");
  json bad_node = json::parse(good);
  bad_node["accesses"][0]["memory_node"] = 7;
  json bad_type = json::parse(good);
  bad_type["pid"] = "x";
  const Case cases[] = {
      {"empty", "", "empty file"},
      {"truncated", good.substr(0, good.size() / 2), "truncated or corrupt"},
      {"not JSON", "\x7f" "ELF\x02\x01", "truncated or corrupt"},
      {"JSON without schema", "{\"a\":1}", "no \"schema\""},
      {"foreign schema", foreign.dump(), "not a numa-analyze recording"},
      {"future version", future.dump(), "newer than this numa-analyze"},
      {"missing key", missing.dump(), "key 'threads' not found"},
      {"node out of range", bad_node.dump(), "out of range"},
      {"wrong type", bad_type.dump(), "corrupt recording"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    std::string e = error_of(c.text);
    CHECK(e.find(c.expect) != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
    CHECK(e.rfind("f.json: ", 0) == 0);
  }
  CHECK(error_of(good).empty());
}

TEST_CASE("per-node table: pages held, accesses served and issued, threads at home") {
  auto all = scenarios();
  json nodes = build_report(all[4].recording)["components"]["nodes"];   // hot shared array on node 0
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0]["resident_pages"] == 16384);
  CHECK(nodes[1]["resident_pages"] == 0);
  CHECK(nodes[0]["resident_bytes"] == 16384ull * 4096);   // numa_maps pages of 4 KiB
  CHECK(nodes[1]["resident_bytes"] == 0);
  CHECK(nodes[0]["accesses_served"].get<double>() == 1000);
  CHECK(nodes[1]["accesses_served"].get<double>() == 0);
  CHECK(nodes[0]["accesses_issued"].get<double>() == 500);
  CHECK(nodes[1]["accesses_issued"].get<double>() == 500);
  CHECK(nodes[0]["threads"] == 1);
  CHECK(nodes[1]["threads"] == 1);
}

TEST_CASE("pin-threads places threads that name themselves by role, the others by policy") {
  Recording r = synthetic_recording(2);
  add_thread(r, 100, 0);                                   // main (tid = pid): its name is the program's
  r.threads[0].name = "app";
  for (int k = 0; k < 3; ++k) {                            // three workers, two of them hopping
    add_thread(r, 101 + k, 0, /*node_migrations=*/k < 2 ? 40 : 0);
    r.threads.back().name = "worker-" + std::to_string(k);
  }
  add_thread(r, 104, 0, 40);                               // a hopping thread that never named itself
  r.threads.back().name = "app";
  add_thread(r, 105, 0, 40);                               // a name the rule syntax cannot carry
  r.threads.back().name = "gc thread";
  add_thread(r, 106, 0, 40);                               // a role of one, unnumbered
  r.threads.back().name = "flusher";
  const json report = build_report(r);
  REQUIRE_FALSE(report["recommendations"].empty());
  const json& pin = report["recommendations"][0];
  CHECK(pin["kind"] == "pin-threads");
  // worker: all three of its threads, one slot each, spread over the nodes; flusher the next slot.
  CHECK(pin["command"] ==
        "LD_PRELOAD=libnumaagent.so NUMA_AGENT_PIN=spread NUMA_AGENT_RULES='worker name=worker-* cpus=M0:0@M1:0@M0:1 "
        "count=3; flusher name=flusher cpus=M1:1 count=1' ./app --size 64M");
  // Rules the agent reads as they are meant: two roles, by name, a slot for each thread.
  const std::string command = pin["command"];
  const auto begin = command.find("NUMA_AGENT_RULES='") + 18;
  const numa_agent::RuleSet rules = numa_agent::parse_rules_text(command.substr(begin, command.find('\'', begin) - begin));
  CHECK(rules.warnings.empty());
  REQUIRE(rules.rules.size() == 2);
  CHECK(rules.rules[0].role == "worker");
  CHECK(rules.rules[0].name == "worker-*");
  CHECK(rules.rules[0].count == std::optional<std::size_t>(3));
  CHECK(numa_agent::glob_match(rules.rules[0].name, "worker-2"));
  CHECK(rules.rules[1].role == "flusher");

  // No thread named itself: the policy alone, as before.
  for (auto& t : r.threads) t.name = "app";
  const json unnamed = build_report(r);
  REQUIRE_FALSE(unnamed["recommendations"].empty());
  CHECK(unnamed["recommendations"][0]["command"] == "LD_PRELOAD=libnumaagent.so NUMA_AGENT_PIN=spread ./app --size 64M");
}

TEST_CASE("a thread hopping between nodes gets pin-threads even when its samples look local") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0, /*node_migrations=*/40);
  r.threads[0].residency = {{0, 50}, {1, 50}};
  add_mapping(r, kA, {{0, 16384}});
  add_access(r, 1, 0, 0, kA, 950), add_access(r, 1, 1, 0, kA, 50);
  json report = build_report(r);
  CHECK(report["components"]["locality"].get<double>() == Approx(0.95));
  REQUIRE(report["recommendations"].size() == 1);
  CHECK(report["recommendations"][0]["kind"] == "pin-threads");
  // A thread that stays put, same samples: nothing.
  r.threads[0].node_migrations = 0;
  CHECK(build_report(r)["recommendations"].empty());
}

// The agent's profile inside a recording is the program's file (the fuzzer found these): fields of
// the wrong type and malformed entries are ignored, never thrown through `report`.
TEST_CASE("an agent profile with fields of the wrong type is read as far as it is well formed") {
  Recording r = synthetic_recording(2);
  add_thread(r, 101, 0);
  add_thread(r, 102, 1);
  r.agent = true;
  r.agent_profile = json::parse(R"({"schema": "numa-agent-profile/1",
      "threads": [{"tid": 101, "pinned": "yes", "cpus": 7, "node": "zero", "reason": null},
                  {"tid": 102, "pinned": true, "cpus": "2", "node": 1, "reason": "policy"}, 5, "x"],
      "pools": {"sampling": {"sites": [1, "two", {"site": "main+0x10", "bytes": 64}]}}})");
  json report;
  REQUIRE_NOTHROW(report = build_report(r));
  std::map<int, json> agent_by_tid;
  for (const auto& t : report["threads"]) agent_by_tid[t["tid"].get<int>()] = t["agent"];
  CHECK(agent_by_tid[101]["pinned"] == false);     // wrong types: defaults
  CHECK(agent_by_tid[101]["cpus"] == "");
  CHECK(agent_by_tid[101]["node"] == -1);
  CHECK(agent_by_tid[102]["pinned"] == true);      // the well-formed record as written
  CHECK(agent_by_tid[102]["cpus"] == "2");
  CHECK(agent_by_tid[102]["node"] == 1);
  CHECK_FALSE(agent_by_tid[101].contains("role"));   // no role key in either: none in the report
  CHECK_FALSE(agent_by_tid[102].contains("role"));
  int allocation_sites = 0;
  for (const auto& s : report["sites"])
    if (s["kind"] == "allocation") {
      ++allocation_sites;
      CHECK(s["site"] == "main+0x10");
    }
  CHECK(allocation_sites == 1);
}

TEST_CASE("a thread's role is in the report only when a role rule placed it") {
  Recording r = synthetic_recording(2);
  for (int tid : {101, 102, 103, 104}) add_thread(r, tid, 0);
  r.agent = true;
  r.agent_profile = json::parse(R"json({"schema": "numa-agent-profile/1",
      "threads": [{"tid": 101, "pinned": true, "cpus": "0", "node": 0, "reason": "rule", "rule": "ingest (NUMA_AGENT_RULES rule 1)", "role": "ingest"},
                  {"tid": 102, "pinned": true, "cpus": "1", "node": 0, "reason": "policy", "rule": null},
                  {"tid": 103, "pinned": true, "cpus": "1", "node": 0, "reason": "rule", "role": 7},
                  {"tid": 104, "pinned": true, "cpus": "1", "node": 0, "reason": "rule", "role": ""}]})json");
  std::map<int, json> agent_by_tid;
  const json report = build_report(r);   // alive while its threads are read
  for (const auto& t : report["threads"]) agent_by_tid[t["tid"].get<int>()] = t["agent"];
  CHECK(agent_by_tid[101]["role"] == "ingest");
  CHECK(agent_by_tid[101]["reason"] == "rule");
  CHECK_FALSE(agent_by_tid[102].contains("role"));   // the policy placed it
  CHECK_FALSE(agent_by_tid[103].contains("role"));   // a mistyped or empty role is no role
  CHECK_FALSE(agent_by_tid[104].contains("role"));
}

TEST_CASE("a hopping thread with no sampled access is not worth pinning when others have evidence") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);                          // the worker: all its accesses local
  add_thread(r, 2, 0, /*node_migrations=*/40);  // a main thread that only waits, hopping
  add_mapping(r, kA, {{0, 16384}});
  add_access(r, 1, 0, 0, kA, 1000);
  CHECK(build_report(r)["recommendations"].empty());
  // A handful of its own (5 of 1005 sampled accesses, 3 remote; the 4-node guest's all-local run
  // showed this): still not worth pinning.
  Recording few = r;
  add_access(few, 2, 0, 0, kA, 2), add_access(few, 2, 1, 0, kA, 3);
  CHECK(build_report(few)["recommendations"].empty());
  // The same hopping thread with a real share of the accesses is reported.
  add_access(r, 2, 0, 0, kA, 100);
  auto recs = build_report(r)["recommendations"];
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["kind"] == "pin-threads");
  // No access evidence at all (no hint faults, no PMU): every hopping thread is reported.
  Recording bare = synthetic_recording(2);
  add_thread(bare, 2, 0, /*node_migrations=*/40);
  auto bare_recs = build_report(bare)["recommendations"];
  REQUIRE_FALSE(bare_recs.empty());
  CHECK(bare_recs[0]["kind"] == "pin-threads");
}

// ---- fusion: every source at once, with its interval and coverage (rules/fusion.hpp) ----

#include "analyzer/rules/fusion.hpp"

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void add_named_mapping(Recording& r, std::uint64_t start, std::string name, std::map<int, std::uint64_t> pages,
                       std::string policy = "default") {
  MappingRecord m;
  m.start = start;
  std::uint64_t resident = 0;
  for (auto& [n, p] : pages) resident += p;
  m.end = start + std::max<std::uint64_t>(resident, 1) * 4096;
  m.name = std::move(name);
  m.policy = std::move(policy);
  m.pages_by_node = std::move(pages);
  r.mappings.push_back(m);
}

bool interval_contains(const json& interval, double share) {
  return interval["low"].get<double>() <= share + 1e-9 && share <= interval["high"].get<double>() + 1e-9;
}

bool any_single_node_binding(const json& report) {
  for (const auto& rec : report["recommendations"])
    if (rec["command"].get<std::string>().find("--cpunodebind") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("fusion: the Wilson interval matches the published values") {
  // Wilson (1927) 95 % score interval, as tabulated (e.g. Newcombe 1998): 50/100 -> 0.4038-0.5962,
  // 0/10 -> 0-0.2775.
  auto half = wilson_interval(50, 100);
  CHECK(half.value == Approx(0.5));
  CHECK(half.low == Approx(0.4038).margin(1e-4));
  CHECK(half.high == Approx(0.5962).margin(1e-4));
  auto none = wilson_interval(0, 10);
  CHECK(none.low == 0);
  CHECK(none.high == Approx(0.2775).margin(1e-4));
  auto nothing = wilson_interval(0, 0);
  CHECK(nothing.low == 0);
  CHECK(nothing.high == 1);
}

// Issue 14's first-touch bug with NUMA balancing off: main (node 0) initialised a 64 MiB array, two
// workers on each node sweep it; the only hint faults are 21 on three small stacks. The old ladder
// said 100 % local. The truth is 50 % remote; the array is 99.9 % of the memory and nothing sampled it.
TEST_CASE("fusion: thin hint faults on stacks do not decide a 64 MiB array no sample saw") {
  Recording r = synthetic_recording(2);
  r.machine.numa_balancing = 0;
  add_thread(r, 1, 0);   // main
  add_thread(r, 2, 0), add_thread(r, 3, 0), add_thread(r, 4, 1), add_thread(r, 5, 1);
  add_named_mapping(r, kA, "", {{0, 16384}});
  const std::uint64_t stacks[] = {0x7f5000000000, 0x7f5100000000, 0x7f5200000000};
  for (std::uint64_t s : stacks) add_named_mapping(r, s, "[stack]", {{0, 3}});
  // 21 faults on three stacks after their first touch: with balancing off (and no hint fault in
  // /proc/vmstat) these are re-touches of memory given back, not sampled accesses.
  for (std::uint64_t s : stacks) add_access(r, 1, 0, 0, s, 7);
  FirstTouchBucket f;
  f.tid = 1, f.cpu_node = 0, f.memory_node = 0, f.mapping = kA, f.site = "firsttouch+0x120a", f.pages = 16384;
  r.first_touch.push_back(f);
  const json report = build_report(r);
  const json& c = report["components"];
  CHECK(c["coverage"]["share"].get<double>() == 0);
  CHECK_FALSE(c["coverage"]["known"].get<bool>());
  CHECK(c["locality"].is_null());                       // not "100 % local"
  CHECK(report["score"].is_null());
  CHECK(c["unknown_note"].get<std::string>() == "unknown: no access evidence for 100 % of resident memory");
  CHECK(interval_contains(c["remote_share_interval"], 0.5));
  // The placement estimate: the array on node 0, 3 of 5 threads' time on node 0 -> 40 % remote.
  CHECK(c["remote_share_estimate"].get<double>() == Approx(0.4).margin(1e-3));
  CHECK(report["evidence"]["confidence"] == "low");
  for (const auto& rec : report["recommendations"]) CHECK(rec["kind"] == "pin-threads");
}

// Balancing on, but the program bound 32 MiB with plain MPOL_BIND to node 1: NUMA balancing never
// scans it, so the 1000 local hint faults on its 64 MiB default-policy array say nothing about it.
TEST_CASE("fusion: MPOL_BIND memory balancing cannot scan is not judged by hint faults") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 16384}});            // default policy, scanned
  add_mapping(r, kB, {{1, 8192}}, "bind:1");   // never scanned: no hint fault can land there
  add_access(r, 1, 0, 0, kA, 1000);
  const json report = build_report(r);
  const json& c = report["components"];
  CHECK(c["coverage"]["share"].get<double>() == Approx(2.0 / 3.0).margin(1e-4));
  CHECK(c["coverage"]["known"].get<bool>());
  // The bound third: the only thread runs on node 0, so placement makes it all remote.
  const double lower = 2.0 / 3.0 * 0.0 + 1.0 / 3.0 * 1.0;
  CHECK(c["remote_share"].get<double>() == Approx(lower).margin(1e-3));
  CHECK(c["remote_share_interval"]["low"].get<double>() == Approx(lower).margin(1e-3));
  // Its upper end: Wilson's for 0 of 1000 on the sampled two thirds (0.0038), plus the third.
  CHECK(c["remote_share_interval"]["high"].get<double>() == Approx(lower + 2.0 / 3.0 * 0.00383).margin(5e-4));
  for (const auto& m : report["mappings"])
    if (m["start"] == "0x7f1000000000") CHECK(m["basis"] == "placement-estimate");
  for (const auto& s : report["evidence"]["fusion"]["sources"])
    if (s["source"] == "numa-hint-faults") CHECK(s["bytes_decided"].get<double>() == 16384.0 * 4096);
}

TEST_CASE("fusion: a well-placed program gets no recommendation, whatever a tiny remote heap says") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0), add_thread(r, 2, 1);
  add_mapping(r, kA, {{0, 16384}}), add_mapping(r, kB, {{1, 16384}});
  add_access(r, 1, 0, 0, kA, 4000), add_access(r, 2, 1, 1, kB, 4000);
  const std::uint64_t heap = 0x55d000000000;
  add_named_mapping(r, heap, "[heap]", {{0, 50}});   // 0.2 MiB, used only from node 1
  add_access(r, 2, 1, 0, heap, 3000);
  const json report = build_report(r);
  // Bytes, not samples, weigh it: 50 pages of 32818 are remote.
  CHECK(report["components"]["remote_share"].get<double>() == Approx(50.0 / 32818.0).margin(1e-3));
  CHECK(report["recommendations"].empty());
  // Even on a program that has something to fix, the heap gets nothing of its own.
  Recording bad = r;
  bad.mappings[0].pages_by_node = {{1, 16384}};
  bad.accesses[0].memory_node = 1;
  const json bad_report = build_report(bad);   // kept: the loop must not iterate a destroyed temporary
  for (const auto& rec : bad_report["recommendations"])
    if (rec.contains("mapping")) CHECK(rec["mapping"] != "0x55d000000000");
}

TEST_CASE("fusion: a program on several nodes never gets a whole-program single-node binding") {
  Recording r = synthetic_recording(2);   // 2 CPUs per node
  add_thread(r, 1, 0), add_thread(r, 2, 1), add_thread(r, 3, 1);
  add_mapping(r, kA, {{0, 16384}}, "bind:0");
  add_access(r, 2, 1, 0, kA, 1000), add_access(r, 3, 1, 0, kA, 1000);
  add_mapping(r, kB, {{0, 16384}});
  add_access(r, 1, 0, 0, kB, 1000);
  const json report = build_report(r);
  REQUIRE_FALSE(report["recommendations"].empty());
  CHECK(report["recommendations"][0]["kind"] == "colocate");
  CHECK(report["recommendations"][0]["mapping"] == "0x7f0000000000");
  CHECK_FALSE(any_single_node_binding(report));
  CHECK(report["recommendations"][0]["command"].get<std::string>().find("numa_tonode_memory") != std::string::npos);
  // Two threads, one per node, fit on node 1's two CPUs: the binding is offered, and says why.
  Recording fits = synthetic_recording(2);
  add_thread(fits, 1, 0), add_thread(fits, 2, 1);
  add_mapping(fits, kA, {{0, 16384}}, "bind:0");
  add_access(fits, 2, 1, 0, kA, 1000);
  const json fit_report = build_report(fits);
  REQUIRE_FALSE(fit_report["recommendations"].empty());
  const std::string cmd = fit_report["recommendations"][0]["command"];
  CHECK(cmd.find("--cpunodebind=1") != std::string::npos);
  CHECK(cmd.find("all fit on node 1's 2 CPUs") != std::string::npos);
}

// Watchpoints: probes are aimed by resident bytes; hits per probe-ns are rates. Half the array on
// each node; the thread (node 0) hit 60 of 100 probes (100 us of windows) on node 0 and 10 of 50
// (50 us) on node 1: rates 60/101 and 10/51 per us with the prior of one more 1 us probe, over equal
// bytes: remote share ~25 % (the raw hits would say 10 / 70).
TEST_CASE("fusion: watchpoint hits are rates per probe over the bytes they stand for") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 8192}, {1, 8192}});
  add_access(r, 1, 0, 0, kA, 60, "watchpoint", "fault");
  add_access(r, 1, 0, 1, kA, 10, "watchpoint", "fault");
  r.exposures.push_back({"watchpoint", 1, 0, kA, 100, 60, 100'000});
  r.exposures.push_back({"watchpoint", 1, 1, kA, 50, 10, 50'000});
  const json report = build_report(r);
  const json& c = report["components"];
  CHECK(report["evidence"]["locality_source"] == "watchpoint-sampling");
  const double local_rate = 60.0 / 101.0, remote_rate = 10.0 / 51.0, share = remote_rate / (local_rate + remote_rate);
  CHECK(c["remote_share"].get<double>() == Approx(share).margin(1e-4));
  // The effective count stays the 70 hits: Wilson on share x 70 of 70.
  const auto w = wilson_interval(share * 70, 70);
  CHECK(c["remote_share_interval"]["low"].get<double>() == Approx(w.low).margin(1e-4));
  CHECK(c["remote_share_interval"]["high"].get<double>() == Approx(w.high).margin(1e-4));
  CHECK(c["coverage"]["share"].get<double>() == Approx(1.0));
  // Without exposures hits are no rates: not counted as watchpoint evidence.
  r.exposures.clear();
  CHECK(build_report(r)["evidence"]["locality_source"] != "watchpoint-sampling");
}

TEST_CASE("fusion: placement alone is unknown, with its estimate and bounds") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 300}, {1, 100}});
  const json report = build_report(r);
  const json& c = report["components"];
  CHECK(c["locality"].is_null());
  CHECK(c["coverage"]["share"].get<double>() == 0);
  // One thread on node 0: a quarter of the pages are remote under any sharing.
  CHECK(c["remote_share_estimate"].get<double>() == Approx(0.25));
  CHECK(c["remote_share_interval"]["low"].get<double>() == Approx(0.25));
  CHECK(c["remote_share_interval"]["high"].get<double>() == Approx(0.25));
  CHECK(report["evidence"]["locality_source"] == "placement-estimate");
}

// NUMA balancing migrated a fifth of the faulted pages towards the faulting thread: those faults
// were remote, recorded local (the page's node is read after the move). The interval says so.
TEST_CASE("fusion: pages NUMA balancing migrated widen a fault-based share's upper end") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 16384}});
  add_access(r, 1, 0, 0, kA, 1000);
  r.vmstat_delta = {{"numa_hint_faults", 1000}, {"numa_pages_migrated", 200}};
  const json c = build_report(r)["components"];
  CHECK(c["remote_share"].get<double>() == Approx(0.0));
  CHECK(c["remote_share_interval"]["high"].get<double>() == Approx(wilson_interval(0, 1000).high + 0.2).margin(1e-4));
  // PMU samples read the data source at the access: nothing to widen.
  Recording pmu = synthetic_recording(2);
  add_thread(pmu, 1, 0);
  add_mapping(pmu, kA, {{0, 16384}});
  add_access(pmu, 1, 0, 0, kA, 1000, "pmu", "local-dram", 1000);
  pmu.vmstat_delta = r.vmstat_delta;
  CHECK(build_report(pmu)["components"]["remote_share_interval"]["high"].get<double>() ==
        Approx(wilson_interval(0, 1000).high).margin(1e-4));
}

// The program freed its 64 MiB array before the last numa_maps snapshot: its hint faults name a
// mapping the recording no longer lists. Its first touches give its bytes, so it still weighs.
TEST_CASE("fusion: a sampled mapping gone from the last snapshot weighs by the pages first touched in it") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 1);
  add_named_mapping(r, kB, "[heap]", {{1, 100}});   // 100 local pages, sampled
  add_access(r, 1, 1, 1, kB, 100);
  add_access(r, 1, 1, 0, kA, 300);                  // the vanished array: all remote
  FirstTouchBucket f;
  f.tid = 1, f.cpu_node = 0, f.memory_node = 0, f.mapping = kA, f.site = "init+0x10", f.pages = 16384;
  r.first_touch.push_back(f);
  const json c = build_report(r)["components"];
  CHECK(c["remote_share"].get<double>() == Approx(16384.0 / 16484.0).margin(1e-3));
}

TEST_CASE("fusion: an unsampled mapping gone from the last snapshot still counts, by its first touches") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0), add_thread(r, 2, 1);
  add_named_mapping(r, kB, "[heap]", {{0, 100}});
  add_access(r, 1, 0, 0, kB, 100);
  FirstTouchBucket f;
  f.tid = 1, f.cpu_node = 0, f.memory_node = 0, f.mapping = kA, f.site = "init+0x10", f.pages = 16384;
  r.first_touch.push_back(f);
  const json c = build_report(r)["components"];
  CHECK(c["coverage"]["share"].get<double>() == Approx(100.0 / 16484.0).margin(1e-4));
  CHECK(c["locality"].is_null());
  CHECK(interval_contains(c["remote_share_interval"], 0.5));
}

TEST_CASE("fusion: a share that migrated pages may bias by more than 5 points is low confidence") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 16384}});
  add_access(r, 1, 0, 0, kA, 10000);
  r.vmstat_delta = {{"numa_hint_faults", 10000}, {"numa_pages_migrated", 400}};   // 4 points: still high
  CHECK(build_report(r)["evidence"]["confidence"] == "high");
  r.vmstat_delta["numa_pages_migrated"] = 630;                                     // 6.3 points
  CHECK(build_report(r)["evidence"]["confidence"] == "low");
}

// A policy that binds the mapping to one node leaves NUMA balancing nothing to migrate: the
// system's migrated pages neither widen its share nor lower the confidence.
TEST_CASE("fusion: migrated pages do not bias a mapping bound to one node") {
  Recording r = synthetic_recording(2);
  add_thread(r, 1, 0);
  add_mapping(r, kA, {{0, 16384}});
  add_access(r, 1, 0, 0, kA, 10000);
  r.vmstat_delta = {{"numa_hint_faults", 10000}, {"numa_pages_migrated", 630}};
  r.mappings.back().policy = "bind=balancing:0";
  json report = build_report(r);
  CHECK(report["evidence"]["confidence"] == "high");
  CHECK(report["components"]["remote_share_interval"]["high"].get<double>() ==
        Approx(wilson_interval(0, 10000).high).margin(1e-4));
  // Bound to two nodes, balancing may move pages between them: the bias stands.
  r.mappings.back().policy = "bind:0-1";
  CHECK(build_report(r)["evidence"]["confidence"] == "low");
}

TEST_CASE("single_bound_node: the one node a numa_maps bind policy names, none otherwise") {
  CHECK(single_bound_node("bind:1") == 1);
  CHECK(single_bound_node("bind=balancing:3") == 3);
  CHECK(single_bound_node("bind=static:12") == 12);
  CHECK_FALSE(single_bound_node("bind:0-1"));
  CHECK_FALSE(single_bound_node("bind:0,2"));
  CHECK_FALSE(single_bound_node("bind:"));
  CHECK_FALSE(single_bound_node("interleave:0"));
  CHECK_FALSE(single_bound_node("prefer:1"));
  CHECK_FALSE(single_bound_node("default"));
}
