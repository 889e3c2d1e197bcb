// The pools' slow paths: arenas and chunks, span life cycle, heap attach/abandon/adopt, remote-free
// collection, taking samples and fork. Nothing here logs or allocates from the heap (a failed
// start's Error aside); the only locks are the per-node mutexes (span and heap bookkeeping) and the
// sample table's mutex (sample_table.cpp).
#include "pool_allocator.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace numa_agent::pool {

namespace {
constexpr std::size_t kPageBytes = 4096;

// A node's lists of empty spans (or groups): hot ones keep their pages, cold ones gave them back.
void push_empty(Span*& list, std::size_t& count, Span* s) {
  s->next = list;
  list = s;
  ++count;
}
// A hot one if any (its pages are still there), else a cold one, else nullptr.
Span* pop_empty(Span*& hot, std::size_t& hot_count, Span*& cold, std::size_t& cold_count) {
  const bool from_hot = hot != nullptr;
  Span*& list = from_hot ? hot : cold;
  Span* s = list;
  if (s) {
    list = s->next;
    --(from_hot ? hot_count : cold_count);
  }
  return s;
}

// Restores errno on scope exit: free() must preserve it and malloc must not leak the errno of a
// failed mbind into a successful allocation.
struct ErrnoGuard {
  int saved = errno;
  ~ErrnoGuard() { errno = saved; }
};
}  // namespace

HeapCounters& HeapCounters::operator+=(const HeapCounters& o) {
  pool_allocs += o.pool_allocs;
  slow_allocs += o.slow_allocs;
  remote_frees_sent += o.remote_frees_sent;
  remote_frees_collected += o.remote_frees_collected;
  real_frees += o.real_frees;
  for (unsigned i = 0; i < static_cast<unsigned>(FallReason::kCount); ++i) fallthrough[i] += o.fallthrough[i];
  spans_acquired += o.spans_acquired;
  spans_released += o.spans_released;
  samples += o.samples;
  node_moves += o.node_moves;
  return *this;
}

// ---- start / release ------------------------------------------------------------------------

Result<void> PoolAllocator::start(const PoolConfig& config, const Topology& topology, const PoolOs& os,
                                  ThreadHooks hooks) {
  if (started()) return numa_agent::fail(0, "pools already started");
  if (!config.enabled) return numa_agent::fail(0, "disabled by NUMA_AGENT_POOLS=0");
  // From here on a failure leaves the pools off for good: count what they are asked for.
  auto fail = [this](const char* why, int error) {
    count_off_ = true;
    return numa_agent::fail(error, why);
  };
  const int nodes = topology.node_count();
  if (nodes < 1) return fail("topology has no NUMA node", 0);
  if (nodes > kMaxNodes) return fail("more NUMA nodes than the pools support (64)", 0);
  if (!os.reserve || !os.commit || !os.bind || !os.current_cpu || !hooks.slot) return fail("incomplete OS interface", 0);

  std::size_t arena = std::max(config.arena_bytes_per_node, kChunkBytes);
  arena = (arena + kChunkBytes - 1) & ~(kChunkBytes - 1);
  start_bytes_ = arena * static_cast<std::size_t>(nodes);
  if (arena > (std::size_t{1} << 46) / static_cast<std::size_t>(nodes))
    return fail("arena size too large for the address space", 0);
  const std::size_t total = arena * static_cast<std::size_t>(nodes);
  void* base = os.reserve(total, kChunkBytes);
  if (!base) return fail("cannot reserve the pools' address space", errno);

  // Binding is what the pools are for: probe it once, on the first chunk of the first node with
  // memory (PROT_NONE still; the chunk's own commit binds it again), so that a seccomp filter or
  // a kernel without NUMA turns the pools off here rather than failing every later refill.
  {
    int probe_node = 0;
    for (int i = 0; i < nodes; ++i)
      if (topology.nodes()[static_cast<std::size_t>(i)].memory_bytes > 0) {
        probe_node = i;
        break;
      }
    char* probe = static_cast<char*>(base) + arena * static_cast<std::size_t>(probe_node);
    const int rc = os.bind(probe, kChunkBytes, topology.nodes()[static_cast<std::size_t>(probe_node)].os_index);
    if (rc != 0) {
      if (os.release) os.release(base, total);
      return fail("mbind refused", -rc);
    }
  }

  os_ = os;
  hooks_ = hooks;
  arena_bytes_ = arena;
  node_count_ = nodes;
  small_max_ = std::clamp<std::size_t>(config.small_max, kMinBlock, kMaxClassBytes);
  max_class_ = class_of(small_max_);
  for (int i = 0; i < nodes; ++i) {
    NodeArena& a = nodes_[i];
    a.os_index = topology.nodes()[static_cast<std::size_t>(i)].os_index;
    a.begin = static_cast<char*>(base) + arena * static_cast<std::size_t>(i);
    a.end = a.begin + arena;
    a.next_chunk = a.begin;
    a.usable = true;
  }

  map_cpus_to_nodes(topology);

  sample_bytes_ = 0;
  if (config.sample_bytes > 0 && os.backtrace && os.map) {
    if (void* table = os.map(SampleTable::bytes())) {
      samples_.attach(table);
      sample_bytes_ = config.sample_bytes;
    }
  }

  base_ = reinterpret_cast<std::uintptr_t>(base);
  size_ = total;   // last: from here on owns() can be true
  return {};
}

