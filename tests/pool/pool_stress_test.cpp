// Stress under LD_PRELOAD of libnumaagent.so: random sizes, cross-thread frees, realloc, the
// aligned entry points and a fork, with a pattern checked in every block; and thread churn.
#include <catch2/catch.hpp>

#include "preload_support.hpp"

using namespace numa_agent::pool::test;

TEST_CASE("stress: 4 threads x random sizes x cross-thread frees x realloc x memalign, no corruption", "[pool]") {
  AgentRun r = run_under_agent({test_program("pool_stress"), "4", "200000", "7"});
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

TEST_CASE("stress: 100000 threads created and ended keep RSS and heap count bounded", "[pool]") {
  AgentRun r = run_under_agent({test_program("pool_churn"), "100000"});
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
