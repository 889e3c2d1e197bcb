// PMU events by name, through libpfm4: the local- and remote-DRAM counting events of the CPU's
// PMU model, encoded for perf_event_open. The model is the one libpfm detects, or the one the
// LIBPFM_FORCE_PMU environment variable names (read once, by the first call in the process), so
// the encodings can be checked on a machine without the hardware. Contract: os.hpp, except that
// libpfm keeps its own process-wide tables once pfm_initialize has run (it is idempotent).
//
// Use (e.g. in the analyzer's probe):
//   auto events = os::dram_locality_events();
//   if (events) { perf_event_attr a{}; a.type = events->remote.type; a.config = events->remote.config;
//                 a.config1 = events->remote.config1; a.exclude_kernel = 1; ... perf_event_open(&a, ...) }
//   else        { events.error().what says why (no libpfm model for this CPU, libpfm error) }
// Remote share = remote / (local + remote), as VTune's "% of Remote Accesses".
#pragma once
#include <cstdint>
#include <string>

#include "../error.hpp"

namespace numa_agent::os {

struct PerfEventCode {
  std::string name;          // fully qualified, as libpfm spells it ("skx::MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM:...")
  std::uint32_t type = 0;    // perf_event_attr.type (PERF_TYPE_RAW or a PMU's dynamic type)
  std::uint64_t config = 0;  // perf_event_attr.config
  std::uint64_t config1 = 0; // perf_event_attr.config1 (0 for these events)
};

struct DramLocalityEvents {
  std::string pmu;           // libpfm PMU name: amd64_fam19h_zen3, amd64_fam19h_zen4, skx
  PerfEventCode local;       // demand loads served by the local node's DRAM
  PerfEventCode remote;      // ... by another node's DRAM
};

// Fails with code 0 and a reason when libpfm knows no DRAM-locality events for this CPU's model.
Result<DramLocalityEvents> dram_locality_events();

}  // namespace numa_agent::os
