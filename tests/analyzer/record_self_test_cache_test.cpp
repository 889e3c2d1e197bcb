// `numa-analyze record` and the breakpoint self-test's per-boot cache (self_test_cache.hpp), on
// this host: the first record measures and writes the cache (0600 in a 0700 directory), the next
// one takes it and does not run the self-test (the watchpoint-sampling line says which); a corrupt
// cache, a symlink at the cache path, a cache of another boot and a directory that cannot be
// written all make the self-test run and record work. Skipped (77) where breakpoints are refused.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../support/run_under_agent.hpp"

using nlohmann::json;
using numa_agent::test::read_file;
using numa_agent::test::TempDir;

namespace {

const std::string kBuild = NUMA_AGENT_BUILD_DIR;
const std::string kTool = kBuild + "/numa-analyze";
const std::string kTarget = kBuild + "/tests/analyzer/watch_target";
const std::string kFile = "breakpoint-self-test.json";

// Scratch files of the run (the recording, a file where a directory should be).
const TempDir& scratch_dir() {
  static const TempDir dir("record-self-test-cache");
  return dir;
}
std::string scratch(const std::string& name) { return scratch_dir() / name; }

struct Recorded {
  int status = -1;
  std::string err;
  bool used = false;
  std::string detail;   // the watchpoint-sampling line
  std::string error_name;
};

// record with XDG_RUNTIME_DIR=`runtime_dir` (the cache in runtime_dir/numa-agent/).
Recorded record(const std::string& runtime_dir, const std::string& env = "") {
  Recorded r;
  const std::string path = scratch("rec.json");
  const auto run = numa_agent::test::run_shell(env + " XDG_RUNTIME_DIR=" + runtime_dir + " " + kTool + " record -o " + path +
                                               " -- " + kTarget + " --seconds 2 >/dev/null");
  r.status = run.status;
  r.err = run.err;
  if (r.status == 0) {
    const json rec = json::parse(read_file(path));
    for (const auto& p : rec["evidence"])
      if (p["source"] == "watchpoint-sampling") r.used = p["used"], r.detail = p["detail"], r.error_name = p["error_name"];
  }
  std::remove(path.c_str());
  return r;
}

bool measured(const Recorded& r) { return r.detail.find("breakpoint self-test: measured in ") != std::string::npos; }
bool cached(const Recorded& r) { return r.detail.find("breakpoint self-test: from cache ") != std::string::npos; }
bool has(const Recorded& r, const std::string& s) { return r.detail.find(s) != std::string::npos; }

// A record that measures; exits 77 when this host refuses breakpoints (nothing to cache).
Recorded first_record(const std::string& runtime_dir) {
  Recorded r = record(runtime_dir);
  INFO(r.err);
  REQUIRE(r.status == 0);
  INFO(r.detail);
  REQUIRE(measured(r));
  if (has(r, "the self-test failed")) {
    std::printf("skipped: %s\n", r.detail.c_str());
    std::exit(77);
  }
  return r;
}

mode_t mode_of(const std::string& path) {
  struct stat st{};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode;
}

}  // namespace

TEST_CASE("the first record writes the cache, the next takes it and runs no self-test") {
  const TempDir dir("record-self-test-cache-fresh");
  const std::string d = dir.path();
  const Recorded one = first_record(d);
  INFO(one.detail);
  CHECK(has(one, ": absent; written)"));
  CHECK((mode_of(d + "/numa-agent") & 0777) == 0700);
  CHECK((mode_of(d + "/numa-agent/" + kFile) & 0777) == 0600);
  const Recorded two = record(d);
  INFO(two.err);
  REQUIRE(two.status == 0);
  INFO(two.detail);
  CHECK(cached(two));
  CHECK(!measured(two));
  CHECK(two.used);
}

