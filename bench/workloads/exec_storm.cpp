// Exec storm (issue 16): a bash loop that starts `execs` /bin/true, as a shell script, make -j or
// a server's helpers do. Every process of the tree inherits LD_PRELOAD, so what a preloaded
// library costs each process (loading its libraries, its constructor, its exit) is paid `execs`
// times. bench/run sets LD_PRELOAD for this program and so for bash and every /bin/true.
// Output: {"workload":"exec_storm","execs":N,"ms":wall,"cpu_ms":user+system of the whole tree}
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <string>

#include "common.hpp"

extern char** environ;

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::uint64_t execs = args.get("execs", 200);
  const std::string loop = "for ((i=0;i<" + std::to_string(execs) + ";i++)); do /bin/true; done";
  char* child_argv[] = {const_cast<char*>("bash"), const_cast<char*>("-c"), const_cast<char*>(loop.c_str()), nullptr};
  const std::uint64_t t0 = bench::now_ns();
  pid_t pid = 0;
  if (posix_spawn(&pid, "/bin/bash", nullptr, nullptr, child_argv, environ) != 0) {
    std::perror("posix_spawn /bin/bash");
    return 1;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bash loop failed (status %d)\n", status);
    return 1;
  }
  const std::uint64_t t1 = bench::now_ns();
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  const double cpu_ms = (children.ru_utime.tv_sec + children.ru_stime.tv_sec) * 1e3 +
                        (children.ru_utime.tv_usec + children.ru_stime.tv_usec) / 1e3;
  bench::JsonLine()
      .str("workload", "exec_storm")
      .num("execs", double(execs))
      .num("ms", double(t1 - t0) / 1e6)
      .num("cpu_ms", cpu_ms)
      .print();
}
