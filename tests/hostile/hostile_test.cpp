// Hostile environment: bad option values, unusable profile paths, setuid, no /proc or /sys, seccomp
// against the memory-policy syscalls, one-CPU cpusets, tight limits. Each case runs a real program
// under LD_PRELOAD=libnumaagent.so and asserts that it runs unharmed (status, stdout identical to a
// run without the agent in the same environment, no hang) and that the agent says exactly one clear
// line where something is wrong and nothing where nothing is. The option cases iterate the option
// table, so a new option is covered without touching this file.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/options.hpp"
#include "hostile_run.hpp"

using namespace numa_agent::hostile;
namespace fs = std::filesystem;

namespace {

// A line a user can act on: from the agent, one screen line at most, no terminal control bytes.
constexpr std::size_t kClearLineMax = 1024;

bool clear_line(const std::string& l) {
  if (l.rfind("numa-agent", 0) != 0 || l.size() > kClearLineMax) return false;
  return std::none_of(l.begin(), l.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// For failure messages: bounded, control bytes escaped.
std::string shown(const std::string& s, std::size_t max = 300) {
  std::string r;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      r += buf;
    } else {
      r += c;
    }
  }
  if (s.size() > max) r += "...(" + std::to_string(s.size()) + " bytes)";
  return r;
}

[[noreturn]] void skip(const std::string& why) {
  std::printf("SKIPPED: %s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(77);
}

void require_root() {
  if (geteuid() != 0) skip("needs root");
}

const std::string& semantics() {
  static const std::string p = test_program("pthread_semantics");
  return p;
}

// pthread_semantics' stdout without the agent (the reference every agent run must reproduce).
const std::string& baseline_stdout() {
  static const std::string out = [] {
    auto r = run({semantics()}, {}, scratch_dir("baseline"));
    REQUIRE(r.status == 0);
    return r.out;
  }();
  return out;
}

Outcome with_agent(const Env& env, const std::string& cwd, std::vector<std::string> argv = {}) {
  if (argv.empty()) argv = {semantics()};
  Env e = env;
  e.emplace_back("LD_PRELOAD", agent_library());
  return run(argv, e, cwd);
}

// The program ran unharmed: no hang, success, the same stdout as without the agent.
void unharmed(const Outcome& r, const std::string& expected_stdout) {
  INFO("stderr: " << shown(r.err));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.status == 0);
  CHECK(r.out == expected_stdout);
}

// Exactly one clear line from the agent, naming `about`.
void one_clear_line(const Outcome& r, const std::string& about) {
  auto lines = lines_of(r.err);
  INFO("stderr: " << shown(r.err, 400));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(about) != std::string::npos);
  INFO("line (" << lines[0].size() << " bytes): " << shown(lines[0], 160));
  CHECK(clear_line(lines[0]));
}

void silent(const Outcome& r) {
  INFO("stderr: " << shown(r.err));
  CHECK(r.err.empty());
}

nlohmann::json read_json(const std::string& path) {
  std::string text = read_file(path);
  INFO("profile " << path);
  REQUIRE_FALSE(text.empty());
  return nlohmann::json::parse(text);
}

// ---- every option with every kind of bad value -------------------------------------------------

// For each option in the table: the program is unharmed; a value the option rejects gives exactly
// one clear line naming the variable; a value it accepts gives nothing — except for a path, which
// the OS may still refuse (then one clear line).
void every_option_with(const std::string& kind, const std::string& value) {
  const std::string cwd = scratch_dir("option-" + kind);   // a path-valued option may write here
  const std::string& expected = baseline_stdout();
  for (const auto& spec : numa_agent::option_table()) {
    numa_agent::Options scratch = numa_agent::default_options();
    const bool accepted = static_cast<bool>(spec.apply(scratch, value));
    INFO(spec.variable << "=" << shown(value, 40) << " (" << kind << ", the option table "
                       << (accepted ? "accepts" : "rejects") << " it)");
    auto r = with_agent({{std::string(spec.variable), value}}, cwd);
    unharmed(r, expected);
    auto lines = lines_of(r.err);
    if (!accepted) {
      one_clear_line(r, std::string(spec.variable));
    } else if (spec.type == "path") {
      CHECK(lines.size() <= 1);
      for (const auto& l : lines) {
        INFO("line (" << l.size() << " bytes): " << shown(l, 160));
        CHECK(clear_line(l));
      }
    } else {
      silent(r);
    }
  }
}

}  // namespace

