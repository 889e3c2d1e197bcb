// The dynamic loader (dlsym, dladdr) and stack walking (libunwind).
#include <dlfcn.h>
#include <libunwind.h>

#include "os.hpp"

namespace numa_agent::os {

void* next_symbol(const char* name) { return dlsym(RTLD_NEXT, name); }

std::optional<CodeLocation> code_location(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0) return std::nullopt;
  return CodeLocation{info.dli_fname, reinterpret_cast<std::uintptr_t>(info.dli_fbase), info.dli_sname};
}

int backtrace(void** frames, int max) { return unw_backtrace(frames, max); }

}  // namespace numa_agent::os
