// PoolOs backed by agent/os (memory, CPU, tid) and libunwind (allocation-site backtraces).
#include <libunwind.h>

#include "../os/os.hpp"
#include "pool_os.hpp"

namespace numa_agent::pool {

namespace {
// unw_backtrace walks the local stack with libunwind's own memory (no malloc), which is why it is
// usable from the allocator's slow path; glibc's backtrace() may dlopen libgcc_s and allocate.
int unwind_backtrace(void** frames, int max) { return unw_backtrace(frames, max); }

constexpr PoolOs kProductionOs{
    .reserve = os::reserve_address_space,
    .commit = os::commit,
    .decommit = os::decommit,
    .bind = os::bind_preferred,
    .release = os::unmap,
    .map = os::map_anonymous,
    .current_cpu = os::current_cpu,
    .current_tid = os::current_tid,
    .backtrace = unwind_backtrace,
};
}  // namespace

const PoolOs& production_pool_os() { return kProductionOs; }

}  // namespace numa_agent::pool
