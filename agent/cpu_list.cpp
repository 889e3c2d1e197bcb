#include "agent/text.hpp"
#include "cpu_list.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>

namespace numa_agent {
namespace {

using text::lower;
using text::split;
using text::trim;

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && out >= 0;
}

// "0-3,8" → {(0,3),(8,8)}
bool parse_ranges(std::string_view s, std::vector<std::pair<int, int>>& out, std::string& error) {
  if (s.empty()) { error = "empty CPU list"; return false; }
  for (std::string_view item : split(s, ',')) {
    auto dash = item.find('-');
    int a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!parse_int(item, a)) { error = "'" + std::string(item) + "' is not a CPU number"; return false; }
      b = a;
    } else if (!parse_int(item.substr(0, dash), a) || !parse_int(item.substr(dash + 1), b)) {
      error = "'" + std::string(item) + "' is not a range like 0-3";
      return false;
    }
    if (b < a) { error = "range '" + std::string(item) + "' runs backwards"; return false; }
    if (b >= 4096) { error = "CPU " + std::to_string(b) + " is beyond 4095"; return false; }
    out.emplace_back(a, b);
  }
  return true;
}

// "N", "S0", "M1" → domain letter and index.
bool parse_domain(std::string_view s, char& dom, int& index, std::string& error) {
  if (s.empty()) { error = "missing affinity domain"; return false; }
  char d = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (d == 'C' || d == 'D') {
    error = "domain '" + std::string(s) + "': cache (C) and die (D) domains are not supported; use N, S<i> or M<i>";
    return false;
  }
  if (d != 'N' && d != 'S' && d != 'M') {
    error = "'" + std::string(s) + "' is not an affinity domain (N, S<i>, M<i>)";
    return false;
  }
  dom = d;
  index = 0;
  if (d == 'N') {
    if (s.size() != 1) { error = "domain N takes no index"; return false; }
    return true;
  }
  if (!parse_int(s.substr(1), index)) {
    error = "domain '" + std::string(s) + "' needs an index, like " + std::string(1, d) + "0";
    return false;
  }
  return true;
}

bool parse_segment(std::string_view seg, PinSegment& out, std::string& error) {
  if (seg.empty()) { error = "empty segment"; return false; }
  if (std::isdigit(static_cast<unsigned char>(seg[0]))) {
    out.form = PinSegment::Form::OsList;
    return parse_ranges(seg, out.ranges, error);
  }
  auto parts = split(seg, ':');
  std::string head = lower(parts[0]);
  if (head == "e") {
    if (parts.size() != 3 && parts.size() != 5) {
      error = "expression '" + std::string(seg) + "' must be E:<domain>:<count> or E:<domain>:<count>:<chunk>:<stride>";
      return false;
    }
    out.form = PinSegment::Form::Expression;
    if (!parse_domain(parts[1], out.domain, out.domain_index, error)) return false;
    if (!parse_int(parts[2], out.count) || out.count == 0) { error = "thread count '" + std::string(parts[2]) + "' must be a positive number"; return false; }
    if (parts.size() == 5) {
      if (!parse_int(parts[3], out.chunk) || out.chunk == 0) { error = "chunk '" + std::string(parts[3]) + "' must be a positive number"; return false; }
      if (!parse_int(parts[4], out.stride) || out.stride == 0) { error = "stride '" + std::string(parts[4]) + "' must be a positive number"; return false; }
      if (out.stride < out.chunk) { error = "stride " + std::to_string(out.stride) + " is smaller than chunk " + std::to_string(out.chunk); return false; }
    }
    return true;
  }
  if (head == "l") {
    parts.erase(parts.begin());
    if (parts.size() == 1) parts.insert(parts.begin(), std::string_view("N"));
  }
  if (parts.size() != 2) {
    error = "'" + std::string(seg) + "' is not <domain>:<list> (like N:0-7 or S0:0-3)";
    return false;
  }
  if (lower(parts[1]) == "scatter") {
    out.form = PinSegment::Form::Scatter;
    char d = static_cast<char>(std::toupper(static_cast<unsigned char>(parts[0].empty() ? '?' : parts[0][0])));
    if (parts[0].size() != 1 || (d != 'N' && d != 'S' && d != 'M')) {
      error = "scatter takes a domain kind without index: N:scatter, S:scatter or M:scatter";
      return false;
    }
    out.domain = d;
    return true;
  }
  out.form = PinSegment::Form::Logical;
  if (!parse_domain(parts[0], out.domain, out.domain_index, error)) return false;
  return parse_ranges(parts[1], out.ranges, error);
}

