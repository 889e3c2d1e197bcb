// The breakpoint self-test's per-boot cache (analyzer/evidence/self_test_cache.hpp) without
// breakpoints: the file format round trip, stale keys, corrupt contents, and the private-file
// calls of agent/os (a symlink is never followed, a file or directory that is not the user's
// own is refused, a symlink at the path is replaced and its target left alone).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/os/os.hpp"
#include "analyzer/evidence/self_test_cache.hpp"

using namespace numa_agent;
using namespace numa_agent::analyzer;

namespace {

SelfTestCacheKey key() { return {"6a1f0c2e-0000-4000-8000-000000000001", "6.1.0-test", 2, 1000}; }

os::BreakpointSelfTest figures() {
  os::BreakpointSelfTest t;
  t.modify_works = false, t.modify_hits = 20000, t.modify_loop_ratio = 51234.5;
  t.trap_ns = 3512.25, t.reopen_ns = 9100, t.modify_ns = 0;
  return t;
}

std::string scratch_dir(const std::string& name) {
  const std::string d = "/tmp/self-test-cache-unit-" + std::to_string(getpid()) + "-" + name;
  std::system(("rm -rf " + d).c_str());
  REQUIRE(mkdir(d.c_str(), 0700) == 0);
  return d;
}

void put(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("a cache written under a key reads back under the same key, figure for figure") {
  auto t = parse_self_test_cache(format_self_test_cache(key(), figures()), key());
  REQUIRE(t);
  CHECK(t->modify_works == false);
  CHECK(t->modify_hits == 20000);
  CHECK(t->modify_loop_ratio == 51234.5);
  CHECK(t->trap_ns == 3512.25);
  CHECK(t->reopen_ns == 9100);
  CHECK(t->modify_ns == 0);
}

TEST_CASE("a cache of another boot, kernel, paranoia level or user is stale") {
  const std::string text = format_self_test_cache(key(), figures());
  SelfTestCacheKey k = key();
  k.boot_id[0] = '7';
  auto boot = parse_self_test_cache(text, k);
  REQUIRE(!boot);
  CHECK(boot.error().code == ESTALE);
  CHECK(boot.error().what == "stale: another boot");
  k = key(), k.kernel = "6.18.0";
  CHECK(parse_self_test_cache(text, k).error().code == ESTALE);
  k = key(), k.perf_event_paranoid = -1;
  CHECK(parse_self_test_cache(text, k).error().code == ESTALE);
  k = key(), k.euid = 0;
  CHECK(parse_self_test_cache(text, k).error().code == ESTALE);
}

TEST_CASE("a corrupt cache is refused, never half used") {
  const std::string good = format_self_test_cache(key(), figures());
  for (std::string bad : {std::string(""), std::string("garbage\n"), good.substr(0, good.size() / 2), std::string("[1,2]"),
                          std::string("{\"schema\":\"numa-agent-breakpoint-self-test/0\"}")}) {
    INFO(bad);
    auto t = parse_self_test_cache(bad, key());
    REQUIRE(!t);
    CHECK(t.error().code == EINVAL);
  }
  const auto with = [&](const std::string& field, const std::string& value) {
    std::string text = good;
    const auto at = text.find("\"" + field + "\":");
    REQUIRE(at != std::string::npos);
    const auto start = at + field.size() + 3, end = text.find_first_of(",}", start);
    return text.replace(start, end - start, value);
  };
  CHECK(parse_self_test_cache(with("trap_ns", "-5"), key()).error().code == EINVAL);
  CHECK(parse_self_test_cache(with("trap_ns", "0"), key()).error().code == EINVAL);
  CHECK(parse_self_test_cache(with("trap_ns", "1e300"), key()).error().code == EINVAL);
  CHECK(parse_self_test_cache(with("trap_ns", "\"3500\""), key()).error().code == EINVAL);
  CHECK(parse_self_test_cache(with("modify_works", "1"), key()).error().code == EINVAL);
  CHECK(parse_self_test_cache(with("modify_works", "true"), key()).error().code == EINVAL);   // without modify_ns
  CHECK(parse_self_test_cache(with("trap_ns", "3600"), key()));   // the editor itself is sound
}

TEST_CASE("read_private_file follows no symlink and reads only the user's own 0600 file") {
  const std::string d = scratch_dir("read");
  put(d + "/good", "figures", 0600);
  auto ok = os::read_private_file(d + "/good", 4096);
  REQUIRE(ok);
  CHECK(*ok == "figures");
  REQUIRE(symlink((d + "/good").c_str(), (d + "/link").c_str()) == 0);
  auto link = os::read_private_file(d + "/link", 4096);
  REQUIRE(!link);
  CHECK(link.error().code == ELOOP);
  put(d + "/shared", "figures", 0644);
  CHECK(os::read_private_file(d + "/shared", 4096).error().code == EPERM);
  CHECK(os::read_private_file(d + "/good", 3).error().code == EFBIG);
  CHECK(os::read_private_file(d + "/absent", 4096).error().code == ENOENT);
  REQUIRE(mkdir((d + "/dir").c_str(), 0700) == 0);
  CHECK(!os::read_private_file(d + "/dir", 4096));
  std::system(("rm -rf " + d).c_str());
}

TEST_CASE("write_private_file makes a 0700 directory and a 0600 file, replaces a symlink without following it") {
  const std::string d = scratch_dir("write");
  const std::string dir = d + "/cache/numa-agent", path = dir + "/f";
  REQUIRE(os::write_private_file(path, "one"));   // both missing levels made
  struct stat st{};
  REQUIRE(stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(slurp(path) == "one");

  put(d + "/victim", "keep", 0600);
  REQUIRE(unlink(path.c_str()) == 0);
  REQUIRE(symlink((d + "/victim").c_str(), path.c_str()) == 0);
  REQUIRE(os::write_private_file(path, "two"));
  CHECK(slurp(d + "/victim") == "keep");
  REQUIRE(lstat(path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(slurp(path) == "two");

  // A directory that is not the user's own, or open to others, or not a directory at all.
  REQUIRE(chmod(dir.c_str(), 0777) == 0);
  CHECK(os::write_private_file(path, "three").error().code == EPERM);
  REQUIRE(chmod(dir.c_str(), 0700) == 0);
  if (geteuid() == 0) {
    REQUIRE(chown(dir.c_str(), 65534, 65534) == 0);
    CHECK(os::write_private_file(path, "three").error().code == EPERM);
    REQUIRE(chown(dir.c_str(), 0, 0) == 0);
  }
  put(d + "/file", "", 0600);
  CHECK(os::write_private_file(d + "/file/numa-agent/f", "x").error().code == ENOTDIR);
  const std::string linked = d + "/linked";
  REQUIRE(symlink(dir.c_str(), linked.c_str()) == 0);
  CHECK(os::write_private_file(linked + "/f", "x").error().code == ELOOP);
  CHECK(slurp(path) == "two");
  std::system(("rm -rf " + d).c_str());
}

TEST_CASE("user_cache_dir is XDG_RUNTIME_DIR's, else HOME's .cache") {
  const char* run = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved_run = run ? run : "";
  const char* home = std::getenv("HOME");
  const std::string saved_home = home ? home : "";
  setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  CHECK(*os::user_cache_dir() == "/run/user/1000/numa-agent");
  unsetenv("XDG_RUNTIME_DIR");
  setenv("HOME", "/home/u", 1);
  CHECK(*os::user_cache_dir() == "/home/u/.cache/numa-agent");
  setenv("XDG_RUNTIME_DIR", "relative", 1);   // not absolute: ignored, as the XDG spec says
  CHECK(*os::user_cache_dir() == "/home/u/.cache/numa-agent");
  if (run) setenv("XDG_RUNTIME_DIR", saved_run.c_str(), 1);
  else unsetenv("XDG_RUNTIME_DIR");
  if (home) setenv("HOME", saved_home.c_str(), 1);
}
