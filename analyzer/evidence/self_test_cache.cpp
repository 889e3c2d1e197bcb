// See self_test_cache.hpp.
#include "analyzer/evidence/self_test_cache.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "agent/os/os.hpp"
#include "agent/os/perf_event.hpp"
#include "analyzer/evidence/evidence_source.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

std::string format_self_test_cache(const SelfTestCacheKey& key, const os::BreakpointSelfTest& t) {
  json j = {{"schema", kSelfTestCacheSchema},
            {"boot_id", key.boot_id},
            {"kernel", key.kernel},
            {"perf_event_paranoid", key.perf_event_paranoid},
            {"euid", key.euid},
            {"modify_works", t.modify_works},
            {"modify_hits", t.modify_hits},
            {"modify_loop_ratio", t.modify_loop_ratio},
            {"trap_ns", t.trap_ns},
            {"reopen_ns", t.reopen_ns},
            {"modify_ns", t.modify_ns}};
  return j.dump() + "\n";
}

Result<os::BreakpointSelfTest> parse_self_test_cache(std::string_view text, const SelfTestCacheKey& key) {
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(EINVAL, "corrupt: not a JSON object");
  if (!j.contains("schema") || j["schema"] != kSelfTestCacheSchema) return fail(EINVAL, "corrupt: not " + std::string(kSelfTestCacheSchema));
  const auto str = [&](const char* k) -> const json* { return j.contains(k) && j[k].is_string() ? &j[k] : nullptr; };
  const auto num = [&](const char* k, double lo, double hi, double& out) {
    if (!j.contains(k) || !j[k].is_number()) return false;
    out = j[k].get<double>();
    return std::isfinite(out) && out >= lo && out <= hi;
  };
  double paranoid = 0, euid = 0;
  if (!str("boot_id") || !str("kernel") || !num("perf_event_paranoid", -1e9, 1e9, paranoid) || !num("euid", 0, 4294967295.0, euid))
    return fail(EINVAL, "corrupt: key fields missing");
  if (j["boot_id"] != key.boot_id) return fail(ESTALE, "stale: another boot");
  if (j["kernel"] != key.kernel) return fail(ESTALE, "stale: another kernel");
  if (int(paranoid) != key.perf_event_paranoid) return fail(ESTALE, "stale: perf_event_paranoid changed");
  if (unsigned(euid) != key.euid) return fail(ESTALE, "stale: another user");
  os::BreakpointSelfTest t;
  double hits = 0;
  if (!j.contains("modify_works") || !j["modify_works"].is_boolean()) return fail(EINVAL, "corrupt: modify_works");
  t.modify_works = j["modify_works"].get<bool>();
  // Ranges: a trap costs between nanoseconds and 10 ms even in a TCG guest; a re-aim under 100 ms.
  if (!num("modify_hits", 0, 1e12, hits) || !num("modify_loop_ratio", 0, 1e12, t.modify_loop_ratio) ||
      !num("trap_ns", 1e-3, 1e7, t.trap_ns) || !num("reopen_ns", 0, 1e8, t.reopen_ns) || !num("modify_ns", 0, 1e8, t.modify_ns))
    return fail(EINVAL, "corrupt: a figure missing or out of range");
  t.modify_hits = static_cast<std::uint64_t>(hits);
  if (t.modify_works && (t.modify_hits != 1 || t.modify_ns <= 0)) return fail(EINVAL, "corrupt: modify_works without its figures");
  return t;
}

SelfTestCacheKey current_self_test_key() {
  SelfTestCacheKey key;
  if (auto id = os::boot_id()) key.boot_id = *id;
  key.kernel = os::kernel_release();
  if (auto p = os::perf_event_paranoid()) key.perf_event_paranoid = *p;
  key.euid = os::effective_uid();
  return key;
}

SelfTestOutcome cached_breakpoint_self_test(const std::string& dir_arg) {
  SelfTestOutcome out;
  const SelfTestCacheKey key = current_self_test_key();
  std::string path, why;
  if (!dir_arg.empty()) {
    path = dir_arg + "/" + std::string(kSelfTestCacheFile);
  } else if (auto dir = os::user_cache_dir()) {
    path = *dir + "/" + std::string(kSelfTestCacheFile);
  } else {
    why = "no cache directory: " + dir.error().what;
  }
  if (!path.empty() && key.boot_id.empty()) why = "no boot id", path.clear();
  if (!path.empty()) {
    auto text = os::read_private_file(path, 4096);
    if (!text) {
      why = text.error().code == ENOENT ? "absent" : text.error().what + " (" + describe_errno(text.error().code) + ")";
    } else if (auto cached = parse_self_test_cache(*text, key)) {
      out.cached = true;
      out.note = "breakpoint self-test: from cache " + path;
      // The figures hold for this boot; whether this process may open breakpoints is checked now.
      if (auto now = os::breakpoint_available()) out.test = *cached;
      else out.test = fail(now.error());
      return out;
    } else {
      why = cached.error().what;
    }
  }
  const std::uint64_t t0 = os::monotonic_ns();
  out.test = os::breakpoint_self_test();
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.0f", double(os::monotonic_ns() - t0) / 1e6);
  out.note = "breakpoint self-test: measured in " + std::string(ms) + " ms (cache " + (path.empty() ? "none" : path) + ": " + why;
  if (!out.test) {
    out.note += "; not written: the self-test failed)";   // refusals are cheap: never cached
  } else if (!path.empty()) {
    auto written = os::write_private_file(path, format_self_test_cache(key, *out.test));
    out.note += written ? "; written)" : "; not written: " + written.error().what + " (" + describe_errno(written.error().code) + "))";
  } else {
    out.note += ")";
  }
  return out;
}

}  // namespace numa_agent::analyzer
