// Pure decoding of the perf ring buffer: records as bytes in, typed records out, and the
// classification of PERF_SAMPLE_DATA_SRC into the categories `perf mem` / `perf c2c` use.
// No system headers: the recorder copies ring bytes with os::perf_ring_drain and hands them here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/error.hpp"
#include "analyzer/model/mem_class.hpp"

namespace numa_agent::analyzer {

// union perf_mem_data_src, field by field.
struct DataSource {
  std::uint64_t op = 0, lvl = 0, snoop = 0, lock = 0, tlb = 0, lvl_num = 0, remote = 0, snoopx = 0, blk = 0,
                hops = 0;
};
DataSource decode_data_src(std::uint64_t raw);
std::uint64_t encode_data_src(const DataSource& source);

MemClass classify_data_src(const DataSource& source);
inline bool is_load(const DataSource& s) { return (s.op & 0x2) != 0; }

struct SampleRecord {
  std::uint64_t identifier = 0, ip = 0;
  std::uint32_t pid = 0, tid = 0;
  std::uint64_t time = 0, addr = 0, id = 0, stream_id = 0;
  std::uint32_t cpu = 0;
  std::uint64_t period = 0;
  std::vector<std::uint64_t> callchain;
  std::string raw;
  std::uint64_t weight = 0;           // PERF_SAMPLE_WEIGHT, or var1 (latency) of WEIGHT_STRUCT
  std::uint64_t data_src = 0, transaction = 0, phys_addr = 0, cgroup = 0, data_page_size = 0,
                code_page_size = 0;
};
struct TaskRecord {       // PERF_RECORD_FORK / PERF_RECORD_EXIT
  bool exit = false;
  std::uint32_t pid = 0, ppid = 0, tid = 0, ptid = 0;
  std::uint64_t time = 0;
};
struct CommRecord {
  std::uint32_t pid = 0, tid = 0;
  std::string comm;
};
struct LostRecord {       // PERF_RECORD_LOST: the kernel dropped `lost` records (ring full)
  std::uint64_t id = 0, lost = 0;
};
struct OtherRecord {
  std::uint32_t type = 0;
};
using PerfRecord = std::variant<SampleRecord, TaskRecord, CommRecord, LostRecord, OtherRecord>;

struct DecodeResult {
  std::vector<PerfRecord> records;
  std::size_t consumed = 0;   // bytes of complete records; a partial trailing record is left
  std::optional<Error> error; // a malformed record at `consumed` (code EINVAL); the records before it stand
};
// Decodes the records in `bytes` produced by events opened with `sample_type` (and
// sample_id_all off). sample_type bits that need more context (READ, BRANCH_STACK, REGS_*,
// STACK_USER, AUX) are rejected with an error.
DecodeResult decode_records(std::string_view bytes, std::uint64_t sample_type);

// PERF_SAMPLE_CALLCHAIN interleaves context markers (PERF_CONTEXT_KERNEL, _USER, ...: the values
// from PERF_CONTEXT_MAX up) with addresses.
inline constexpr std::uint64_t kPerfContextMax = static_cast<std::uint64_t>(-4095);
inline constexpr std::uint64_t kPerfContextUser = static_cast<std::uint64_t>(-512);
// The user-space return addresses of a sample, innermost first (the sampled ip itself first),
// at most `max_depth`: the frames after PERF_CONTEXT_USER (all of them when there is no marker),
// or just {ip} when the sample has no callchain.
std::vector<std::uint64_t> user_frames(const SampleRecord& sample, std::size_t max_depth);

}  // namespace numa_agent::analyzer
