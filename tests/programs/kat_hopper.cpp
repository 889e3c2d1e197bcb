// kat_hopper [--seconds S] [--mib M]: one worker initialises its M MiB array (default 32) on the
// first node, then sweeps it for S seconds (default 3), moving itself to the next node's CPUs
// (sched_setaffinity) after every sweep, as a program does that re-pins its worker per phase.
// Prints the KAT truth line (kat_truth.hpp); expect pin-threads, naming the sched_setaffinity call.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "kat_truth.hpp"

namespace {

void hop_and_sweep(std::size_t mib, kat::Clock::time_point deadline, kat::Truth& truth, kat::Site* site,
                   unsigned long* hops) {
  const auto nodes = kat::nodes_with_cpus();
  const auto& machine = kat::Machine::get();
  std::size_t next = 0;
  kat::run_on_node(nodes[next]);
  const std::size_t count = mib * 1024 * 1024 / sizeof(double);
  auto* array = static_cast<double*>(std::malloc(count * sizeof(double)));
  if (array == nullptr) return;
  for (std::size_t i = 0; i < count; ++i) array[i] = 1.0;
  kat::Tally tally;
  kat::PageNodes pages;
  do {
    pages.query(array, count * sizeof(double));
    tally.sweep(pages, array, count, [](double* b, double* e) {
      for (double* p = b; p != e; ++p) *p = *p * 0.999 + 1.0;
    });
    next = (next + 1) % nodes.size();
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : machine.cpus_of_node[static_cast<std::size_t>(nodes[next])]) CPU_SET(cpu, &set);
    *site = KAT_SITE(); if (sched_setaffinity(0, sizeof set, &set) == 0) ++*hops;
  } while (kat::Clock::now() < deadline);
  truth.merge(tally);
  std::free(array);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = kat::seconds_option(argc, argv);
  const std::size_t mib = kat::mib_option(argc, argv, 32);
  const auto t0 = kat::Clock::now();
  const auto deadline = kat::after(t0, seconds);
  kat::Truth truth;
  kat::Site site;
  unsigned long hops = 0;
  std::thread worker(hop_and_sweep, mib, deadline, std::ref(truth), &site, &hops);
  worker.join();
  if (site.line == 0) {
    std::fprintf(stderr, "kat_hopper: cannot allocate %zu MiB\n", mib);
    return 3;
  }
  truth.print("hopper", "pin-threads", site, 1, kat::since(t0));
  std::printf("hops %lu\n", hops);
  return 0;
}
