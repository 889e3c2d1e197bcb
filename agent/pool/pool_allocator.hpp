// The pool core: node arenas, spans and per-thread heaps.
//
// Layout. One contiguous PROT_NONE reservation holds one arena per node, so "is this pointer
// ours, and on which node" is a subtraction and a compare. Arenas are committed in 4 MiB chunks,
// each bound to its node (mbind preferred) before anything touches it. A chunk is 64 spans of
// 64 KiB; span 0 holds the chunk's span table (one 64-byte Span record per span), so the record of
// any block is found from its address alone and lives on the block's node. Every other span
// serves one size class for one heap. Classes above 4 KiB would fit only 2..12 blocks in a span, so
// a span of theirs is a group of kGroupPieces adjacent spans under the first one's record (the
// leader); the other records (followers) point back to it and never own anything, so a free of a
// block that starts in a follower misses the fast path's owner test and is redirected out of line.
// A group is formed from never-used spans and stays a group for ever (released whole, reused
// whole), so a follower's record never changes under a concurrent free.
//
// Heaps. A heap belongs to one thread at a time and to one node for ever. Its fast path pops the
// current span's free list (malloc) and pushes onto the owning span's free list (free by the
// owner), with no lock and no atomic read-modify-write. A block freed by another thread is pushed
// onto its owner heap's lock-free MPSC list and collected by the owner on its slow path. A heap
// of an exited thread is abandoned on its node and adopted by the next new thread there, so
// thread churn reuses heaps instead of growing. Heaps are never destroyed.
//
// Following the thread. A thread's node can change after it took its heap (it pins itself, or the
// runtime pins it late, as it does the main thread). On the slow path, never the fast path, the
// heap's node is compared with the node of the CPU the thread runs on (sched_getcpu: a read of the
// rseq area on this glibc); when they differ the thread leaves its heap abandoned on the old node
// (its blocks stay owned by it: later frees of them are remote frees, collected by the heap's next
// owner) and takes a heap of its current node. After a move the check rests for kMoveCooldown
// slow paths, so a thread that the scheduler bounces between nodes cannot thrash heaps.
//
// Everything that is not the fast path (new spans, remote-free collection, heap attach/abandon,
// sampling, fork) is out of line in pool_allocator.cpp; the sampled call paths are kept in
// sample_table.cpp. The invariants stated here are checked by NUMA_AGENT_ASSERT (agent/assert.hpp)
// in debug and sanitizer builds. This header knows nothing of the real allocator: a null result
// means "not served by the pools" and the caller falls through.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

#include "../assert.hpp"
#include "../cpu_set.hpp"
#include "../topology.hpp"
#include "pool_os.hpp"
#include "pool_runtime.hpp"
#include "sample_table.hpp"
#include "size_classes.hpp"

#define NUMA_AGENT_LIKELY(x) __builtin_expect(!!(x), 1)
#define NUMA_AGENT_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace numa_agent::pool {

inline constexpr std::size_t kSpanBytes = 64 * 1024;
inline constexpr unsigned kSpanShift = 16;
inline constexpr std::size_t kChunkBytes = 4 * 1024 * 1024;
inline constexpr unsigned kSpansPerChunk = kChunkBytes / kSpanBytes;
inline constexpr std::size_t kHotFreeSpans = 256;   // empty spans kept committed per node (16 MiB)
inline constexpr unsigned kGroupPieces = 4;          // spans in a group of a class above 4 KiB
inline constexpr std::size_t kGroupMinBlock = 4096;  // classes above this use groups
inline constexpr bool class_uses_group(unsigned cls) { return class_bytes(cls) > kGroupMinBlock; }
// Bytes of one span (or group) of the class: what its blocks are cut from.
inline constexpr std::size_t class_span_bytes(unsigned cls) {
  return class_uses_group(cls) ? kGroupPieces * kSpanBytes : kSpanBytes;
}

struct Heap;

struct Block {
  Block* next;
  // Second word (every block is at least 16 bytes), used only while the block heads a chain on a
  // heap's remote_free list: the next chain. The owner walks several chains side by side, so the
  // cache misses on blocks the freeing CPU wrote overlap instead of following one another.
  Block* next_chain;
};

