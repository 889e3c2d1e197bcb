#include "plan_heap.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "log_line.hpp"
#include "printable.hpp"
#include "os/launch.hpp"

namespace numa_agent::plan {

constinit std::atomic<bool> g_active{false};
constinit std::uintptr_t g_reservation_start = 0;
constinit std::uintptr_t g_reservation_bytes = 0;

namespace {

constexpr std::size_t kMaxSites = 64;
constexpr std::size_t kMaxParts = 16;
constexpr std::size_t kMaxFreeExtents = 256;
// Virtual address space for planned blocks (PROT_NONE, no commit charge until a block is made).
constexpr std::size_t kReservationBytes = std::size_t{256} << 30;
// Freed planned blocks up to this size stay mapped, policy and pages kept, for the next request of
// their site (a program that allocates and frees a planned buffer per iteration then makes no
// syscall); larger ones go back at once, as glibc unmaps blocks above its mmap threshold (which
// the agent sets to 4 MiB, interpose/malloc.cpp).
constexpr std::size_t kCachedBlocksPerSite = 4;
constexpr std::size_t kCachedBlockMax = std::size_t{4} << 20;
constexpr std::uint64_t kBlockMagic = 0x6e756d61706c616eull;   // "numaplan"

struct NodeMask {
  unsigned long words[os::kNodeMaskWords] = {};
  void set(int node) { words[node / (8 * sizeof(unsigned long))] |= 1ul << (node % (8 * sizeof(unsigned long))); }
};

// A plan site with this run's addresses; fixed size so that matching never allocates.
struct RuntimeSite {
  std::uintptr_t start = 0, end = 0;   // return addresses covered
  std::size_t size_min = 0, size_max = 0;
  Policy policy = Policy::Interleave;
  NodeMask nodes;
  std::size_t part_count = 0;
  struct RuntimePart {
    double from, to;
    NodeMask node;
  } parts[kMaxParts];
};

constinit std::array<RuntimeSite, kMaxSites> g_sites{};
struct SiteCache {
  std::uintptr_t data[kCachedBlocksPerSite];
  std::size_t count;
};
constinit std::array<SiteCache, kMaxSites> g_cache{};   // under g_lock
constinit std::size_t g_site_count = 0;
constinit std::size_t g_smallest_planned = SIZE_MAX;
constinit std::atomic<std::uint64_t> g_blocks{0}, g_reused{0}, g_bytes{0}, g_refused{0};   // quick reject of every smaller request

// The header page before a block's data (the data starts page-aligned, so each block's pages are
// its own and mbind on them touches no other block).
struct BlockHeader {
  std::uint64_t magic;
  std::uintptr_t extent_start;
  std::size_t extent_bytes;
  std::size_t data_bytes;   // usable: the request rounded up to pages
  std::size_t site;         // index into g_sites: a grown block keeps its site's policy
};

// Address space handed out so far (bump) and extents given back (first fit).
struct Extent {
  std::uintptr_t start;
  std::size_t bytes;
};
constinit std::atomic_flag g_lock = ATOMIC_FLAG_INIT;
constinit std::uintptr_t g_bump = 0;
constinit std::array<Extent, kMaxFreeExtents> g_free{};
constinit std::size_t g_free_count = 0;
constinit std::size_t g_page = 4096;

// Held for a few instructions. Bounded: a child forked while another thread held it would wait
// forever; after the bound the caller gives up (the real allocator serves the block, or the
// released addresses stay unused), which is always safe.
struct SpinGuard {
  bool held = false;
  SpinGuard() {
    for (int spins = 0; spins < (1 << 20); ++spins)
      if (!g_lock.test_and_set(std::memory_order_acquire)) {
        held = true;
        return;
      }
  }
  ~SpinGuard() {
    if (held) g_lock.clear(std::memory_order_release);
  }
};

std::uintptr_t take_extent(std::size_t bytes) {
  SpinGuard guard;
  if (!guard.held) return 0;
  for (std::size_t i = 0; i < g_free_count; ++i)
    if (g_free[i].bytes >= bytes) {
      const std::uintptr_t at = g_free[i].start;
      g_free[i].start += bytes;
      g_free[i].bytes -= bytes;
      if (g_free[i].bytes == 0) g_free[i] = g_free[--g_free_count];
      return at;
    }
  const std::uintptr_t end = g_reservation_start + g_reservation_bytes;
  if (end - g_bump < bytes) return 0;
  const std::uintptr_t at = g_bump;
  g_bump += bytes;
  return at;
}

void give_back_extent(std::uintptr_t start, std::size_t bytes) {
  SpinGuard guard;
  if (!guard.held) return;
  for (std::size_t i = 0; i < g_free_count; ++i) {   // merge with a neighbour when there is one
    if (g_free[i].start + g_free[i].bytes == start) {
      g_free[i].bytes += bytes;
      return;
    }
    if (start + bytes == g_free[i].start) {
      g_free[i].start = start;
      g_free[i].bytes += bytes;
      return;
    }
  }
  if (start + bytes == g_bump) {
    g_bump = start;
    return;
  }
  if (g_free_count < kMaxFreeExtents) g_free[g_free_count++] = {start, bytes};
  // else: the addresses stay unused (the reservation is large; the pages themselves were freed)
}

// One line straight to stderr from inside an allocation (no formatting library, no heap), in the
// agent's "numa-agent[PID]: warning: ..." form.
void warn_mbind_refused(int error) {
  char line[256] = "numa-agent[";
  std::size_t at = std::strlen(line);
  char digits[16];
  int n = 0;
  for (unsigned pid = static_cast<unsigned>(os::current_pid()); n == 0 || pid; pid /= 10) digits[n++] = char('0' + pid % 10);
  while (n) line[at++] = digits[--n];
  const char* name = os::errno_name(-error);
  for (const char* part : {"]: warning: mbind refused a planned block (", name ? name : "error",
                           "); the plan is off, the program's allocator serves every block from now on\n"})
    for (; *part && at + 1 < sizeof line; ++part) line[at++] = *part;
  os::write_stderr(std::string_view(line, at));
}

int apply_policy(const RuntimeSite& site, std::uintptr_t data, std::size_t bytes) {
  void* at = reinterpret_cast<void*>(data);
  switch (site.policy) {
    case Policy::Interleave: return os::set_memory_policy(at, bytes, os::MemoryPolicy::Interleave, site.nodes.words);
    case Policy::Bind: return os::set_memory_policy(at, bytes, os::MemoryPolicy::Bind, site.nodes.words);
    case Policy::Prefer: return os::set_memory_policy(at, bytes, os::MemoryPolicy::Preferred, site.nodes.words);
    case Policy::Partition: break;
  }
  const std::size_t pages = bytes / g_page;
  for (std::size_t i = 0; i < site.part_count; ++i) {
    const auto& part = site.parts[i];
    const std::size_t first = static_cast<std::size_t>(part.from * static_cast<double>(pages));
    const std::size_t last = part.to >= 1.0 ? pages : static_cast<std::size_t>(part.to * static_cast<double>(pages));
    if (last <= first) continue;
    if (int rc = os::set_memory_policy(reinterpret_cast<void*>(data + first * g_page), (last - first) * g_page,
                                       os::MemoryPolicy::Bind, part.node.words);
        rc < 0)
      return rc;
  }
  return 0;
}

// Where the module's file offset `offset` is in this run, through its loadable segments.
bool runtime_address(const os::LoadedModule& m, std::uint64_t offset, std::uintptr_t& out) {
  for (const auto& seg : m.segments)
    if (offset >= seg.file_offset && offset <= seg.file_offset + seg.bytes) {
      out = m.bias + seg.vaddr + (offset - seg.file_offset);
      return true;
    }
  return false;
}

}  // namespace

Result<std::size_t> install(const Plan& plan, std::span<const os::LoadedModule> modules) {
  if (plan.sites.empty()) return std::size_t{0};
  const os::LoadedModule* module = nullptr;
  for (const auto& m : modules)
    if (m.build_id == plan.build_id) module = &m;
  if (!module)
    return fail(0, "is for build-id " + plan.build_id + (plan.program.empty() ? "" : " (" + plan.program + ")") +
                       ", which no object of this process has (the program was rebuilt?)");
  if (plan.sites.size() > kMaxSites)
    return fail(0, "has " + std::to_string(plan.sites.size()) + " sites; the agent holds " + std::to_string(kMaxSites));
  std::array<RuntimeSite, kMaxSites> sites{};
  std::size_t smallest = SIZE_MAX;
  for (std::size_t i = 0; i < plan.sites.size(); ++i) {
    const Site& s = plan.sites[i];
    RuntimeSite& r = sites[i];
    if (!runtime_address(*module, s.offset_start, r.start) || !runtime_address(*module, s.offset_end, r.end))
      return fail(0, "site " + std::to_string(i + 1) + " (" + s.site + ") is outside the module's loaded segments");
    r.size_min = s.size_min;
    r.size_max = s.size_max;
    r.policy = s.policy;
    for (int n : s.nodes) r.nodes.set(n);
    if (s.parts.size() > kMaxParts)
      return fail(0, "site " + std::to_string(i + 1) + " has more than " + std::to_string(kMaxParts) + " parts");
    for (const Part& p : s.parts) {
      auto& part = r.parts[r.part_count++];
      part.from = p.from;
      part.to = p.to;
      part.node = {};
      part.node.set(p.node);
    }
    smallest = std::min<std::size_t>(smallest, s.size_min);
  }
  g_page = os::page_size();
  void* reservation = os::reserve_address_space(kReservationBytes, g_page);
  if (!reservation) return fail(ENOMEM, "cannot be applied: no address space for planned blocks");
  g_sites = sites;
  g_site_count = plan.sites.size();
  g_smallest_planned = std::max<std::size_t>(smallest, 1);
  g_reservation_start = reinterpret_cast<std::uintptr_t>(reservation);
  g_bump = g_reservation_start;
  g_reservation_bytes = kReservationBytes;
  g_active.store(true, std::memory_order_release);
  return plan.sites.size();
}

void load_plan_file(const std::string& plan_path, LogLevel log) {
  // The value comes from the environment: one bounded, escaped line whatever it holds.
  const std::string path = printable(plan_path);
  const auto warn = [&](const std::string& why) {
    write_log_line(LogLevel::Warn, log, "NUMA_AGENT_PLAN " + path + " " + why + "; running without a plan");
  };
  auto text = os::read_file(plan_path);
  if (!text) {
    warn(std::string("cannot be read (") + (os::errno_name(text.error().code) ? os::errno_name(text.error().code) : "error") + ")");
    return;
  }
  auto plan = parse_plan(*text);
  if (!plan) {
    warn("is not a valid plan: " + plan.error().what);
    return;
  }
  const auto modules = os::loaded_modules();
  // Another program of the process tree (a shell, a tool the program runs) inherits the variable:
  // that is no error, and saying so in every process would bury the one warning that matters (the
  // plan's own program rebuilt since the recording).
  const bool loaded = std::any_of(modules.begin(), modules.end(), [&](const os::LoadedModule& m) { return m.build_id == plan->build_id; });
  const auto exe = os::executable_path();
  const auto base = [](const std::string& p) { return p.substr(p.rfind('/') + 1); };
  if (!loaded && !plan->sites.empty() && !plan->program.empty() && exe && base(*exe) != base(plan->program)) {
    write_log_line(LogLevel::Info, log, "NUMA_AGENT_PLAN " + path + " is for " + plan->program + ", not " + *exe + ": not applied");
    return;
  }
  auto installed = install(*plan, modules);
  if (!installed) {
    warn(installed.error().what);
    return;
  }
  write_log_line(LogLevel::Info, log,
                 "plan " + path + ": " + std::to_string(*installed) + " site(s) for build-id " + plan->build_id +
                     (*installed ? "" : " (an empty plan: nothing to change)"));
}

namespace {

const BlockHeader* header_of(std::uintptr_t data) { return reinterpret_cast<const BlockHeader*>(data - g_page); }

// A cached block of site `index` that holds `n` bytes without wasting half of it, aligned; or 0.
std::uintptr_t take_cached(std::size_t index, std::size_t n, std::size_t alignment) {
  SpinGuard guard;
  if (!guard.held) return 0;
  SiteCache& cache = g_cache[index];
  for (std::size_t i = 0; i < cache.count; ++i) {
    const std::uintptr_t data = cache.data[i];
    const std::size_t have = header_of(data)->data_bytes;
    if (have >= n && have / 2 < n && data % alignment == 0) {
      cache.data[i] = cache.data[--cache.count];
      return data;
    }
  }
  return 0;
}

bool keep_cached(std::uintptr_t data) {
  const BlockHeader* h = header_of(data);
  if (h->data_bytes > kCachedBlockMax) return false;
  SpinGuard guard;
  if (!guard.held) return false;
  SiteCache& cache = g_cache[h->site];
  if (cache.count == kCachedBlocksPerSite) return false;
  cache.data[cache.count++] = data;
  return true;
}

void* allocate_for_site(std::size_t index, std::size_t n, std::size_t alignment, bool zeroed) {
  if (const std::uintptr_t reused = take_cached(index, n, alignment)) {
    if (zeroed) std::memset(reinterpret_cast<void*>(reused), 0, n);
    g_blocks.fetch_add(1, std::memory_order_relaxed);
    g_reused.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(n, std::memory_order_relaxed);
    return reinterpret_cast<void*>(reused);
  }
  const RuntimeSite& site = g_sites[index];
  const std::size_t page = g_page;
  const std::size_t align = alignment > page ? alignment : page;
  if (n > g_reservation_bytes) return nullptr;
  const std::size_t data_bytes = (n + page - 1) & ~(page - 1);
  const std::size_t extent_bytes = data_bytes + align;   // the header page fits in the alignment slack
  const std::uintptr_t extent = take_extent(extent_bytes);
  if (!extent) return nullptr;
  const std::uintptr_t data = (extent + page + align - 1) & ~(align - 1);
  const std::uintptr_t header = data - page;
  if (os::commit(reinterpret_cast<void*>(header), page + data_bytes) < 0) {
    give_back_extent(extent, extent_bytes);
    return nullptr;
  }
  if (int rc = apply_policy(site, data, data_bytes); rc < 0) {
    (void)os::return_to_reservation(reinterpret_cast<void*>(header), page + data_bytes);
    give_back_extent(extent, extent_bytes);
    g_refused.fetch_add(1, std::memory_order_relaxed);
    if (g_active.exchange(false, std::memory_order_relaxed)) warn_mbind_refused(rc);
    return nullptr;
  }
  auto* h = reinterpret_cast<BlockHeader*>(header);   // the header page keeps the default policy
  *h = {kBlockMagic, extent, extent_bytes, data_bytes, index};
  g_blocks.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  return reinterpret_cast<void*>(data);
}

}  // namespace

void* allocate(std::size_t n, std::size_t alignment, const void* call_site, bool zeroed) {
  if (n < g_smallest_planned) return nullptr;
  const auto ra = reinterpret_cast<std::uintptr_t>(call_site);
  for (std::size_t i = 0; i < g_site_count; ++i) {
    const RuntimeSite& s = g_sites[i];
    if (ra - s.start < s.end - s.start && n >= s.size_min && n <= s.size_max) return allocate_for_site(i, n, alignment, zeroed);
  }
  return nullptr;
}

void* allocate_like(const void* p, std::size_t n) {
  if (!g_active.load(std::memory_order_relaxed)) return nullptr;
  const auto* h = reinterpret_cast<const BlockHeader*>(reinterpret_cast<std::uintptr_t>(p) - g_page);
  const RuntimeSite& s = g_sites[h->site];
  if (n < s.size_min || n > s.size_max) return nullptr;
  return allocate_for_site(h->site, n, 16, false);
}

void release(void* p) {
  const auto data = reinterpret_cast<std::uintptr_t>(p);
  auto* h = reinterpret_cast<BlockHeader*>(data - g_page);
  if ((data & (g_page - 1)) != 0 || h->magic != kBlockMagic) {
    os::write_stderr("numa-agent: free() of a pointer inside the plan's reservation that is no planned block\n");
    os::abort_process();
  }
  if (keep_cached(data)) return;
  const BlockHeader block = *h;
  (void)os::return_to_reservation(reinterpret_cast<void*>(data - g_page), g_page + block.data_bytes);
  give_back_extent(block.extent_start, block.extent_bytes);
}

Stats stats() {
  return {g_site_count, g_blocks.load(std::memory_order_relaxed), g_reused.load(std::memory_order_relaxed),
          g_bytes.load(std::memory_order_relaxed), g_refused.load(std::memory_order_relaxed)};
}

std::size_t usable_bytes(const void* p) {
  const auto data = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<const BlockHeader*>(data - g_page)->data_bytes;
}

}  // namespace numa_agent::plan