TEST_CASE("every option with a garbage value") { every_option_with("garbage", "zz!@#%^&*()"); }
TEST_CASE("every option with a huge value") { every_option_with("huge", "99999999999999999999999999999"); }
TEST_CASE("every option with a negative value") { every_option_with("negative", "-1"); }
TEST_CASE("every option with an empty value") { every_option_with("empty", ""); }
TEST_CASE("every option with a 64 KiB value") { every_option_with("64KiB", std::string(64 * 1024, 'x')); }
TEST_CASE("every option with an embedded newline") {
  every_option_with("newline", "1\nnuma-agent[1]: warning: a forged second line");
}
TEST_CASE("every option with terminal escapes and invalid UTF-8") {
  every_option_with("control-bytes", "\x1b[2J\x07\xff\xfe");
}

TEST_CASE("all options bad at once: one line for each") {
  const std::string value = "zz!@#";
  Env env;
  std::vector<std::string> rejected;
  for (const auto& spec : numa_agent::option_table()) {
    numa_agent::Options scratch = numa_agent::default_options();
    if (spec.apply(scratch, value)) continue;   // accepted (a path): not bad
    env.emplace_back(std::string(spec.variable), value);
    rejected.emplace_back(spec.variable);
  }
  REQUIRE(rejected.size() >= 5);
  auto r = with_agent(env, scratch_dir("all-bad"));
  unharmed(r, baseline_stdout());
  auto lines = lines_of(r.err);
  INFO("stderr: " << shown(r.err));
  REQUIRE(lines.size() == rejected.size());
  for (const auto& variable : rejected) {
    INFO(variable);
    CHECK(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
            return l.find(variable + "=") != std::string::npos;
          }) == 1);
  }
  for (const auto& l : lines) CHECK(clear_line(l));
}

TEST_CASE("an unknown NUMA_AGENT_ variable gives one line") {
  auto r = with_agent({{"NUMA_AGENT_PINN", "spread"}}, scratch_dir("unknown"));
  unharmed(r, baseline_stdout());
  one_clear_line(r, "NUMA_AGENT_PINN");
}

// ---- profile paths ----------------------------------------------------------------------------

TEST_CASE("profile path is a symlink: the target is untouched, the link is replaced") {
  const std::string dir = scratch_dir("profile-symlink");
  const std::string target = dir + "/precious.txt", link = dir + "/profile.json";
  { std::ofstream(target) << "precious data\n"; }
  fs::create_symlink(target, link);
  auto r = with_agent({{"NUMA_AGENT_PROFILE", link}}, dir);
  unharmed(r, baseline_stdout());
  silent(r);
  CHECK(read_file(target) == "precious data\n");
  CHECK_FALSE(fs::is_symlink(link));
  CHECK(read_json(link)["schema"] == "numa-agent-profile/1");
}

TEST_CASE("profile path is a dangling symlink: nothing is created at its target") {
  const std::string dir = scratch_dir("profile-dangling");
  fs::create_directory(dir + "/elsewhere");
  const std::string target = dir + "/elsewhere/created-by-agent", link = dir + "/profile.json";
  fs::create_symlink(target, link);
  auto r = with_agent({{"NUMA_AGENT_PROFILE", link}}, dir);
  unharmed(r, baseline_stdout());
  silent(r);
  CHECK_FALSE(fs::exists(target));
  CHECK(read_json(link)["schema"] == "numa-agent-profile/1");
}

TEST_CASE("profile path is a directory: one line, the directory is untouched") {
  const std::string dir = scratch_dir("profile-directory");
  fs::create_directory(dir + "/target");
  { std::ofstream(dir + "/target/keep") << "keep\n"; }
  auto r = with_agent({{"NUMA_AGENT_PROFILE", dir + "/target"}}, dir);
  unharmed(r, baseline_stdout());
  one_clear_line(r, "profile");
  CHECK(fs::is_directory(dir + "/target"));
  CHECK(read_file(dir + "/target/keep") == "keep\n");
}

TEST_CASE("profile in a nonexistent directory: one line, nothing created") {
  const std::string dir = scratch_dir("profile-nodir");
  auto r = with_agent({{"NUMA_AGENT_PROFILE", dir + "/no/such/dir/p.json"}}, dir);
  unharmed(r, baseline_stdout());
  one_clear_line(r, "profile");
  CHECK_FALSE(fs::exists(dir + "/no"));
}

TEST_CASE("profile in a directory the user cannot write: one line, nothing written") {
  require_root();
  const std::string dir = scratch_dir("profile-unwritable");
  fs::create_directory(dir + "/locked");
  chmod((dir + "/locked").c_str(), 0755);   // root's; the program runs as nobody
  const std::string expected = run({hostile_program("hostile_launcher"), "--user=65534", "--", semantics()}, {}, dir).out;
  REQUIRE(expected == baseline_stdout());
  auto r = run({hostile_program("hostile_launcher"), "--user=65534", "--preload=" + agent_library(), "--", semantics()},
               {{"NUMA_AGENT_PROFILE", dir + "/locked/p-%p.json"}}, dir);
  unharmed(r, expected);
  one_clear_line(r, "profile");
  CHECK(fs::is_empty(dir + "/locked"));
}