// CPU → node. A CPU of a node without memory uses the nearest node that has memory (binding to a
// memoryless node would fail). Unknown CPUs use node 0.
void PoolAllocator::map_cpus_to_nodes(const Topology& topology) {
  bool any_memory = false;
  for (const auto& n : topology.nodes()) any_memory |= n.memory_bytes > 0;
  auto memory_node_for = [&](int node) {
    if (!any_memory || topology.nodes()[static_cast<std::size_t>(node)].memory_bytes > 0) return node;
    int best = node;
    std::uint32_t best_distance = UINT32_MAX;
    for (int j = 0; j < topology.node_count(); ++j) {
      if (topology.nodes()[static_cast<std::size_t>(j)].memory_bytes == 0) continue;
      std::uint32_t d = topology.distances().size() == topology.node_count() ? topology.distances().at(node, j) : (j == node ? 10 : 20);
      if (d < best_distance) best = j, best_distance = d;
    }
    return best;
  };
  std::fill(std::begin(cpu_node_), std::end(cpu_node_), std::int8_t{0});
  for (const auto& pu : topology.pus())
    if (pu.os_index >= 0 && pu.os_index < CpuSet::kMaxCpus && pu.node >= 0 && pu.node < topology.node_count())
      cpu_node_[pu.os_index] = static_cast<std::int8_t>(memory_node_for(pu.node));
}

void PoolAllocator::release_for_tests() {
  if (!started()) return;
  if (os_.release) {
    os_.release(reinterpret_cast<void*>(base_), size_);
    if (samples_.attached()) os_.release(samples_.detach(), SampleTable::bytes());
  }
  samples_.detach();
  base_ = 0;
  size_ = 0;
  for (auto& n : nodes_) {
    n.~NodeArena();
    new (&n) NodeArena();
  }
}

int PoolAllocator::node_of(const void* p) const {
  if (!owns(p)) return -1;
  return static_cast<int>((reinterpret_cast<std::uintptr_t>(p) - base_) / arena_bytes_);
}

int PoolAllocator::node_for_cpu(int cpu) const {
  if (cpu < 0 || cpu >= CpuSet::kMaxCpus) return 0;
  return cpu_node_[cpu];
}

char* PoolAllocator::span_base(const Span* s) {
  auto a = reinterpret_cast<std::uintptr_t>(s);
  auto chunk = a & ~(kChunkBytes - 1);
  auto index = (a - chunk) / sizeof(Span);
  return reinterpret_cast<char*>(chunk + index * kSpanBytes);
}

// ---- node arenas ----------------------------------------------------------------------------

bool PoolAllocator::grow_node_locked(NodeArena& a) {
  if (!a.usable || a.next_chunk + kChunkBytes > a.end) return false;
  ErrnoGuard keep_errno;
  char* chunk = a.next_chunk;
  // Commit, then bind, then touch: the header write below is the chunk's first touch, so its
  // page (and every later page) is placed by the node policy.
  int rc = os_.commit(chunk, kChunkBytes);
  if (rc == 0) rc = os_.bind(chunk, kChunkBytes, a.os_index);
  if (rc != 0) {
    a.usable = false;
    a.last_error = -rc;
    return false;
  }
  a.next_chunk += kChunkBytes;
  auto* header = new (chunk) ChunkHeader();
  header->spans[0].kind = SpanKind::ChunkHeader;
  a.span_cursor = chunk + kSpanBytes;
  a.span_limit = chunk + kChunkBytes;
  ++a.chunks_committed;
  return true;
}

