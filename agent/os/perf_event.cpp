// See perf_event.hpp.
#include "perf_event.hpp"

#include <dirent.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "procfs.hpp"

namespace numa_agent::os {

// analyzer/perf_abi.hpp restates these values without the kernel header; keep them honest.
static_assert(PERF_TYPE_SOFTWARE == 1 && PERF_TYPE_HW_CACHE == 3 && PERF_TYPE_TRACEPOINT == 2);
static_assert(PERF_SAMPLE_IP == 1 << 0 && PERF_SAMPLE_TID == 1 << 1 && PERF_SAMPLE_TIME == 1 << 2 &&
              PERF_SAMPLE_ADDR == 1 << 3 && PERF_SAMPLE_CPU == 1 << 7 && PERF_SAMPLE_PERIOD == 1 << 8 &&
              PERF_SAMPLE_WEIGHT == 1 << 14 && PERF_SAMPLE_DATA_SRC == 1 << 15 &&
              PERF_SAMPLE_PHYS_ADDR == 1 << 19 && PERF_SAMPLE_WEIGHT_STRUCT == 1ULL << 24);
static_assert(PERF_RECORD_SAMPLE == 9 && PERF_RECORD_LOST == 2 && PERF_RECORD_COMM == 3 &&
              PERF_RECORD_EXIT == 4 && PERF_RECORD_FORK == 7 && PERF_RECORD_THROTTLE == 5);
static_assert(PERF_COUNT_SW_PAGE_FAULTS == 2 && PERF_COUNT_SW_CPU_MIGRATIONS == 4);
static_assert(PERF_COUNT_HW_CACHE_NODE == 6 && PERF_COUNT_HW_CACHE_RESULT_MISS == 1);
static_assert(PERF_MEM_LVL_SHIFT == 5 && PERF_MEM_SNOOP_SHIFT == 19 && PERF_MEM_LOCK_SHIFT == 24 &&
              PERF_MEM_TLB_SHIFT == 26 && PERF_MEM_LVLNUM_SHIFT == 33 && PERF_MEM_REMOTE_SHIFT == 37 &&
              PERF_MEM_SNOOPX_SHIFT == 38 && PERF_MEM_BLK_SHIFT == 40 && PERF_MEM_HOPS_SHIFT == 43);

int perf_event_open(const PerfEventSpec& spec, int pid, int cpu) {
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = spec.type;
  attr.config = spec.config;
  attr.config1 = spec.config1;
  attr.config2 = spec.config2;
  if (spec.freq) {
    attr.freq = 1;
    attr.sample_freq = spec.sample_period;
  } else {
    attr.sample_period = spec.sample_period;
  }
  attr.sample_type = spec.sample_type;
  attr.disabled = spec.disabled;
  attr.inherit = spec.inherit;
  attr.enable_on_exec = spec.enable_on_exec;
  attr.exclude_kernel = spec.exclude_kernel;
  attr.exclude_hv = spec.exclude_hv;
  attr.task = spec.task;
  attr.comm = spec.comm;
  attr.exclude_callchain_kernel = spec.exclude_callchain_kernel;
  attr.sample_max_stack = spec.sample_max_stack;
  attr.precise_ip = static_cast<unsigned>(spec.precise_ip) & 3u;
  if (spec.clockid >= 0) {
    attr.use_clockid = 1;
    attr.clockid = spec.clockid;
  }
  attr.watermark = spec.wakeup_watermark > 0;
  attr.wakeup_watermark = spec.wakeup_watermark;
  long fd = syscall(SYS_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

int monotonic_clock_id() { return CLOCK_MONOTONIC; }

int perf_event_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) == 0 ? 0 : -errno; }
int perf_event_disable(int fd) { return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0) == 0 ? 0 : -errno; }

Result<std::uint64_t> perf_event_read_count(int fd) {
  std::uint64_t value = 0;
  ssize_t n = read(fd, &value, sizeof(value));
  if (n < 0) return fail(errno, "read(perf event)");
  if (n != static_cast<ssize_t>(sizeof(value))) return fail(EIO, "read(perf event): short read");
  return value;
}

int close_fd(int fd) { return close(fd) == 0 ? 0 : -errno; }

Result<PerfRing> perf_ring_map(int fd, std::size_t data_pages) {
  if (data_pages == 0 || (data_pages & (data_pages - 1)) != 0) return fail(EINVAL, "perf ring: pages not a power of two");
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t bytes = (data_pages + 1) * page;
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail(errno, "mmap(perf ring)");
  return PerfRing{base, bytes, data_pages * page};
}

int perf_ring_unmap(PerfRing& ring) {
  if (!ring.base) return 0;
  int rc = munmap(ring.base, ring.mapped_bytes) == 0 ? 0 : -errno;
  ring = PerfRing{};
  return rc;
}

std::size_t perf_ring_drain(const PerfRing& ring, std::string& out) {
  if (!ring.base) return 0;
  auto* meta = static_cast<perf_event_mmap_page*>(ring.base);
  const char* data = static_cast<const char*>(ring.base) + (ring.mapped_bytes - ring.data_bytes);
  // data_head is written by the kernel: acquire before reading the bytes it covers.
  std::uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
  std::uint64_t tail = meta->data_tail;
  std::size_t available = static_cast<std::size_t>(head - tail);
  std::size_t start = static_cast<std::size_t>(tail % ring.data_bytes);
  std::size_t first = std::min(available, ring.data_bytes - start);
  out.append(data + start, first);
  out.append(data, available - first);
  // Release: the kernel may overwrite the space only after we have copied it.
  __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
  return available;
}

Result<std::vector<std::string>> pmu_names() {
  const char* dir_path = "/sys/bus/event_source/devices";
  DIR* dir = opendir(dir_path);
  if (!dir) return fail(errno, dir_path);
  std::vector<std::string> names;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  closedir(dir);
  return names;
}

Result<int> perf_event_paranoid() {
  auto text = read_text_file("/proc/sys/kernel/perf_event_paranoid");
  if (!text) return fail(text.error());
  try {
    return std::stoi(*text);
  } catch (...) {
    return fail(EINVAL, "/proc/sys/kernel/perf_event_paranoid: not a number");
  }
}

}  // namespace numa_agent::os
