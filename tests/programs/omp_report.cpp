// omp_report: an OpenMP parallel region; each thread prints the same line format as thread_report.
#include <omp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

static std::string allowed_list() {
  std::ifstream in("/proc/thread-self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Cpus_allowed_list:", 0) == 0) {
      auto v = line.substr(18);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "?";
}

int main() {
#pragma omp parallel
  {
#pragma omp barrier
    std::string allowed = allowed_list();
#pragma omp critical
    std::printf("thread ordinal=%d tid=%ld cpu=%d node=0 allowed=%s\n", omp_get_thread_num(),
                static_cast<long>(syscall(SYS_gettid)), sched_getcpu(), allowed.c_str());
  }
  return 0;
}