TEST_CASE("profile is written for a program whose arguments are not UTF-8") {
  const std::string dir = scratch_dir("profile-latin1-argv");
  auto r = with_agent({{"NUMA_AGENT_PROFILE", dir + "/p.json"}}, dir, {semantics(), "caf\xe9.txt"});
  unharmed(r, baseline_stdout());
  silent(r);
  CHECK(fs::exists(dir + "/p.json"));
}

TEST_CASE("profile is written when a bad option value is not UTF-8") {
  const std::string dir = scratch_dir("profile-latin1-value");
  auto r = with_agent({{"NUMA_AGENT_PROFILE", dir + "/p.json"}, {"NUMA_AGENT_BIND", "n\xf6" "de"}}, dir);
  unharmed(r, baseline_stdout());
  one_clear_line(r, "NUMA_AGENT_BIND");
  CHECK(fs::exists(dir + "/p.json"));
}

// ---- secure execution -------------------------------------------------------------------------

// glibc, for a setuid program, ignores LD_PRELOAD entries with a slash and preloads a bare name only
// from the trusted directories and only if that file is itself set-user-ID. The test installs a
// set-user-ID copy of the agent there (removed afterwards) so that the agent really runs in secure
// mode, and shows it ignores NUMA_AGENT_*: PIN=none is not obeyed (the created thread is pinned, as
// by default), a bad value is not reported, no profile is written.
TEST_CASE("setuid program: the agent ignores its environment") {
  require_root();
  const std::string dir = scratch_dir("setuid");
  const std::string probe = dir + "/hostile_probe";
  fs::copy_file(hostile_program("hostile_probe"), probe);
  REQUIRE(chown(probe.c_str(), 0, 0) == 0);
  REQUIRE(chmod(probe.c_str(), 04755) == 0);
  const std::string trusted_dir = "/usr/lib/x86_64-linux-gnu";
  if (!fs::is_directory(trusted_dir)) skip(trusted_dir + " does not exist");
  const std::string lib_name = "libnumaagent-hostile-test-" + std::to_string(getpid()) + ".so";
  const std::string trusted_lib = trusted_dir + "/" + lib_name;
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove_later{trusted_lib};
  fs::copy_file(agent_library(), trusted_lib, fs::copy_options::overwrite_existing);
  REQUIRE(chmod(trusted_lib.c_str(), 04755) == 0);

  const std::string launcher = hostile_program("hostile_launcher");
  const Env env{{"NUMA_AGENT_PIN", "none"}, {"NUMA_AGENT_SKIP", "zz"}, {"NUMA_AGENT_PROFILE", dir + "/p-%p.json"}};

  // Not setuid: the environment is obeyed (PIN=none leaves the thread on every CPU).
  auto plain = run({launcher, "--user=65534", "--preload=" + agent_library(), "--", hostile_program("hostile_probe")}, env, dir);
  REQUIRE(plain.status == 0);
  if (plain.out.find("process_cpus=1 ") != std::string::npos) skip("one CPU: pinned and unpinned look alike");
  CHECK(plain.out.find("secure=0 agent=loaded") != std::string::npos);
  CHECK(plain.out.find("thread_cpus=1\n") == std::string::npos);

  // A path with a slash: glibc ignores it silently for a setuid program.
  auto slash = run({launcher, "--user=65534", "--preload=" + agent_library(), "--", probe}, env, dir);
  INFO("stdout: " << slash.out << "stderr: " << shown(slash.err));
  REQUIRE(slash.status == 0);
  CHECK(slash.out.find("secure=1 agent=absent") != std::string::npos);
  CHECK(slash.err.empty());

  // The trusted set-user-ID copy: loaded, in secure mode, environment ignored.
  auto secure = run({launcher, "--user=65534", "--preload=" + lib_name, "--", probe}, env, dir);
  INFO("stdout: " << secure.out << "stderr: " << shown(secure.err));
  REQUIRE_FALSE(secure.timed_out);
  REQUIRE(secure.status == 0);
  CHECK(secure.out.find("secure=1 agent=loaded") != std::string::npos);
  CHECK(secure.out.find("thread_cpus=1\n") != std::string::npos);   // pinned: PIN=none ignored
  silent(secure);                                                     // SKIP=zz not even reported
  for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename().string().rfind("p-", 0) != 0);
}

// ---- hostile machines ---------------------------------------------------------------------------

