// hostile_probe: reports what the agent did to this process, for the secure-mode (setuid) test:
//   secure=<AT_SECURE> agent=<loaded|absent> process_cpus=<n> thread_cpus=<n>
// agent: whether a library named *numaagent* is mapped; thread_cpus: the CPU count of a created
// thread's affinity mask (1 when the agent pinned it). Test program: uses the OS directly.
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>

#include <cstdio>
#include <cstring>

namespace {
int cpu_count() {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  return CPU_COUNT(&s);
}
int g_thread_cpus = 0;
void* measure(void*) {
  g_thread_cpus = cpu_count();
  return nullptr;
}
int has_agent(dl_phdr_info* info, std::size_t, void* found) {
  if (info->dlpi_name && std::strstr(info->dlpi_name, "numaagent")) *static_cast<bool*>(found) = true;
  return 0;
}
}  // namespace

int main() {
  bool agent = false;
  dl_iterate_phdr(has_agent, &agent);
  pthread_t t;
  pthread_create(&t, nullptr, measure, nullptr);
  pthread_join(t, nullptr);
  std::printf("secure=%lu agent=%s process_cpus=%d thread_cpus=%d\n", getauxval(AT_SECURE),
              agent ? "loaded" : "absent", cpu_count(), g_thread_cpus);
  return 0;
}
