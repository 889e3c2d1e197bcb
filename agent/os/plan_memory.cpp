// Memory policies and module identities for placement plans (agent/plan_heap.cpp, agent/plan.cpp).
#include <elf.h>
#include <link.h>
#include <numaif.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os.hpp"

namespace numa_agent::os {

int set_memory_policy(void* addr, std::size_t bytes, MemoryPolicy policy, const unsigned long* nodes) {
  int mode = MPOL_BIND;
  if (policy == MemoryPolicy::Preferred) mode = MPOL_PREFERRED;
  else if (policy == MemoryPolicy::Interleave) mode = MPOL_INTERLEAVE;
  long rc = syscall(SYS_mbind, addr, bytes, mode, nodes, 1024ul, 0u);
  return rc == 0 ? 0 : -errno;
}

int return_to_reservation(void* addr, std::size_t bytes) {
  void* p = mmap(addr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? -errno : 0;
}

int memory_policy_at(const void* addr, int* mode, unsigned long* nodes) {
  long rc = syscall(SYS_get_mempolicy, mode, nodes, 1024ul, addr, MPOL_F_ADDR);
  return rc == 0 ? 0 : -errno;
}

namespace {

std::string hex_of(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

// The NT_GNU_BUILD_ID note of a loaded object, read from its mapped PT_NOTE segments.
std::string build_id_of(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto at = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = at + ph.p_memsz;
    while (at + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, at, sizeof note);
      const unsigned char* name = at + sizeof note;
      const unsigned char* desc = name + ((note.n_namesz + 3) & ~3u);
      if (desc + note.n_descsz > end) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0)
        return hex_of(desc, note.n_descsz);
      at = desc + ((note.n_descsz + 3) & ~3u);
    }
  }
  return {};
}

}  // namespace

std::vector<LoadedModule> loaded_modules() {
  std::vector<LoadedModule> out;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        LoadedModule m;
        m.path = info->dlpi_name ? info->dlpi_name : "";
        m.bias = info->dlpi_addr;
        m.build_id = build_id_of(info);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          m.segments.push_back({ph.p_vaddr, ph.p_offset, ph.p_memsz, (ph.p_flags & PF_X) != 0});
        }
        static_cast<std::vector<LoadedModule>*>(data)->push_back(std::move(m));
        return 0;
      },
      &out);
  return out;
}

}  // namespace numa_agent::os
