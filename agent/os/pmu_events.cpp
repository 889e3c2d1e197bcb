#include "pmu_events.hpp"

#include <perfmon/pfmlib_perf_event.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace numa_agent::os {
namespace {

// The DRAM-locality event pair of each PMU model libpfm 4.13 knows, by name.
struct ModelEvents {
  std::string_view pmu, local, remote;
};
constexpr std::array kModels{
    ModelEvents{"amd64_fam19h_zen3", "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL",
                "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT"},
    ModelEvents{"amd64_fam19h_zen4", "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR",
                "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR"},
    ModelEvents{"skx", "MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM", "MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM"},
};

bool pmu_present(std::string_view name) {
  for (int p = PFM_PMU_NONE; p < PFM_PMU_MAX; ++p) {
    pfm_pmu_info_t info;
    std::memset(&info, 0, sizeof(info));
    info.size = sizeof(info);
    if (pfm_get_pmu_info(static_cast<pfm_pmu_t>(p), &info) == PFM_SUCCESS && info.is_present &&
        info.name && name == info.name)
      return true;
  }
  return false;
}

// User-level counting (PFM_PLM3): perf_event_open's exclude_kernel carries the privilege level.
Result<PerfEventCode> encode(std::string_view pmu, std::string_view event) {
  const std::string qualified = std::string(pmu) + "::" + std::string(event);
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  char* fstr = nullptr;
  pfm_perf_encode_arg_t arg;
  std::memset(&arg, 0, sizeof(arg));
  arg.attr = &attr;
  arg.fstr = &fstr;
  arg.size = sizeof(arg);
  const int rc = pfm_get_os_event_encoding(qualified.c_str(), PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
  if (rc != PFM_SUCCESS) return fail(0, "libpfm: " + qualified + ": " + pfm_strerror(rc));
  PerfEventCode code{fstr ? fstr : qualified, attr.type, attr.config, attr.config1};
  std::free(fstr);
  return code;
}

}  // namespace

Result<DramLocalityEvents> dram_locality_events() {
  if (int rc = pfm_initialize(); rc != PFM_SUCCESS) return fail(0, std::string("libpfm: pfm_initialize: ") + pfm_strerror(rc));
  for (const auto& model : kModels) {
    if (!pmu_present(model.pmu)) continue;
    auto local = encode(model.pmu, model.local);
    if (!local) return fail(local.error());
    auto remote = encode(model.pmu, model.remote);
    if (!remote) return fail(remote.error());
    return DramLocalityEvents{std::string(model.pmu), std::move(*local), std::move(*remote)};
  }
  std::string known;
  for (const auto& model : kModels) known += (known.empty() ? "" : ", ") + std::string(model.pmu);
  return fail(0, "libpfm detects no PMU model with DRAM-locality events (known: " + known +
                     "; LIBPFM_FORCE_PMU=<model> forces one)");
}

}  // namespace numa_agent::os
