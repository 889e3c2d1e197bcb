// likwid-pin's affinity domains (N, S#, M#) of a topology, from the agent's own CPU-expression
// code, so `numa-agent -p` lists exactly the CPUs that `-c L:<domain>:<i>` would pick.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "agent/topology.hpp"

namespace numa_agent::launcher {

// likwid-pin -p's layout: "Domain N:\n\t0,2,1,3\n\n" per domain; CPU i of a list is logical
// index i of that domain (physical cores first, then SMT siblings). Domains without an allowed
// CPU are left out.
std::string affinity_domains_text(const Topology& topology);

// "" when `pin` (a policy keyword or CPU expression) selects CPUs that exist in `topology`,
// else why not.
std::string pin_problem(std::string_view pin, const Topology& topology);

// Every problem of role rules (--rules text, --config document read from config_path) on this
// machine, one line each as the agent would say them; empty when all rules apply.
std::vector<std::string> rules_problems(std::string_view rules, std::string_view config_document,
                                        std::string_view config_path, const Topology& topology);

}  // namespace numa_agent::launcher