namespace {

// pthread_semantics in the environment `setup` (hostile_launcher options), without and with the
// agent; returns the agent's run after checking the program is unharmed. The agent run writes a
// profile to `profile` when it is not empty.
Outcome in_environment(const std::vector<std::string>& setup, const std::string& dir, const std::string& profile = "") {
  std::vector<std::string> plain{hostile_program("hostile_launcher")};
  plain.insert(plain.end(), setup.begin(), setup.end());
  std::vector<std::string> agent = plain;
  agent.push_back("--preload=" + agent_library());
  plain.insert(plain.end(), {"--", semantics()});
  agent.insert(agent.end(), {"--", semantics()});
  auto without = run(plain, {}, dir);
  if (without.status == 77) skip("this environment cannot be made here: " + without.err);
  INFO("without the agent: " << shown(without.err));
  REQUIRE(without.status == 0);
  Env env;
  if (!profile.empty()) env.emplace_back("NUMA_AGENT_PROFILE", profile);
  auto with = run(agent, env, dir);
  unharmed(with, without.out);
  return with;
}

}  // namespace

TEST_CASE("no /proc: the program runs, the agent says at most one clear line") {
  require_root();
  const std::string dir = scratch_dir("no-proc");
  auto r = in_environment({"--no-proc"}, dir);
  auto lines = lines_of(r.err);
  INFO("stderr: " << shown(r.err));
  CHECK(lines.size() <= 1);
  for (const auto& l : lines) CHECK(clear_line(l));
}

TEST_CASE("no /sys: the program runs, the agent says one clear line") {
  require_root();
  auto r = in_environment({"--no-sys"}, scratch_dir("no-sys"));
  one_clear_line(r, "topology");
}

TEST_CASE("no /proc and no /sys: the program runs, the agent says one clear line") {
  require_root();
  auto r = in_environment({"--no-proc", "--no-sys"}, scratch_dir("no-proc-sys"));
  one_clear_line(r, "topology");
}

namespace {
// mbind/set_mempolicy refused: the pools cannot place memory; every allocation goes to the real
// allocator (the profile shows no pool allocation and the node marked unusable with the errno) and
// the agent says so once.
void mempolicy_denied(const std::string& errno_name, int errno_value) {
  require_root();
  const std::string dir = scratch_dir("seccomp-" + errno_name);
  auto r = in_environment({"--deny-mempolicy=" + errno_name}, dir, dir + "/p.json");
  auto profile = read_json(dir + "/p.json");
  const auto& pools = profile["pools"];
  INFO("pools: " << pools.dump().substr(0, 600));
  if (pools["enabled"] == true) {
    CHECK(pools["totals"]["pool_allocations"] == 0);
    for (const auto& n : pools["nodes"]) {
      CHECK(n["usable"] == false);
      CHECK(n["error_errno"] == errno_value);
    }
  }
  one_clear_line(r, "mbind");
}
}  // namespace

TEST_CASE("seccomp refuses mbind and set_mempolicy with EPERM: real allocator, one line") {
  mempolicy_denied("EPERM", EPERM);
}
TEST_CASE("seccomp refuses mbind and set_mempolicy with ENOSYS: real allocator, one line") {
  mempolicy_denied("ENOSYS", ENOSYS);
}

TEST_CASE("a cpuset of one CPU: every thread on it, nothing said") {
  const std::string dir = scratch_dir("one-cpu");
  auto r = in_environment({"--cpu=0"}, dir, dir + "/p.json");
  silent(r);
  auto profile = read_json(dir + "/p.json");
  CHECK(profile["topology"]["allowed_cpus"] == "0");
  REQUIRE(profile["threads"].size() >= 2);
  for (const auto& t : profile["threads"]) CHECK(t["cpus"] == "0");
}

TEST_CASE("an address-space limit too small for the pools' arena: real allocator, one line") {
  const std::string dir = scratch_dir("rlimit-as");
  auto r = in_environment({"--rlimit-as=" + std::to_string(2ull << 30)}, dir, dir + "/p.json");
  auto profile = read_json(dir + "/p.json");
  CHECK(profile["pools"]["enabled"] == false);
  one_clear_line(r, "pool");
}

TEST_CASE("few file descriptors (RLIMIT_NOFILE=4): the program runs, at most one clear line") {
  const std::string dir = scratch_dir("rlimit-nofile");
  auto r = in_environment({"--rlimit-nofile=4"}, dir);
  auto lines = lines_of(r.err);
  INFO("stderr: " << shown(r.err));
  CHECK(lines.size() <= 1);
  for (const auto& l : lines) CHECK(clear_line(l));
}

TEST_CASE("stderr closed and a bad option: the program runs unharmed") {
  const std::string dir = scratch_dir("closed-stderr");
  auto r = run({hostile_program("hostile_launcher"), "--close-stderr", "--preload=" + agent_library(), "--", semantics()},
               {{"NUMA_AGENT_SKIP", "zz"}, {"NUMA_AGENT_PROFILE", dir + "/p.json"}}, dir);
  unharmed(r, baseline_stdout());
  CHECK(read_json(dir + "/p.json")["warnings"].size() == 1);
}
