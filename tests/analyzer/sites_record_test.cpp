// Sites end to end on this machine: `record` (and `record --agent`) of sites_first_touch, then
// `report --format json|folded`. Skipped (77) where perf page-fault sampling is refused.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../support/run_under_agent.hpp"

using namespace numa_agent::test;

namespace {

const std::string kAnalyze = std::string(NUMA_AGENT_BUILD_DIR) + "/numa-analyze";

std::string temp_path(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/sites_test_" + std::to_string(getpid()) + "_" + name;
}

// The report model of one recording of sites_first_touch; `env` goes before the command.
nlohmann::json record_and_report(const std::string& name, const std::string& env, const std::string& record_flags) {
  const std::string rec = temp_path(name + ".rec.json"), rep = temp_path(name + ".report.json");
  const int rc =
      run_shell(env + " " + kAnalyze + " record " + record_flags + " -o " + rec + " -- " + SITES_PROGRAM + " 16 20000").status;
  if (rc == 3) {
    std::remove(rec.c_str());
    return nullptr;
  }
  REQUIRE(rc == 0);
  REQUIRE(run_shell(kAnalyze + " report " + rec + " --format json -o " + rep).status == 0);
  nlohmann::json report = nlohmann::json::parse(read_file(rep));
  if (!std::getenv("SITES_KEEP")) std::remove(rec.c_str());
  std::remove(rep.c_str());
  return report;
}

const nlohmann::json* site_named(const nlohmann::json& report, const std::string& function) {
  for (const auto& s : report["sites"])
    if (s.value("function", "") == function) return &s;
  return nullptr;
}

bool fault_sampling_used(const nlohmann::json& report) {
  for (const auto& [name, source] : report["evidence"]["sources"].items())
    if (source.is_object() && source.value("source", name) == "page-fault-sampling") return source.value("used", false);
  return true;   // unknown layout: let the checks below decide
}

}  // namespace

TEST_CASE("record names the first touch by function and file:line and keys it the same in two runs") {
  nlohmann::json first = record_and_report("plain1", "", "");
  if (first.is_null()) {
    WARN("perf page-fault sampling refused here");
    std::exit(77);
  }
  REQUIRE(fault_sampling_used(first));
  const nlohmann::json* init = site_named(first, "init_buffer");
  REQUIRE(init);
  CHECK((*init)["file"].get<std::string>().ends_with("sites_first_touch.c"));
  CHECK((*init)["line"] == SITES_FIRST_TOUCH_LINE);
  REQUIRE((*init)["callers"].size() >= 1);
  CHECK((*init)["callers"][0]["function"] == "main");
  // 16 MiB, one write per page: every page sampled (fault period 1).
  CHECK((*init)["bytes"].get<std::uint64_t>() >= (16u << 20) * 9 / 10);

  nlohmann::json second = record_and_report("plain2", "", "");
  REQUIRE_FALSE(second.is_null());
  const nlohmann::json* again = site_named(second, "init_buffer");
  REQUIRE(again);
  CHECK_FALSE((*init)["key"].get<std::string>().empty());
  CHECK((*init)["key"] == (*again)["key"]);
}

TEST_CASE("record --agent names the allocation in the wrapper library and not the agent") {
  nlohmann::json report = record_and_report("agent", "NUMA_AGENT_SAMPLE=4096", "--agent");
  if (report.is_null()) {
    WARN("perf page-fault sampling refused here");
    std::exit(77);
  }
  const nlohmann::json* wrap = site_named(report, "sites_wrap_alloc");
  REQUIRE(wrap);
  CHECK((*wrap)["kind"] == "allocation");
  CHECK((*wrap)["line"] == SITES_WRAP_MALLOC_LINE);
  REQUIRE((*wrap)["callers"].size() >= 1);
  CHECK((*wrap)["callers"][0]["function"] == "small_allocations");
  // The agent's pool pages the program's small blocks sit on are reported under the allocation sites.
  std::uint64_t pool_pages = 0;
  for (const auto& s : report["sites"]) {
    const std::string module = s.value("module", "");
    CHECK(module.find("libnumaagent") == std::string::npos);
    CHECK_FALSE(s["site"].get<std::string>().starts_with("libnumaagent"));
    pool_pages += s.value("agent_pool_pages", std::uint64_t{0});
  }
  CHECK(pool_pages > 0);
  CHECK((*wrap)["agent_pool_pages"].get<std::uint64_t>() > 0);
}

TEST_CASE("report --format folded writes one line per call path with its count") {
  const std::string rec = temp_path("folded.rec.json"), out = temp_path("folded.txt");
  int rc = run_shell(kAnalyze + " record -o " + rec + " -- " + SITES_PROGRAM + " 4 100").status;
  if (rc == 3) std::exit(77);
  REQUIRE(rc == 0);
  REQUIRE(run_shell(kAnalyze + " report " + rec + " --format folded -o " + out).status == 0);
  std::istringstream lines(read_file(out));
  std::string line;
  while (std::getline(lines, line)) {
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    CHECK(std::stoll(line.substr(space + 1)) >= 1);
  }
  CHECK(run_shell(kAnalyze + " report " + rec + " --format flame").status == 2);
  std::remove(rec.c_str());
  std::remove(out.c_str());
}

TEST_CASE("the demo under record --agent is reported under its own functions and not the agent or the loader") {
  const std::string demo = std::string(NUMA_AGENT_BUILD_DIR) + "/numa-demo";
  const std::string rec = temp_path("demo.rec.json"), rep = temp_path("demo.report.json");
  const ProgramResult recorded = run_shell("NUMA_AGENT_SAMPLE=64k " + kAnalyze + " record --agent -o " + rec + " -- " + demo);
  const int rc = recorded.status;
  const std::string demo_record_err = recorded.err;
  if (rc == 3) std::exit(77);
  REQUIRE(rc == 0);
  REQUIRE(run_shell(kAnalyze + " report " + rec + " --format json -o " + rep).status == 0);
  nlohmann::json report = nlohmann::json::parse(read_file(rep));
  std::remove(rec.c_str());
  std::remove(rep.c_str());
  // The site holding the most bytes is a function of numa_demo.cpp (its pool pages included).
  const nlohmann::json* biggest = nullptr;
  for (const auto& s : report["sites"])
    if (!s.contains("rows_summed") && (!biggest || s["bytes"].get<std::uint64_t>() > (*biggest)["bytes"].get<std::uint64_t>()))
      biggest = &s;
  REQUIRE(biggest);
  // Seen twice at the start of a -j2 suite, not reproduced alone: what the report held then.
  INFO("biggest site: " << biggest->dump() << "\nrecord said: " << demo_record_err << "\nevidence: "
                        << report["evidence"]["sources"].dump().substr(0, 3000));
  CHECK((*biggest).value("file", "").ends_with("numa_demo.cpp"));
  CHECK_FALSE((*biggest).value("function", "").empty());
  for (const auto& s : report["sites"]) {
    const std::string site = s["site"];
    CHECK_FALSE(site.starts_with("libnumaagent"));
    // Loader rows (its relocations) may be there, but never as the program's code.
    if (site.starts_with("ld-linux")) CHECK_FALSE(s.value("in_program", true));
  }
}
