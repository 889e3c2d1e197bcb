// kat_bind local|half|remote [--seconds S] [--mib M]: one worker per CPU, worker k runs on node
// k mod N (pinned to that node's CPUs, as numa_run_on_node does) and sweeps its own buffer of
// M MiB in total over all workers (default 64), placed with plain mbind(MPOL_BIND) before use:
//   local   every buffer bound to its worker's node                     (well placed: no advice)
//   half    odd workers' buffers bound to the next node, even ones local
//   remote  every buffer bound to the next node
// Prints the KAT truth line (kat_truth.hpp); expect colocate, naming the mbind call.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kat_truth.hpp"

namespace {

struct Plan {
  int run_node;
  int memory_node;
  std::size_t bytes;
};

void work(Plan plan, kat::Clock::time_point deadline, kat::Truth& truth, kat::Site* site, int* ok) {
  kat::run_on_node(plan.run_node);
  void* p = mmap(nullptr, plan.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  unsigned long mask[16] = {};
  mask[plan.memory_node / 64] |= 1ul << (plan.memory_node % 64);
  *site = KAT_SITE(); if (mbind(p, plan.bytes, MPOL_BIND, mask, sizeof mask * 8, 0) != 0) std::perror("kat_bind: mbind");
  auto* buffer = static_cast<double*>(p);
  const std::size_t count = plan.bytes / sizeof(double);
  for (std::size_t i = 0; i < count; ++i) buffer[i] = 1.0;
  kat::Tally tally;
  kat::PageNodes pages;
  do {
    pages.query(buffer, plan.bytes);
    tally.sweep(pages, buffer, count, [](double* b, double* e) {
      for (double* q = b; q != e; ++q) *q = *q * 0.999 + 1.0;
    });
  } while (kat::Clock::now() < deadline);
  truth.merge(tally);
  munmap(p, plan.bytes);
  *ok = 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "local" && mode != "half" && mode != "remote") {
    std::fprintf(stderr, "usage: kat_bind local|half|remote [--seconds S] [--mib M]\n");
    return 2;
  }
  const double seconds = kat::seconds_option(argc, argv);
  const std::size_t mib = kat::mib_option(argc, argv, 64);
  const auto nodes = kat::nodes_with_cpus();
  const int workers = kat::Machine::get().cpu_count();
  const std::size_t per = (mib * 1024 * 1024 / static_cast<std::size_t>(workers)) & ~(kat::kPage - 1);
  const auto t0 = kat::Clock::now();
  const auto deadline = kat::after(t0, seconds);
  kat::Truth truth;
  std::vector<kat::Site> sites(static_cast<std::size_t>(workers));
  std::vector<int> ok(static_cast<std::size_t>(workers), 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    const std::size_t i = static_cast<std::size_t>(w) % nodes.size();
    const bool remote = mode == "remote" || (mode == "half" && w % 2 == 1);
    const Plan plan{nodes[i], nodes[remote ? (i + 1) % nodes.size() : i], std::max(per, kat::kPage)};
    threads.emplace_back(work, plan, deadline, std::ref(truth), &sites[static_cast<std::size_t>(w)],
                         &ok[static_cast<std::size_t>(w)]);
  }
  for (auto& t : threads) t.join();
  for (int k : ok)
    if (!k) {
      std::fprintf(stderr, "kat_bind: a worker could not map its buffer\n");
      return 3;
    }
  truth.print("bind-" + mode, "colocate", sites[0], workers, kat::since(t0));
  return 0;
}
