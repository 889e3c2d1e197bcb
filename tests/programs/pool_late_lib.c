/* A library whose destructor runs after libnumaagent.so's (it is finalised later: the agent wrote
   its profile already). It allocates, writes and frees, and prints malloc_usable_size(malloc(33)):
   48 when the pools still serve it (their class for 33 bytes), 40 from glibc. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((destructor)) static void allocate_late(void) {
  char* keep[1000];
  for (int i = 0; i < 1000; ++i) {
    keep[i] = malloc(32 + i % 500);
    memset(keep[i], i, 32);
  }
  for (int i = 0; i < 1000; ++i) free(keep[i]);
  void* probe = malloc(33);
  char line[64];
  int n = snprintf(line, sizeof line, "late destructor: usable %zu\n", malloc_usable_size(probe));
  free(probe);
  write(1, line, (size_t)n);
}

void pool_late_lib_linked(void) {}
