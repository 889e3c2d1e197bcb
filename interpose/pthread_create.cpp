// pthread_create wrapper: the new thread places itself (trampoline) before the user's start routine
// runs. The caller's attr, start routine, argument, return value, pthread_exit and cancellation
// behave exactly as without the agent: the attr is passed through untouched, and the record of the
// thread's end is kept by a destructor, which also runs during pthread_exit's forced unwinding.
#include <pthread.h>   // the interposed signature only (agent/os/os.hpp says why)

#include <new>

#include "agent/os/os.hpp"
#include "agent_entry.hpp"

namespace {

using PthreadCreate = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

PthreadCreate real_pthread_create() {
  static PthreadCreate real = reinterpret_cast<PthreadCreate>(numa_agent::os::next_symbol("pthread_create"));
  return real;
}

struct ThreadLaunch {
  void* (*start)(void*);
  void* arg;
  numa_agent::AgentRuntime* runtime;
  numa_agent::ThreadPlan plan;
};

class ThreadLifetime {
 public:
  ThreadLifetime(numa_agent::AgentRuntime* rt, const numa_agent::ThreadPlan& plan)
      : rt_(rt), record_(rt->begin_thread(plan)) {}
  ~ThreadLifetime() {
    try {
      rt_->end_thread(record_);
    } catch (...) {
    }
  }

 private:
  numa_agent::AgentRuntime* rt_;
  std::size_t record_;
};

void* trampoline(void* p) {
  auto* launch = static_cast<ThreadLaunch*>(p);
  void* (*start)(void*) = launch->start;
  void* arg = launch->arg;
  numa_agent::AgentRuntime* rt = launch->runtime;
  numa_agent::ThreadPlan plan = launch->plan;
  delete launch;
  ThreadLifetime lifetime(rt, plan);
  return start(arg);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int pthread_create(
    pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  PthreadCreate real = real_pthread_create();
  if (!real) return EAGAIN;   // cannot happen with a working libc; never crash the caller
  numa_agent::AgentRuntime* rt = numa_agent::shim::agent_runtime();
  if (!rt || !start) return real(thread, attr, start, arg);
  ThreadLaunch* launch = nullptr;
  try {
    launch = new ThreadLaunch{start, arg, rt, rt->plan_thread(numa_agent::os::thread_attr_sets_affinity(attr))};
  } catch (...) {
    return real(thread, attr, start, arg);
  }
  int rc = real(thread, attr, trampoline, launch);
  if (rc != 0) delete launch;
  return rc;
}
