// The malloc family of libnumaagent.so: pools first (agent/pool), the real allocator otherwise.
//
// The real allocator is whatever dlsym(RTLD_NEXT) finds after this library (glibc, or jemalloc in
// a program linked with it), looked up once, early. Allocations made while that lookup runs (dlsym
// may calloc) come from a static bootstrap buffer; such blocks are never handed to the real
// allocator. Nothing here logs through stdio, spdlog or locale: inside malloc only
// os::write_stderr is allowed (dlerror() inside malloc was seen to hang bash in setlocale's lock).
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "agent/os/os.hpp"
#include "agent/plan_heap.hpp"
#include "agent/pool/malloc_family.hpp"
#include "agent/pool/pool_global.hpp"
#include "interpose/agent_entry.hpp"

namespace numa_agent::pool {
namespace {

using MallocFn = void* (*)(std::size_t);
using FreeFn = void (*)(void*);
using CallocFn = void* (*)(std::size_t, std::size_t);
using ReallocFn = void* (*)(void*, std::size_t);
using PosixMemalignFn = int (*)(void**, std::size_t, std::size_t);
using AlignedFn = void* (*)(std::size_t, std::size_t);
using UsableFn = std::size_t (*)(void*);

struct RealAllocator {
  MallocFn malloc;
  FreeFn free;
  CallocFn calloc;
  ReallocFn realloc;
  PosixMemalignFn posix_memalign;
  AlignedFn aligned_alloc;
  AlignedFn memalign;
  MallocFn valloc;
  MallocFn pvalloc;
  UsableFn usable_size;
};

constinit RealAllocator g_real{};
constinit std::atomic<bool> g_real_ready{false};
__thread bool tl_resolving __attribute__((tls_model("initial-exec"))) = false;

// ---- bootstrap buffer: serves only the allocations made while dlsym runs --------------------
constexpr std::size_t kBootstrapBytes = 256 * 1024;
constexpr std::size_t kBootstrapHeader = 16;   // keeps 16-byte alignment; holds the size
alignas(64) constinit char g_bootstrap[kBootstrapBytes] = {};
constinit std::atomic<std::size_t> g_bootstrap_used{0};

void* bootstrap_alloc(std::size_t n, std::size_t alignment = 16) {
  if (n > kBootstrapBytes) return nullptr;
  const std::size_t need = (n + kBootstrapHeader + alignment - 1 + 15) & ~std::size_t{15};
  std::size_t at = g_bootstrap_used.fetch_add(need, std::memory_order_relaxed);
  if (at + need > kBootstrapBytes) {
    errno = ENOMEM;
    return nullptr;
  }
  auto base = reinterpret_cast<std::uintptr_t>(g_bootstrap + at + kBootstrapHeader);
  base = (base + alignment - 1) & ~(alignment - 1);
  reinterpret_cast<std::size_t*>(base)[-1] = n;   // zero-filled storage: calloc needs no memset
  return reinterpret_cast<void*>(base);
}

template <typename Fn>
Fn next_symbol(const char* name) {
  return reinterpret_cast<Fn>(os::next_symbol(name));
}

// What the pools do not serve (above NUMA_AGENT_SMALL_MAX) goes to the real allocator. When that
// is glibc's, its default thresholds give pages back to the kernel eagerly: a thread arena's top
// is trimmed (MADV_DONTNEED) once it exceeds 128 KiB..1 MiB and blocks above 128 KiB..512 KiB are
// mmapped and unmapped one by one, so a program that keeps allocating and freeing 32..512 KiB
// blocks faults the same pages in again and again (bench/workloads/thread_waves: 110 k page
// faults and 0.25 s of system time where mimalloc takes 9 k and 0.05 s). The agent sets the
// values glibc's own dynamic thresholds reach after a program frees a 4 MiB mmapped block (mmap
// above 4 MiB, trim above 16 MiB): 6 k faults. Not when the user configured glibc's malloc
// (GLIBC_TUNABLES glibc.malloc.*, MALLOC_*_ variables), nor when the real allocator is another.
void settle_glibc_thresholds() {
  static constinit std::atomic<bool> done{false};
  if (done.exchange(true, std::memory_order_relaxed)) return;
  if (next_symbol<MallocFn>("__libc_malloc") != g_real.malloc) return;   // jemalloc, tcmalloc, ...
  const char* tunables = os::environment_value("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
  for (const char* name : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"})
    if (os::environment_value(name)) return;
  (void)os::set_glibc_malloc_thresholds(std::size_t{4} << 20, std::size_t{16} << 20);   // best effort
}

// Looks up the real allocator. Runs once (again harmlessly if two threads race here before the
// first finishes). While it runs, this thread's allocations come from the bootstrap buffer.
[[gnu::noinline, gnu::cold]] bool resolve_real() {
  if (g_real_ready.load(std::memory_order_acquire)) return true;
  if (tl_resolving) return false;
  tl_resolving = true;
  RealAllocator r{};
  r.malloc = next_symbol<MallocFn>("malloc");
  r.free = next_symbol<FreeFn>("free");
  r.calloc = next_symbol<CallocFn>("calloc");
  r.realloc = next_symbol<ReallocFn>("realloc");
  r.posix_memalign = next_symbol<PosixMemalignFn>("posix_memalign");
  r.aligned_alloc = next_symbol<AlignedFn>("aligned_alloc");
  r.memalign = next_symbol<AlignedFn>("memalign");
  r.valloc = next_symbol<MallocFn>("valloc");
  r.pvalloc = next_symbol<MallocFn>("pvalloc");
  r.usable_size = next_symbol<UsableFn>("malloc_usable_size");
  tl_resolving = false;
  if (!r.malloc || !r.free || !r.calloc || !r.realloc) {
    os::write_stderr("numa-agent: cannot find the real malloc/free/calloc/realloc after libnumaagent.so\n");
    return false;
  }
  g_real = r;
  g_real_ready.store(true, std::memory_order_release);
  settle_glibc_thresholds();
  return true;
}

[[gnu::always_inline]] inline bool real_ready() {
  return NUMA_AGENT_LIKELY(g_real_ready.load(std::memory_order_acquire)) || resolve_real();
}

// Resolve before main and before the runtime's constructor (lower number runs first).
[[gnu::constructor(101)]] void resolve_real_early() { resolve_real(); }

// NUMA_AGENT_PLAN, once the runtime (101) has parsed the options and started the pools.
[[gnu::constructor(102)]] void load_plan() {
  auto* runtime = shim::agent_runtime();
  if (!runtime || runtime->options().plan.empty()) return;
  try {
    plan::load_plan_file(runtime->options().plan, runtime->options().log);
  } catch (...) {
    os::write_stderr("numa-agent: warning: NUMA_AGENT_PLAN could not be loaded; running without a plan\n");
  }
}

bool in_bootstrap(const void* p) {
  auto a = reinterpret_cast<std::uintptr_t>(p);
  auto b = reinterpret_cast<std::uintptr_t>(g_bootstrap);
  return a - b < kBootstrapBytes;
}

std::size_t page_bytes() {
  static constinit std::size_t cached = 0;   // benign race: every thread computes the same value
  if (!cached) cached = os::page_size();
  return cached;
}

struct ShimEnv {
  [[gnu::always_inline]] static PoolAllocator& pool() { return g_pool; }
  [[gnu::always_inline]] static Heap* heap() { return tl_heap; }

  static void* real_malloc(std::size_t n) {
    shim::allocation_starts_runtime(n);   // issue 16: the pools start with the first allocation
    return real_ready() ? g_real.malloc(n) : bootstrap_alloc(n);
  }
  static void real_free(void* p) {
    if (NUMA_AGENT_UNLIKELY(plan::owns(p))) return plan::release(p);
    if (real_ready()) g_real.free(p);   // else: cannot happen (p came from the real allocator)
  }
  static void* real_calloc(std::size_t c, std::size_t s) {
    shim::allocation_starts_runtime(s != 0 && c > SIZE_MAX / s ? SIZE_MAX : c * s);
    if (real_ready()) return g_real.calloc(c, s);
    std::size_t total;
    if (__builtin_mul_overflow(c, s, &total)) {
      errno = ENOMEM;
      return nullptr;
    }
    return bootstrap_alloc(total);
  }
  static void* real_realloc(void* p, std::size_t n) {
    if (NUMA_AGENT_UNLIKELY(plan::owns(p))) return planned_realloc(p, n);
    return real_ready() ? g_real.realloc(p, n) : nullptr;
  }
  static int real_posix_memalign(void** out, std::size_t alignment, std::size_t n) {
    if (!real_ready()) {
      void* p = bootstrap_alloc(n, alignment);
      if (!p) return ENOMEM;
      *out = p;
      return 0;
    }
    if (g_real.posix_memalign) return g_real.posix_memalign(out, alignment, n);
    void* p = real_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
  }
  static void* real_memalign(std::size_t alignment, std::size_t n) {
    if (!real_ready()) return bootstrap_alloc(n, alignment);
    if (g_real.memalign) return g_real.memalign(alignment, n);
    if (g_real.aligned_alloc) return g_real.aligned_alloc(alignment, n);
    void* p = nullptr;
    return g_real.posix_memalign && g_real.posix_memalign(&p, alignment, n) == 0 ? p : nullptr;
  }
  static void* real_aligned_alloc(std::size_t alignment, std::size_t n) {
    if (real_ready() && g_real.aligned_alloc) return g_real.aligned_alloc(alignment, n);
    return real_memalign(alignment, n);
  }
  static void* real_valloc(std::size_t n) {
    if (real_ready() && g_real.valloc) return g_real.valloc(n);
    return real_memalign(page_bytes(), n);
  }
  static void* real_pvalloc(std::size_t n) {
    if (real_ready() && g_real.pvalloc) return g_real.pvalloc(n);
    const std::size_t page = page_bytes();
    std::size_t rounded;
    if (__builtin_add_overflow(n, page - 1, &rounded)) {
      errno = ENOMEM;
      return nullptr;
    }
    return real_memalign(page, rounded & ~(page - 1));
  }
  static std::size_t real_usable_size(void* p) {
    if (NUMA_AGENT_UNLIKELY(plan::owns(p))) return plan::usable_bytes(p);
    return real_ready() && g_real.usable_size ? g_real.usable_size(p) : 0;
  }
  static bool is_bootstrap(const void* p) { return in_bootstrap(p); }
  static std::size_t bootstrap_bytes(const void* p) { return static_cast<const std::size_t*>(p)[-1]; }
  static void* planned_realloc(void* p, std::size_t n);
};

}  // namespace

using Family = MallocFamily<ShimEnv>;

namespace {

// A planned block keeps its pages while it fits; a larger one moves to a block of the same site
// (its policy), or to an ordinary block when the site does not take that size.
void* ShimEnv::planned_realloc(void* p, std::size_t n) {
  const std::size_t have = plan::usable_bytes(p);
  if (n == 0) {
    plan::release(p);
    return nullptr;
  }
  if (n <= have) return p;
  void* q = plan::allocate_like(p, n);
  if (!q) q = Family::malloc(n);
  if (!q) return nullptr;
  std::memcpy(q, p, have);
  plan::release(p);
  return q;
}

// The large-allocation path. The call site of a request is the return address of the program's
// call into the agent: each exported function reaches its *_at_call_site function by a tail call
// (noexcept, so no exception frame keeps the caller's frame alive; interpose/CMakeLists.txt turns
// sibling calls on for this file at every level), so __builtin_return_address(0) there is the
// program's. The exported functions' fast paths stay the family's (malloc: no frame set-up, the
// same loads and stores; the slow path is a jmp); without a plan the large path costs one relaxed
// load and a predictable branch (calloc, posix_memalign, aligned_alloc, memalign: one at entry).
[[gnu::always_inline]] inline bool plan_active() {
  return NUMA_AGENT_UNLIKELY(plan::g_active.load(std::memory_order_relaxed));
}

[[gnu::noinline]] void* malloc_at_call_site(std::size_t n) noexcept {
  if (plan_active())
    if (void* p = plan::allocate(n, 16, __builtin_return_address(0))) return p;
  return Family::malloc_slow(n);
}

// Family::malloc's fast path, then the call-site-aware slow path.
[[gnu::always_inline]] inline void* malloc_fast(std::size_t n) {
  void* p = ShimEnv::pool().try_alloc(ShimEnv::heap(), n);
  if (NUMA_AGENT_LIKELY(p != nullptr)) return p;
  return malloc_at_call_site(n);
}

[[gnu::noinline]] void* realloc_null_at_call_site(std::size_t n) noexcept {   // realloc(NULL, n) is a malloc call
  if (plan_active())
    if (void* p = plan::allocate(n, 16, __builtin_return_address(0))) return p;
  return Family::malloc(n);
}

[[gnu::noinline]] void* calloc_at_call_site(std::size_t count, std::size_t size) noexcept {
  std::size_t total;
  if (!__builtin_mul_overflow(count, size, &total))
    if (void* p = plan::allocate(total, 16, __builtin_return_address(0), /*zeroed=*/true)) return p;
  return Family::calloc(count, size);
}

bool valid_alignment(std::size_t a) { return a != 0 && (a & (a - 1)) == 0; }

[[gnu::noinline]] int posix_memalign_at_call_site(void** out, std::size_t alignment, std::size_t n) noexcept {
  if (alignment >= sizeof(void*) && valid_alignment(alignment))
    if (void* p = plan::allocate(n, alignment, __builtin_return_address(0))) {
      *out = p;
      return 0;
    }
  return Family::posix_memalign(out, alignment, n);
}

[[gnu::noinline]] void* aligned_alloc_at_call_site(std::size_t alignment, std::size_t n) noexcept {
  if (valid_alignment(alignment))
    if (void* p = plan::allocate(n, alignment, __builtin_return_address(0))) return p;
  return Family::aligned_alloc(alignment, n);
}

[[gnu::noinline]] void* memalign_at_call_site(std::size_t alignment, std::size_t n) noexcept {
  if (valid_alignment(alignment))
    if (void* p = plan::allocate(n, alignment, __builtin_return_address(0))) return p;
  return Family::memalign(alignment, n);
}


}  // namespace

}  // namespace numa_agent::pool

using numa_agent::pool::Family;

#define NUMA_AGENT_EXPORT extern "C" __attribute__((visibility("default")))

NUMA_AGENT_EXPORT void* malloc(std::size_t n) noexcept { return numa_agent::pool::malloc_fast(n); }
NUMA_AGENT_EXPORT void free(void* p) noexcept { Family::free(p); }
NUMA_AGENT_EXPORT void cfree(void* p) noexcept { Family::free(p); }
NUMA_AGENT_EXPORT void* calloc(std::size_t count, std::size_t size) noexcept {
  if (numa_agent::pool::plan_active()) return numa_agent::pool::calloc_at_call_site(count, size);
  return Family::calloc(count, size);
}
NUMA_AGENT_EXPORT void* realloc(void* p, std::size_t n) noexcept {
  if (!p) return numa_agent::pool::realloc_null_at_call_site(n);
  return Family::realloc(p, n);
}
NUMA_AGENT_EXPORT void* reallocarray(void* p, std::size_t count, std::size_t size) noexcept {
  return Family::reallocarray(p, count, size);
}
NUMA_AGENT_EXPORT int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  if (numa_agent::pool::plan_active()) return numa_agent::pool::posix_memalign_at_call_site(out, alignment, n);
  return Family::posix_memalign(out, alignment, n);
}
NUMA_AGENT_EXPORT void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  if (numa_agent::pool::plan_active()) return numa_agent::pool::aligned_alloc_at_call_site(alignment, n);
  return Family::aligned_alloc(alignment, n);
}
NUMA_AGENT_EXPORT void* memalign(std::size_t alignment, std::size_t n) noexcept {
  if (numa_agent::pool::plan_active()) return numa_agent::pool::memalign_at_call_site(alignment, n);
  return Family::memalign(alignment, n);
}
NUMA_AGENT_EXPORT void* valloc(std::size_t n) noexcept { return Family::valloc(n); }
NUMA_AGENT_EXPORT void* pvalloc(std::size_t n) noexcept { return Family::pvalloc(n); }
NUMA_AGENT_EXPORT std::size_t malloc_usable_size(void* p) noexcept { return Family::usable_size(p); }

