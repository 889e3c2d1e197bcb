// pmu_events_probe: prints os::dram_locality_events() for the PMU libpfm detects or the one
// LIBPFM_FORCE_PMU names, one event a line:
//   pmu=<name>
//   local type=<type> config=0x<hex> config1=0x<hex> name=<libpfm's fully qualified name>
//   remote ...
// Exit 3 with the reason on stderr when there is no such model.
#include <cstdio>
#include <utility>

#include "agent/os/pmu_events.hpp"

int main() {
  auto events = numa_agent::os::dram_locality_events();
  if (!events) {
    std::fprintf(stderr, "pmu_events_probe: %s\n", events.error().what.c_str());
    return 3;
  }
  std::printf("pmu=%s\n", events->pmu.c_str());
  using Line = std::pair<const char*, const numa_agent::os::PerfEventCode*>;
  for (const auto& [label, code] : {Line{"local", &events->local}, Line{"remote", &events->remote}})
    std::printf("%s type=%u config=0x%llx config1=0x%llx name=%s\n", label, code->type,
                static_cast<unsigned long long>(code->config), static_cast<unsigned long long>(code->config1),
                code->name.c_str());
  return 0;
}
