// PoolOs backed by agent/os: memory, CPU, tid and allocation-site backtraces.
#include "../os/os.hpp"
#include "pool_os.hpp"

namespace numa_agent::pool {

namespace {
constexpr PoolOs kProductionOs{
    .reserve = os::reserve_address_space,
    .commit = os::commit,
    .decommit = os::decommit,
    .bind = os::bind_preferred,
    .release = os::unmap,
    .map = os::map_anonymous,
    .current_cpu = os::current_cpu,
    .current_tid = os::current_tid,
    .backtrace = os::backtrace,
};
}  // namespace

const PoolOs& production_pool_os() { return kProductionOs; }

}  // namespace numa_agent::pool
