// `numa-analyze record` with its watchpoint-sampling source on this host: watch_target's threads
// (A sweeps X, B sweeps Y, Z resident and untouched, C exits early) are recorded; the file lists
// the probe with hits, exposures for every probe, and hits attributed to the right thread and
// mapping. Bad input: breakpoints refused (the other sources intact), --no-watch, a PID that exits
// mid-probe, a bad rate. Skipped (77) where this host refuses breakpoints.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../support/run_under_agent.hpp"

using nlohmann::json;
using namespace numa_agent::test;

namespace {

const std::string kBuild = NUMA_AGENT_BUILD_DIR;
const std::string kTool = kBuild + "/numa-analyze";
const std::string kTarget = kBuild + "/tests/analyzer/watch_target";

std::string scratch(const std::string& name) { return "/tmp/record-watchpoint-" + std::to_string(getpid()) + "-" + name; }

const json* source(const json& rec, const std::string& name) {
  for (const auto& p : rec["evidence"])
    if (p["source"] == name) return &p;
  return nullptr;
}

// "ready A=<tid> ... X=<start>-<end> ..." -> {"A": tid, "X": start, ...}
std::map<std::string, std::uint64_t> ready_line(const std::string& out) {
  std::map<std::string, std::uint64_t> v;
  std::istringstream in(out.substr(out.find("ready ") + 6));
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    v[kv.substr(0, eq)] = std::stoull(kv.substr(eq + 1), nullptr, 0);
  }
  return v;
}

// `numa-analyze record OPTIONS -o FILE -- watch_target TARGET_ARGS` under `env`; the file, parsed
// (and removed), or null when record failed.
struct Recorded {
  ProgramResult run;
  json rec;
};
Recorded record(const std::string& env, const std::string& options, const std::string& target_args) {
  const std::string path = scratch("rec.json");
  Recorded r{run_shell(env + kTool + " record " + options + " -o " + path + " -- " + kTarget + " " + target_args), nullptr};
  if (r.run.status == 0) r.rec = json::parse(read_file(path));
  std::remove(path.c_str());
  return r;
}

void skip_unless_breakpoints(const json& rec) {
  const json* wp = source(rec, "watchpoint-sampling");
  REQUIRE(wp);
  if (!(*wp)["used"].get<bool>()) {
    std::printf("skipped: %s\n", (*wp)["detail"].get<std::string>().c_str());
    std::exit(77);
  }
}

}  // namespace

TEST_CASE("record lists watchpoint hits by thread and mapping, and every probe as an exposure") {
  const auto [r, rec] = record("", "", "--seconds 4");   // hits start after the ~1 s self-test
  INFO(r.err);
  REQUIRE(r.status == 0);
  skip_unless_breakpoints(rec);
  const auto ids = ready_line(r.out);
  REQUIRE(ids.count("A"));

  const std::string detail = (*source(rec, "watchpoint-sampling"))["detail"];
  INFO(detail);
  CHECK(detail.find(" hits, ") != std::string::npos);

  // Hits: A's on X, B's on Y, none on Z.
  std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> hits;   // tid -> mapping -> hits
  std::uint64_t all = 0;
  for (const auto& a : rec["accesses"])
    if (a["source"] == "watchpoint") {
      CHECK(a["mem_class"] == "hit");
      CHECK(a["memory_node"].get<int>() >= 0);
      hits[a["tid"]][a["mapping"]] += a["count"].get<std::uint64_t>(), all += a["count"].get<std::uint64_t>();
    }
  REQUIRE(all > 0);
  for (const auto& [who, where] : {std::pair{"A", "X"}, std::pair{"B", "Y"}}) {
    std::uint64_t own = hits[ids.at(who)][ids.at(where)], total = 0;
    for (const auto& [m, n] : hits[ids.at(who)]) total += n;
    INFO(who << " hits " << own << " of " << total << " on its buffer");
    CHECK(own > 0);
    CHECK(double(own) >= 0.95 * double(total));
  }
  for (const auto& [tid, where] : hits) CHECK(where.count(ids.at("Z")) == 0);

  // Exposures: every hit is one, and Z was probed and stayed cold.
  std::uint64_t exposure_hits = 0, z_probes = 0, z_hits = 0;
  REQUIRE(rec.contains("exposures"));
  for (const auto& e : rec["exposures"]) {
    CHECK(e["source"] == "watchpoint");
    CHECK(e["hits"].get<std::uint64_t>() <= e["probes"].get<std::uint64_t>());
    CHECK(e["window_ns"].get<std::uint64_t>() > 0);
    exposure_hits += e["hits"].get<std::uint64_t>();
    if (e["mapping"] == ids.at("Z")) z_probes += e["probes"].get<std::uint64_t>(), z_hits += e["hits"].get<std::uint64_t>();
  }
  CHECK(exposure_hits == all);
  CHECK(z_probes > 0);
  CHECK(z_hits == 0);
}

