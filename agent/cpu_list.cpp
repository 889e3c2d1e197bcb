#include "agent/text.hpp"
#include "cpu_list.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <tuple>

namespace numa_agent {
namespace {

using text::lower;
using text::split;
using text::trim;

// What a CPU expression is not: a user error, no errno.
Failure invalid(std::string why) { return fail(0, std::move(why)); }

std::optional<int> parse_int(std::string_view s) {
  int out = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{} || p != s.data() + s.size() || out < 0) return std::nullopt;
  return out;
}

// "0-3,8" → {(0,3),(8,8)}
Result<std::vector<std::pair<int, int>>> parse_ranges(std::string_view s) {
  if (s.empty()) return invalid("empty CPU list");
  std::vector<std::pair<int, int>> out;
  for (std::string_view item : split(s, ',')) {
    auto dash = item.find('-');
    std::optional<int> a, b;
    if (dash == std::string_view::npos) {
      a = b = parse_int(item);
      if (!a) return invalid("'" + std::string(item) + "' is not a CPU number");
    } else if (!(a = parse_int(item.substr(0, dash))) || !(b = parse_int(item.substr(dash + 1)))) {
      return invalid("'" + std::string(item) + "' is not a range like 0-3");
    }
    if (*b < *a) return invalid("range '" + std::string(item) + "' runs backwards");
    if (*b >= 4096) return invalid("CPU " + std::to_string(*b) + " is beyond 4095");
    out.emplace_back(*a, *b);
  }
  return out;
}

struct Domain {
  char kind = 'N';   // 'N', 'S' or 'M'
  int index = 0;
};

// "N", "S0", "M1" → domain letter and index.
Result<Domain> parse_domain(std::string_view s) {
  if (s.empty()) return invalid("missing affinity domain");
  const char d = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (d == 'C' || d == 'D')
    return invalid("domain '" + std::string(s) + "': cache (C) and die (D) domains are not supported; use N, S<i> or M<i>");
  if (d != 'N' && d != 'S' && d != 'M') return invalid("'" + std::string(s) + "' is not an affinity domain (N, S<i>, M<i>)");
  if (d == 'N') {
    if (s.size() != 1) return invalid("domain N takes no index");
    return Domain{d, 0};
  }
  const auto index = parse_int(s.substr(1));
  if (!index) return invalid("domain '" + std::string(s) + "' needs an index, like " + std::string(1, d) + "0");
  return Domain{d, *index};
}

// The segment's domain, from "N", "S0", "M1".
Result<void> read_domain(std::string_view text, PinSegment& out) {
  auto domain = parse_domain(text);
  if (!domain) return fail(domain.error());
  out.domain = domain->kind;
  out.domain_index = domain->index;
  return {};
}

// The segment's CPU or index ranges, from "0-3,8".
Result<void> read_ranges(std::string_view text, PinSegment& out) {
  auto ranges = parse_ranges(text);
  if (!ranges) return fail(ranges.error());
  out.ranges = std::move(*ranges);
  return {};
}

// A positive number for `what` of an expression.
Result<int> parse_positive(std::string_view text, const char* what) {
  const auto v = parse_int(text);
  if (!v || *v == 0) return invalid(std::string(what) + " '" + std::string(text) + "' must be a positive number");
  return *v;
}

// E:<domain>:<count>[:<chunk>:<stride>], already split at ':'.
Result<PinSegment> parse_expression(std::string_view seg, const std::vector<std::string_view>& parts) {
  if (parts.size() != 3 && parts.size() != 5)
    return invalid("expression '" + std::string(seg) + "' must be E:<domain>:<count> or E:<domain>:<count>:<chunk>:<stride>");
  PinSegment out;
  out.form = PinSegment::Form::Expression;
  if (auto read = read_domain(parts[1], out); !read) return fail(read.error());
  auto count = parse_positive(parts[2], "thread count");
  if (!count) return fail(count.error());
  out.count = *count;
  if (parts.size() == 5) {
    auto chunk = parse_positive(parts[3], "chunk");
    if (!chunk) return fail(chunk.error());
    auto stride = parse_positive(parts[4], "stride");
    if (!stride) return fail(stride.error());
    out.chunk = *chunk;
    out.stride = *stride;
    if (out.stride < out.chunk)
      return invalid("stride " + std::to_string(out.stride) + " is smaller than chunk " + std::to_string(out.chunk));
  }
  return out;
}

Result<PinSegment> parse_segment(std::string_view seg) {
  if (seg.empty()) return invalid("empty segment");
  PinSegment out;
  if (std::isdigit(static_cast<unsigned char>(seg[0]))) {
    out.form = PinSegment::Form::OsList;
    if (auto read = read_ranges(seg, out); !read) return fail(read.error());
    return out;
  }
  auto parts = split(seg, ':');
  const std::string head = lower(parts[0]);
  if (head == "e") return parse_expression(seg, parts);
  if (head == "l") {
    parts.erase(parts.begin());
    if (parts.size() == 1) parts.insert(parts.begin(), std::string_view("N"));
  }
  if (parts.size() != 2) return invalid("'" + std::string(seg) + "' is not <domain>:<list> (like N:0-7 or S0:0-3)");
  if (lower(parts[1]) == "scatter") {
    out.form = PinSegment::Form::Scatter;
    const char d = static_cast<char>(std::toupper(static_cast<unsigned char>(parts[0].empty() ? '?' : parts[0][0])));
    if (parts[0].size() != 1 || (d != 'N' && d != 'S' && d != 'M'))
      return invalid("scatter takes a domain kind without index: N:scatter, S:scatter or M:scatter");
    out.domain = d;
    return out;
  }
  out.form = PinSegment::Form::Logical;
  if (auto read = read_domain(parts[0], out); !read) return fail(read.error());
  if (auto read = read_ranges(parts[1], out); !read) return fail(read.error());
  return out;
}

// PUs of a domain, in likwid's domain order (SMT siblings adjacent).
Result<std::vector<const ProcessingUnit*>> domain_pus(const Topology& t, char dom, int index) {
  std::vector<const ProcessingUnit*> out;
  for (const auto& p : t.pus()) {
    bool in = dom == 'N' || (dom == 'S' && p.package == index) || (dom == 'M' && p.node == index);
    if (in) out.push_back(&p);
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) {
    return std::tie(a->core, a->smt_rank, a->os_index) < std::tie(b->core, b->smt_rank, b->os_index);
  });
  if (out.empty())
    return invalid("affinity domain " + std::string(1, dom) + (dom == 'N' ? "" : std::to_string(index)) +
                   " has no allowed CPU on this machine (" + t.summary() + ")");
  return out;
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
    auto segment = parse_segment(seg);
    if (!segment) return fail(0, "is not a policy or CPU expression: " + segment.error().what);
    out.segments.push_back(std::move(*segment));
  }
  return out;
}

