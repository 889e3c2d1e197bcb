// Address-space reservation, commit and NUMA binding for the pools; page-node queries.
#include <malloc.h>
#include <numaif.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "os.hpp"

namespace numa_agent::os {

void* reserve_address_space(std::size_t bytes, std::size_t alignment) {
  // Over-reserve, then trim, to get the alignment; PROT_NONE costs no commit charge even under
  // vm.overcommit_memory=2.
  const std::size_t span = bytes + alignment;
  void* p = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto base = reinterpret_cast<std::uintptr_t>(p);
  std::uintptr_t aligned = alignment ? (base + alignment - 1) & ~(alignment - 1) : base;
  if (aligned > base) munmap(p, aligned - base);
  std::uintptr_t end = aligned + bytes;
  if (base + span > end) munmap(reinterpret_cast<void*>(end), base + span - end);
  return reinterpret_cast<void*>(aligned);
}

int commit(void* addr, std::size_t bytes) {
  return mprotect(addr, bytes, PROT_READ | PROT_WRITE) == 0 ? 0 : -errno;
}

int decommit(void* addr, std::size_t bytes) {
  return madvise(addr, bytes, MADV_DONTNEED) == 0 ? 0 : -errno;
}

int bind_preferred(void* addr, std::size_t bytes, int os_node) {
  if (os_node < 0 || os_node >= 1024) return -EINVAL;
  unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {};
  mask[static_cast<unsigned>(os_node) / (8 * sizeof(unsigned long))] |=
      1ul << (static_cast<unsigned>(os_node) % (8 * sizeof(unsigned long)));
  long rc = syscall(SYS_mbind, addr, bytes, MPOL_PREFERRED, mask, 1024ul, 0u);
  return rc == 0 ? 0 : -errno;
}

void* map_anonymous(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

int unmap(void* addr, std::size_t bytes) { return munmap(addr, bytes) == 0 ? 0 : -errno; }

int page_nodes(int pid, const void* const* pages, std::size_t count, int* out) {
  long rc = syscall(SYS_move_pages, pid, count, pages, nullptr, out, 0);
  return rc == 0 ? 0 : -errno;
}

std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

int set_glibc_malloc_thresholds(std::size_t mmap_bytes, std::size_t trim_bytes) {
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_bytes)) != 1) return -EINVAL;
  if (mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_bytes)) != 1) return -EINVAL;
  return 0;
}

}  // namespace numa_agent::os
