// pthread_create + join cost: what the agent's placement adds to every new thread, and what the
// process's first thread costs (the agent reads the machine's topology then, issue 16).
// Output: {"workload":"thread_create","threads":N,"ns_per_create_join":x,"first_create_join_ns":y}
#include <pthread.h>

#include "common.hpp"

namespace {
void* touch(void* arg) {
  bench::escape(arg);
  return arg;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::uint64_t count = args.get("threads", 5'000);
  const std::uint64_t first0 = bench::now_ns();
  {
    pthread_t t;
    if (pthread_create(&t, nullptr, touch, nullptr) != 0) return 1;
    pthread_join(t, nullptr);
  }
  const std::uint64_t first_ns = bench::now_ns() - first0;
  for (int i = 0; i < 50; ++i) {  // warm-up: stacks cached by glibc
    pthread_t t;
    if (pthread_create(&t, nullptr, touch, nullptr) != 0) return 1;
    pthread_join(t, nullptr);
  }
  const std::uint64_t t0 = bench::now_ns();
  for (std::uint64_t i = 0; i < count; ++i) {
    pthread_t t;
    if (pthread_create(&t, nullptr, touch, nullptr) != 0) {
      std::fprintf(stderr, "pthread_create failed at %llu\n", static_cast<unsigned long long>(i));
      return 1;
    }
    pthread_join(t, nullptr);
  }
  const std::uint64_t t1 = bench::now_ns();
  bench::JsonLine()
      .str("workload", "thread_create")
      .num("threads", double(count))
      .num("ns_per_create_join", double(t1 - t0) / double(count))
      .num("first_create_join_ns", double(first_ns))
      .print();
}