enum class SpanKind : std::uint8_t { Unused, Small, HeapStore, ChunkHeader, Follower };

// One record per 64 KiB span, in the chunk's header span. 64 bytes: one cache line.
struct alignas(64) Span {
  Block* free = nullptr;              // owner only: blocks ready to hand out
  std::uint32_t used = 0;             // owner only: blocks out (+1 while the span is current)
  std::uint8_t full = 0;              // owner only: in no list; next local free re-lists it
  SpanKind kind = SpanKind::Unused;
  std::uint16_t cls = 0;
  std::atomic<Heap*> owner{nullptr};  // stable while any block of the span is live
  std::uint32_t block_bytes = 0;
  std::uint32_t carved = 0;           // bytes from the span start already cut into blocks
  std::uint32_t carve_limit = 0;      // bytes of whole blocks the span holds
  std::uint8_t decommitted = 0;       // pages given back while the span sat unused
  std::uint8_t pieces = 1;            // spans under this record: kGroupPieces for a group's leader
  std::uint8_t lead_back = 0;         // Follower: records back to its group's leader
  Span* prev = nullptr;               // heap's per-class available list, or node's free list
  Span* next = nullptr;
};
static_assert(sizeof(Span) == 64);

struct ChunkHeader {
  Span spans[kSpansPerChunk];
};
static_assert(sizeof(ChunkHeader) <= kSpanBytes);

enum class FallReason : unsigned { TooLarge, Alignment, ArenaFull, OsError, ThreadExiting, PoolsOff, kCount };
inline constexpr const char* kFallReasonNames[] = {"too_large", "alignment", "arena_full", "os_error",
                                                   "thread_exiting", "pools_off"};
// Slow paths a heap waits, after its thread moved to it, before the thread may move again.
inline constexpr std::uint32_t kMoveCooldown = 64;
// Remote frees are pushed to the owner's list a chain at a time: a heap gathers the blocks it
// frees for up to kOutboxSlots other heaps, kOutboxBlocks each, and pushes a chain with one CAS
// when it is full, when another owner needs its slot, and when the heap is abandoned. One CAS per
// block made the push loop and the owner's collection fight over one cache line (server churn:
// a third of the run in free_remote and collect_remote for 8 % of the frees).
inline constexpr unsigned kOutboxSlots = 4;
inline constexpr std::uint32_t kOutboxBlocks = 32;

// Per-heap counters: written only by the heap's thread (no atomics), on their own cache lines,
// summed when the profile is written. pool_allocs is the fast path's only counter.
struct alignas(64) HeapCounters {
  std::uint64_t pool_allocs = 0;
  std::uint64_t slow_allocs = 0;            // fast path missed: refill, attach or fall-through
  std::uint64_t remote_frees_sent = 0;      // this heap's thread freed another heap's block
  std::uint64_t remote_frees_collected = 0; // other threads freed this heap's blocks
  std::uint64_t real_frees = 0;             // frees of pointers the pools did not hand out
  std::uint64_t fallthrough[static_cast<unsigned>(FallReason::kCount)] = {};
  std::uint64_t spans_acquired = 0;
  std::uint64_t spans_released = 0;
  std::uint64_t samples = 0;
  std::uint64_t node_moves = 0;             // its thread left it for a heap of the node it ran on

  HeapCounters& operator+=(const HeapCounters& o);
};

enum class HeapState : std::uint8_t { Active, Abandoned };

