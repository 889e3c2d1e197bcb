// agent/error.hpp (Result, fail) and agent/text.hpp (the shared string helpers).
#include <catch2/catch.hpp>

#include "agent/error.hpp"
#include "agent/text.hpp"

using namespace numa_agent;

namespace {
Result<int> parse_positive(int v) {
  if (v <= 0) return fail(22, "not positive: " + std::to_string(v));
  return v;
}
Result<void> check(int v) {
  if (auto r = parse_positive(v); !r) return fail(r.error());
  return {};
}
}  // namespace

TEST_CASE("Result carries a value or the error that explains it", "[error]") {
  auto ok = parse_positive(5);
  REQUIRE(ok);
  CHECK(*ok == 5);
  auto bad = parse_positive(-1);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == 22);
  CHECK(bad.error().what == "not positive: -1");
  CHECK(bad.value_or(7) == 7);
  CHECK(check(3));
  auto failed = check(0);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().what == "not positive: 0");
}

TEST_CASE("text helpers: lower, trim, split, hex", "[text]") {
  CHECK(text::lower("SpReAd") == "spread");
  CHECK(text::trim(" \t a b \n") == "a b");
  CHECK(text::trim("   ").empty());
  auto parts = text::split("a,,b", ',');
  REQUIRE(parts.size() == 3);
  CHECK(parts[0] == "a");
  CHECK(parts[1].empty());
  CHECK(parts[2] == "b");
  CHECK(text::split("", ',').size() == 1);
  CHECK(text::hex(0) == "0x0");
  CHECK(text::hex(0x7f3a12) == "0x7f3a12");
}
