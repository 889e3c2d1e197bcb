// Allocation-site samples: the call paths of sampled pool allocations, counted per path and node
// in an open-addressed table of fixed size in memory the pools map at start (never the heap).
// Written from the allocator's slow path under the table's mutex; read by the profile at exit.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

namespace numa_agent::pool {

inline constexpr int kMaxNodes = 64;         // NUMA nodes the pools support (and count samples for)
inline constexpr int kSampleDepth = 24;      // return addresses kept per sample

struct SampleSite;

struct SampleView {
  const void* const* frames;
  int depth;
  std::uint64_t count;
  std::uint64_t bytes;
  const std::uint64_t* per_node;   // kMaxNodes entries
};

class SampleTable {
 public:
  constexpr SampleTable() = default;
  SampleTable(const SampleTable&) = delete;
  SampleTable& operator=(const SampleTable&) = delete;

  // Bytes of zeroed memory the table needs (a whole number of pages).
  static std::size_t bytes();
  // Starts recording into `zeroed` (bytes() long). Returns it back on detach (tests only).
  void attach(void* zeroed);
  void* detach();
  bool attached() const { return sites_ != nullptr; }

  // Counts a sampled block of `block_bytes` allocated on `node` from the call path frames[0, depth).
  // Drops the sample (counted) when the table is full or the profile is reading it meanwhile.
  void record(void* const* frames, int depth, std::size_t block_bytes, int node);

  // f runs under the table's mutex; a sample taken meanwhile (f allocating) is dropped rather
  // than waiting for that mutex.
  template <typename F>
  void for_each(F&& f) {
    std::lock_guard g(lock_);
    reader_active_.store(true, std::memory_order_relaxed);
    for (std::size_t i = 0; i < capacity_; ++i) {
      SampleView v;
      if (view(i, v)) f(v);
    }
    reader_active_.store(false, std::memory_order_relaxed);
  }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // fork(): held across it; the child gets a fresh mutex.
  void lock_for_fork() { lock_.lock(); }
  void unlock_after_fork() { lock_.unlock(); }
  void reset_lock_in_child() { new (&lock_) std::mutex(); }

 private:
  bool view(std::size_t i, SampleView& v) const;

  std::mutex lock_;
  SampleSite* sites_ = nullptr;
  std::size_t capacity_ = 0;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<bool> reader_active_{false};   // for_each holds lock_
};

}  // namespace numa_agent::pool
