// Thread-specific keys: the pools' thread-exit handler.
#include <pthread.h>

#include <cerrno>

#include "os.hpp"

namespace numa_agent::os {

static_assert(sizeof(pthread_key_t) == sizeof(ThreadExitKey));

Result<ThreadExitKey> create_thread_exit_key(void (*at_exit)(void*)) {
  pthread_key_t key{};
  if (int rc = pthread_key_create(&key, at_exit); rc != 0) return fail(rc, "pthread_key_create");
  return static_cast<ThreadExitKey>(key);
}

int set_thread_exit_value(ThreadExitKey key, void* value) {
  return -pthread_setspecific(static_cast<pthread_key_t>(key), value);
}

}  // namespace numa_agent::os
