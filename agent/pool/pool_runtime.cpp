// Placeholder until the pools land: pools are off, the profile says so.
#include "pool_runtime.hpp"

namespace numa_agent::pool {
void start(const PoolConfig&, const Topology&) {}
nlohmann::json profile_section() { return nlohmann::json{{"enabled", false}, {"reason", "pools not built"}}; }
}  // namespace numa_agent::pool