struct alignas(64) Heap {
  Span* current[kClassSlots];               // fast path: the span each class allocates from
  HeapCounters counters;
  alignas(64) std::atomic<Block*> remote_free{nullptr};  // other threads push here (MPSC)
  // Spans with free blocks, not current, per class: first in, first out. A span that just left
  // the full state (one free block) goes to the tail, so that by the time refill reaches it more
  // of its blocks have come back; taking it from the head at once would refill one block at a
  // time (17 % of allocations took the slow path under random churn).
  alignas(64) Span* available[kClassCount] = {};
  Span* available_tail[kClassCount] = {};
  int node = 0;
  HeapState state = HeapState::Active;
  int tid = 0;                               // last thread attached
  std::uint32_t attaches = 0;                // threads that have owned this heap
  std::uint64_t sample_credit = 0;           // bytes carved since the last sample
  std::uint32_t move_cooldown = 0;           // slow paths left before its thread may move again
  Heap* next_in_node = nullptr;              // every heap of the node (profile, fork)
  Heap* next_abandoned = nullptr;
  struct Outbox {                            // blocks freed for another heap, not pushed yet
    Heap* owner = nullptr;
    Block* head = nullptr;
    Block* tail = nullptr;
    std::uint32_t count = 0;
  };
  Outbox outbox[kOutboxSlots] = {};
  std::uint32_t outbox_victim = 0;

  constexpr Heap();
};

// A span with no free block: the current span of every class of a heap that has not taken one,
// and of the overflow class always. Never written.
inline constinit Span g_empty_span{};
constexpr Heap::Heap() {
  for (auto& s : current) s = &g_empty_span;
}
// The heap of a thread that has no heap yet: its fast path always misses.
inline constinit Heap g_detached_heap{};
// The heap of a thread whose heap was abandoned at exit: everything falls through.
inline constinit Heap g_exited_heap{};

struct NodeArena {
  std::mutex lock;
  int os_index = 0;
  bool usable = false;          // false after a commit/bind failure: allocations fall through
  char* begin = nullptr;        // the node's part of the reservation
  char* end = nullptr;
  char* next_chunk = nullptr;   // first never-committed byte
  char* span_cursor = nullptr;  // next never-used span of the newest chunk
  char* span_limit = nullptr;
  // Empty spans, any class. Hot ones keep their pages; beyond kHotFreeSpans a released span's
  // pages go back to the OS and it waits on the cold list, taken only when no hot one is left (so
  // that a node hovering at the limit does not give pages back and fault them in again).
  Span* free_spans = nullptr;
  std::size_t free_span_count = 0;
  Span* cold_spans = nullptr;
  std::size_t cold_span_count = 0;
  // Empty groups (leaders), hot and cold as the single spans, counted in spans against the same
  // limit. A chunk's never-used spans too few for a group go to free_spans.
  Span* free_groups = nullptr;
  std::size_t free_group_count = 0;
  Span* cold_groups = nullptr;
  std::size_t cold_group_count = 0;
  char* heap_cursor = nullptr;  // carving heaps out of a HeapStore span
  char* heap_limit = nullptr;
  Heap* heaps = nullptr;
  Heap* abandoned = nullptr;
  // Statistics (under lock).
  std::uint64_t chunks_committed = 0;
  std::uint64_t spans_in_use = 0;
  std::uint64_t heaps_created = 0;
  std::uint64_t heaps_adopted = 0;
  std::uint64_t heaps_abandoned = 0;
  std::uint64_t spans_decommitted = 0;
  int last_error = 0;
};

// How the core finds the calling thread's heap slot (a thread-local in production, a test's own
// per-thread variable in tests) and tells the runtime that a thread took a heap (so that the
// runtime can arrange thread_exit at the thread's end).
struct ThreadHooks {
  Heap** (*slot)() = nullptr;
  void (*attached)(Heap* heap) = nullptr;   // may be null
};

class PoolAllocator {
 public:
  constexpr PoolAllocator() = default;
  PoolAllocator(const PoolAllocator&) = delete;
  PoolAllocator& operator=(const PoolAllocator&) = delete;

  // Reserves the arenas, checks once that memory can be bound to a node (mbind on the
  // reservation: a seccomp filter or a kernel without NUMA shows here, not at the first refill)
  // and builds the CPU→node table. Fails when the pools stay off (the
  // error says why the pools stay off, with the OS error behind it; start_bytes() gives the size
  // asked for). Allocates from the heap only for a failure's Error. After a failure every
  // allocation request that reaches the pools is counted as a "pools_off" fall-through.
  Result<void> start(const PoolConfig& config, const Topology& topology, const PoolOs& os, ThreadHooks hooks);
  bool started() const { return size_ != 0; }
  std::size_t start_bytes() const { return start_bytes_; }
  // Unmaps everything (tests only; production never tears the pools down).
  void release_for_tests();

