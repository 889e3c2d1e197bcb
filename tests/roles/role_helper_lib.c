/* A library that starts its own helper thread (as runtimes do): placement by role's lib= rule
   places it by the module that called pthread_create. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

static void* helper_main(void* out) {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  *(cpu_set_t*)out = set;
  return NULL;
}

/* Starts the helper, waits for it and stores its affinity in *out. 0 or the pthread error. */
int role_helper_run(cpu_set_t* out) {
  pthread_t t;
  int rc = pthread_create(&t, NULL, helper_main, out);
  if (rc != 0) return rc;
  return pthread_join(t, NULL);
}
