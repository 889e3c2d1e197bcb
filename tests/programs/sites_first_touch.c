// The sites tests' program (tests/analyzer/sites_*): first-touches a buffer from init_buffer (one
// write per page, the marker line below), then makes small allocations through libsites_wrap.so.
// Built with -g and frame pointers: the analyzer must name init_buffer and this file's line.
//   sites_first_touch [MiB] [small allocations]     (32, 20000)
//   sites_first_touch --where                        prints "<file> <file offset>" of the call at
//                                                    SITES_WHERE_LINE and the runtime address
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void* sites_wrap_alloc(size_t bytes);

__attribute__((noinline)) void buffer_ready(volatile char* p) { __asm__ volatile("" ::"r"(p) : "memory"); }

// Not a leaf (it calls buffer_ready): GCC gives leaf functions no frame even with
// -fno-omit-frame-pointer, and a frame-pointer chain then skips the leaf's caller.
__attribute__((noinline)) void init_buffer(volatile char* p, size_t bytes) {
  for (size_t i = 0; i < bytes; i += 4096)
    p[i] = 1;   // SITES_FIRST_TOUCH_LINE
  buffer_ready(p);
}

__attribute__((noinline)) void* small_allocations(int count) {
  void** keep = malloc(sizeof(void*) * (size_t)count);
  for (int i = 0; i < count; ++i) {
    keep[i] = sites_wrap_alloc(64);
    memset(keep[i], i, 64);
  }
  void* last = keep[count - 1];
  for (int i = 0; i < count - 1; ++i) free(keep[i]);
  free(keep);
  return last;
}

// The file and file offset of its caller's return address, from /proc/self/maps (as record does).
__attribute__((noinline)) void print_where(void) {
  uintptr_t ret = (uintptr_t)__builtin_return_address(0);
  FILE* maps = fopen("/proc/self/maps", "r");
  char line[4096];
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long start, end, offset;
    char perms[8], path[4000] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %3999s", &start, &end, perms, &offset, path) >= 4 && ret >= start && ret < end) {
      printf("%s %#lx %#lx\n", path, (unsigned long)(ret - start + offset), (unsigned long)ret);
      break;
    }
  }
  if (maps) fclose(maps);
}

__attribute__((noinline)) void where_caller(void) {
  print_where();   // SITES_WHERE_LINE
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--where") == 0) {
    where_caller();
    return 0;
  }
  // Live through a few of record's polls first: it names code from /proc/PID/maps, which a program
  // shorter than a poll has exited before record reads (it then has the launcher's, before exec).
  usleep(300 * 1000);
  size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 32;
  int count = argc > 2 ? atoi(argv[2]) : 20000;
  char* buffer = malloc(mib << 20);
  if (!buffer) return 1;
  init_buffer(buffer, mib << 20);
  void* last = small_allocations(count > 0 ? count : 1);
  printf("%d\n", buffer[4096] + ((char*)last)[0]);
  free(last);
  free(buffer);
  return 0;
}
