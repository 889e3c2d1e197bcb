#include "plan.hpp"

#include <array>
#include <cmath>

namespace numa_agent::plan {
namespace {

constexpr std::array<std::pair<std::string_view, Policy>, 4> kPolicies{{
    {"interleave", Policy::Interleave}, {"bind", Policy::Bind}, {"prefer", Policy::Prefer}, {"partition", Policy::Partition}}};

constexpr int kMaxNode = 1023;   // the agent's node masks hold 1024 nodes (os::kNodeMaskWords)

Failure bad(std::string why) { return fail(0, std::move(why)); }

using json = nlohmann::json;

// Typed field access that fails with the field's name instead of throwing.
const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

Result<std::uint64_t> unsigned_field(const json& object, const char* name) {
  const json* v = field(object, name);
  if (!v || !v->is_number_unsigned()) return bad(std::string(name) + " is missing or not a non-negative integer");
  return v->get<std::uint64_t>();
}

Result<std::string> string_field(const json& object, const char* name, bool required) {
  const json* v = field(object, name);
  if (!v) {
    if (required) return bad(std::string(name) + " is missing");
    return std::string();
  }
  if (!v->is_string()) return bad(std::string(name) + " is not a string");
  return v->get<std::string>();
}

Result<int> node_value(const json& v) {
  if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > kMaxNode)
    return bad("node " + v.dump() + " is not an OS node number 0.." + std::to_string(kMaxNode));
  return static_cast<int>(v.get<long long>());
}

Result<Site> parse_site(const json& s) {
  if (!s.is_object()) return bad("is not an object");
  Site site;
  auto name = string_field(s, "site", false);
  if (!name) return fail(name.error());
  site.site = *name;
  auto function = string_field(s, "function", false);
  if (!function) return fail(function.error());
  site.function = *function;
  const json* match = field(s, "match");
  if (!match || !match->is_object()) return bad("match is missing or not an object");
  for (auto [out, key] : {std::pair{&site.offset_start, "offset_start"}, std::pair{&site.offset_end, "offset_end"},
                          std::pair{&site.size_min, "size_min"}, std::pair{&site.size_max, "size_max"}}) {
    auto v = unsigned_field(*match, key);
    if (!v) return bad("match." + v.error().what);
    *out = *v;
  }
  if (site.offset_end <= site.offset_start) return bad("match: offset_end is not above offset_start");
  if (site.size_max < site.size_min) return bad("match: size_max is below size_min");
  auto policy = string_field(s, "policy", true);
  if (!policy) return fail(policy.error());
  bool known = false;
  for (auto [text, value] : kPolicies)
    if (*policy == text) {
      site.policy = value;
      known = true;
    }
  if (!known) return bad("policy '" + *policy + "' is not one of interleave, bind, prefer, partition");
  if (site.policy == Policy::Partition) {
    const json* parts = field(s, "parts");
    if (!parts || !parts->is_array() || parts->empty()) return bad("partition without parts");
    double last_to = 0;
    for (const json& p : *parts) {
      if (!p.is_object()) return bad("a part is not an object");
      const json* from = field(p, "from");
      const json* to = field(p, "to");
      const json* node = field(p, "node");
      if (!from || !to || !node || !from->is_number() || !to->is_number())
        return bad("a part needs numbers from, to and a node");
      Part part{from->get<double>(), to->get<double>(), 0};
      if (!(part.from >= last_to && part.from < part.to && part.to <= 1.0))
        return bad("parts must be ranges inside [0, 1], in order and not overlapping");
      auto n = node_value(*node);
      if (!n) return fail(n.error());
      part.node = *n;
      last_to = part.to;
      site.parts.push_back(part);
    }
  } else {
    const json* nodes = field(s, "nodes");
    if (!nodes || !nodes->is_array() || nodes->empty()) return bad(*policy + " without nodes");
    for (const json& n : *nodes) {
      auto v = node_value(n);
      if (!v) return fail(v.error());
      site.nodes.push_back(*v);
    }
  }
  if (const json* evidence = field(s, "evidence")) site.evidence = *evidence;
  return site;
}

}  // namespace

std::string_view to_string(Policy p) {
  for (auto [text, value] : kPolicies)
    if (value == p) return text;
  return "interleave";
}

Result<Plan> parse_plan(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("is not valid JSON");
  if (!doc.is_object()) return bad("is not a JSON object");
  auto schema = string_field(doc, "schema", true);
  if (!schema) return fail(schema.error());
  if (*schema != kPlanSchema) return bad("schema '" + *schema + "' is not " + std::string(kPlanSchema));
  Plan plan;
  auto build_id = string_field(doc, "build_id", true);
  if (!build_id) return fail(build_id.error());
  plan.build_id = *build_id;
  for (auto [out, key] : {std::pair{&plan.program, "program"}, std::pair{&plan.source, "source"},
                          std::pair{&plan.summary, "summary"}}) {
    auto v = string_field(doc, key, false);
    if (!v) return fail(v.error());
    *out = *v;
  }
  const json* sites = field(doc, "sites");
  if (!sites || !sites->is_array()) return bad("sites is missing or not an array");
  for (std::size_t i = 0; i < sites->size(); ++i) {
    auto site = parse_site((*sites)[i]);
    if (!site) return bad("site " + std::to_string(i + 1) + ": " + site.error().what);
    plan.sites.push_back(std::move(*site));
  }
  if (!plan.sites.empty() && plan.build_id.empty()) return bad("build_id is empty (a plan with sites needs one)");
  return plan;
}

json plan_to_json(const Plan& plan) {
  json sites = json::array();
  for (const Site& s : plan.sites) {
    json entry = {{"site", s.site},
                  {"function", s.function},
                  {"match", {{"offset_start", s.offset_start}, {"offset_end", s.offset_end},
                             {"size_min", s.size_min}, {"size_max", s.size_max}}},
                  {"policy", to_string(s.policy)}};
    if (s.policy == Policy::Partition) {
      json parts = json::array();
      for (const Part& p : s.parts) parts.push_back({{"from", p.from}, {"to", p.to}, {"node", p.node}});
      entry["parts"] = std::move(parts);
    } else {
      entry["nodes"] = s.nodes;
    }
    entry["evidence"] = s.evidence;
    sites.push_back(std::move(entry));
  }
  return {{"schema", kPlanSchema}, {"build_id", plan.build_id}, {"program", plan.program},
          {"source", plan.source}, {"summary", plan.summary}, {"sites", std::move(sites)}};
}

}  // namespace numa_agent::plan
