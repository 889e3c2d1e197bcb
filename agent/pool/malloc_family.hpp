// The malloc family composed from the pools and the real allocator, with one ownership rule:
// a pointer inside the pool reservation is the pools'; anything else belongs to the real allocator
// (or, in the shim, to the bootstrap buffer used while the real allocator is being looked up).
// Any pointer from any entry point may be passed to any other.
//
// `Env` supplies the pieces that differ between the LD_PRELOAD shim and the unit tests:
//   static PoolAllocator& pool();        static Heap* heap();   (the calling thread's heap)
//   static void* real_malloc(size_t);    real_free(void*);      real_calloc(size_t, size_t);
//   real_realloc(void*, size_t);         real_posix_memalign(void**, size_t, size_t);
//   real_aligned_alloc(size_t, size_t);  real_memalign(size_t, size_t);
//   real_valloc(size_t);                 real_pvalloc(size_t);  real_usable_size(void*);
//   static bool is_bootstrap(const void*); static size_t bootstrap_bytes(const void*);
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "pool_allocator.hpp"

namespace numa_agent::pool {

template <typename Env>
struct MallocFamily {
  [[gnu::always_inline]] static void* malloc(std::size_t n) {
    void* p = Env::pool().try_alloc(Env::heap(), n);
    if (NUMA_AGENT_LIKELY(p != nullptr)) return p;
    return malloc_slow(n);
  }

  [[gnu::always_inline]] static void free(void* p) {
    PoolAllocator& pool = Env::pool();
    if (NUMA_AGENT_LIKELY(pool.owns(p))) return pool.free_owned(Env::heap(), p);
    free_foreign(p);
  }

  static void* calloc(std::size_t count, std::size_t size) {
    std::size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
      errno = ENOMEM;
      return nullptr;
    }
    PoolAllocator& pool = Env::pool();
    if (total <= pool.small_max()) {
      void* p = pool.try_alloc(Env::heap(), total);
      if (!p) p = pool.alloc_slow(Env::heap(), total);
      if (p) return std::memset(p, 0, total);
    }
    return Env::real_calloc(count, size);
  }

  static void* realloc(void* p, std::size_t n) {
    if (!p) return malloc(n);
    PoolAllocator& pool = Env::pool();
    if (pool.owns(p)) {
      if (n == 0) {   // glibc: realloc(p, 0) frees p and returns NULL
        free(p);
        return nullptr;
      }
      const std::size_t have = PoolAllocator::block_bytes(p);
      if (n <= have && (n > have / 2 || have == kMinBlock)) return p;   // fits without waste
      return move_to(p, have, n);
    }
    if (Env::is_bootstrap(p)) return move_to(p, Env::bootstrap_bytes(p), n);   // never freed
    return Env::real_realloc(p, n);
  }

  static void* reallocarray(void* p, std::size_t count, std::size_t size) {
    std::size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
      errno = ENOMEM;
      return nullptr;
    }
    return realloc(p, total);
  }

  static int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
    if (void* p = pool_aligned(alignment, n)) {
      *out = p;
      return 0;
    }
    return Env::real_posix_memalign(out, alignment, n);
  }

  static void* aligned_alloc(std::size_t alignment, std::size_t n) {
    if (is_power_of_two(alignment))
      if (void* p = pool_aligned(alignment, n)) return p;
    return Env::real_aligned_alloc(alignment, n);   // odd alignments: the real allocator's rules
  }

  static void* memalign(std::size_t alignment, std::size_t n) {
    if (is_power_of_two(alignment))
      if (void* p = pool_aligned(alignment, n)) return p;
    return Env::real_memalign(alignment, n);
  }

  // Page-aligned: never pool-sized in practice; the real allocator serves them.
  static void* valloc(std::size_t n) { return Env::real_valloc(n); }
  static void* pvalloc(std::size_t n) { return Env::real_pvalloc(n); }

  static std::size_t usable_size(void* p) {
    if (!p) return 0;
    if (Env::pool().owns(p)) return PoolAllocator::block_bytes(p);
    if (Env::is_bootstrap(p)) return Env::bootstrap_bytes(p);
    return Env::real_usable_size(p);
  }

  // Aligned pool block, or nullptr (then the real allocator serves it).
  static void* pool_aligned(std::size_t alignment, std::size_t n) {
    PoolAllocator& pool = Env::pool();
    if (alignment <= kMinBlock) {
      void* p = pool.try_alloc(Env::heap(), n);
      return p ? p : pool.alloc_slow(Env::heap(), n);
    }
    return pool.alloc_aligned(Env::heap(), alignment, n);
  }

  [[gnu::noinline]] static void* malloc_slow(std::size_t n) {
    void* p = Env::pool().alloc_slow(Env::heap(), n);
    return p ? p : Env::real_malloc(n);
  }

  [[gnu::noinline]] static void free_foreign(void* p) {
    if (!p || Env::is_bootstrap(p)) return;
    const int saved = errno;
    Env::pool().note_real_free(Env::heap());
    Env::real_free(p);
    errno = saved;
  }

 private:
  static bool is_power_of_two(std::size_t a) { return a != 0 && (a & (a - 1)) == 0; }

  static void* move_to(void* p, std::size_t have, std::size_t n) {
    void* q = malloc(n);
    if (!q) return nullptr;   // p stays valid, errno from the real allocator
    std::memcpy(q, p, have < n ? have : n);
    free(p);
    return q;
  }
};

}  // namespace numa_agent::pool
