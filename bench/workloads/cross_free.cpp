// Producer/consumer cross-thread free: one thread allocates, another frees every object, through
// a bounded single-producer single-consumer ring. This is the case a thread-local pool must
// handle without a lock on the owner's fast path.
// Output: {"workload":"cross_free","objects":N,"ns_per_object":x}
#include <atomic>
#include <cstdlib>
#include <thread>

#include "common.hpp"
#include "spsc_ring.hpp"

namespace {

using Ring = bench::SpscRing<4096>;

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const std::uint64_t objects = args.get("objects", 4'000'000);
  static Ring ring;
  std::atomic<bool> go{false};
  std::thread consumer([&] {
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    for (std::uint64_t freed = 0; freed < objects;) {
      if (void* p = ring.pop()) {
        std::free(p);
        ++freed;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::thread producer([&] {
    bench::Rng rng(7);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    for (std::uint64_t i = 0; i < objects; ++i) {
      void* p = std::malloc(16 << rng.between(0, 6));  // 16 .. 1024 B
      *static_cast<volatile char*>(p) = 1;
      while (!ring.push(p)) std::this_thread::yield();
    }
  });
  const std::uint64_t t0 = bench::now_ns();
  go.store(true, std::memory_order_release);
  producer.join();
  consumer.join();
  const std::uint64_t t1 = bench::now_ns();
  bench::JsonLine()
      .str("workload", "cross_free")
      .num("objects", double(objects))
      .num("ns_per_object", double(t1 - t0) / double(objects))
      .print();
}
