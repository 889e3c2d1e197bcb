// See proc_parsers.hpp.
#include "analyzer/evidence/proc_parsers.hpp"

#include "agent/cpu_list.hpp"
#include "agent/text.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace numa_agent::analyzer {
namespace {

using text::split;
using text::trim;

template <typename T>
bool to_number(std::string_view s, T& out, int base = 10) {
  s = trim(s);
  if (base == 16 && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  for (auto line : split(text, '\n'))
    if (!trim(line).empty()) f(line);
}

}  // namespace

std::optional<TaskStat> parse_task_stat(std::string_view text) {
  // "TID (comm) S f4 f5 ..."; comm may contain spaces and ')' so split at the last ')'.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  TaskStat st;
  if (!to_number(text.substr(0, open), st.tid)) return std::nullopt;
  st.comm = std::string(text.substr(open + 1, close - open - 1));
  auto rest = words(trim(text.substr(close + 1)));
  // rest[0] is field 3 (state); field N is rest[N - 3].
  if (rest.size() < 37) return std::nullopt;
  st.state = rest[0].empty() ? '?' : rest[0][0];
  if (!to_number(rest[39 - 3], st.processor)) return std::nullopt;
  return st;
}

TaskSched parse_task_sched(std::string_view text) {
  TaskSched s;
  for_each_line(text, [&](std::string_view line) {
    if (line.starts_with("numa_faults node=")) {
      NumaFaultsLine f;
      for (auto w : words(line)) {
        auto eq = w.find('=');
        if (eq == std::string_view::npos) continue;
        auto key = w.substr(0, eq), value = w.substr(eq + 1);
        std::uint64_t v = 0;
        if (key == "node") to_number(value, f.node);
        else if (!to_number(value, v)) continue;
        else if (key == "task_private") f.task_private = v;
        else if (key == "task_shared") f.task_shared = v;
        else if (key == "group_private") f.group_private = v;
        else if (key == "group_shared") f.group_shared = v;
      }
      s.numa_faults.push_back(f);
      return;
    }
    if (line.starts_with("current_node=")) {
      // "current_node=0, numa_group_id=0"
      int node = 0;
      auto value = line.substr(13, line.find(',') - 13);
      if (to_number(value, node)) s.current_node = node;
      return;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    auto key = trim(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (key == "se.nr_migrations") {
      std::uint64_t v;
      if (to_number(value, v)) s.nr_migrations = v;
    } else if (key == "numa_preferred_nid") {
      int v;
      if (to_number(value, v)) s.preferred_node = v;
    } else if (key == "total_numa_faults") {
      std::uint64_t v;
      if (to_number(value, v)) s.total_numa_faults = v;
    } else if (key == "numa_pages_migrated") {
      std::uint64_t v;
      if (to_number(value, v)) s.numa_pages_migrated = v;
    }
  });
  return s;
}

std::vector<std::string> split_cmdline(std::string_view text) {
  std::vector<std::string> args;
  std::string arg;
  for (char c : text) {
    if (c == '\0') args.push_back(arg), arg.clear();
    else arg += c;
  }
  if (!arg.empty()) args.push_back(arg);
  return args;
}

std::map<std::string, std::uint64_t> parse_vmstat(std::string_view text) {
  std::map<std::string, std::uint64_t> values;
  for_each_line(text, [&](std::string_view line) {
    auto w = words(line);
    std::uint64_t v = 0;
    if (w.size() == 2 && to_number(w[1], v)) values[std::string(w[0])] = v;
  });
  return values;
}

std::uint64_t NumaMapsEntry::total_pages() const {
  std::uint64_t total = 0;
  for (const auto& [node, pages] : pages_by_node) total += pages;
  return total;
}

std::vector<NumaMapsEntry> parse_numa_maps(std::string_view text) {
  std::vector<NumaMapsEntry> entries;
  for_each_line(text, [&](std::string_view line) {
    auto w = words(line);
    if (w.size() < 2) return;
    NumaMapsEntry e;
    if (!to_number(w[0], e.start, 16)) return;
    e.policy = std::string(w[1]);
    for (std::size_t i = 2; i < w.size(); ++i) {
      auto item = w[i];
      auto eq = item.find('=');
      if (eq == std::string_view::npos) {
        if (item == "heap") e.name = "[heap]";
        else if (item == "stack") e.name = "[stack]";
        else if (item == "huge") {}
        continue;
      }
      auto key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "file") {
        // The path runs to the next known key; it may contain spaces, which numa_maps prints raw.
        std::string path(value);
        while (i + 1 < w.size() && w[i + 1].find('=') == std::string_view::npos && w[i + 1] != "heap" &&
               w[i + 1] != "stack" && w[i + 1] != "huge")
          path += " " + std::string(w[++i]);
        e.name = path;
      } else if (key == "anon") {
        e.anonymous = true;
      } else if (key == "kernelpagesize_kB") {
        to_number(value, e.page_kb);
      } else if (key.size() > 1 && key[0] == 'N') {
        int node = 0;
        std::uint64_t pages = 0;
        if (to_number(key.substr(1), node) && to_number(value, pages)) e.pages_by_node[node] = pages;
      }
    }
    entries.push_back(std::move(e));
  });
  return entries;
}

std::vector<MapsEntry> parse_maps(std::string_view text) {
  std::vector<MapsEntry> entries;
  for_each_line(text, [&](std::string_view line) {
    auto w = words(line);
    if (w.size() < 5) return;
    MapsEntry e;
    auto dash = w[0].find('-');
    if (dash == std::string_view::npos || !to_number(w[0].substr(0, dash), e.start, 16) ||
        !to_number(w[0].substr(dash + 1), e.end, 16) || !to_number(w[2], e.offset, 16))
      return;
    e.perms = std::string(w[1]);
    if (w.size() >= 6) {
      // The path is everything from the sixth column on (it may contain spaces).
      auto at = line.find(w[5]);
      e.path = std::string(trim(line.substr(at)));
    }
    entries.push_back(std::move(e));
  });
  return entries;
}

const MapsEntry* find_mapping(const std::vector<MapsEntry>& maps, std::uint64_t addr) {
  auto it = std::upper_bound(maps.begin(), maps.end(), addr,
                             [](std::uint64_t a, const MapsEntry& e) { return a < e.start; });
  if (it == maps.begin()) return nullptr;
  --it;
  return addr < it->end ? &*it : nullptr;
}

std::optional<std::vector<int>> parse_cpu_list(std::string_view text) {
  // The agent's CPU-list grammar (cpu_list.hpp), limited to a plain OS list: one segment, no
  // domains or keywords. An empty list is valid (a memory-only node's cpulist).
  std::vector<int> cpus;
  if (trim(text).empty()) return cpus;
  auto spec = parse_pin_spec(text);
  if (!spec || spec->kind != PinSpec::Kind::Explicit || spec->segments.size() != 1 ||
      spec->segments[0].form != PinSegment::Form::OsList)
    return std::nullopt;
  for (auto [lo, hi] : spec->segments[0].ranges)
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  return cpus;
}

std::optional<std::uint64_t> parse_node_memtotal(std::string_view text) {
  std::optional<std::uint64_t> result;
  for_each_line(text, [&](std::string_view line) {
    auto at = line.find("MemTotal:");
    if (at == std::string_view::npos) return;
    auto w = words(line.substr(at + 9));
    std::uint64_t kb = 0;
    if (!w.empty() && to_number(w[0], kb)) result = kb * 1024;
  });
  return result;
}

std::vector<std::uint32_t> parse_distance_row(std::string_view text) {
  std::vector<std::uint32_t> row;
  for (auto w : words(trim(text))) {
    std::uint32_t v = 0;
    if (!to_number(w, v)) return {};
    row.push_back(v);
  }
  return row;
}

Result<PmuConfig> resolve_pmu_event(std::string_view event_text, const std::map<std::string, std::string>& formats) {
  auto fail = [](std::string why) { return numa_agent::fail(EINVAL, std::move(why)); };
  PmuConfig config;
  for (auto term : split(trim(event_text), ',')) {
    term = trim(term);
    if (term.empty()) continue;
    auto eq = term.find('=');
    std::string name(term.substr(0, eq));
    std::uint64_t value = 1;   // a bare term ("edge") means 1
    if (eq != std::string_view::npos) {
      auto v = term.substr(eq + 1);
      bool hex = v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
      if (!to_number(v, value, hex ? 16 : 10)) return fail("bad value in '" + std::string(term) + "'");
    }
    auto f = formats.find(name);
    if (f == formats.end()) return fail("no format for '" + name + "'");
    // "config1:0-15" or "config:0-7,32-35": the value's bits fill the ranges low to high.
    std::string_view spec = trim(f->second);
    auto colon = spec.find(':');
    if (colon == std::string_view::npos) return fail("bad format '" + std::string(spec) + "'");
    auto word = spec.substr(0, colon);
    std::uint64_t* target = word == "config" ? &config.config
                            : word == "config1" ? &config.config1
                            : word == "config2" ? &config.config2
                                                : nullptr;
    if (!target) return fail("unknown config word '" + std::string(word) + "'");
    int consumed = 0;
    for (auto range : split(spec.substr(colon + 1), ',')) {
      auto dash = range.find('-');
      int lo = 0, hi = 0;
      if (!to_number(range.substr(0, dash), lo)) return fail("bad bit range in '" + std::string(spec) + "'");
      hi = lo;
      if (dash != std::string_view::npos && !to_number(range.substr(dash + 1), hi))
        return fail("bad bit range in '" + std::string(spec) + "'");
      if (lo < 0 || hi > 63 || hi < lo) return fail("bad bit range in '" + std::string(spec) + "'");
      for (int bit = lo; bit <= hi; ++bit, ++consumed)
        if (consumed < 64 && ((value >> consumed) & 1)) *target |= 1ULL << bit;
    }
    if (consumed < 64 && (value >> consumed) != 0) return fail("value too wide for '" + name + "'");
  }
  return config;
}

}  // namespace numa_agent::analyzer