// PUs of a domain, in likwid's domain order (SMT siblings adjacent).
bool domain_pus(const Topology& t, char dom, int index, std::vector<const ProcessingUnit*>& out,
                std::string& error) {
  out.clear();
  for (const auto& p : t.pus()) {
    bool in = dom == 'N' || (dom == 'S' && p.package == index) || (dom == 'M' && p.node == index);
    if (in) out.push_back(&p);
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) {
    return std::tie(a->core, a->smt_rank, a->os_index) < std::tie(b->core, b->smt_rank, b->os_index);
  });
  if (out.empty()) {
    error = "affinity domain " + std::string(1, dom) + (dom == 'N' ? "" : std::to_string(index)) +
            " has no allowed CPU on this machine (" + t.summary() + ")";
    return false;
  }
  return true;
}

std::vector<const ProcessingUnit*> physical_first(std::vector<const ProcessingUnit*> pus) {
  std::stable_sort(pus.begin(), pus.end(), [](auto* a, auto* b) {
    return std::tie(a->smt_rank, a->core) < std::tie(b->smt_rank, b->core);
  });
  return pus;
}

// Round-robin over groups, each already in the order to take from.
std::vector<int> round_robin(const std::vector<std::vector<const ProcessingUnit*>>& groups) {
  std::vector<int> out;
  for (std::size_t i = 0;; ++i) {
    bool any = false;
    for (const auto& g : groups)
      if (i < g.size()) { out.push_back(g[i]->os_index); any = true; }
    if (!any) break;
  }
  return out;
}

// One group per domain of kind `dom` (per node for M, per package for S), physical cores first.
std::vector<std::vector<const ProcessingUnit*>> groups_of(const Topology& t, char dom) {
  std::vector<std::vector<const ProcessingUnit*>> groups;
  std::vector<int> keys;
  for (const auto& p : t.pus()) {
    int key = dom == 'M' ? p.node : dom == 'S' ? p.package : 0;
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) { keys.push_back(key); groups.emplace_back(); it = keys.end() - 1; }
    groups[static_cast<std::size_t>(it - keys.begin())].push_back(&p);
  }
  for (auto& g : groups) {
    std::sort(g.begin(), g.end(), [](auto* a, auto* b) {
      return std::tie(a->core, a->smt_rank) < std::tie(b->core, b->smt_rank);
    });
    g = physical_first(g);
  }
  return groups;
}

}  // namespace

Result<PinSpec> parse_pin_spec(std::string_view text) {
  PinSpec out;
  const std::string_view t = trim(text);
  const std::string word = lower(t);
  if (word == "spread") { out.kind = PinSpec::Kind::Spread; return out; }
  if (word == "compact") { out.kind = PinSpec::Kind::Compact; return out; }
  if (word == "none") { out.kind = PinSpec::Kind::None; return out; }
  if (t.empty()) return fail(0, "is empty (use spread, compact, none or a CPU expression)");
  out.kind = PinSpec::Kind::Explicit;
  for (std::string_view seg : split(t, '@')) {
    PinSegment s;
    std::string why;
    if (!parse_segment(seg, s, why)) return fail(0, "is not a policy or CPU expression: " + why);
    out.segments.push_back(std::move(s));
  }
  return out;
}

Result<void> validate_pin_text(std::string_view text) {
  if (auto spec = parse_pin_spec(text); !spec) return fail(spec.error());
  return {};
}

