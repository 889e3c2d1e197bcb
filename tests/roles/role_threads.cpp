// role_threads: a program with two roles whose threads the tests place by role. Ingest threads
// start in a static function (found through the ELF symbol table, not dladdr) and name themselves
// with prctl, one at a time; workers start in a static member function and name themselves with
// pthread_setname_np one at a time; an io thread reports its CPUs before and after it names
// itself; a library (librole_helper.so) starts its own helper thread. Each thread prints
//   thread role=<r> index=<k> phase=<p> cpus=<list>
// With --flusher, a std::thread runs the functor app::Flusher. With --net, main names a waiting thread "net-0" (pthread_setname_np on another thread).
// Test helper: uses the OS directly. Usage: role_threads [--ingest N] [--workers N] [--reverse] [--io] [--net] [--flusher]
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" int role_helper_run(cpu_set_t* out);

namespace {

std::mutex print_mutex;
std::atomic<int> worker_turn{0};
std::atomic<int> ingest_turn{0};

std::string cpu_list(const cpu_set_t& set) {
  std::string out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out += (out.empty() ? "" : ",") + std::to_string(c);
  return out;
}

void report(const char* role, long index, const char* phase) {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  std::lock_guard lock(print_mutex);
  std::printf("thread role=%s index=%ld phase=%s cpus=%s\n", role, index, phase, cpu_list(set).c_str());
}

}  // namespace

// Static: not in the dynamic symbol table, so dladdr cannot name it.
static void* ingest_loop(void* arg) {
  const long k = reinterpret_cast<long>(arg);
  report("ingest", k, "start");
  while (ingest_turn.load() != k) sched_yield();   // named in index order, as the workers
  prctl(PR_SET_NAME, ("ingest-" + std::to_string(k)).c_str(), 0, 0, 0);
  report("ingest", k, "named");
  ingest_turn.fetch_add(1);
  return nullptr;
}

namespace {

std::atomic<bool> net_named{false};

// Named by main (pthread_setname_np on another thread) while it waits.
void* net_loop(void* arg) {
  const long k = reinterpret_cast<long>(arg);
  report("net", k, "start");
  while (!net_named.load()) sched_yield();
  report("net", k, "named");
  return nullptr;
}

void* io_loop(void* arg) {
  const long k = reinterpret_cast<long>(arg);
  report("io", k, "start");
  pthread_setname_np(pthread_self(), ("io-" + std::to_string(k)).c_str());
  report("io", k, "named");
  return nullptr;
}

}  // namespace

namespace app {
struct Worker {
  static void* run(void* arg) {
    const long k = reinterpret_cast<long>(arg);
    report("worker", k, "start");
    while (worker_turn.load() != k) sched_yield();   // name in index order: the k-th takes slot k
    pthread_setname_np(pthread_self(), ("worker-" + std::to_string(k)).c_str());
    report("worker", k, "named");
    worker_turn.fetch_add(1);
    return nullptr;
  }
};
// A functor run by std::thread: its start routine is libstdc++'s, its start symbol this class's.
struct Flusher {
  void operator()() const { report("flusher", 0, "start"); }
};
}  // namespace app

int main(int argc, char** argv) {
  long ingest = 2, workers = 2;
  bool reverse = false, io = false, net = false, flusher = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ingest" && i + 1 < argc) ingest = std::stol(argv[++i]);
    else if (a == "--workers" && i + 1 < argc) workers = std::stol(argv[++i]);
    else if (a == "--reverse") reverse = true;
    else if (a == "--io") io = true;
    else if (a == "--net") net = true;
    else if (a == "--flusher") flusher = true;
    else {
      std::fprintf(stderr, "role_threads: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  // Interleaved creation, ingest or workers first: the roles' placement must not depend on it.
  struct Start { void* (*fn)(void*); long k; };
  std::vector<Start> order;
  for (long k = 0; k < std::max(ingest, workers); ++k) {
    const Start w{app::Worker::run, k}, in{ingest_loop, k};
    for (const Start& s : reverse ? std::vector<Start>{in, w} : std::vector<Start>{w, in})
      if (s.k < (s.fn == ingest_loop ? ingest : workers)) order.push_back(s);
  }
  if (io) order.push_back({io_loop, 0});
  std::vector<pthread_t> threads;
  for (const auto& s : order) {
    pthread_t t;
    if (pthread_create(&t, nullptr, s.fn, reinterpret_cast<void*>(s.k)) != 0) return 3;
    threads.push_back(t);
  }
  if (net) {
    pthread_t t;
    if (pthread_create(&t, nullptr, net_loop, nullptr) != 0) return 3;
    for (int i = 0; i < 100; ++i) sched_yield();   // usually started by now; the test holds either way
    pthread_setname_np(t, "net-0");
    net_named.store(true);
    threads.push_back(t);
  }
  if (flusher) std::thread(app::Flusher{}).join();
  cpu_set_t helper;
  if (role_helper_run(&helper) != 0) return 3;
  {
    std::lock_guard lock(print_mutex);
    std::printf("thread role=helper index=0 phase=start cpus=%s\n", cpu_list(helper).c_str());
  }
  for (auto t : threads) pthread_join(t, nullptr);
  return 0;
}
