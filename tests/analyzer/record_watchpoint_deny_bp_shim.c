/* LD_PRELOAD shim for "breakpoints refused, everything else allowed": perf_event_open of a
 * PERF_TYPE_BREAKPOINT event fails with EACCES (as where a policy forbids hardware breakpoints);
 * every other perf event and every other syscall() goes through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <sys/syscall.h>

long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_perf_event_open && a[0] && ((const struct perf_event_attr*)a[0])->type == PERF_TYPE_BREAKPOINT) {
    errno = EACCES;
    return -1;
  }
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