Span* PoolAllocator::take_span_locked(NodeArena& a) {
  Span* s = pop_empty(a.free_spans, a.free_span_count, a.cold_spans, a.cold_span_count);
  if (!s) {
    if (a.span_cursor == a.span_limit && !grow_node_locked(a)) return nullptr;
    s = span_of(a.span_cursor);
    a.span_cursor += kSpanBytes;
  }
  NUMA_AGENT_ASSERT(s->kind == SpanKind::Unused);   // the free lists hold only unused spans
  NUMA_AGENT_ASSERT(s->owner.load(std::memory_order_relaxed) == nullptr);
  s->next = s->prev = nullptr;
  s->decommitted = 0;
  ++a.spans_in_use;
  return s;
}

Span* PoolAllocator::acquire_span(int node) {
  NodeArena& a = nodes_[node];
  std::lock_guard g(a.lock);
  return take_span_locked(a);
}

// An empty group: a released one (hot first), else kGroupPieces never-used spans of the newest
// chunk, made a group here for good.
Span* PoolAllocator::take_group_locked(NodeArena& a) {
  Span* s = pop_empty(a.free_groups, a.free_group_count, a.cold_groups, a.cold_group_count);
  if (!s) {
    if (static_cast<std::size_t>(a.span_limit - a.span_cursor) < kGroupPieces * kSpanBytes) {
      // Too few left in this chunk for a group: they serve single spans.
      for (; a.span_cursor < a.span_limit; a.span_cursor += kSpanBytes)
        push_empty(a.free_spans, a.free_span_count, span_of(a.span_cursor));
      if (!grow_node_locked(a)) return nullptr;
    }
    s = span_of(a.span_cursor);
    a.span_cursor += kGroupPieces * kSpanBytes;
    s->pieces = kGroupPieces;
    for (unsigned i = 1; i < kGroupPieces; ++i) {
      NUMA_AGENT_ASSERT(s[i].kind == SpanKind::Unused);
      s[i].kind = SpanKind::Follower;
      s[i].lead_back = static_cast<std::uint8_t>(i);
    }
  }
  NUMA_AGENT_ASSERT(s->kind == SpanKind::Unused && s->pieces == kGroupPieces);
  NUMA_AGENT_ASSERT(s->owner.load(std::memory_order_relaxed) == nullptr);
  s->next = s->prev = nullptr;
  s->decommitted = 0;
  a.spans_in_use += kGroupPieces;
  return s;
}

Span* PoolAllocator::acquire_group(int node) {
  NodeArena& a = nodes_[node];
  std::lock_guard g(a.lock);
  return take_group_locked(a);
}

void PoolAllocator::release_span(Heap* h, Span* s) {
  NUMA_AGENT_ASSERT(s->owner.load(std::memory_order_relaxed) == h);   // only the owner gives a span back
  NUMA_AGENT_ASSERT(s->used == 0);   // no block of it is live
  NUMA_AGENT_ASSERT(h->current[s->cls] != s);
  NodeArena& a = nodes_[h->node];
  s->owner.store(nullptr, std::memory_order_relaxed);
  s->kind = SpanKind::Unused;
  s->free = nullptr;
  s->used = 0;
  s->full = 0;
  s->prev = nullptr;
  ++h->counters.spans_released;
  // A group goes back whole to the node's group lists, a span to the span lists.
  const bool group = s->pieces > 1;
  std::unique_lock g(a.lock);
  a.spans_in_use -= s->pieces;
  if (a.free_span_count + a.free_group_count * kGroupPieces >= kHotFreeSpans && os_.decommit) {
    // Enough empty spans stay ready; give this one's pages back (outside the lock).
    g.unlock();
    {
      ErrnoGuard keep_errno;
      if (os_.decommit(span_base(s), s->pieces * kSpanBytes) == 0) s->decommitted = 1;
    }
    g.lock();
    if (s->decommitted) {
      a.spans_decommitted += s->pieces;
      if (group) push_empty(a.cold_groups, a.cold_group_count, s);
      else push_empty(a.cold_spans, a.cold_span_count, s);
      return;
    }
  }
  if (group) push_empty(a.free_groups, a.free_group_count, s);
  else push_empty(a.free_spans, a.free_span_count, s);
}