Result<void> validate_pin_text(std::string_view text) {
  if (auto spec = parse_pin_spec(text); !spec) return fail(spec.error());
  return {};
}

namespace {
std::string domain_name(const PinSegment& s) {
  return std::string(1, s.domain) + (s.domain == 'N' ? "" : std::to_string(s.domain_index));
}

// Appends the CPUs of one segment of an Explicit spec.
Result<void> resolve_segment(const PinSegment& s, const Topology& t, std::vector<int>& cpus) {
  switch (s.form) {
    case PinSegment::Form::OsList:
      for (auto [a, b] : s.ranges)
        for (int c = a; c <= b; ++c) {
          if (!t.pu(c))
            return invalid("CPU " + std::to_string(c) + " is not available to this process (allowed: " +
                           t.all_cpus().to_list_string() + ")");
          cpus.push_back(c);
        }
      return {};
    case PinSegment::Form::Logical: {
      auto dom = domain_pus(t, s.domain, s.domain_index);
      if (!dom) return fail(dom.error());
      const auto order = physical_first(std::move(*dom));
      for (auto [a, b] : s.ranges)
        for (int i = a; i <= b; ++i) {
          if (i >= static_cast<int>(order.size()))
            return invalid("logical index " + std::to_string(i) + " is beyond domain " + domain_name(s) + " (" +
                           std::to_string(order.size()) + " CPUs)");
          cpus.push_back(order[static_cast<std::size_t>(i)]->os_index);
        }
      return {};
    }
    case PinSegment::Form::Expression: {
      auto dom = domain_pus(t, s.domain, s.domain_index);
      if (!dom) return fail(dom.error());
      int taken = 0;
      for (std::size_t base = 0; taken < s.count; base += static_cast<std::size_t>(s.stride))
        for (int j = 0; j < s.chunk && taken < s.count; ++j, ++taken) {
          const std::size_t idx = base + static_cast<std::size_t>(j);
          if (idx >= dom->size())
            return invalid("expression needs more CPUs than domain " + domain_name(s) + " has (" +
                           std::to_string(dom->size()) + ")");
          cpus.push_back((*dom)[idx]->os_index);
        }
      return {};
    }
    case PinSegment::Form::Scatter: {
      auto groups = groups_of(t, s.domain);
      if (groups.empty()) return invalid("no allowed CPU to scatter over");
      auto order = round_robin(groups);
      cpus.insert(cpus.end(), order.begin(), order.end());
      return {};
    }
  }
  return {};
}
}  // namespace

Result<std::vector<int>> resolve_pin_spec(const PinSpec& spec, const Topology& topology) {
  std::vector<int> cpus;
  for (const auto& segment : spec.segments)
    if (auto added = resolve_segment(segment, topology, cpus); !added) return fail(added.error());
  if (cpus.empty()) return invalid("selects no CPU");
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
