// Sites (issue 14 parts 3-4), without perf: the symboliser on sites_first_touch (built -g; the
// expected lines come from marker comments, found by CMake), build-id keys across two runs under
// ASLR, which frames are skipped, user call chains out of perf callchains, and the site table and
// folded view on a recording built here.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/evidence/symbolizer.hpp"
#include "analyzer/rules/report.hpp"
#include "analyzer/views/render_folded.hpp"
#include "analyzer/views/site_table.hpp"

using namespace numa_agent::analyzer;

namespace {

struct Where {
  std::string path;
  std::uint64_t offset = 0, address = 0;
};

// sites_first_touch --where: the file, file offset and runtime address of a return address.
Where run_where() {
  FILE* p = popen((std::string(SITES_PROGRAM) + " --where").c_str(), "r");
  REQUIRE(p != nullptr);
  char path[4096] = "";
  unsigned long offset = 0, address = 0;
  int n = std::fscanf(p, "%4095s %lx %lx", path, &offset, &address);
  pclose(p);
  REQUIRE(n == 3);
  return {path, offset, address};
}

bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.ends_with(tail); }

}  // namespace

TEST_CASE("the symboliser names the function and the source line of a call in a -g program") {
  const Where w = run_where();
  Symbolizer symbols;
  // A return address: the call is the byte before it.
  SourceLocation loc = symbols.locate(w.path, w.offset - 1);
  CHECK(loc.function == "where_caller");
  CHECK(ends_with(loc.file, "sites_first_touch.c"));
  CHECK(loc.line == SITES_WHERE_LINE);
  // An offset outside every loaded segment and a file that is not ELF say nothing rather than guess.
  CHECK(symbols.locate(w.path, 1ull << 40).function.empty());
  CHECK(symbols.locate("/proc/self/status", 0x10).file.empty());
  CHECK(symbols.build_id("/nonexistent/file").empty());
}

TEST_CASE("a site key (build-id and file offset) is the same in two runs whose addresses differ") {
  const Where first = run_where(), second = run_where();
  CHECK(first.address != second.address);   // ASLR moved the program
  CHECK(first.offset == second.offset);
  Symbolizer symbols;
  const std::string id = symbols.build_id(first.path);
  REQUIRE(id.size() >= 16);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  auto a = site_frames(symbols, first.path, first.offset - 1), b = site_frames(symbols, second.path, second.offset - 1);
  CHECK(a.front().key == b.front().key);
  CHECK(a.front().key.starts_with(id + "+0x"));
  CHECK(a.front().site.starts_with("sites_first_touch+0x"));
  // The segment mapping is its own inverse.
  auto vaddr = symbols.vaddr_of_offset(first.path, first.offset);
  REQUIRE(vaddr);
  CHECK(symbols.offset_of_vaddr(first.path, *vaddr) == first.offset);
}

