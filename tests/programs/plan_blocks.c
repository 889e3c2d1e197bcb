/* Large blocks from one allocating function per entry point, for the placement-plan tests.
 *   plan_blocks where   prints each allocating function's link-time address ("function NAME 0xVADDR")
 *   plan_blocks         allocates, fills and checks every block, then prints one line per block:
 *     block NAME mode M mask 0xMASK nodes N0,N1,... usable U
 *   (M: the kernel's MPOL_* at the block's pages; nodes: where move_pages finds its first, middle
 *   and last page), then realloc/free round trips and "checksum X" (identical with or without a plan).
 * Observes the OS directly on purpose. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_BYTES ((size_t)8 << 20)

__attribute__((noinline)) void* alloc_malloc(void) { return malloc(BLOCK_BYTES); }
__attribute__((noinline)) void* alloc_calloc(void) { return calloc(BLOCK_BYTES / 8, 8); }
__attribute__((noinline)) void* alloc_posix_memalign(void) {
  void* p = NULL;
  return posix_memalign(&p, 64 << 10, BLOCK_BYTES) == 0 ? p : NULL;
}
__attribute__((noinline)) void* alloc_aligned(void) { return aligned_alloc(2 << 20, BLOCK_BYTES); }
__attribute__((noinline)) void* alloc_unplanned(void) { return malloc(BLOCK_BYTES); }

struct entry {
  const char* name;
  void* (*alloc)(void);
  size_t alignment;
};
static const struct entry entries[] = {
    {"malloc", alloc_malloc, 16},      {"calloc", alloc_calloc, 16},       {"posix_memalign", alloc_posix_memalign, 64 << 10},
    {"aligned_alloc", alloc_aligned, 2 << 20}, {"unplanned", alloc_unplanned, 16},
};
#define ENTRIES (sizeof entries / sizeof entries[0])

static void report(const char* name, char* p, size_t bytes) {
  const long page = sysconf(_SC_PAGESIZE);
  void* pages[3] = {p, p + (bytes / 2 / page) * page, p + bytes - 1};
  int status[3] = {-1, -1, -1};
  int mode = -1;
  unsigned long mask[16] = {0};
  if (get_mempolicy(&mode, mask, 1024, p + bytes - 1, MPOL_F_ADDR) != 0) mode = -1;
  if (move_pages(0, 3, pages, NULL, status, 0) != 0) status[0] = status[1] = status[2] = -1;
  printf("block %s mode %d mask 0x%lx nodes %d,%d,%d usable %zu\n", name, mode, mask[0], status[0], status[1], status[2],
         malloc_usable_size(p));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "where") == 0) {
    for (size_t i = 0; i < ENTRIES; ++i) {
      Dl_info info;
      if (!dladdr((void*)entries[i].alloc, &info)) return 1;
      printf("function %s 0x%lx\n", entries[i].name, (unsigned long)((uintptr_t)entries[i].alloc - (uintptr_t)info.dli_fbase));
    }
    return 0;
  }
  unsigned long checksum = 0;
  char* blocks[ENTRIES];
  for (size_t i = 0; i < ENTRIES; ++i) {
    char* p = entries[i].alloc();
    if (!p || ((uintptr_t)p % entries[i].alignment) != 0) {
      fprintf(stderr, "plan_blocks: %s gave %p\n", entries[i].name, (void*)p);
      return 1;
    }
    if (strcmp(entries[i].name, "calloc") == 0)
      for (size_t k = 0; k < BLOCK_BYTES; k += 4096)
        if (p[k]) return 2;
    for (size_t k = 0; k < BLOCK_BYTES; ++k) p[k] = (char)(k * 7 + i);
    blocks[i] = p;
  }
  for (size_t i = 0; i < ENTRIES; ++i) report(entries[i].name, blocks[i], BLOCK_BYTES);
  for (size_t i = 0; i < ENTRIES; ++i) {
    char* p = realloc(blocks[i], BLOCK_BYTES / 2);   /* shrink: data kept */
    if (!p) return 3;
    p = realloc(p, BLOCK_BYTES * 2);                  /* grow: data kept */
    if (!p) return 3;
    for (size_t k = 0; k < BLOCK_BYTES / 2; ++k) checksum = checksum * 31 + (unsigned char)p[k];
    free(p);
  }
  for (int round = 0; round < 50; ++round) free(alloc_malloc());   /* freed blocks' space is reused */
  printf("checksum %lu\n", checksum);
  return 0;
}
