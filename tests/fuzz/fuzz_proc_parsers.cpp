// Fuzzes the /proc and /sys text parsers numa-analyze reads (analyzer/proc_parsers.hpp). Every
// parser gets the whole input, as a kernel file that changed format or a racing reader would
// hand it. Invariants: nothing throws or crashes (the header's contract); results are sane:
// a CPU list is increasing within each range and within 0..65535, maps lookups return the
// entry containing the address; the PMU resolver (event = first line, formats = the other
// "name=config:lo-hi" lines) either fails with a reason or sets only bits the formats name.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "analyzer/evidence/proc_parsers.hpp"

using namespace numa_agent::analyzer;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}

std::uint64_t bits_of(std::string_view spec, std::string_view word) {
  // The bits a format like "config1:0-15,32" allows in `word`; all bits if the spec is odd
  // (the resolver must then fail, which the caller checks separately).
  while (!spec.empty() && (spec.front() == ' ' || spec.front() == '\t' || spec.front() == '\n' || spec.front() == '\r')) spec.remove_prefix(1);
  auto colon = spec.find(':');
  if (colon == std::string_view::npos || spec.substr(0, colon) != word) return 0;
  std::uint64_t mask = 0;
  std::string_view ranges = spec.substr(colon + 1);
  while (!ranges.empty()) {
    auto comma = ranges.find(',');
    std::string range(ranges.substr(0, comma));
    int lo = std::atoi(range.c_str()), hi = lo;
    if (auto dash = range.find('-'); dash != std::string::npos) hi = std::atoi(range.c_str() + dash + 1);
    for (int b = lo; b <= hi && b >= 0 && b < 64; ++b) mask |= 1ULL << b;
    if (comma == std::string_view::npos) break;
    ranges = ranges.substr(comma + 1);
  }
  return mask;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  (void)parse_task_stat(text);
  (void)parse_task_sched(text);
  (void)parse_vmstat(text);
  for (const auto& e : parse_numa_maps(text)) (void)e.total_pages();

  auto maps = parse_maps(text);
  bool sorted = true;
  for (std::size_t i = 1; i < maps.size(); ++i) sorted = sorted && maps[i - 1].start <= maps[i].start;
  if (sorted)
    for (const auto& m : maps) {
      for (std::uint64_t addr : {m.start, m.end - 1, m.end}) {
        const MapsEntry* hit = find_mapping(maps, addr);
        if (hit) require(hit->start <= addr && addr < hit->end);
      }
    }

  if (auto cpus = parse_cpu_list(text)) {
    for (int c : *cpus) require(c >= 0 && c <= 65535);
  }
  if (auto bytes = parse_node_memtotal(text)) require(*bytes % 1024 == 0);
  (void)parse_distance_row(text);

  std::string_view event = text.substr(0, text.find('\n'));
  std::map<std::string, std::string> formats;
  std::size_t start = event.size() + 1;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (auto eq = line.find('='); eq != std::string_view::npos)
      formats[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  auto config = resolve_pmu_event(event, formats);
  if (config) {
    std::uint64_t allowed[3] = {0, 0, 0};
    for (const auto& [name, spec] : formats) {
      allowed[0] |= bits_of(spec, "config");
      allowed[1] |= bits_of(spec, "config1");
      allowed[2] |= bits_of(spec, "config2");
    }
    require((config->config & ~allowed[0]) == 0);
    require((config->config1 & ~allowed[1]) == 0);
    require((config->config2 & ~allowed[2]) == 0);
  } else {
    require(!config.error().what.empty());
  }
  return 0;
}
