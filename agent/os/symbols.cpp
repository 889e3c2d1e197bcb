// The dynamic loader (dlsym, dladdr) and stack walking (libgcc_s's unwinder: no libunwind, hence
// no libunwind.so.8 and liblzma.so.5 in every preloaded process).
#include <dlfcn.h>
#include <unwind.h>

#include "os.hpp"

namespace numa_agent::os {

void* next_symbol(const char* name) { return dlsym(RTLD_NEXT, name); }

std::optional<CodeLocation> code_location(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0) return std::nullopt;
  return CodeLocation{info.dli_fname, reinterpret_cast<std::uintptr_t>(info.dli_fbase), info.dli_sname};
}

namespace {

struct Walk {
  void** frames;
  int max;
  int depth;
  bool skipped_self;   // the first frame is backtrace() itself
};

_Unwind_Reason_Code collect_frame(struct _Unwind_Context* context, void* argument) {
  auto* walk = static_cast<Walk*>(argument);
  if (!walk->skipped_self) {
    walk->skipped_self = true;
    return _URC_NO_REASON;
  }
  const _Unwind_Ptr ip = _Unwind_GetIP(context);
  if (ip == 0) return _URC_END_OF_STACK;
  walk->frames[walk->depth++] = reinterpret_cast<void*>(ip);
  return walk->depth < walk->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

}  // namespace

// _Unwind_Backtrace walks by the DWARF CFI (.eh_frame_hdr, found through dl_iterate_phdr) with
// its own stack memory: it does not allocate, so it is safe inside malloc (the agent's own code
// has no frame pointers, so a frame-pointer walk would stop in the first agent frame).
__attribute__((noinline)) int backtrace(void** frames, int max) {
  if (frames == nullptr || max <= 0) return 0;
  Walk walk{frames, max, 0, false};
  _Unwind_Backtrace(collect_frame, &walk);
  return walk.depth;
}

}  // namespace numa_agent::os
