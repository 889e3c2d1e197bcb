#include "sample_table.hpp"

#include <cstring>
#include <new>

namespace numa_agent::pool {

namespace {
constexpr std::size_t kSampleCapacity = 1024;   // distinct call paths (a power of two)
constexpr std::size_t kPageBytes = 4096;
}  // namespace

struct SampleSite {
  std::uint64_t hash;       // 0: free slot
  int depth;
  void* frames[kSampleDepth];
  std::uint64_t count;
  std::uint64_t bytes;      // sum of the sampled blocks' sizes
  std::uint64_t per_node[kMaxNodes];
};

std::size_t SampleTable::bytes() {
  return (kSampleCapacity * sizeof(SampleSite) + kPageBytes - 1) & ~(kPageBytes - 1);
}

void SampleTable::attach(void* zeroed) {
  sites_ = static_cast<SampleSite*>(zeroed);   // zero pages: every slot free
  capacity_ = kSampleCapacity;
}

void* SampleTable::detach() {
  void* memory = sites_;
  sites_ = nullptr;
  capacity_ = 0;
  return memory;
}

void SampleTable::record(void* const* frames, int depth, std::size_t block_bytes, int node) {
  std::uint64_t hash = 1469598103934665603ull;   // FNV-1a over the return addresses
  for (int i = 0; i < depth; ++i) {
    hash ^= reinterpret_cast<std::uintptr_t>(frames[i]);
    hash *= 1099511628211ull;
  }
  hash |= 1;   // 0 marks a free slot
  std::unique_lock g(lock_, std::defer_lock);
  if (!reader_active_.load(std::memory_order_relaxed)) {
    g.lock();
  } else if (!g.try_lock()) {   // the profile is being read, perhaps by this very thread
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::size_t frame_bytes = sizeof(void*) * static_cast<std::size_t>(depth);
  for (std::size_t probe = 0; probe < capacity_; ++probe) {
    SampleSite& site = sites_[(hash + probe) & (capacity_ - 1)];
    if (site.hash == 0) {
      site.hash = hash;
      site.depth = depth;
      std::memcpy(site.frames, frames, frame_bytes);
    } else if (site.hash != hash || site.depth != depth || std::memcmp(site.frames, frames, frame_bytes) != 0) {
      continue;
    }
    ++site.count;
    site.bytes += block_bytes;
    ++site.per_node[node];
    return;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
}

bool SampleTable::view(std::size_t i, SampleView& v) const {
  const SampleSite& site = sites_[i];
  if (site.hash == 0) return false;
  v = SampleView{const_cast<const void* const*>(site.frames), site.depth, site.count, site.bytes, site.per_node};
  return true;
}

}  // namespace numa_agent::pool
