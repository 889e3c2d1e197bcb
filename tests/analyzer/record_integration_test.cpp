// numa-analyze on this machine: record real programs, report them, and every bad-input path
// (clear one-line error, non-zero exit, nothing half-written).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "analyze_cli.hpp"

using nlohmann::json;
using namespace numa_agent::test;

namespace {

const std::string kBuild = NUMA_AGENT_BUILD_DIR;
const std::string kTool = analyze_tool();
const std::string kTraffic = kBuild + "/tests/analyzer/numa_traffic";

bool machine_has_memory_pmu() {
  return file_exists("/sys/bus/event_source/devices/ibs_op") || file_exists("/sys/bus/event_source/devices/cpu/events/mem-loads");
}

}  // namespace

TEST_CASE("record a threaded program, then report it as JSON and text") {
  TempDir dir("numa-analyze-test");
  std::string rec = dir / "rec.json";
  // 4 workers x 16 MiB, first-touched by the main thread, then worked on for a second.
  ProgramResult r = run_shell(kTool + " record -o " + rec + " -- " + kTraffic + " all-local --threads-per-node 4 --mib 16 --seconds 1");
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.find("wrote " + rec) != std::string::npos);
  json report = report_json(rec);
  CHECK(report["schema"] == "numa-analyze-report/1");
  const int nodes = online_nodes();
  // main thread + 4 workers per node
  CHECK(report["threads"].size() == static_cast<std::size_t>(1 + 4 * nodes));
  CHECK(report["evidence"]["recording"]["exit_code"] == 0);
  CHECK(report["evidence"]["recording"]["stop_reason"] == "exited");
  double duration = report["evidence"]["recording"]["duration_s"];
  CHECK(duration >= 1.0);
  CHECK(duration < 30.0);
  // First touches: every page of the 4 x 16 MiB arrays faulted once (4096 pages each).
  std::uint64_t first_touched = 0;
  for (const auto& s : report["sites"])
    if (s["kind"] == "first-touch") first_touched += s["pages"].get<std::uint64_t>();
  CHECK(first_touched >= 4 * 4096 * static_cast<std::uint64_t>(nodes));
  // The arrays show up in numa_maps with their pages.
  std::uint64_t big_mappings = 0;
  for (const auto& m : report["mappings"]) {
    std::uint64_t pages = 0;
    for (auto& [node, n] : m["pages_by_node"].items()) pages += n.get<std::uint64_t>();
    if (pages >= 4096) ++big_mappings;
  }
  CHECK(big_mappings >= 1);

  std::map<std::string, json> sources;
  for (const auto& s : report["evidence"]["sources"]) sources[s["source"]] = s;
  CHECK(sources.at("page-fault-sampling")["used"] == true);
  CHECK(sources.at("thread-residency")["used"] == true);
  CHECK(sources.at("numa-maps")["used"] == true);
  if (!machine_has_memory_pmu()) {
    CHECK(sources.at("pmu-memory-sampling")["used"] == false);
    CHECK(sources.at("pmu-memory-sampling")["errno_name"] == "ENOENT");
  }
  if (nodes == 1) {
    CHECK(report["score"].is_null());
    CHECK(report["components"]["locality"].is_null());
    CHECK(report["components"]["score_note"].get<std::string>().find("nothing to measure") != std::string::npos);
    CHECK(sources.at("numa-hint-faults")["detail"].get<std::string>().find("one NUMA node") != std::string::npos);
    CHECK(report["recommendations"].empty());
  }
  // Text renders the same model.
  ProgramResult text = run_shell(kTool + " report " + rec);
  CHECK(text.status == 0);
  CHECK(text.out.find("NUMA efficiency score") != std::string::npos);
  if (nodes == 1) CHECK(text.out.find("nothing to measure") != std::string::npos);
  // -o writes the same JSON atomically.
  ProgramResult to_file = run_shell(kTool + " report " + rec + " --format json -o " + (dir / "report.json"));
  CHECK(to_file.status == 0);
  CHECK(json::parse(read_file(dir / "report.json")) == report);
}

