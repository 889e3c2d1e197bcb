// A bounded single-producer single-consumer ring of pointers, shared by the cross-thread free
// workload and the pool_hammer stress program. Capacity is a power of two.
#pragma once
#include <atomic>
#include <cstddef>

namespace bench {

template <std::size_t Capacity>
class SpscRing {
  static_assert((Capacity & (Capacity - 1)) == 0, "capacity must be a power of two");

 public:
  bool push(void* p) {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (h - tail_.load(std::memory_order_acquire) == Capacity) return false;
    slots_[h & (Capacity - 1)] = p;
    head_.store(h + 1, std::memory_order_release);
    return true;
  }
  void* pop() {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t == head_.load(std::memory_order_acquire)) return nullptr;
    void* p = slots_[t & (Capacity - 1)];
    tail_.store(t + 1, std::memory_order_release);
    return p;
  }

 private:
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) void* slots_[Capacity];
};

}  // namespace bench