// ---- heaps ----------------------------------------------------------------------------------

Heap* PoolAllocator::new_heap(NodeArena& a, int node) {
  constexpr std::size_t kHeapBytes = (sizeof(Heap) + 63) & ~std::size_t{63};
  if (static_cast<std::size_t>(a.heap_limit - a.heap_cursor) < kHeapBytes) {
    Span* s = take_span_locked(a);
    if (!s) return nullptr;
    s->kind = SpanKind::HeapStore;
    a.heap_cursor = span_base(s);
    a.heap_limit = a.heap_cursor + kSpanBytes;
  }
  Heap* h = new (a.heap_cursor) Heap();
  a.heap_cursor += kHeapBytes;
  h->node = node;
  h->next_in_node = a.heaps;
  a.heaps = h;
  ++a.heaps_created;
  return h;
}

// An abandoned heap of the node, else a new one; nullptr when the node has no room left.
Heap* PoolAllocator::take_heap(int node) {
  NodeArena& a = nodes_[node];
  std::lock_guard g(a.lock);
  Heap* h = nullptr;
  if (a.abandoned) {
    h = a.abandoned;
    NUMA_AGENT_ASSERT(h->state == HeapState::Abandoned && h->node == node);
    a.abandoned = h->next_abandoned;
    h->next_abandoned = nullptr;
    ++a.heaps_adopted;
  } else {
    h = new_heap(a, node);
  }
  if (h) h->state = HeapState::Active;
  return h;
}

// Makes h the calling thread's heap. The move cooldown belongs to the thread that moved, not to
// the heap: an adopted heap's new thread may move at its first slow path.
Heap* PoolAllocator::install(Heap* h) {
  NUMA_AGENT_ASSERT(h->state == HeapState::Active);
  h->move_cooldown = 0;
  h->tid = os_.current_tid ? os_.current_tid() : 0;
  ++h->attaches;
  *hooks_.slot() = h;
  if (hooks_.attached) hooks_.attached(h);
  return h;
}

Heap* PoolAllocator::attach_heap() {
  Heap* h = take_heap(node_for_cpu(os_.current_cpu()));
  return h ? install(h) : nullptr;
}

// The calling thread leaves h (abandoned on its node, for adoption) for a heap of `node`. When
// that node cannot give a heap, the thread keeps h.
Heap* PoolAllocator::move_thread(Heap* h, int node) {
  Heap* next = take_heap(node);
  if (!next) return h;
  ++h->counters.node_moves;
  abandon(h);
  install(next);
  next->move_cooldown = kMoveCooldown;
  return next;
}

// Slow-path check that h is on the node the calling thread runs on (see the header).
Heap* PoolAllocator::follow_thread(Heap* h) {
  if (h->move_cooldown != 0) {
    --h->move_cooldown;
    return h;
  }
  const int node = node_for_cpu(os_.current_cpu());
  return node == h->node ? h : move_thread(h, node);
}

bool PoolAllocator::thread_placed(Heap** slot) {
  Heap* h = *slot;
  if (!started() || node_count_ < 2 || h == &g_detached_heap || h == &g_exited_heap) return false;
  const int node = node_for_cpu(os_.current_cpu());
  if (node == h->node) return false;
  ErrnoGuard keep_errno;
  return move_thread(h, node) != h;
}

