/* LD_PRELOAD shim for the "no perf permission" tests: perf_event_open fails with EACCES, as it
 * does at perf_event_paranoid 3 or under a seccomp policy; every other syscall() goes through.
 * DENY_PERF_SHIM=breakpoint refuses only PERF_TYPE_BREAKPOINT events (as where a policy forbids
 * hardware breakpoints) and lets every other perf event through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

static int refused(const struct perf_event_attr* attr) {
  const char* only = getenv("DENY_PERF_SHIM");
  if (only && strcmp(only, "breakpoint") == 0) return attr && attr->type == PERF_TYPE_BREAKPOINT;
  return 1;
}

long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_perf_event_open && refused((const struct perf_event_attr*)a[0])) {
    errno = EACCES;
    return -1;
  }
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
