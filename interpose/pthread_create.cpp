// pthread_create wrapper: the new thread places itself (trampoline) before the user's start routine
// runs. The caller's attr, start routine, argument, return value, pthread_exit and cancellation
// behave exactly as without the agent: the attr is passed through untouched, and the record of the
// thread's end is kept by a destructor, which also runs during pthread_exit's forced unwinding.
#include <pthread.h>   // the interposed signature only (agent/os/os.hpp says why)

#include <new>
#include <optional>

#include "agent/os/os.hpp"
#include "agent/role_rules.hpp"
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
  // Placement by role: what the thread is, the rule that placed it and what the policy would have done.
  numa_agent::RoleEngine* roles = nullptr;
  numa_agent::ThreadIdentity identity;
  std::string creator_name;
  std::optional<numa_agent::RoleEngine::Choice> choice;
  numa_agent::PlacementDecision fallback;
};

class ThreadLifetime {
 public:
  ThreadLifetime(numa_agent::AgentRuntime* rt, const ThreadLaunch& launch)
      : rt_(rt), roles_(launch.roles), record_(rt->begin_thread(launch.plan)) {
    if (roles_)
      roles_->thread_started(record_, numa_agent::os::current_tid(), launch.identity, launch.creator_name,
                             launch.choice, launch.fallback);
  }
  ~ThreadLifetime() {
    try {
      if (roles_) roles_->thread_ended(record_);
      rt_->end_thread(record_);
    } catch (...) {
    }
  }

 private:
  numa_agent::AgentRuntime* rt_;
  numa_agent::RoleEngine* roles_;
  std::size_t record_;
};

void* trampoline(void* p) {
  auto* launch = static_cast<ThreadLaunch*>(p);
  void* (*start)(void*) = launch->start;
  void* arg = launch->arg;
  ThreadLifetime lifetime(launch->runtime, *launch);
  delete launch;
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
    const bool caller_affinity = numa_agent::os::thread_attr_sets_affinity(attr);
    launch = new ThreadLaunch{start, arg, rt, rt->plan_thread(caller_affinity)};
    // A role rule overrides the policy's decision, except where the creator chose the CPUs.
    if (auto* roles = rt->policy().roles(); roles && !caller_affinity) {
      launch->roles = roles;
      launch->identity = roles->identify(reinterpret_cast<const void*>(start), arg, __builtin_return_address(0));
      launch->creator_name = numa_agent::os::current_thread_name();
      launch->fallback = launch->plan.decision;
      launch->choice = roles->choose_at_create(launch->identity);
      if (launch->choice) launch->plan.decision = launch->choice->decision;
    }
  } catch (...) {
    delete launch;
    return real(thread, attr, start, arg);
  }
  int rc = real(thread, attr, trampoline, launch);
  if (rc != 0) delete launch;
  return rc;
}
