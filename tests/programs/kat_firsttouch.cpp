// kat_firsttouch bug|fix [--seconds S] [--mib M]: one shared array of doubles swept by one worker
// per CPU, each on its own slice, for S seconds (default 3; array M MiB, default 64).
//   bug  main initialises the whole array before starting the workers (the classic first-touch
//        bug: every page lands on main's node, workers on other nodes sweep remote memory)
//   fix  each worker initialises its own slice (pages land where their user runs)
// The workers are not pinned: the kernel spreads them, as it does for any program. Prints the
// KAT truth line (kat_truth.hpp); expect first-touch (bug) naming the initialisation loop.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kat_truth.hpp"

namespace {

struct Slice {
  double* begin;
  std::size_t count;
};

// Runs until the deadline: a[i] = a[i] * 0.999 + 1 over the slice (read and write every element).
void sweep(Slice s, kat::Clock::time_point deadline, kat::Truth& truth, bool initialise_here, kat::Site* site) {
  kat::Tally tally;
  kat::PageNodes pages;
  if (initialise_here) {
    *site = KAT_SITE(); for (std::size_t i = 0; i < s.count; ++i) s.begin[i] = static_cast<double>(i);
  }
  do {
    pages.query(s.begin, s.count * sizeof(double));
    tally.sweep(pages, s.begin, s.count, [](double* b, double* e) {
      for (double* p = b; p != e; ++p) *p = *p * 0.999 + 1.0;
    });
  } while (kat::Clock::now() < deadline);
  truth.merge(tally);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "bug" && mode != "fix") {
    std::fprintf(stderr, "usage: kat_firsttouch bug|fix [--seconds S] [--mib M]\n");
    return 2;
  }
  const double seconds = kat::seconds_option(argc, argv);
  const std::size_t mib = kat::mib_option(argc, argv, 64);
  const std::size_t count = mib * 1024 * 1024 / sizeof(double);
  auto* array = static_cast<double*>(std::malloc(count * sizeof(double)));
  if (array == nullptr) {
    std::fprintf(stderr, "kat_firsttouch: cannot allocate %zu MiB\n", mib);
    return 3;
  }
  kat::Site site;
  const bool bug = mode == "bug";
  if (bug) {
    site = KAT_SITE(); for (std::size_t i = 0; i < count; ++i) array[i] = static_cast<double>(i);
  }

  const int workers = kat::Machine::get().cpu_count();
  const auto t0 = kat::Clock::now();
  const auto deadline = kat::after(t0, seconds);
  kat::Truth truth;
  std::vector<kat::Site> sites(static_cast<std::size_t>(workers));
  std::vector<std::thread> threads;
  const std::size_t per = count / static_cast<std::size_t>(workers);
  for (int w = 0; w < workers; ++w) {
    const std::size_t first = per * static_cast<std::size_t>(w);
    const Slice s{array + first, w + 1 == workers ? count - first : per};
    threads.emplace_back(sweep, s, deadline, std::ref(truth), !bug, &sites[static_cast<std::size_t>(w)]);
  }
  for (auto& t : threads) t.join();
  if (!bug) site = sites[0];
  truth.print(bug ? "firsttouch-bug" : "firsttouch-fix", bug ? "first-touch" : "pin-threads", site, workers,
              kat::since(t0));
  double sum = 0;
  for (std::size_t i = 0; i < count; i += 4096) sum += array[i];
  std::printf("checksum %.6g\n", sum);
  std::free(array);
  return 0;
}
