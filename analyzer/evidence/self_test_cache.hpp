// The breakpoint self-test (os::breakpoint_self_test, ~0.3 s of CPU) cached per boot, so that
// every `record` and `top` does not pay for it (issue 13's overhead goal). The cache is one small
// JSON file in the user's cache directory (os::user_cache_dir: $XDG_RUNTIME_DIR/numa-agent, else
// ~/.cache/numa-agent), 0600 in a 0700 directory, never followed through a symlink. It holds the
// key it was measured under (boot id, kernel release, perf_event_paranoid, euid) and is used only
// when that key is the running one and every figure is in range; otherwise (absent, corrupt,
// stale, a symlink, not ours) the self-test runs and the file is rewritten. A directory that
// cannot be written costs only the self-test: the note says why.
#pragma once
#include <string>
#include <string_view>

#include "agent/error.hpp"
#include "agent/os/breakpoint.hpp"

namespace numa_agent::analyzer {

struct SelfTestCacheKey {
  std::string boot_id;
  std::string kernel;
  int perf_event_paranoid = -99;
  unsigned euid = 0;
};
inline constexpr std::string_view kSelfTestCacheSchema = "numa-agent-breakpoint-self-test/1";
inline constexpr std::string_view kSelfTestCacheFile = "breakpoint-self-test.json";

std::string format_self_test_cache(const SelfTestCacheKey& key, const os::BreakpointSelfTest& test);
// The cached figures when `text` is a cache written under `key`; fails with EINVAL ("corrupt: ...")
// or ESTALE ("stale: ...").
Result<os::BreakpointSelfTest> parse_self_test_cache(std::string_view text, const SelfTestCacheKey& key);

struct SelfTestOutcome {
  Result<os::BreakpointSelfTest> test = fail(0, "not run");
  bool cached = false;   // true: taken from the cache, the self-test did not run
  std::string note;      // "breakpoint self-test: from cache PATH" or "...: measured in N ms (cache PATH: why; written|not written: why)"
};
// The running key (os::boot_id, kernel_release, perf_event_paranoid, effective_uid); a field the
// kernel does not give stays empty / -99, and a key with an empty boot id is never cached.
SelfTestCacheKey current_self_test_key();
// The cache in `dir` (os::user_cache_dir() when empty) or the self-test, as described above.
SelfTestOutcome cached_breakpoint_self_test(const std::string& dir = "");

}  // namespace numa_agent::analyzer
