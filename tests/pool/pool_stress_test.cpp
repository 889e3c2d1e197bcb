// Stress under LD_PRELOAD of libnumaagent.so: random sizes, cross-thread frees, realloc, the
// aligned entry points and a fork, with a pattern checked in every block; and thread churn.
#include <catch2/catch.hpp>

#include <cstdio>

#include "preload_support.hpp"

using namespace numa_agent::pool::test;

TEST_CASE("stress: 4 threads x random sizes x cross-thread frees x realloc x memalign, no corruption", "[pool]") {
  AgentRun r = run_with_profiles({test_program("pool_stress"), "4", "200000", "7"});
  INFO(r.outcome.out << r.outcome.err);
  REQUIRE(r.outcome.status == 0);
  REQUIRE(r.outcome.out.find(": 0 errors; fork child ok") != std::string::npos);
  REQUIRE(r.profiles.size() == 1);   // the fork child leaves by _exit: no profile of its own
  const auto& totals = r.profiles[0]["pools"]["totals"];
  CHECK(totals["pool_allocations"].get<std::uint64_t>() > 100000);
  CHECK(totals["cross_thread_frees_sent"].get<std::uint64_t>() > 1000);
  CHECK(totals["cross_thread_frees_received"].get<std::uint64_t>() > 1000);
  CHECK(totals["fallthrough"]["too_large"].get<std::uint64_t>() > 0);
}

// The volume the issue asks for: >= 8 threads, >= 10^8 operations, cross-thread transfers, every
// block's stamps checked, and a fork storm while it runs.
TEST_CASE("stress: 8 threads x 10^8 malloc/free with cross-thread transfers and 40 forks, stamps intact", "[pool]") {
  AgentRun r = run_with_profiles({test_program("pool_hammer"), "8", "100000000", "40", "3"});
  INFO(r.outcome.out << r.outcome.err);
  REQUIRE(r.outcome.status == 0);
  long threads = 0, operations = 0, handed = 0, forks = 0, rss = 0, errors = -1;
  REQUIRE(std::sscanf(r.outcome.out.c_str(),
                      "pool_hammer: %ld threads, %ld operations, %ld handed to another thread, %ld forks ok, peak RSS %ld KiB: %ld errors",
                      &threads, &operations, &handed, &forks, &rss, &errors) == 6);
  CHECK(threads == 8);
  CHECK(operations >= 100000000);
  CHECK(handed > 1000000);
  CHECK(forks == 40);   // every fork taken while the workers ran, every child exited 0
  CHECK(errors == 0);
  CHECK(rss < 512 * 1024);   // at most 8 x 4000 live blocks of <= 4 KiB: a leak or stranded memory shows here
  REQUIRE(r.profiles.size() == 1);   // fork children leave by _exit
  const auto& totals = r.profiles[0]["pools"]["totals"];
  CHECK(totals["pool_allocations"].get<std::uint64_t>() > 40000000);   // ~half the operations are allocations
  CHECK(totals["cross_thread_frees_received"].get<std::uint64_t>() > 1000000);
}

TEST_CASE("stress: 100000 threads created and ended keep RSS and heap count bounded", "[pool]") {
  AgentRun r = run_with_profiles({test_program("pool_churn"), "100000"});
  INFO(r.outcome.out << r.outcome.err);
  REQUIRE(r.outcome.status == 0);
  REQUIRE(r.profiles.size() == 1);
  const auto& pools = r.profiles[0]["pools"];
  CHECK(pools["totals"]["pool_allocations"].get<std::uint64_t>() > 100000 * 30);
  CHECK(pools["heaps_total"].get<std::uint64_t>() <= 8);   // adopted, not one per thread
  std::uint64_t adopted = 0;
  for (const auto& n : pools["nodes"]) adopted += n["heaps_adopted"].get<std::uint64_t>();
  CHECK(adopted > 90000);
}
