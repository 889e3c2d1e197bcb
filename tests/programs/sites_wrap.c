// A library between the program and malloc: the allocation site the analyzer names must be the
// malloc call in here (the first frame outside the agent and libc), called from the program.
#include <stdlib.h>

__attribute__((noinline)) void* sites_wrap_alloc(size_t bytes) {
  void* p = malloc(bytes);   // SITES_WRAP_MALLOC_LINE
  __asm__ volatile("" ::"r"(p) : "memory");   // keeps the call a call, not a tail call
  return p;
}
