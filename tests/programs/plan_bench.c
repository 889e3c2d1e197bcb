/* ns per large malloc+free pair (and per small pair) for the placement-plan cost figures:
 *   plan_bench [iterations]   prints "large-planned-site NS", "large-other-site NS", "small NS"
 * Run it under glibc, the agent without a plan, and the agent with a plan covering
 * large_planned() (any plan whose site covers it). Each large block's first page is touched so the
 * pair includes what a program pays to get memory it uses. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LARGE ((size_t)1 << 20)

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

__attribute__((noinline)) void* large_planned(void) { return malloc(LARGE); }
__attribute__((noinline)) void* large_other(void) { return malloc(LARGE); }
__attribute__((noinline)) void* small_block(void) { return malloc(64); }

static double pairs(void* (*alloc)(void), long n, int touch) {
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    volatile char* p = alloc();
    if (touch) p[0] = 1;
    free((void*)p);
  }
  return (now_ns() - t0) / (double)n;
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 20000;
  pairs(large_planned, n / 10, 1);   /* warm-up */
  printf("large-planned-site %.0f\n", pairs(large_planned, n, 1));
  printf("large-other-site %.0f\n", pairs(large_other, n, 1));
  printf("small %.1f\n", pairs(small_block, n * 50, 0));
  return 0;
}
