// kat_triad [--seconds S] [--mib M]: the STREAM triad a = b + s * c with OpenMP, static schedule,
// arrays of M MiB each (default 16) initialised in parallel with the same schedule (so each
// thread's pages are first touched where it runs), repeated for S seconds (default 3). Threads are
// the OpenMP runtime's, unbound unless OMP_PROC_BIND / OMP_PLACES say otherwise.
// Prints the KAT truth line (kat_truth.hpp); expect none when well placed, else pin-threads.
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kat_truth.hpp"

int main(int argc, char** argv) {
  const double seconds = kat::seconds_option(argc, argv);
  const std::size_t mib = kat::mib_option(argc, argv, 16);
  const std::size_t n = mib * 1024 * 1024 / sizeof(double);
  auto* a = static_cast<double*>(std::malloc(n * sizeof(double)));
  auto* b = static_cast<double*>(std::malloc(n * sizeof(double)));
  auto* c = static_cast<double*>(std::malloc(n * sizeof(double)));
  if (a == nullptr || b == nullptr || c == nullptr) {
    std::fprintf(stderr, "kat_triad: cannot allocate 3 x %zu MiB\n", mib);
    return 3;
  }
  // Blocks of kSampleBytes per array: the unit of work whose CPU node is sampled.
  const std::size_t block = kat::kSampleBytes / sizeof(double);
  const std::size_t blocks = (n + block - 1) / block;
  kat::Site site;
#pragma omp parallel for schedule(static)
  for (std::size_t k = 0; k < blocks; ++k) {
    const std::size_t end = std::min(n, (k + 1) * block);
    const kat::Site here = KAT_SITE(); for (std::size_t i = k * block; i < end; ++i) { a[i] = 0.0; b[i] = 1.0; c[i] = 2.0; }
    if (k == 0) site = here;
  }

  const auto t0 = kat::Clock::now();
  const auto deadline = kat::after(t0, seconds);
  const double scalar = 3.0;
  kat::Truth truth;
  kat::PageNodes pages_a, pages_b, pages_c;
  bool done = false;
  int threads = 1;
#pragma omp parallel
  {
    kat::Tally tally;
#pragma omp single
    threads = omp_get_num_threads();
    do {
#pragma omp single
      {
        pages_a.query(a, n * sizeof(double));
        pages_b.query(b, n * sizeof(double));
        pages_c.query(c, n * sizeof(double));
      }
#pragma omp for schedule(static)
      for (std::size_t k = 0; k < blocks; ++k) {
        const std::size_t begin = k * block, end = std::min(n, (k + 1) * block);
        const int cpu_node = kat::Machine::get().node_of(sched_getcpu());
        for (std::size_t i = begin; i < end; ++i) a[i] = b[i] + scalar * c[i];
        const std::size_t bytes = (end - begin) * sizeof(double);
        tally.touched(pages_a, a + begin, bytes, cpu_node);
        tally.touched(pages_b, b + begin, bytes, cpu_node);
        tally.touched(pages_c, c + begin, bytes, cpu_node);
      }
#pragma omp single
      done = kat::Clock::now() >= deadline;
    } while (!done);
    truth.merge(tally);
  }
  truth.print("triad", "pin-threads", site, threads, kat::since(t0));
  std::printf("checksum %.6g\n", a[n / 2]);
  std::free(a);
  std::free(b);
  std::free(c);
  return 0;
}
