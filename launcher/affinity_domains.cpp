#include "affinity_domains.hpp"

#include <algorithm>
#include <vector>

#include "agent/cpu_list.hpp"
#include "agent/role_rules.hpp"

namespace numa_agent::launcher {
namespace {

// The domain's CPUs in logical order, via the expression "L:<tag>:0-<n-1>".
std::string domain_line(const std::string& tag, int cpu_count, const Topology& t) {
  auto spec = parse_pin_spec("L:" + tag + ":0-" + std::to_string(cpu_count - 1));
  if (!spec) return "";
  auto resolved = resolve_pin_spec(*spec, t);
  if (!resolved) return "";
  const std::vector<int>& cpus = *resolved;
  std::string line = "Domain " + tag + ":\n\t";
  for (std::size_t i = 0; i < cpus.size(); ++i) line += (i ? "," : "") + std::to_string(cpus[i]);
  return line + "\n\n";   // likwid-pin -p leaves a blank line after each domain
}

}  // namespace

std::string affinity_domains_text(const Topology& t) {
  std::string out = domain_line("N", static_cast<int>(t.pus().size()), t);
  auto count = [&](auto member, int index) {
    return static_cast<int>(std::count_if(t.pus().begin(), t.pus().end(),
                                          [&](const ProcessingUnit& p) { return p.*member == index; }));
  };
  int packages = 0;   // logical package indices may have gaps once restricted to allowed CPUs
  for (const auto& p : t.pus()) packages = std::max(packages, p.package + 1);
  for (int s = 0; s < packages; ++s)
    if (int n = count(&ProcessingUnit::package, s); n > 0) out += domain_line("S" + std::to_string(s), n, t);
  for (int m = 0; m < t.node_count(); ++m)
    if (int n = count(&ProcessingUnit::node, m); n > 0) out += domain_line("M" + std::to_string(m), n, t);
  return out;
}

std::string pin_problem(std::string_view pin, const Topology& t) {
  auto spec = parse_pin_spec(pin);
  if (!spec) return spec.error().what;
  if (spec->kind != PinSpec::Kind::Explicit) return "";
  if (auto cpus = resolve_pin_spec(*spec, t); !cpus) return cpus.error().what;
  return "";
}

std::vector<std::string> rules_problems(std::string_view rules, std::string_view config_document,
                                        std::string_view config_path, const Topology& t) {
  RuleSet set = parse_rules_text(rules);
  if (!config_path.empty()) {
    RuleSet from_file = parse_rules_toml(config_document, config_path);
    set.rules.insert(set.rules.end(), from_file.rules.begin(), from_file.rules.end());
    set.warnings.insert(set.warnings.end(), from_file.warnings.begin(), from_file.warnings.end());
  }
  (void)resolve_rules(set, t, set.warnings);
  return set.warnings;
}

}  // namespace numa_agent::launcher
