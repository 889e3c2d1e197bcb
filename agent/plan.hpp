// Placement plans (schema numa-agent-plan/1, analyzer/PLAN_SCHEMA.md): per allocation site of one
// build of a program, the memory policy its large blocks get before their first touch. Written by
// `numa-analyze plan`, read by the agent (NUMA_AGENT_PLAN). This file is the one parser and writer
// of the format, shared by both; it does no I/O.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace numa_agent::plan {

inline constexpr std::string_view kPlanSchema = "numa-agent-plan/1";

// interleave: pages round-robin over `nodes`; bind: only `nodes`; prefer: nodes[0] while it has
// memory; partition: each part's page range bound to its node.
enum class Policy : std::uint8_t { Interleave, Bind, Prefer, Partition };
std::string_view to_string(Policy p);

// Pages [from, to) of a block, as fractions of its size, bound to OS node `node`.
struct Part {
  double from = 0, to = 1;
  int node = 0;
};

struct Site {
  std::string site;                  // "prog+0x1234": the recorded site behind the entry (for messages)
  std::string function;              // the function holding the allocation calls it covers ("" unknown)
  // Allocation calls whose return address lies in [offset_start, offset_end) of the plan's module
  // (file offsets, as recordings key code), requesting size_min..size_max bytes.
  std::uint64_t offset_start = 0, offset_end = 0;
  std::uint64_t size_min = 0, size_max = 0;
  Policy policy = Policy::Interleave;
  std::vector<int> nodes;            // OS nodes (interleave, bind, prefer)
  std::vector<Part> parts;           // partition
  nlohmann::json evidence = nlohmann::json::object();   // why (generator's numbers), kept as written
};

struct Plan {
  std::string build_id;              // of the module the offsets are in (lower-case hex)
  std::string program;               // its path when recorded (for messages)
  std::string source;                // the recording it came from
  std::string summary;               // one sentence: what the plan does, or why it is empty
  std::vector<Site> sites;           // empty: nothing to change (a valid plan)
};

// Parses and validates (schema name and version, every site's fields, node numbers 0..1023,
// parts inside [0, 1] in order). Fails with one line saying what is wrong and where ("site 2:
// policy 'spread' is not one of interleave, bind, prefer, partition").
Result<Plan> parse_plan(std::string_view text);
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace numa_agent::plan
