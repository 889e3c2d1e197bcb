// omp_report: an OpenMP parallel region; each thread prints the same line format as thread_report.
#include <omp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "thread_allowed_cpus.hpp"

int main() {
#pragma omp parallel
  {
#pragma omp barrier
    std::string allowed = thread_allowed_cpus();
#pragma omp critical
    std::printf("thread ordinal=%d tid=%ld cpu=%d node=0 allowed=%s\n", omp_get_thread_num(),
                static_cast<long>(syscall(SYS_gettid)), sched_getcpu(), allowed.c_str());
  }
  return 0;
}
