// Shared helpers for the allocator workloads: argument parsing (key=value), a clock, an
// optimisation barrier so the compiler cannot elide a malloc/free pair, a small PRNG that never
// allocates, and a one-line JSON writer. Every workload prints exactly one JSON object on stdout;
// bench/run reads it.
#pragma once
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// key=value arguments with defaults; an unknown or malformed argument is a one-line error.
class Args {
 public:
  Args(int argc, char** argv) : argv_(argv + 1, argv + argc) {}
  std::uint64_t get(std::string_view key, std::uint64_t fallback) const {
    for (const std::string& a : argv_) {
      if (a.size() > key.size() && a.compare(0, key.size(), key) == 0 && a[key.size()] == '=') {
        char* end = nullptr;
        const char* text = a.c_str() + key.size() + 1;
        std::uint64_t v = std::strtoull(text, &end, 10);
        if (end == text || *end != '\0') {
          std::fprintf(stderr, "bad value for %s: '%s' (want an unsigned integer)\n", a.c_str(), text);
          std::exit(2);
        }
        return v;
      }
    }
    return fallback;
  }
  // Comma-separated list of integers.
  std::vector<std::uint64_t> list(std::string_view key, std::vector<std::uint64_t> fallback) const {
    for (const std::string& a : argv_) {
      if (a.size() > key.size() && a.compare(0, key.size(), key) == 0 && a[key.size()] == '=') {
        std::vector<std::uint64_t> out;
        const char* p = a.c_str() + key.size() + 1;
        while (*p) {
          char* end = nullptr;
          out.push_back(std::strtoull(p, &end, 10));
          if (end == p || (*end != ',' && *end != '\0')) {
            std::fprintf(stderr, "bad list for %s (want n,n,...)\n", a.c_str());
            std::exit(2);
          }
          p = *end ? end + 1 : end;
        }
        return out;
      }
    }
    return fallback;
  }

 private:
  std::vector<std::string> argv_;
};

inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// Makes `p` (and all memory) look used, so malloc/free pairs survive -O2.
inline void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

// xorshift64*: deterministic and allocation-free.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [lo, hi].
  std::size_t between(std::size_t lo, std::size_t hi) { return lo + next() % (hi - lo + 1); }
};

// Builds one flat JSON object; values are numbers, strings without quotes, or raw JSON.
class JsonLine {
 public:
  JsonLine& num(const char* key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return raw(key, buf);
  }
  JsonLine& str(const char* key, const std::string& v) { return raw(key, "\"" + v + "\""); }
  JsonLine& raw(const char* key, const std::string& json) {
    text_ += text_.empty() ? "{" : ", ";
    text_ += "\"";
    text_ += key;
    text_ += "\": ";
    text_ += json;
    return *this;
  }
  // The process's CPU time and context switches so far (getrusage RUSAGE_SELF: all threads,
  // joined or not): user_s, sys_s, cpu_busy (CPU seconds per wall second over `wall_ns`, i.e. how
  // many CPUs were kept busy), voluntary (waits: futex, sleep) and involuntary context switches.
  JsonLine& rusage(std::uint64_t wall_ns) {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    const double user = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) * 1e-6;
    const double sys = double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) * 1e-6;
    num("user_s", user);
    num("sys_s", sys);
    num("cpu_busy", wall_ns ? (user + sys) / (double(wall_ns) * 1e-9) : 0.0);
    num("voluntary_switches", double(ru.ru_nvcsw));
    return num("involuntary_switches", double(ru.ru_nivcsw));
  }
  // Every workload line ends with the process's own peak RSS (VmHWM). The parent cannot take it
  // from wait4: a child's ru_maxrss starts from the RSS of the process that forked it.
  void print() {
    num("peak_rss_kib", double(peak_rss_kib()));
    std::printf("%s}\n", text_.c_str());
  }

  static long peak_rss_kib() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    std::fclose(f);
    return kib;
  }

 private:
  std::string text_;
};

}  // namespace bench