  // ---- fast paths -----------------------------------------------------------------------
  // A block of at least n bytes from heap h, or nullptr when the fast path cannot serve it
  // (the caller then takes alloc_slow).
  [[gnu::always_inline]] void* try_alloc(Heap* h, std::size_t n) const {
    Span* s = h->current[class_of(n)];
    Block* b = s->free;
    if (NUMA_AGENT_UNLIKELY(b == nullptr)) return nullptr;
    NUMA_AGENT_ASSERT(s->owner.load(std::memory_order_relaxed) == h);   // a heap allocates from its own spans
    s->free = b->next;
    ++s->used;
    ++h->counters.pool_allocs;
    return b;
  }

  [[gnu::always_inline]] bool owns(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - base_ < size_;
  }

  // Frees a block this allocator owns (owns(p) must hold), from the thread whose heap is h.
  [[gnu::always_inline]] void free_owned(Heap* h, void* p) {
    Span* s = span_of(p);
    if (NUMA_AGENT_UNLIKELY(s->owner.load(std::memory_order_relaxed) != h)) return free_remote(h, s, p);
    NUMA_AGENT_ASSERT(s->kind == SpanKind::Small);
    NUMA_AGENT_ASSERT(s->used != 0);   // more frees than allocations: a double free
    auto* b = static_cast<Block*>(p);
    b->next = s->free;
    s->free = b;
    std::uint32_t used = --s->used;
    if (NUMA_AGENT_UNLIKELY((used == 0) | s->full)) span_gained_free(h, s);
  }

  static Span* span_of(const void* p) {
    auto a = reinterpret_cast<std::uintptr_t>(p);
    auto* chunk = reinterpret_cast<ChunkHeader*>(a & ~(kChunkBytes - 1));
    return &chunk->spans[(a >> kSpanShift) & (kSpansPerChunk - 1)];
  }
  // The record that holds p's block: its span's, or its group leader's.
  static Span* block_span(const void* p) { return leader(span_of(p)); }
  static Span* leader(Span* s) { return NUMA_AGENT_UNLIKELY(s->kind == SpanKind::Follower) ? s - s->lead_back : s; }
  // Usable bytes of a block this allocator owns.
  static std::size_t block_bytes(const void* p) { return block_span(p)->block_bytes; }

  // ---- slow paths (out of line) ---------------------------------------------------------
  // Serves n bytes when try_alloc missed: attaches a heap, collects remote frees, takes a new
  // span. nullptr: the pools do not serve this request (reason counted); use the real allocator.
  [[gnu::noinline]] void* alloc_slow(Heap* h, std::size_t n);
  // n bytes aligned to `alignment` (a power of two), or nullptr to fall through.
  void* alloc_aligned(Heap* h, std::size_t alignment, std::size_t n);
  // Counts a free of a pointer the pools did not hand out.
  void note_real_free(Heap* h) {
    if (h != &g_detached_heap && h != &g_exited_heap) ++h->counters.real_frees;
  }
  // The calling thread is exiting: its heap is abandoned on its node for adoption.
  void thread_exit(Heap** slot);
  // The calling thread's CPU affinity changed: if it now runs on another node than its heap's,
  // it moves to a heap of that node now (no cooldown). True if it moved. Allocates nothing.
  bool thread_placed(Heap** slot);
  // fork(): prepare locks everything, parent unlocks, child unlocks and abandons the heaps of
  // threads that do not exist in the child (so their blocks can still be freed and reused).
  void fork_prepare();
  void fork_parent();
  void fork_child();