void PoolAllocator::note_pools_off() {
  const auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  off_fallthroughs_[(frame >> 20) % kOffShards].count.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t PoolAllocator::pools_off_fallthroughs() const {
  std::uint64_t total = 0;
  for (const auto& shard : off_fallthroughs_) total += shard.count.load(std::memory_order_relaxed);
  return total;
}

void PoolAllocator::abandon(Heap* h) {
  NUMA_AGENT_ASSERT(h->state == HeapState::Active);   // a heap is abandoned once per owner
  NUMA_AGENT_ASSERT(h != &g_detached_heap && h != &g_exited_heap);
  flush_outbox(h);
  collect_remote(h);
  for (unsigned cls = 0; cls < kClassCount; ++cls) {
    Span* s = h->current[cls];
    if (s == &g_empty_span) continue;
    h->current[cls] = &g_empty_span;
    NUMA_AGENT_ASSERT(s->used != 0);   // a current span holds its extra count
    if (--s->used == 0) release_span(h, s);
    else if (s->free || s->carved < s->carve_limit) make_available(h, s);
    else s->full = 1;
  }
  NodeArena& a = nodes_[h->node];
  std::lock_guard g(a.lock);
  h->state = HeapState::Abandoned;
  h->next_abandoned = a.abandoned;
  a.abandoned = h;
  ++a.heaps_abandoned;
}

void PoolAllocator::thread_exit(Heap** slot) {
  Heap* h = *slot;
  *slot = &g_exited_heap;
  if (h == &g_detached_heap || h == &g_exited_heap || !started()) return;
  ErrnoGuard keep_errno;
  abandon(h);
}

// ---- spans of a heap ------------------------------------------------------------------------

void PoolAllocator::make_available(Heap* h, Span* s) {
  NUMA_AGENT_ASSERT(s->owner.load(std::memory_order_relaxed) == h && s->kind == SpanKind::Small);
  NUMA_AGENT_ASSERT(s->prev == nullptr && s->next == nullptr && h->available[s->cls] != s);   // on no list yet
  NUMA_AGENT_ASSERT(!s->full && h->current[s->cls] != s);
  Span*& tail = h->available_tail[s->cls];
  s->next = nullptr;
  s->prev = tail;
  if (tail) tail->next = s;
  else h->available[s->cls] = s;
  tail = s;
}

void PoolAllocator::unlink_available(Heap* h, Span* s) {
  NUMA_AGENT_ASSERT(s->prev ? s->prev->next == s : h->available[s->cls] == s);   // on h's list of its class
  NUMA_AGENT_ASSERT(s->next == nullptr || s->next->prev == s);
  if (s->prev) s->prev->next = s->next;
  else h->available[s->cls] = s->next;
  if (s->next) s->next->prev = s->prev;
  else h->available_tail[s->cls] = s->prev;
  s->prev = s->next = nullptr;
}

// The owner just pushed a block onto s and either s became empty or s was full.
void PoolAllocator::span_gained_free(Heap* h, Span* s) {
  if (s->full) {
    s->full = 0;
    if (s->used == 0) release_span(h, s);
    else make_available(h, s);
    return;
  }
  // Empty and not current (a current span holds one extra count): it is on the available list.
  NUMA_AGENT_ASSERT(s->used == 0 && h->current[s->cls] != s);
  // The class's only available span stays, blocks carved: a class whose few live blocks come and
  // go (1..32 KiB classes hold 2..51 blocks a span) would otherwise give the span to the node and
  // take one back, lock, carving and slow paths each time, at every few allocations. At most one
  // empty span per class waits: it is alone on its list when kept, so a second never is.
  if (s->prev == nullptr && s->next == nullptr) return;
  unlink_available(h, s);
  ErrnoGuard keep_errno;
  release_span(h, s);
}

void PoolAllocator::local_free_slow(Heap* h, Span* s, Block* b) {
  NUMA_AGENT_ASSERT(s->owner.load(std::memory_order_relaxed) == h);   // collected frees are h's own blocks
  NUMA_AGENT_ASSERT(s->used != 0);
  b->next = s->free;
  s->free = b;
  if ((--s->used == 0) | s->full) span_gained_free(h, s);
}

void PoolAllocator::push_remote(Heap* owner, Block* head, Block* tail) {
  tail->next = nullptr;
  Block* old = owner->remote_free.load(std::memory_order_relaxed);
  do {
    head->next_chain = old;
  } while (!owner->remote_free.compare_exchange_weak(old, head, std::memory_order_release,
                                                     std::memory_order_relaxed));
}

void PoolAllocator::flush_outbox(Heap* h) {
  for (auto& box : h->outbox) {
    if (box.count) push_remote(box.owner, box.head, box.tail);
    box = Heap::Outbox{};
  }
}

// A block in an outbox is still counted as used by its span, so the span and its owner stay put
// until the chain is pushed.
void PoolAllocator::free_remote(Heap* h, Span* s, void* p) {
  if (s->kind == SpanKind::Follower) {   // a group's block: its leader owns it
    s = s - s->lead_back;
    if (s->owner.load(std::memory_order_relaxed) == h) return local_free_slow(h, s, static_cast<Block*>(p));
  }
  Heap* owner = s->owner.load(std::memory_order_acquire);
  if (NUMA_AGENT_UNLIKELY(owner == nullptr)) return;   // not a live block (double free): keep it out
  NUMA_AGENT_ASSERT(owner != h);
  auto* b = static_cast<Block*>(p);
  if (h == &g_detached_heap || h == &g_exited_heap) {   // shared placeholders: no outbox of their own
    push_remote(owner, b, b);
    return;
  }
  ++h->counters.remote_frees_sent;
  Heap::Outbox* box = nullptr;
  Heap::Outbox* unused = nullptr;
  for (auto& o : h->outbox) {
    if (o.owner == owner) {
      box = &o;
      break;
    }
    if (!unused && o.count == 0) unused = &o;
  }
  if (!box) {   // a free slot, or else the slots in turn: the one taken is pushed first
    box = unused;
    if (!box) {
      box = &h->outbox[h->outbox_victim++ % kOutboxSlots];
      push_remote(box->owner, box->head, box->tail);
    }
    *box = Heap::Outbox{owner, nullptr, b, 0};
  }
  b->next = box->head;
  box->head = b;
  if (++box->count == kOutboxBlocks) {
    push_remote(owner, box->head, box->tail);
    *box = Heap::Outbox{};
  }
}

void PoolAllocator::collect_remote(Heap* h) {
  if (h->remote_free.load(std::memory_order_relaxed) == nullptr) return;
  Block* chains = h->remote_free.exchange(nullptr, std::memory_order_acquire);
  constexpr int kLanes = 4;   // chains walked side by side
  Block* lane[kLanes];
  int lanes = 0;
  while (chains || lanes) {
    while (lanes < kLanes && chains) {
      lane[lanes++] = chains;
      chains = chains->next_chain;
    }
    for (int i = 0; i < lanes;) {
      Block* b = lane[i];
      Block* next = b->next;   // read before the free below reuses the word
      ++h->counters.remote_frees_collected;
      local_free_slow(h, block_span(b), b);
      if (next) lane[i++] = next;
      else lane[i] = lane[--lanes];
    }
  }
}

// Cuts up to one page of fresh blocks, and at least kMinCarveBlocks (fewer when sampling needs a
// finer grain), from the span's never-used tail, so a new span of small blocks costs one page of
// RSS, not 64 KiB, and one of 4..32 KiB blocks does not take the slow path for every block.
void PoolAllocator::carve(Heap* h, Span* s) {
  constexpr std::size_t kMinCarveBlocks = 4;   // a carve touches one page per block: <= 4 pages ahead
  const std::size_t bs = s->block_bytes;
  const std::size_t left = (s->carve_limit - s->carved) / bs;
  std::size_t batch = std::max<std::size_t>(kMinCarveBlocks, kPageBytes / bs);
  if (sample_bytes_) batch = std::min<std::size_t>(batch, std::max<std::uint64_t>(1, sample_bytes_ / bs));
  batch = std::min(batch, left);
  char* first = span_base(s) + s->carved;
  char* p = first;
  for (std::size_t i = 1; i < batch; ++i, p += bs) reinterpret_cast<Block*>(p)->next = reinterpret_cast<Block*>(p + bs);
  reinterpret_cast<Block*>(p)->next = s->free;
  s->free = reinterpret_cast<Block*>(first);
  s->carved += static_cast<std::uint32_t>(batch * bs);
  if (sample_bytes_) {
    h->sample_credit += batch * bs;
    if (h->sample_credit >= sample_bytes_) {
      h->sample_credit -= sample_bytes_;
      record_sample(h, bs);
    }
  }
}

void* PoolAllocator::refill(Heap* h, unsigned cls) {
  Span* s = h->current[cls];
  if (s != &g_empty_span) {
    if (!s->free && s->carved < s->carve_limit) carve(h, s);
    if (!s->free) {
      // Exhausted: it leaves the current slot full (every block is out).
      NUMA_AGENT_ASSERT(s->used >= 2);   // its extra count and at least one live block
      h->current[cls] = &g_empty_span;
      --s->used;
      s->full = 1;
      s = nullptr;
    }
  } else {
    s = nullptr;
  }
  if (!s) {
    s = h->available[cls];
    if (s) {
      NUMA_AGENT_ASSERT(s->cls == cls && !s->full);
      unlink_available(h, s);
    } else {
      s = class_uses_group(cls) ? acquire_group(h->node) : acquire_span(h->node);
      if (!s) return nullptr;
      ++h->counters.spans_acquired;
      s->kind = SpanKind::Small;
      s->cls = static_cast<std::uint16_t>(cls);
      s->block_bytes = static_cast<std::uint32_t>(class_bytes(cls));
      s->carved = 0;
      s->carve_limit = static_cast<std::uint32_t>(class_span_bytes(cls) / class_bytes(cls) * class_bytes(cls));
      s->free = nullptr;
      s->used = 0;
      s->full = 0;
      s->owner.store(h, std::memory_order_relaxed);
    }
    ++s->used;   // the current span's extra count: it never looks empty while current
    h->current[cls] = s;
    if (!s->free) carve(h, s);
  }
  Block* b = s->free;
  s->free = b->next;
  ++s->used;
  ++h->counters.pool_allocs;
  return b;
}

void* PoolAllocator::alloc_slow(Heap* h, std::size_t n) {
  if (!started()) {
    if (count_off_) note_pools_off();
    return nullptr;
  }
  if (h == &g_exited_heap) {
    exited_fallthroughs_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (h == &g_detached_heap) {
    h = attach_heap();
    if (!h) return nullptr;
  } else if (node_count_ > 1 && n <= small_max_) {
    h = follow_thread(h);
  }
  NUMA_AGENT_ASSERT(h->state == HeapState::Active && h->node >= 0 && h->node < node_count_);
  ++h->counters.slow_allocs;
  if (n > small_max_) {
    ++h->counters.fallthrough[static_cast<unsigned>(FallReason::TooLarge)];
    return nullptr;
  }
  collect_remote(h);
  void* p = refill(h, class_of(n));
  if (!p) {
    FallReason why = nodes_[h->node].usable ? FallReason::ArenaFull : FallReason::OsError;
    ++h->counters.fallthrough[static_cast<unsigned>(why)];
  }
  return p;
}

void* PoolAllocator::alloc_aligned(Heap* h, std::size_t alignment, std::size_t n) {
  // The smallest class that holds n and whose block size is a multiple of the alignment: its
  // blocks sit at multiples of their size from a 64 KiB-aligned span start.
  unsigned cls = class_of(n);
  while (cls < kClassCount && class_bytes(cls) % alignment != 0) ++cls;
  if (cls > max_class_ || n > small_max_) {
    if (started() && h != &g_detached_heap && h != &g_exited_heap)
      ++h->counters.fallthrough[static_cast<unsigned>(FallReason::Alignment)];
    else if (!started() && count_off_)
      note_pools_off();
    return nullptr;
  }
  const std::size_t bytes = class_bytes(cls);
  void* p = try_alloc(h, bytes);
  return p ? p : alloc_slow(h, bytes);
}

// ---- sampling -------------------------------------------------------------------------------

void PoolAllocator::record_sample(Heap* h, std::size_t bytes) {
  void* frames[kSampleDepth];
  const int depth = os_.backtrace(frames, kSampleDepth);
  if (depth <= 0) return;
  ++h->counters.samples;
  samples_.record(frames, depth, bytes, h->node);
}

// ---- fork -----------------------------------------------------------------------------------

void PoolAllocator::fork_prepare() {
  if (!started()) return;
  for (int i = 0; i < node_count_; ++i) nodes_[i].lock.lock();
  samples_.lock_for_fork();
}

void PoolAllocator::fork_parent() {
  if (!started()) return;
  samples_.unlock_after_fork();
  for (int i = node_count_ - 1; i >= 0; --i) nodes_[i].lock.unlock();
}

void PoolAllocator::fork_child() {
  if (!started()) return;
  // Only the forking thread exists in the child: fresh locks, and every other thread's heap is
  // abandoned so that its blocks can be freed (remote frees) and its spans reused by adoption.
  samples_.reset_lock_in_child();
  for (int i = 0; i < node_count_; ++i) new (&nodes_[i].lock) std::mutex();
  Heap* survivor = *hooks_.slot();
  for (int i = 0; i < node_count_; ++i) {
    Heap* list;
    {
      std::lock_guard g(nodes_[i].lock);
      list = nodes_[i].heaps;
    }
    for (Heap* h = list; h; h = h->next_in_node)
      if (h != survivor && h->state == HeapState::Active) abandon(h);
  }
}

}  // namespace numa_agent::pool
