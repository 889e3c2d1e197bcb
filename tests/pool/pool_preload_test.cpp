// The pools under LD_PRELOAD on this machine: placement, the pool range, and real Debian programs
// that allocate heavily with threads, whose output must not change under the agent.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "preload_support.hpp"

using namespace numa_agent::pool::test;

namespace {
std::uintptr_t parse_hex(const std::string& s) { return std::stoull(s, nullptr, 16); }

// Runs `script` with sh with and without the agent; stdout and status must be equal, and the
// named program must have taken at least `min_pool` allocations from the pools.
void same_output(const std::string& script, const std::string& program, std::uint64_t min_pool) {
  ProgramResult plain = run_program({"/bin/sh", "-c", script});
  AgentRun agent = run_with_profiles({"/bin/sh", "-c", script});
  INFO("script: " << script << "\nplain stderr: " << plain.err << "\nagent stderr: " << agent.outcome.err);
  REQUIRE(plain.status == 0);
  REQUIRE(agent.outcome.status == 0);
  REQUIRE(!plain.out.empty());
  REQUIRE(agent.outcome.out == plain.out);
  CHECK(agent.outcome.err.find("numa-agent") == std::string::npos);
  CHECK(pool_allocations_of(agent, program) >= min_pool);
}
}  // namespace

TEST_CASE("pool pages are on node 0 (move_pages) and blocks lie in the pools' reserved range", "[pool]") {
  AgentRun r = run_with_profiles({test_program("pool_placement")});
  INFO(r.outcome.out << r.outcome.err);
  REQUIRE(r.outcome.status == 0);
  REQUIRE(r.outcome.out.find("pool placement: 100.00 %") != std::string::npos);
  REQUIRE(r.profiles.size() == 1);
  const auto& pools = r.profiles[0]["pools"];
  REQUIRE(pools["enabled"] == true);
  auto at = r.outcome.out.find("block range: ");
  REQUIRE(at != std::string::npos);
  std::istringstream in(r.outcome.out.substr(at + 13));
  std::string low, high;
  in >> low >> high;
  const auto begin = parse_hex(pools["reserved_range"][0].get<std::string>());
  const auto end = parse_hex(pools["reserved_range"][1].get<std::string>());
  CHECK(parse_hex(low) >= begin);
  CHECK(parse_hex(high) < end);
  CHECK(pools["nodes"][0]["committed_bytes"].get<std::uint64_t>() > 0);
}

TEST_CASE("the placement check fails without the pools (it can tell)", "[pool]") {
  ProgramResult plain = run_program({test_program("pool_placement"), "2", "500"});
  CHECK(plain.status == 1);
  AgentRun off = run_with_profiles({test_program("pool_placement"), "2", "500"}, {{"NUMA_AGENT_POOLS", "0"}});
  CHECK(off.outcome.status == 1);
  REQUIRE(off.profiles.size() == 1);
  CHECK(off.profiles[0]["pools"]["enabled"] == false);
}

TEST_CASE("python3 threads building dicts and strings: same output", "[pool]") {
  // PYTHONMALLOC=malloc: every object through malloc (pymalloc would keep small ones in its arenas).
  same_output("PYTHONMALLOC=malloc /usr/bin/python3 -c '\n"
              "import threading, hashlib\n"
              "out = {}\n"
              "def work(k):\n"
              "    d = {}\n"
              "    for i in range(60000):\n"
              "        d[str(i * k)] = [i, str(i) * (i % 7), (k, i)]\n"
              "    out[k] = hashlib.sha256(repr(sorted(d.items())[:5000]).encode()).hexdigest()\n"
              "ts = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]\n"
              "[t.start() for t in ts]; [t.join() for t in ts]\n"
              "print(sorted(out.items()))'",
              "/usr/bin/python3", 100000);
}

TEST_CASE("sqlite3 with sorter threads: same output", "[pool]") {
  same_output("sqlite3 :memory: \"PRAGMA threads=2; CREATE TABLE t(s TEXT, n INT);"
              " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<200000)"
              " INSERT INTO t SELECT printf('%08d-%s', (x*7919)%200003, x), x FROM c;"
              " CREATE INDEX ts ON t(s);"
              " SELECT count(*), sum(length(s)), min(s), max(s) FROM t;"
              " SELECT s FROM t ORDER BY n % 1000, s LIMIT 3 OFFSET 150000;"
              " SELECT n % 97, count(*), max(s) FROM t GROUP BY n % 97 ORDER BY 1 LIMIT 5;\"",
              "sqlite3", 10000);
}

