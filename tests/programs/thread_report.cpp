// thread_report: starts N threads that all wait at a barrier (so they coexist), then each thread
// (and main, ordinal 0) prints where it is:
//   thread ordinal=<k> tid=<tid> cpu=<cpu> node=<os node> allowed=<Cpus_allowed_list>
// Options: --threads N (default 4), --api pthread|std (default pthread), --exit-via pthread_exit.
// Test program: it uses the OS directly on purpose, to observe what the agent did.
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "thread_allowed_cpus.hpp"

namespace {

pthread_barrier_t g_barrier;
std::mutex g_print;
bool g_exit_via_pthread_exit = false;

void report(int ordinal) {
  pthread_barrier_wait(&g_barrier);   // everyone exists now
  int cpu = sched_getcpu();
  int node = numa_available() >= 0 ? numa_node_of_cpu(cpu) : 0;
  std::lock_guard lock(g_print);
  std::printf("thread ordinal=%d tid=%ld cpu=%d node=%d allowed=%s\n", ordinal,
              static_cast<long>(syscall(SYS_gettid)), cpu, node, thread_allowed_cpus().c_str());
  std::fflush(stdout);
}

void* worker(void* arg) {
  int ordinal = static_cast<int>(reinterpret_cast<long>(arg));
  report(ordinal);
  pthread_barrier_wait(&g_barrier);   // keep all alive until every line is printed
  if (g_exit_via_pthread_exit) pthread_exit(reinterpret_cast<void*>(static_cast<long>(ordinal) * 10));
  return reinterpret_cast<void*>(static_cast<long>(ordinal) * 10);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 4;
  std::string api = "pthread";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) n = std::atoi(argv[++i]);
    else if (a == "--api" && i + 1 < argc) api = argv[++i];
    else if (a == "--exit-via" && i + 1 < argc) g_exit_via_pthread_exit = std::string(argv[++i]) == "pthread_exit";
    else { std::fprintf(stderr, "usage: thread_report [--threads N] [--api pthread|std] [--exit-via return|pthread_exit]\n"); return 2; }
  }
  pthread_barrier_init(&g_barrier, nullptr, static_cast<unsigned>(n + 1));
  if (api == "std") {
    std::vector<std::thread> threads;
    for (int k = 1; k <= n; ++k) threads.emplace_back([k] { worker(reinterpret_cast<void*>(static_cast<long>(k))); });
    report(0);
    pthread_barrier_wait(&g_barrier);
    for (auto& t : threads) t.join();
    return 0;
  }
  std::vector<pthread_t> threads(static_cast<std::size_t>(n));
  for (int k = 1; k <= n; ++k)
    if (int rc = pthread_create(&threads[static_cast<std::size_t>(k - 1)], nullptr, worker,
                                reinterpret_cast<void*>(static_cast<long>(k)))) {
      std::fprintf(stderr, "pthread_create: %s\n", std::strerror(rc));
      return 1;
    }
  report(0);
  pthread_barrier_wait(&g_barrier);
  int bad = 0;
  for (int k = 1; k <= n; ++k) {
    void* ret = nullptr;
    pthread_join(threads[static_cast<std::size_t>(k - 1)], &ret);
    if (reinterpret_cast<long>(ret) != k * 10L) {
      std::fprintf(stderr, "thread %d returned %ld, expected %d\n", k, reinterpret_cast<long>(ret), k * 10);
      bad = 1;
    }
  }
  return bad;
}