// ---- C++ operator new/delete ----------------------------------------------------------------
// Served here rather than through libstdc++'s operator new → malloc, which saves a call and a
// PLT jump on every new/delete. Failure follows the standard: call the new_handler, retry, and
// throw std::bad_alloc when there is none (nothrow forms return nullptr instead).
#include <new>

namespace {

#define NUMA_AGENT_CXX_EXPORT __attribute__((visibility("default")))

[[gnu::noinline]] void* new_retry(std::size_t n, std::size_t alignment) {
  for (;;) {
    void* p = nullptr;
    if (alignment <= 16) p = Family::malloc(n);
    else if (Family::posix_memalign(&p, alignment, n) != 0) p = nullptr;
    if (p) return p;
    // libstdc++ is linked in statically (interpose/CMakeLists.txt): the handler a C++ program set is in its own.
    static const auto program_get = reinterpret_cast<std::new_handler (*)()>(numa_agent::os::next_symbol("_ZSt15get_new_handlerv"));
    std::new_handler handler = program_get ? program_get() : std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

// The slow path of operator new, reached by a tail call: its return address is the program's
// `new` expression (see malloc_at_call_site).
[[gnu::noinline]] void* new_at_call_site(std::size_t n) {
  if (numa_agent::pool::plan_active())
    if (void* p = numa_agent::plan::allocate(n, 16, __builtin_return_address(0))) return p;
  if (void* p = Family::malloc_slow(n)) return p;
  return new_retry(n, 0);
}

[[gnu::always_inline]] inline void* new_fast(std::size_t n) {
  void* p = numa_agent::pool::g_pool.try_alloc(numa_agent::pool::tl_heap, n);
  if (NUMA_AGENT_LIKELY(p != nullptr)) return p;
  return new_at_call_site(n);
}

void* new_aligned(std::size_t n, std::align_val_t al) {
  const auto alignment = static_cast<std::size_t>(al);
  void* p = nullptr;
  if (Family::posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, n) == 0) return p;
  return new_retry(n, alignment);
}

template <typename F>
void* without_throw(F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

NUMA_AGENT_CXX_EXPORT void* operator new(std::size_t n) { return new_fast(n); }
NUMA_AGENT_CXX_EXPORT void* operator new[](std::size_t n) { return new_fast(n); }
NUMA_AGENT_CXX_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  void* p = Family::malloc(n);
  return p ? p : without_throw([n] { return new_retry(n, 0); });
}
NUMA_AGENT_CXX_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  void* p = Family::malloc(n);
  return p ? p : without_throw([n] { return new_retry(n, 0); });
}
NUMA_AGENT_CXX_EXPORT void* operator new(std::size_t n, std::align_val_t al) { return new_aligned(n, al); }
NUMA_AGENT_CXX_EXPORT void* operator new[](std::size_t n, std::align_val_t al) { return new_aligned(n, al); }
NUMA_AGENT_CXX_EXPORT void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return without_throw([n, al] { return new_aligned(n, al); });
}
NUMA_AGENT_CXX_EXPORT void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return without_throw([n, al] { return new_aligned(n, al); });
}

NUMA_AGENT_CXX_EXPORT void operator delete(void* p) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete[](void* p) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete(void* p, std::size_t) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete[](void* p, std::size_t) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete(void* p, std::align_val_t) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { Family::free(p); }
NUMA_AGENT_CXX_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { Family::free(p); }