TEST_CASE("git add, commit and a threaded repack: same commit and objects", "[pool]") {
  auto dir = std::filesystem::temp_directory_path() / ("pool-git-" + std::to_string(getpid()));
  std::string script =
      "set -e; d=" + dir.string() + "/$$; rm -rf $d; mkdir -p $d; cd $d; git init -q .;"
      " i=0; while [ $i -lt 300 ]; do seq $i $((i*50)) > f$i.txt; i=$((i+1)); done;"
      " export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z';"
      " git add .; git -c user.name=t -c user.email=t@e commit -q -m one;"
      " git repack -a -d -q --threads=2; git rev-parse HEAD; git count-objects -v | grep -E '^(count|in-pack)';"
      " git log --stat --format=%H | tail -1; git fsck -q && echo fsck-ok; cd /; rm -rf $d";
  same_output(script, "git", 1000);
  std::filesystem::remove_all(dir);
}

TEST_CASE("sort --parallel=2 and xz -T2: same bytes", "[pool]") {
  same_output("seq 1 400000 | awk '{print ($1*7919)%400009, \"line\", $1}' | sort --parallel=2 -S 64M | md5sum",
              "sort", 100);
  same_output("seq 1 2000000 | xz -T2 -3 --block-size=1MiB | md5sum", "xz", 100);
}

TEST_CASE("bash with heavy string work starts and runs under the agent (no dlsym/locale hang)", "[pool]") {
  same_output("bash -c 'x=; for i in $(seq 1 3000); do x=$x$i; done; echo ${#x}; declare -A m;"
              " for i in $(seq 1 2000); do m[$i]=$((i*i)); done; echo ${#m[@]} ${m[1999]}'",
              "bash", 1000);
}

TEST_CASE("jemalloc as the real allocator: foreign pointers go to it, output unchanged", "[pool]") {
  const std::string jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (!std::filesystem::exists(jemalloc)) {
    WARN("libjemalloc2 is not installed");
    return;
  }
  // Large strings go to the real allocator (jemalloc, found by RTLD_NEXT after the agent), small
  // ones to the pools; realloc moves blocks across that boundary (set at 1 KiB here, so that many
  // of the growing strings cross it).
  const std::string script =
      "import threading\n"
      "def w(k, out):\n"
      "    s = ''\n"
      "    for i in range(20000):\n"
      "        s += str(i * k)\n"
      "    out.append(len(s))\n"
      "o = []\n"
      "ts = [threading.Thread(target=w, args=(k, o)) for k in range(1, 4)]\n"
      "[t.start() for t in ts]; [t.join() for t in ts]\n"
      "print(sorted(o), len({str(i): i for i in range(100000)}))\n";
  ProgramResult plain = run_program({"/usr/bin/python3", "-c", script}, {.env = {{"PYTHONMALLOC", "malloc"}, {"LD_PRELOAD", jemalloc}}});
  AgentRun agent = run_with_profiles({"/usr/bin/python3", "-c", script},
                                     {{"PYTHONMALLOC", "malloc"}, {"LD_PRELOAD", jemalloc}, {"NUMA_AGENT_SMALL_MAX", "1k"}});
  INFO(agent.outcome.err);
  REQUIRE(plain.status == 0);
  REQUIRE(agent.outcome.status == 0);
  REQUIRE(agent.outcome.out == plain.out);
  REQUIRE(agent.profiles.size() == 1);
  const auto& totals = agent.profiles[0]["pools"]["totals"];
  CHECK(totals["pool_allocations"].get<std::uint64_t>() > 100000);
  CHECK(totals["real_allocator_frees"].get<std::uint64_t>() > 100);
}

TEST_CASE("allocations after the agent's exit-time profile still come from the pools", "[pool]") {
  ProgramResult plain = run_program({test_program("pool_late_exit")});
  REQUIRE(plain.status == 0);
  REQUIRE(plain.out == "late destructor: usable 40\n");   // glibc's size for 33 bytes
  AgentRun agent = run_with_profiles({test_program("pool_late_exit")});
  INFO(agent.outcome.err);
  REQUIRE(agent.outcome.status == 0);
  REQUIRE(agent.profiles.size() == 1);   // written before the late destructor ran
  REQUIRE(agent.outcome.out == "late destructor: usable 48\n");   // the pools' 48-byte class
}