  // ---- introspection (profile, tests) ---------------------------------------------------
  int node_count() const { return node_count_; }
  // Node index of a pool address, -1 if not ours.
  int node_of(const void* p) const;
  const NodeArena& node(int i) const { return nodes_[i]; }
  std::size_t small_max() const { return small_max_; }
  std::uintptr_t base() const { return base_; }
  std::size_t reserved_bytes() const { return size_; }
  std::size_t arena_bytes() const { return arena_bytes_; }
  std::uint64_t sample_bytes() const { return sample_bytes_; }
  // Visits every heap (node order). Counters are read as they are. f may allocate (the profile
  // does): no lock is held while it runs, or an allocation that takes or moves a heap would
  // deadlock on the node's lock. That is safe because heaps are never destroyed and a node's list
  // only grows at its head: the head read under the lock leads to fully built heaps.
  template <typename F>
  void for_each_heap(F&& f) {
    for (int i = 0; i < node_count_; ++i) {
      Heap* head;
      {
        std::lock_guard g(nodes_[i].lock);
        head = nodes_[i].heaps;
      }
      for (Heap* h = head; h; h = h->next_in_node) f(*h);
    }
  }
  using SampleView = pool::SampleView;
  // The sampled call paths (sample_table.hpp says when a sample is dropped instead).
  template <typename F>
  void for_each_sample(F&& f) {
    samples_.for_each(std::forward<F>(f));
  }
  std::uint64_t samples_dropped() const { return samples_.dropped(); }
  // Allocations by threads whose heap was already abandoned at their exit (no heap to count in).
  std::uint64_t exited_thread_fallthroughs() const { return exited_fallthroughs_.load(std::memory_order_relaxed); }
  // Allocation requests sent to the real allocator because start failed.
  std::uint64_t pools_off_fallthroughs() const;

 private:
  [[gnu::noinline]] void free_remote(Heap* h, Span* s, void* p);
  static void push_remote(Heap* owner, Block* head, Block* tail);
  static void flush_outbox(Heap* h);
  [[gnu::noinline]] void span_gained_free(Heap* h, Span* s);
  Heap* attach_heap();
  Heap* take_heap(int node);
  Heap* install(Heap* h);
  Heap* follow_thread(Heap* h);
  Heap* move_thread(Heap* h, int node);
  void note_pools_off();
  void* refill(Heap* h, unsigned cls);
  void collect_remote(Heap* h);
  void local_free_slow(Heap* h, Span* s, Block* b);
  void make_available(Heap* h, Span* s);
  void unlink_available(Heap* h, Span* s);
  void release_span(Heap* h, Span* s);
  Span* acquire_span(int node);
  Span* take_span_locked(NodeArena& arena);
  Span* acquire_group(int node);
  Span* take_group_locked(NodeArena& arena);
  bool grow_node_locked(NodeArena& arena);
  Heap* new_heap(NodeArena& arena, int node);
  void abandon(Heap* h);
  void carve(Heap* h, Span* s);
  void record_sample(Heap* h, std::size_t bytes);
  int node_for_cpu(int cpu) const;
  void map_cpus_to_nodes(const Topology& topology);
  static char* span_base(const Span* s);

  // Read on every free: keep together.
  std::uintptr_t base_ = 0;
  std::size_t size_ = 0;
  std::size_t arena_bytes_ = 0;
  std::size_t small_max_ = 0;
  unsigned max_class_ = 0;
  int node_count_ = 0;
  std::uint64_t sample_bytes_ = 0;
  PoolOs os_{};
  ThreadHooks hooks_{};
  std::int8_t cpu_node_[CpuSet::kMaxCpus] = {};
  NodeArena nodes_[kMaxNodes];

  SampleTable samples_;   // mapped at start when sampling
  std::atomic<std::uint64_t> exited_fallthroughs_{0};

  // After a failed start: requests counted on shards picked by the caller's stack address, so
  // that the threads of a program running on the real allocator do not share one cache line.
  struct alignas(64) OffShard {
    std::atomic<std::uint64_t> count{0};
  };
  static constexpr unsigned kOffShards = 16;
  bool count_off_ = false;
  OffShard off_fallthroughs_[kOffShards];
  std::size_t start_bytes_ = 0;
};

}  // namespace numa_agent::pool
