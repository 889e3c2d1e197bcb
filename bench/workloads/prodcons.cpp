// Producer/consumer batches (after xmalloc-test): P producer threads allocate batches of small
// blocks (16..256 B) and put each full batch on a bounded queue shared by all; C consumer threads
// take batches off it and free every block. The queue is a mutex and two condition variables, as
// in the original; a producer waits when the queue is full, a consumer when it is empty. Every
// block is freed by a thread that did not allocate it.
// Output: {"workload":"prodcons","mobj_per_s":x,"cpu_busy":cpus,"user_s":..,"sys_s":..,...}
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "common.hpp"

namespace {

struct Queue {
  std::mutex mutex;
  std::condition_variable not_full, not_empty;
  std::deque<std::vector<void*>*> batches;
  std::size_t capacity = 8;
  unsigned producers_left = 0;
  std::uint64_t producer_waits = 0, consumer_waits = 0;   // under mutex
};

void producer(Queue* q, std::uint64_t batches, std::size_t batch, std::uint64_t seed) {
  bench::Rng rng(seed);
  for (std::uint64_t b = 0; b < batches; ++b) {
    auto* v = new std::vector<void*>;
    v->reserve(batch);
    for (std::size_t i = 0; i < batch; ++i) {
      void* p = std::malloc(rng.between(16, 256));
      *static_cast<volatile char*>(p) = 1;
      v->push_back(p);
    }
    std::unique_lock lock(q->mutex);
    while (q->batches.size() >= q->capacity) {
      ++q->producer_waits;
      q->not_full.wait(lock);
    }
    q->batches.push_back(v);
    q->not_empty.notify_one();
  }
  std::lock_guard lock(q->mutex);
  if (--q->producers_left == 0) q->not_empty.notify_all();
}

void consumer(Queue* q) {
  for (;;) {
    std::vector<void*>* v;
    {
      std::unique_lock lock(q->mutex);
      while (q->batches.empty()) {
        if (q->producers_left == 0) return;
        ++q->consumer_waits;
        q->not_empty.wait(lock);
      }
      v = q->batches.front();
      q->batches.pop_front();
      q->not_full.notify_one();
    }
    for (void* p : *v) std::free(p);
    delete v;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const unsigned producers = unsigned(args.get("producers", 2));
  const unsigned consumers = unsigned(args.get("consumers", 2));
  const std::size_t batch = args.get("batch", 4096);
  const std::uint64_t objects = args.get("objects", 8'000'000);   // in all
  const std::uint64_t batches = objects / batch / producers + 1;  // per producer
  Queue q;
  q.producers_left = producers;
  const std::uint64_t t0 = bench::now_ns();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < consumers; ++c) threads.emplace_back(consumer, &q);
  for (unsigned p = 0; p < producers; ++p) threads.emplace_back(producer, &q, batches, batch, p + 1);
  for (auto& t : threads) t.join();
  const std::uint64_t t1 = bench::now_ns();
  const double done = double(batches * batch * producers);
  bench::JsonLine()
      .str("workload", "prodcons")
      .num("producers", producers)
      .num("consumers", consumers)
      .num("objects", done)
      .num("mobj_per_s", done / (double(t1 - t0) * 1e-3))
      .num("producer_waits", double(q.producer_waits))
      .num("consumer_waits", double(q.consumer_waits))
      .rusage(t1 - t0)
      .print();
}