TEST_CASE("attach to a running process for a fixed duration") {
  TempDir dir("numa-analyze-test");
  pid_t pid = fork();
  if (pid == 0) {
    execl(kTraffic.c_str(), "numa_traffic", "all-local", "--threads-per-node", "2", "--mib", "4", "--seconds", "20",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string rec = dir / "attach.json";
  ProgramResult r = run_shell(kTool + " record -p " + std::to_string(pid) + " --duration 1 -o " + rec);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  INFO(r.err);
  REQUIRE(r.status == 0);
  json report = report_json(rec);
  CHECK(report["evidence"]["recording"]["mode"] == "attach");
  CHECK(report["evidence"]["recording"]["stop_reason"] == "duration");
  CHECK(report["evidence"]["recording"]["pid"] == pid);
  CHECK(report["threads"].size() == static_cast<std::size_t>(1 + 2 * online_nodes()));
}

TEST_CASE("a PID that exits mid-recording: one-line error, exit 3, a complete file") {
  TempDir dir("numa-analyze-test");
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "0.7", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string rec = dir / "short.json";
  ProgramResult r = run_shell(kTool + " record -p " + std::to_string(pid) + " --duration 10 -o " + rec);
  waitpid(pid, nullptr, 0);
  CHECK(r.status == 3);
  CHECK(error_lines(r.err) == 1);
  CHECK(r.err.find("exited after") != std::string::npos);
  json report = report_json(rec);   // what was sampled, complete and readable
  CHECK(report["evidence"]["recording"]["stop_reason"] == "vanished");
}

TEST_CASE("a launched program that is killed or fails: one line saying so, exit 0, a complete file") {
  TempDir dir("numa-analyze-test");
  const std::string rec = dir / "died.json";
  ProgramResult killed = run_shell(kTool + " record -o " + rec + " -- sh -c 'kill -9 $$'");
  CHECK(killed.status == 0);
  CHECK(error_lines(killed.err) == 1);
  CHECK(killed.err.find("killed by signal 9 (SIGKILL)") != std::string::npos);
  CHECK(report_json(rec)["evidence"]["recording"]["stop_reason"] == "exited");
  ProgramResult failed = run_shell(kTool + " record -o " + rec + " -- sh -c 'exit 3'");
  CHECK(failed.status == 0);
  CHECK(failed.err.find("exited with status 3") != std::string::npos);
  ProgramResult fine = run_shell(kTool + " record -o " + rec + " -- /bin/true");
  CHECK(error_lines(fine.err) == 0);
}

TEST_CASE("record refuses what it cannot do, without leaving a file") {
  TempDir dir("numa-analyze-test");
  std::string out = dir / "never.json";
  struct Case {
    const char* what;
    std::string args;
    const char* message;
    int status;   // commands.hpp: 2 bad usage or input, 3 the work could not be done
  };
  const Case cases[] = {
      {"no such program", "-- /nonexistent/program", "cannot run '/nonexistent/program'", 3},
      {"no such PID", "-p 999999999", "no process with PID", 2},
      {"nothing to record", "", "nothing to record", 2},
      {"both PID and command", "-p 1 -- /bin/true", "not both", 2},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    ProgramResult r = run_shell(kTool + " record -o " + out + " " + c.args);
    CHECK(r.status == c.status);
    CHECK(error_lines(r.err) == 1);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK_FALSE(file_exists(out));
  }
  CHECK(dir.file_count() == 0);
}

TEST_CASE("a PID we may not read: one-line error naming ptrace access") {
  if (geteuid() != 0 || !file_exists("/usr/bin/setpriv")) std::exit(77);
  TempDir dir("numa-analyze-test");
  chmod(dir.path().c_str(), 0777);   // writable for the unprivileged user: the refusal must be ptrace's
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "10", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string out = dir / "denied.json";
  ProgramResult r = run_shell("setpriv --reuid=65534 --regid=65534 --clear-groups " + kTool + " record -p " + std::to_string(pid) +
                  " --duration 1 -o " + out);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  INFO(r.err);
  CHECK(r.status == 3);   // the work could not be done (commands.hpp)
  CHECK(error_lines(r.err) == 1);
  CHECK(r.err.find("EACCES") != std::string::npos);
  CHECK(r.err.find("ptrace") != std::string::npos);
  CHECK_FALSE(file_exists(out));
}

TEST_CASE("no perf permission: one-line error, no file") {
  TempDir dir("numa-analyze-test");
  std::string shim = kBuild + "/tests/analyzer/libdeny_perf_shim.so";
  REQUIRE(file_exists(shim));
  std::string out = dir / "noperf.json";
  ProgramResult r = run_shell("LD_PRELOAD=" + shim + " " + kTool + " record -o " + out + " -- /bin/true");
  INFO(r.err);
  CHECK(r.status == 3);   // perf refused: the work could not be done (commands.hpp)
  CHECK(error_lines(r.err) == 1);
  CHECK(r.err.find("Permission denied (EACCES)") != std::string::npos);
  CHECK(r.err.find("perf_event_paranoid") != std::string::npos);
  CHECK_FALSE(file_exists(out));
  CHECK(dir.file_count() == 0);
}

TEST_CASE("Ctrl-C stops recording cleanly and keeps what was sampled") {
  TempDir dir("numa-analyze-test");
  std::string rec = dir / "interrupted.json";
  pid_t pid = fork();
  if (pid == 0) {
    // Its own process group, as a shell job would be; stdout/stderr to files.
    setpgid(0, 0);
    std::freopen((dir / ".rec.err").c_str(), "w", stderr);
    execl(kTool.c_str(), "numa-analyze", "record", "-o", rec.c_str(), "--", kTraffic.c_str(), "all-local", "--mib", "4",
          "--seconds", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(took < 10.0);
  json report = report_json(rec);
  CHECK(report["evidence"]["recording"]["stop_reason"] == "interrupted");
  double duration = report["evidence"]["recording"]["duration_s"];
  CHECK(duration > 1.0);
  CHECK(duration < 10.0);
  CHECK(report["threads"].size() >= 2);
}

TEST_CASE("report refuses bad recordings with one line and writes nothing") {
  TempDir dir("numa-analyze-test");
  std::string good = dir / "good.json";
  ProgramResult r = run_shell(kTool + " record -o " + good + " -- /bin/true");
  REQUIRE(r.status == 0);
  std::string text = read_file(good);
  json j = json::parse(text);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name) << content;
    return dir / name;
  };
  json future = j;
  future["schema"] = "numa-analyze-recording/9";
  json foreign = json{{"schema", "numa-agent-profile/1"}, {"pid", 1}};
  json corrupt = j;
  corrupt.erase("machine");
  struct Case {
    const char* what;
    std::string path;
    const char* message;
  };
  const Case cases[] = {
      {"missing", dir / "absent.json", "No such file or directory (ENOENT)"},
      {"directory", dir.path(), "EISDIR"},
      {"empty", write("empty.json", ""), "empty file"},
      {"truncated", write("trunc.json", text.substr(0, text.size() / 3)), "truncated or corrupt"},
      {"binary", write("bin.json", std::string("\x7f" "ELF\0\0\0", 7)), "truncated or corrupt"},
      {"foreign", write("foreign.json", foreign.dump()), "not a numa-analyze recording"},
      {"future", write("future.json", future.dump()), "newer than this numa-analyze"},
      {"corrupt", write("corrupt.json", corrupt.dump()), "key 'machine' not found"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    std::string out = dir / "out.json";
    ProgramResult bad = run_shell(kTool + " report " + c.path + " --format json -o " + out);
    CHECK(bad.status == 2);   // kExitBadInput (commands.hpp)
    CHECK(error_lines(bad.err) == 1);
    CHECK(bad.err.find(c.message) != std::string::npos);
    CHECK(bad.out.empty());
    CHECK_FALSE(file_exists(out));
  }
}

TEST_CASE("topology names nodes, distances and every perf capability with its errno") {
  TempDir dir("numa-analyze-test");
  ProgramResult r = run_shell(kTool + " topology --format json");
  REQUIRE(r.status == 0);
  json t = json::parse(r.out);
  CHECK(t["nodes"].size() == static_cast<std::size_t>(online_nodes()));
  for (const auto& n : t["nodes"]) {
    CHECK(n["memory_bytes"].get<std::uint64_t>() > 0);
    CHECK(n["distances"].size() == t["nodes"].size());
  }
  bool page_faults = false;
  for (const auto& c : t["capabilities"]) {
    if (c["available"] == false) CHECK(c["errno_name"].is_string());
    if (c["name"].get<std::string>().rfind("page-faults", 0) == 0) page_faults = c["available"];
  }
  CHECK(page_faults);   // software events work everywhere numa-analyze is meant to run
  ProgramResult text = run_shell(kTool + " topology");
  CHECK(text.status == 0);
  CHECK(text.out.find("Perf capabilities") != std::string::npos);
}

TEST_CASE("record --agent folds the agent's profile in") {
  std::string lib = kBuild + "/libnumaagent.so";
  if (!file_exists(lib)) std::exit(77);   // the agent is not built in this tree
  TempDir dir("numa-analyze-test");
  std::string rec = dir / "agent.json";
  // Its own TMPDIR: other tests may record under the agent at the same time (ctest -j).
  std::string tmp = dir / "tmp";
  ProgramResult r = run_shell("mkdir -p " + tmp + " && TMPDIR=" + tmp + " " + kTool + " record --agent -o " + rec + " -- " + kTraffic +
                  " all-local --threads-per-node 2 --mib 4 --seconds 0.5");
  INFO(r.err);
  REQUIRE(r.status == 0);
  json report = report_json(rec);
  std::map<std::string, json> sources;
  for (const auto& s : report["evidence"]["sources"]) sources[s["source"]] = s;
  CHECK(sources.at("agent-profile")["used"] == true);
  CHECK(report["evidence"]["recording"]["agent"] == true);
  int with_agent = 0;
  for (const auto& t : report["threads"]) {
    with_agent += t.contains("agent");
    if (t.contains("agent")) CHECK_FALSE(t["agent"].contains("role"));   // no rules: no role, not an empty one
  }
  CHECK(with_agent >= 1);
  ProgramResult text = run_shell(kTool + " report " + rec);
  REQUIRE(text.status == 0);
  CHECK(text.out.find(" role ") == std::string::npos);   // nor a role column
  // The temporary profile directory is gone.
  CHECK(std::filesystem::is_empty(tmp));
}

namespace {
// "ready ingest=<tid>,<tid> worker=<tid>,<tid> main=<tid>" (role_target) -> role by tid.
std::map<int, std::string> roles_by_tid(const std::string& out) {
  std::map<int, std::string> roles;
  std::istringstream in(out.substr(out.find("ready ") + 6));
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::istringstream tids(kv.substr(eq + 1));
    for (std::string tid; std::getline(tids, tid, ',');) roles[std::stoi(tid)] = kv.substr(0, eq);
  }
  return roles;
}
}  // namespace

TEST_CASE("record --agent with role rules: each thread's role in the report's JSON and text") {
  if (!file_exists(kBuild + "/libnumaagent.so")) std::exit(77);   // the agent is not built in this tree
  TempDir dir("numa-analyze-test");
  const std::string rec = dir / "roles.json", tmp = dir / "tmp";
  // One rule by start routine (a static function), one by the name a thread gives itself.
  ProgramResult r = run_shell("mkdir -p " + tmp + " && TMPDIR=" + tmp +
                  " NUMA_AGENT_RULES='ingest start=ingest_loop cpus=spread count=2; worker name=worker-* cpus=compact' " +
                  kTool + " record --agent -o " + rec + " -- " + kBuild +
                  "/tests/analyzer/role_target --ingest 2 --workers 3 --seconds 1");
  INFO(r.err);
  REQUIRE(r.status == 0);
  const std::map<int, std::string> expected = roles_by_tid(r.out);
  REQUIRE(expected.size() == 6);
  json report = report_json(rec);
  std::map<std::string, int> seen;
  for (const auto& t : report["threads"]) {
    const int tid = t["tid"];
    INFO("tid " << tid << ": " << t.dump());
    REQUIRE(expected.count(tid));
    REQUIRE(t.contains("agent"));
    if (expected.at(tid) == "main") {
      CHECK_FALSE(t["agent"].contains("role"));   // no rule matched it: the policy placed it
      CHECK(t["agent"]["reason"] != "rule");
    } else {
      CHECK(t["agent"]["role"] == expected.at(tid));
      CHECK(t["agent"]["reason"] == "rule");
    }
    ++seen[expected.at(tid)];
  }
  CHECK(seen == std::map<std::string, int>{{"ingest", 2}, {"main", 1}, {"worker", 3}});

  // The text view: a role column, each thread's role in it, "-" for the main thread.
  ProgramResult text = run_shell(kTool + " report " + rec);
  REQUIRE(text.status == 0);
  std::istringstream lines(text.out.substr(text.out.find("\nThreads\n") + 9));
  std::string header;
  std::getline(lines, header);
  const auto role_at = header.find("role");
  REQUIRE(role_at != std::string::npos);
  int rows = 0;
  for (std::string line; std::getline(lines, line) && !line.empty(); ++rows) {
    INFO(line);
    const int tid = std::stoi(line.substr(2));
    REQUIRE(expected.count(tid));
    const std::string cell = line.substr(role_at, line.find(' ', role_at) - role_at);
    CHECK(cell == (expected.at(tid) == "main" ? "-" : expected.at(tid)));
  }
  CHECK(rows == 6);

  // The HTML heat map names the role in each cell's title.
  const ProgramResult html = run_shell(kTool + " report " + rec + " --format html");
  REQUIRE(html.status == 0);
  for (const auto& t : report["threads"]) {
    const int tid = t["tid"];
    const std::string role = expected.at(tid), name = t["name"];
    CHECK(html.out.find("thread " + std::to_string(tid) + " (" + name + (role == "main" ? "" : ", role " + role) + ") on node") !=
          std::string::npos);
  }
}