TEST_CASE("frames of the agent and the loader and libc and operator new are skipped but not the program frames") {
  CHECK(skipped_frame("/opt/x/libnumaagent.so", "numa_agent::pool::refill"));
  CHECK(skipped_frame("/lib64/ld-linux-x86-64.so.2", "_dl_relocate_object"));
  CHECK(skipped_frame("/usr/lib/x86_64-linux-gnu/libc.so.6", "__memset_avx2_unaligned_erms"));
  CHECK(skipped_frame("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "_Znwm"));
  CHECK_FALSE(skipped_frame("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "std::__cxx11::basic_string<char>::_M_construct"));
  CHECK_FALSE(skipped_frame(SITES_WRAP_LIBRARY, "sites_wrap_alloc"));
  CHECK_FALSE(skipped_frame(SITES_PROGRAM, "init_buffer"));
}

TEST_CASE("user frames come out of a perf callchain without its context markers or kernel part") {
  SampleRecord s;
  s.ip = 0x401000;
  s.callchain = {static_cast<std::uint64_t>(-128), 0xffffffff81000000ull, kPerfContextUser, 0x401000, 0x401100, 0x401200};
  CHECK(user_frames(s, 8) == std::vector<std::uint64_t>{0x401000, 0x401100, 0x401200});
  CHECK(user_frames(s, 2) == std::vector<std::uint64_t>{0x401000, 0x401100});
  s.callchain.clear();
  CHECK(user_frames(s, 8) == std::vector<std::uint64_t>{0x401000});
}

namespace {

// Two nodes; the main thread (node 0) first-touched one mapping from init (called by main), a
// worker on node 1 reads it; the agent's pool pages sit in a second mapping, allocated from `alloc`.
Recording two_node_recording() {
  Recording r;
  r.tool_version = "test";
  r.mode = "launch";
  r.pid = 100;
  r.machine.nodes = {{0, {0, 1}, 1u << 30}, {1, {2, 3}, 1u << 30}};
  r.machine.distances = {{10, 21}, {21, 10}};
  r.machine.numa_balancing = 1;   // the accesses are hint faults
  ThreadRecord main_thread, worker;
  main_thread.tid = 100, main_thread.residency = {{0, 10}};
  worker.tid = 101, worker.residency = {{1, 10}};
  r.threads = {main_thread, worker};
  MappingRecord data, pool;
  data.start = 0x10000000, data.end = 0x10000000 + (400 << 12), data.pages_by_node = {{0, 400}};
  pool.start = 0x20000000, pool.end = 0x20000000 + (40 << 12), pool.pages_by_node = {{0, 20}, {1, 20}};
  r.mappings = {data, pool};
  r.accesses.push_back({"hint-fault", 100, 0, 0, data.start, "fault", 60, 0, 0});
  r.accesses.push_back({"hint-fault", 101, 1, 0, data.start, "fault", 40, 0, 0});
  r.first_touch.push_back({100, 0, 0, data.start, "prog+0x1234", 400});
  r.first_touch.push_back({101, 1, 1, pool.start, "libnumaagent.so+0xe902", 20});
  SiteRecord init;
  init.origin = "first-touch";
  init.frame = {"prog+0x1234", "abcd+0x1234", "/bin/prog", 0x1234, "init", "/src/prog.c", 10};
  init.callers = {{"prog+0x2000", "abcd+0x2000", "/bin/prog", 0x2000, "main", "/src/prog.c", 20}};
  init.samples = 400;
  SiteRecord alloc;
  alloc.origin = "allocation";
  alloc.frame = {"prog+0x3000", "abcd+0x3000", "/bin/prog", 0x3000, "alloc", "/src/prog.c", 30};
  alloc.samples = 8, alloc.nodes = {0, 8};
  r.sites = {init, alloc};
  return r;
}

}  // namespace

TEST_CASE("the site table names sites by function and splits mapping accesses and never shows an agent site") {
  const Recording r = two_node_recording();
  const nlohmann::json report = build_report(r);   // the site table is a step of build_report
  const auto& sites = report["sites"];
  REQUIRE(sites.size() == 2);
  const nlohmann::json* init = nullptr;
  const nlohmann::json* alloc = nullptr;
  for (const auto& s : sites) {
    CHECK_FALSE(s["site"].get<std::string>().starts_with("libnumaagent"));
    if (s.value("function", "") == "init") init = &s;
    if (s.value("function", "") == "alloc") alloc = &s;
  }
  REQUIRE(init);
  REQUIRE(alloc);
  // The data mapping's accesses as the report scored them: init first-touched all of its pages.
  const nlohmann::json* data = nullptr;
  for (const auto& m : report["mappings"])
    if (m["start"] == "0x10000000") data = &m;
  REQUIRE(data);
  const double local = (*data)["accesses"]["local"], remote = (*data)["accesses"]["remote"];
  REQUIRE(remote > 0);
  CHECK((*init)["remote_share"].get<double>() == Approx(remote / (local + remote)).margin(0.001));
  CHECK((*init)["bytes"] == 400u * 4096u);
  CHECK((*init)["callers"][0]["function"] == "main");
  CHECK((*init)["placed_on_node"]["0"] == 400.0);
  // The agent's pool pages (node 1) go to the allocation site sampled on node 1.
  CHECK((*alloc)["agent_pool_pages"] == 20);
  CHECK((*alloc)["kind"] == "allocation");
  // The text table names them.
  const std::string text = render_site_table_text(report);
  CHECK(text.find("init (prog.c:10)") != std::string::npos);
  CHECK(text.find("<- main (prog.c:20)") != std::string::npos);
}

TEST_CASE("folded output parses back into call paths and the sites' remote cost") {
  const Recording r = two_node_recording();
  const nlohmann::json report = build_report(r);   // the site table is a step of build_report
  const std::string folded = render_report_folded(report);
  std::istringstream lines(folded);
  std::string line;
  // One line per site with a remote cost, its count that cost in millionths; the leaf frame last.
  std::map<std::string, long long> expected;
  for (const auto& s : report["sites"])
    if (s["cost"].get<double>() > 0)
      expected[site_label(s)] = std::max<long long>(1, std::llround(s["cost"].get<double>() * 1e6));
  std::map<std::string, long long> leaves;
  bool init_path = false;
  while (std::getline(lines, line)) {
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    const std::string stack = line.substr(0, space);
    leaves[stack.substr(stack.rfind(';') == std::string::npos ? 0 : stack.rfind(';') + 1)] = std::stoll(line.substr(space + 1));
    if (stack == "main (prog.c:20);init (prog.c:10)") init_path = true;
  }
  CHECK(init_path);   // the caller chain, outermost first
  CHECK(leaves == expected);
  // A report without a site table (an older recording) folds to nothing rather than to agent sites.
  Recording old = r;
  old.sites.clear();
  CHECK(render_report_folded(build_report(old)).empty());
}