namespace {
bool resolve_segments(const PinSpec& spec, const Topology& t, std::vector<int>& cpus, std::string& error) {
  std::vector<const ProcessingUnit*> dom;
  for (const auto& s : spec.segments) {
    switch (s.form) {
      case PinSegment::Form::OsList:
        for (auto [a, b] : s.ranges)
          for (int c = a; c <= b; ++c) {
            if (!t.pu(c)) {
              error = "CPU " + std::to_string(c) + " is not available to this process (allowed: " +
                      t.all_cpus().to_list_string() + ")";
              return false;
            }
            cpus.push_back(c);
          }
        break;
      case PinSegment::Form::Logical: {
        if (!domain_pus(t, s.domain, s.domain_index, dom, error)) return false;
        auto order = physical_first(dom);
        for (auto [a, b] : s.ranges)
          for (int i = a; i <= b; ++i) {
            if (i >= static_cast<int>(order.size())) {
              error = "logical index " + std::to_string(i) + " is beyond domain " + std::string(1, s.domain) +
                      (s.domain == 'N' ? "" : std::to_string(s.domain_index)) + " (" +
                      std::to_string(order.size()) + " CPUs)";
              return false;
            }
            cpus.push_back(order[static_cast<std::size_t>(i)]->os_index);
          }
        break;
      }
      case PinSegment::Form::Expression: {
        if (!domain_pus(t, s.domain, s.domain_index, dom, error)) return false;
        int taken = 0;
        for (std::size_t base = 0; taken < s.count; base += static_cast<std::size_t>(s.stride))
          for (int j = 0; j < s.chunk && taken < s.count; ++j, ++taken) {
            std::size_t idx = base + static_cast<std::size_t>(j);
            if (idx >= dom.size()) {
              error = "expression needs more CPUs than domain " + std::string(1, s.domain) +
                      (s.domain == 'N' ? "" : std::to_string(s.domain_index)) + " has (" +
                      std::to_string(dom.size()) + ")";
              return false;
            }
            cpus.push_back(dom[idx]->os_index);
          }
        break;
      }
      case PinSegment::Form::Scatter: {
        auto groups = groups_of(t, s.domain);
        if (groups.empty()) { error = "no allowed CPU to scatter over"; return false; }
        auto order = round_robin(groups);
        cpus.insert(cpus.end(), order.begin(), order.end());
        break;
      }
    }
  }
  if (cpus.empty()) { error = "selects no CPU"; return false; }
  return true;
}
}  // namespace

Result<std::vector<int>> resolve_pin_spec(const PinSpec& spec, const Topology& topology) {
  std::vector<int> cpus;
  std::string error;
  if (!resolve_segments(spec, topology, cpus, error)) return fail(0, std::move(error));
  return cpus;
}

std::vector<int> spread_order(const Topology& t) {
  // All first hardware threads (one per core) round-robin over nodes, then the second ones, ...
  int max_rank = 0;
  for (const auto& p : t.pus()) max_rank = std::max(max_rank, p.smt_rank);
  std::vector<int> out;
  for (int r = 0; r <= max_rank; ++r) {
    std::vector<std::vector<const ProcessingUnit*>> per_node(static_cast<std::size_t>(t.node_count()));
    for (const auto& p : t.pus())   // pus() is sorted by (node, core, smt_rank)
      if (p.smt_rank == r) per_node[static_cast<std::size_t>(p.node)].push_back(&p);
    auto part = round_robin(per_node);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<int> compact_order(const Topology& t) {
  std::vector<int> out;
  int max_rank = 0;
  for (const auto& p : t.pus()) max_rank = std::max(max_rank, p.smt_rank);
  for (int n = 0; n < t.node_count(); ++n)
    for (int r = 0; r <= max_rank; ++r)
      for (const auto& p : t.pus())
        if (p.node == n && p.smt_rank == r) out.push_back(p.os_index);
  return out;
}

}  // namespace numa_agent
