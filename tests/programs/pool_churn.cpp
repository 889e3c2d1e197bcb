// pool_churn: creates and ends many threads (default 100000, two alive at a time), each allocating
// small blocks, leaving some to be freed by the next thread. Prints VmRSS after the first tenth
// and at the end; exit 1 when RSS grew by more than 16 MiB in between (heaps and spans of exited
// threads must be reused, not stranded).
//
//   pool_churn [threads=100000]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {
long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

void* g_handed[2] = {nullptr, nullptr};   // each thread frees what the thread before it left

void work(int slot, int i) {
  std::vector<void*> mine;
  for (int k = 0; k < 40; ++k) {
    void* p = std::malloc(static_cast<std::size_t>(16 + (i + k) * 24 % 1000));
    std::memset(p, k, 16);
    mine.push_back(p);
  }
  std::free(g_handed[slot]);
  g_handed[slot] = mine.back();
  mine.pop_back();
  for (void* p : mine) std::free(p);
}
}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 100000;
  long early = 0;
  for (int i = 0; i < threads; i += 2) {
    std::thread a(work, 0, i), b(work, 1, i + 1);
    a.join();
    b.join();
    if (i == threads / 10) early = rss_kib();
  }
  const long late = rss_kib();
  std::printf("pool_churn: %d threads: VmRSS %ld KiB after %d, %ld KiB at the end\n", threads, early, threads / 10, late);
  return late - early <= 16 * 1024 ? 0 : 1;
}
