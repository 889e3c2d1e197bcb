// numa-demo: the bundled multi-threaded program of the README's main job. It is an ordinary,
// unmodified program — it knows nothing of the agent. Each worker builds a linked structure of small
// heap objects (what servers and graph codes do), then walks it repeatedly. At the end it prints,
// per thread, where the thread ran and on which NUMA node its objects live (move_pages), so running
// it with and without LD_PRELOAD=libnumaagent.so shows what the agent changes.
//
//   numa-demo [--threads N] [--objects N] [--passes N]
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "thread_allowed_cpus.hpp"   // tests/programs: the report programs print the same field

namespace {

struct Item {
  Item* next;
  std::uint64_t payload[5];   // 48-byte objects: a typical small, hot allocation
};

struct WorkerResult {
  long tid = 0;
  int cpu_start = -1, cpu_end = -1;
  std::string allowed;
  int data_nodes[8] = {};      // sampled objects per node (nodes ≥ 8 folded into 7)
  int sampled = 0;
  double seconds = 0;
  std::uint64_t checksum = 0;
};

struct WorkerArgs {
  int objects = 0, passes = 0;
  WorkerResult result;
};

void* worker(void* p) {
  auto* a = static_cast<WorkerArgs*>(p);
  WorkerResult& r = a->result;
  r.tid = syscall(SYS_gettid);
  r.cpu_start = sched_getcpu();
  r.allowed = thread_allowed_cpus();
  auto t0 = std::chrono::steady_clock::now();

  std::vector<Item*> items;
  items.reserve(static_cast<std::size_t>(a->objects));
  Item* head = nullptr;
  for (int i = 0; i < a->objects; ++i) {
    auto* it = static_cast<Item*>(std::malloc(sizeof(Item)));
    it->payload[0] = static_cast<std::uint64_t>(i);
    it->next = head;
    head = it;
    items.push_back(it);
  }
  std::uint64_t sum = 0;
  for (int pass = 0; pass < a->passes; ++pass)
    for (Item* it = head; it; it = it->next) sum += it->payload[0] + static_cast<std::uint64_t>(pass);
  r.checksum = sum;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Where do this thread's objects live? Sample up to 256 of them.
  const int samples = std::min<int>(256, a->objects);
  std::vector<void*> pages(static_cast<std::size_t>(samples));
  std::vector<int> status(static_cast<std::size_t>(samples), -1);
  const long page = sysconf(_SC_PAGESIZE);
  for (int s = 0; s < samples; ++s) {
    auto addr = reinterpret_cast<std::uintptr_t>(items[static_cast<std::size_t>(s) * items.size() / static_cast<std::size_t>(samples)]);
    pages[static_cast<std::size_t>(s)] = reinterpret_cast<void*>(addr & ~static_cast<std::uintptr_t>(page - 1));
  }
  if (move_pages(0, static_cast<unsigned long>(samples), pages.data(), nullptr, status.data(), 0) == 0)
    for (int st : status)
      if (st >= 0) { ++r.data_nodes[std::min(st, 7)]; ++r.sampled; }
  r.cpu_end = sched_getcpu();
  for (Item* it : items) std::free(it);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, objects = 200000, passes = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](int& out) {
      if (i + 1 >= argc || (out = std::atoi(argv[++i])) <= 0) {
        std::fprintf(stderr, "numa-demo: %s needs a positive number\n", a.c_str());
        std::exit(2);
      }
    };
    if (a == "--threads") next(threads);
    else if (a == "--objects") next(objects);
    else if (a == "--passes") next(passes);
    else {
      std::fprintf(stderr, "usage: numa-demo [--threads N] [--objects N] [--passes N]\n");
      return 2;
    }
  }
  const int nodes = numa_available() >= 0 ? numa_num_configured_nodes() : 1;
  if (threads == 0) threads = std::max(4, 2 * nodes);

  std::vector<WorkerArgs> args(static_cast<std::size_t>(threads));
  std::vector<pthread_t> ids(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    args[static_cast<std::size_t>(t)].objects = objects;
    args[static_cast<std::size_t>(t)].passes = passes;
    if (int rc = pthread_create(&ids[static_cast<std::size_t>(t)], nullptr, worker, &args[static_cast<std::size_t>(t)])) {
      std::fprintf(stderr, "numa-demo: pthread_create: %s\n", std::strerror(rc));
      return 1;
    }
  }
  for (auto& id : ids) pthread_join(id, nullptr);

  std::printf("numa-demo: %d threads x %d objects x %d passes on %d NUMA node%s (agent %s)\n", threads,
              objects, passes, nodes, nodes == 1 ? "" : "s", std::getenv("LD_PRELOAD") ? "preloaded" : "not preloaded");
  std::printf("%-8s %-8s %-6s %-6s %-10s %-24s %8s\n", "thread", "tid", "cpu", "node", "allowed", "objects on node (sampled)", "seconds");
  int local = 0, total = 0;
  for (int t = 0; t < threads; ++t) {
    const WorkerResult& r = args[static_cast<std::size_t>(t)].result;
    const int node = numa_available() >= 0 ? numa_node_of_cpu(r.cpu_end) : 0;
    std::string where;
    for (int n = 0; n < 8; ++n)
      if (r.data_nodes[n]) where += "N" + std::to_string(n) + "=" + std::to_string(r.data_nodes[n]) + " ";
    std::printf("%-8d %-8ld %-6d %-6d %-10s %-24s %8.3f\n", t + 1, r.tid, r.cpu_end, node, r.allowed.c_str(),
                where.c_str(), r.seconds);
    if (node >= 0 && node < 8) local += r.data_nodes[node];
    total += r.sampled;
  }
  std::printf("objects on their thread's node: %d of %d sampled (%.1f %%)\n", local, total,
              total ? 100.0 * local / total : 0.0);
  return 0;
}
