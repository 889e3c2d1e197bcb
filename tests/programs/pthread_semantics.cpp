// pthread_semantics: checks that pthread_create behaves exactly as without the agent — attr
// (stack size, detach state, caller affinity), return values, pthread_exit, cancellation.
// Prints one line per check and exits non-zero if any failed. Test program: uses the OS directly.
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace {
int g_failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++g_failures;
}

void* return_value(void*) { return reinterpret_cast<void*>(0x1234); }
void* exits(void*) { pthread_exit(reinterpret_cast<void*>(0x5678)); }
void* waits_for_cancel(void*) {
  for (;;) { pthread_testcancel(); usleep(1000); }
  return nullptr;
}

std::size_t g_seen_stack = 0;
void* reads_stack_size(void*) {
  pthread_attr_t a;
  pthread_getattr_np(pthread_self(), &a);
  pthread_attr_getstacksize(&a, &g_seen_stack);
  pthread_attr_destroy(&a);
  return nullptr;
}

cpu_set_t g_seen_affinity;
void* reads_affinity(void*) {
  CPU_ZERO(&g_seen_affinity);
  sched_getaffinity(0, sizeof g_seen_affinity, &g_seen_affinity);
  return nullptr;
}

std::atomic<bool> g_detached_ran{false};
void* detached(void*) { g_detached_ran = true; return nullptr; }
}  // namespace

int main() {
  pthread_t t;
  void* ret = nullptr;

  pthread_create(&t, nullptr, return_value, nullptr);
  pthread_join(t, &ret);
  check(ret == reinterpret_cast<void*>(0x1234), "return value reaches pthread_join");

  pthread_create(&t, nullptr, exits, nullptr);
  pthread_join(t, &ret);
  check(ret == reinterpret_cast<void*>(0x5678), "pthread_exit value reaches pthread_join");

  pthread_create(&t, nullptr, waits_for_cancel, nullptr);
  pthread_cancel(t);
  pthread_join(t, &ret);
  check(ret == PTHREAD_CANCELED, "cancellation gives PTHREAD_CANCELED");

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 3u << 20);
  pthread_create(&t, &attr, reads_stack_size, nullptr);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  check(g_seen_stack >= (3u << 20), "the caller's stack size is kept");

  // The caller's own affinity in the attr wins over the agent's policy.
  cpu_set_t mine;
  CPU_ZERO(&mine);
  sched_getaffinity(0, sizeof mine, &mine);
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &mine)) last = c;
  cpu_set_t want;
  CPU_ZERO(&want);
  CPU_SET(last, &want);
  pthread_attr_init(&attr);
  pthread_attr_setaffinity_np(&attr, sizeof want, &want);
  pthread_create(&t, &attr, reads_affinity, nullptr);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  check(CPU_COUNT(&g_seen_affinity) == 1 && CPU_ISSET(last, &g_seen_affinity),
        "affinity set in the attr is kept");

  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &attr, detached, nullptr);
  pthread_attr_destroy(&attr);
  check(pthread_join(t, nullptr) != 0, "a detached thread cannot be joined");
  for (int i = 0; i < 1000 && !g_detached_ran; ++i) usleep(1000);
  check(g_detached_ran, "the detached thread ran");

  return g_failures == 0 ? 0 : 1;
}