TEST_CASE("a corrupt cache: the self-test runs, record works, the cache is rewritten") {
  const TempDir dir("record-self-test-cache-corrupt");
  const std::string d = dir.path();
  first_record(d);
  const std::string file = d + "/numa-agent/" + kFile;
  std::string text = read_file(file);
  std::ofstream(file) << text.substr(0, text.size() / 2);   // truncated
  const Recorded r = record(d);
  INFO(r.err);
  REQUIRE(r.status == 0);
  INFO(r.detail);
  CHECK(measured(r));
  CHECK(has(r, "corrupt"));
  CHECK(has(r, "; written)"));
  CHECK(r.used);
  CHECK(cached(record(d)));
}

TEST_CASE("a symlink at the cache path is not followed: the self-test runs, the link's target is left alone") {
  const TempDir dir("record-self-test-cache-symlink");
  const std::string d = dir.path();
  first_record(d);
  const std::string file = d + "/numa-agent/" + kFile, victim = d + "/victim.json";
  REQUIRE(std::rename(file.c_str(), victim.c_str()) == 0);   // a valid cache, reachable only through the link
  const std::string before = read_file(victim);
  REQUIRE(symlink(victim.c_str(), file.c_str()) == 0);
  const Recorded r = record(d);
  INFO(r.err);
  REQUIRE(r.status == 0);
  INFO(r.detail);
  CHECK(measured(r));
  CHECK(has(r, "ELOOP"));
  CHECK(r.used);
  CHECK(read_file(victim) == before);
  CHECK(S_ISREG(mode_of(file)));   // replaced by a file of our own
  CHECK(cached(record(d)));
}

TEST_CASE("a cache of another boot is stale: the self-test runs and the cache is rewritten") {
  const TempDir dir("record-self-test-cache-stale");
  const std::string d = dir.path();
  first_record(d);
  const std::string file = d + "/numa-agent/" + kFile;
  json j = json::parse(read_file(file));
  j["boot_id"] = "00000000-0000-4000-8000-000000000000";
  std::ofstream(file) << j.dump();
  const Recorded r = record(d);
  INFO(r.err);
  REQUIRE(r.status == 0);
  INFO(r.detail);
  CHECK(measured(r));
  CHECK(has(r, "stale: another boot; written)"));
  CHECK(r.used);
  CHECK(json::parse(read_file(file))["boot_id"] != "00000000-0000-4000-8000-000000000000");
  CHECK(cached(record(d)));
}

TEST_CASE("a cache directory that cannot be written: the self-test runs every time and record works") {
  // /proc takes no new directory, not even from root; a regular file is no directory.
  const std::string file = scratch("not-a-dir");
  std::ofstream(file) << "";
  for (const std::string& dir : {std::string("/proc"), file}) {
    INFO(dir);
    first_record(dir);
    const Recorded r = record(dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    INFO(r.detail);
    CHECK(measured(r));
    CHECK(has(r, "; not written: "));
    CHECK(r.used);
  }
  std::remove(file.c_str());
  // A directory owned by another user is refused (root could write it, but would not own the cache).
  if (geteuid() == 0) {
    const TempDir dir("record-self-test-cache-foreign");
  const std::string d = dir.path();
    REQUIRE(mkdir((d + "/numa-agent").c_str(), 0700) == 0);
    REQUIRE(chown((d + "/numa-agent").c_str(), 65534, 65534) == 0);
    const Recorded r = record(d);
    INFO(r.detail);
    REQUIRE(r.status == 0);
    CHECK(measured(r));
    CHECK(has(r, "owned by uid 65534"));
    CHECK(measured(record(d)));
  }
}

TEST_CASE("a fresh cache does not hide breakpoints refused now: one clear line, as without the cache") {
  const TempDir dir("record-self-test-cache-refused");
  const std::string d = dir.path();
  first_record(d);
  const Recorded r = record(d, "DENY_PERF_SHIM=breakpoint LD_PRELOAD=" + kBuild + "/tests/analyzer/libdeny_perf_shim.so");
  INFO(r.err);
  REQUIRE(r.status == 0);
  INFO(r.detail);
  CHECK(cached(r));
  CHECK(!r.used);
  CHECK(r.error_name == "EACCES");
  CHECK(has(r, "perf_event_paranoid"));
  CHECK(has(r, "not permitted"));
}
