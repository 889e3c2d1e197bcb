// An OpenMP workload for the compatibility suite (Debian ships no small OpenMP program): a
// parallel for whose iterations allocate small strings and maps in every thread (the agent's
// pools), tasks, a reduction and an ordered section, so the output is deterministic whatever the
// schedule.
#include <omp.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

int main() {
  const int rows = 4000;
  std::vector<std::string> digest(rows);
  long total = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : total)
  for (int r = 0; r < rows; ++r) {
    std::map<std::string, int> counts;
    for (int k = 0; k < 200; ++k) ++counts["w" + std::to_string((r * 31 + k * 7) % 97)];
    std::string d;
    for (const auto& [w, c] : counts) d += w.substr(0, 2) + std::to_string(c);
    digest[r] = std::to_string(d.size()) + ":" + d.substr(0, 12);
    total += static_cast<long>(counts.size());
  }
  long task_sum = 0;
#pragma omp parallel
#pragma omp single
  for (int t = 0; t < 64; ++t) {
#pragma omp task shared(task_sum)
    {
      std::vector<std::string> v;
      for (int k = 0; k < 1000; ++k) v.push_back(std::to_string(t * k));
      long s = 0;
      for (const auto& x : v) s += static_cast<long>(x.size());
#pragma omp atomic
      task_sum += s;
    }
  }
  std::printf("total %ld tasks %ld\n", total, task_sum);
#pragma omp parallel for ordered schedule(static, 1)
  for (int r = 0; r < rows; r += 400) {
#pragma omp ordered
    std::printf("row %d %s\n", r, digest[r].c_str());
  }
  return 0;
}