TEST_CASE("breakpoints refused: one clear line in the evidence, the other sources intact") {
  const auto [r, rec] = record("DENY_PERF_SHIM=breakpoint LD_PRELOAD=" + kBuild + "/tests/analyzer/libdeny_perf_shim.so ", "", "--seconds 0.5");
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json* wp = source(rec, "watchpoint-sampling");
  REQUIRE(wp);
  CHECK_FALSE((*wp)["used"].get<bool>());
  CHECK((*wp)["error_name"] == "EACCES");
  const std::string detail = (*wp)["detail"];
  CHECK(detail.find("not permitted") != std::string::npos);
  CHECK(detail.find("perf_event_paranoid") != std::string::npos);
  CHECK(detail.find('\n') == std::string::npos);
  CHECK((*source(rec, "page-fault-sampling"))["used"].get<bool>());
  CHECK((*source(rec, "thread-residency"))["used"].get<bool>());
  CHECK(rec["fault_samples"].get<std::uint64_t>() > 0);
  CHECK(rec["exposures"].empty());
}

TEST_CASE("no-watch switches the source off, and a bad rate is a one-line usage error") {
  const auto [r, rec] = record("", "--no-watch", "--seconds 0.3");
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json* wp = source(rec, "watchpoint-sampling");
  REQUIRE(wp);
  CHECK_FALSE((*wp)["used"].get<bool>());
  CHECK((*wp)["detail"].get<std::string>().find("--no-watch") != std::string::npos);
  CHECK(rec["exposures"].empty());

  const std::string bad_path = scratch("bad.rec.json");
  ProgramResult bad = run_shell(kTool + " record --watch-rate -5 -o " + bad_path + " -- /bin/true");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--watch-rate") != std::string::npos);
  CHECK(std::ifstream(bad_path).fail());   // nothing written
}

TEST_CASE("a PID that exits mid-probe: the recording keeps its hits and the other sources") {
  const pid_t pid = fork();
  if (pid == 0) {
    execl(kTarget.c_str(), kTarget.c_str(), "--seconds", "3", static_cast<char*>(nullptr));   // outlives the ~1 s self-test
    _exit(127);
  }
  usleep(200'000);   // its buffers resident
  const std::string rec_path = scratch("attach.rec.json");
  ProgramResult r = run_shell(kTool + " record -p " + std::to_string(pid) + " --duration 10 -o " + rec_path);
  waitpid(pid, nullptr, 0);
  INFO(r.err);
  CHECK(r.status == 3);   // exited before --duration: one line, the file holds what was sampled
  CHECK(r.err.find("exited after") != std::string::npos);
  const json rec = json::parse(read_file(rec_path));
  std::remove(rec_path.c_str());
  CHECK(rec["stop_reason"] == "vanished");
  skip_unless_breakpoints(rec);
  std::uint64_t hits = 0;
  for (const auto& a : rec["accesses"])
    if (a["source"] == "watchpoint") hits += a["count"].get<std::uint64_t>();
  CHECK(hits > 0);
  CHECK_FALSE(rec["exposures"].empty());
  CHECK((*source(rec, "thread-residency"))["used"].get<bool>());
  CHECK((*source(rec, "numa-maps"))["used"].get<bool>());
}
