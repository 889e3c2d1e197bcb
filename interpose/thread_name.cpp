// Thread names for placement by role: pthread_setname_np and prctl(PR_SET_NAME) are passed to the
// real functions unchanged; when the name was set, the role rules see it and may place the thread
// again (agent/role_rules.hpp). Nothing happens when no rule source is set.
#include <pthread.h>   // the interposed signature only (agent/os/os.hpp says why)

#include <cstdarg>
#include <cstring>

#include "agent/os/os.hpp"
#include "agent/role_rules.hpp"
#include "agent_entry.hpp"

namespace {

constexpr int kPrSetName = 15;   // PR_SET_NAME of <linux/prctl.h>, which the shim may not include

using SetName = int (*)(pthread_t, const char*);
using Prctl = int (*)(int, unsigned long, unsigned long, unsigned long, unsigned long);

SetName real_setname() {
  static SetName real = reinterpret_cast<SetName>(numa_agent::os::next_symbol("pthread_setname_np"));
  return real;
}
Prctl real_prctl() {
  static Prctl real = reinterpret_cast<Prctl>(numa_agent::os::next_symbol("prctl"));
  return real;
}

numa_agent::RoleEngine* role_engine() {
  numa_agent::AgentRuntime* rt = numa_agent::shim::agent_runtime();
  return rt ? rt->policy().roles() : nullptr;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int pthread_setname_np(pthread_t thread, const char* name) {
  SetName real = real_setname();
  if (!real) return ENOSYS;
  const int rc = real(thread, name);
  if (rc != 0) return rc;
  if (auto* roles = role_engine()) {
    try {
      // Which thread it was is found by its new name: the caller first, then the others.
      if (numa_agent::os::current_thread_name() == std::string_view(name).substr(0, 15))
        roles->renamed_self(name);
      else
        roles->renamed_other(name);
    } catch (...) {   // out of memory: the name is set, the placement stays
    }
  }
  return rc;
}

extern "C" __attribute__((visibility("default"))) int prctl(int option, ...) {
  // prctl takes up to four more unsigned long arguments; passing all four is what glibc does.
  va_list ap;
  va_start(ap, option);
  const unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long),
                      a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
  va_end(ap);
  Prctl real = real_prctl();
  if (!real) return -1;
  const int rc = real(option, a2, a3, a4, a5);
  if (rc == 0 && option == kPrSetName && a2 != 0)
    if (auto* roles = role_engine()) {
      try {
        char name[16] = {};
        std::memcpy(name, reinterpret_cast<const char*>(a2), strnlen(reinterpret_cast<const char*>(a2), 15));
        roles->renamed_self(name);
      } catch (...) {
      }
    }
  return rc;
}
