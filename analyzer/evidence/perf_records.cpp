// See perf_records.hpp. Layouts: include/uapi/linux/perf_event.h (enum perf_event_type).
#include "analyzer/evidence/perf_records.hpp"

#include <cstdio>
#include <cstring>

#include "analyzer/evidence/perf_abi.hpp"

namespace numa_agent::analyzer {
namespace abi = perf_abi;

DataSource decode_data_src(std::uint64_t raw) {
  auto field = [raw](int shift, int bits) { return (raw >> shift) & ((1ULL << bits) - 1); };
  DataSource s;
  s.op = field(abi::kMemOpShift, 5);
  s.lvl = field(abi::kMemLvlShift, 14);
  s.snoop = field(abi::kMemSnoopShift, 5);
  s.lock = field(abi::kMemLockShift, 2);
  s.tlb = field(abi::kMemTlbShift, 7);
  s.lvl_num = field(abi::kMemLvlNumShift, 4);
  s.remote = field(abi::kMemRemoteShift, 1);
  s.snoopx = field(abi::kMemSnoopXShift, 2);
  s.blk = field(abi::kMemBlkShift, 3);
  s.hops = field(abi::kMemHopsShift, 3);
  return s;
}

std::uint64_t encode_data_src(const DataSource& s) {
  return (s.op << abi::kMemOpShift) | (s.lvl << abi::kMemLvlShift) | (s.snoop << abi::kMemSnoopShift) |
         (s.lock << abi::kMemLockShift) | (s.tlb << abi::kMemTlbShift) | (s.lvl_num << abi::kMemLvlNumShift) |
         (s.remote << abi::kMemRemoteShift) | (s.snoopx << abi::kMemSnoopXShift) |
         (s.blk << abi::kMemBlkShift) | (s.hops << abi::kMemHopsShift);
}

// Two encodings coexist: the legacy mem_lvl bit mask (AMD IBS fills it, with HOPS) and the
// numbered mem_lvl_num + mem_remote form (the only one Intel Skylake+ sets). perf's c2c decoder
// (tools/perf/util/mem-events.c, c2c_decode_stats) accepts either; so do we.
MemClass classify_data_src(const DataSource& s) {
  if (!(s.op & (abi::kMemOpLoad | abi::kMemOpStore))) return MemClass::Unknown;
  const bool hitm = (s.snoop & abi::kMemSnoopHitm) != 0;
  const bool lvl_remote_ram = (s.lvl & (abi::kMemLvlRemRam1 | abi::kMemLvlRemRam2)) != 0;
  const bool lvl_remote_cache = (s.lvl & (abi::kMemLvlRemCce1 | abi::kMemLvlRemCce2)) != 0;
  const bool num_dram = s.lvl_num == abi::kMemLvlNumRam || s.lvl_num == abi::kMemLvlNumPmem ||
                        s.lvl_num == abi::kMemLvlNumCxl;
  const bool num_cache = (s.lvl_num >= abi::kMemLvlNumL1 && s.lvl_num <= abi::kMemLvlNumMsc) ||
                         s.lvl_num == abi::kMemLvlNumAnyCache || s.lvl_num == abi::kMemLvlNumLfb;
  // HOPS_0 is another core of the same node; HOPS_1 and beyond are other nodes.
  const bool remote_hops = s.hops >= abi::kMemHops1;
  const bool remote = s.remote != 0 || remote_hops;

  if (lvl_remote_ram || (num_dram && remote)) return MemClass::RemoteDram;
  if (lvl_remote_cache || (num_cache && remote)) return hitm ? MemClass::RemoteHitm : MemClass::RemoteCache;
  if ((s.lvl & abi::kMemLvlLocRam) || num_dram) return MemClass::LocalDram;
  if ((s.lvl & (abi::kMemLvlUnc | abi::kMemLvlIo)) || s.lvl_num == abi::kMemLvlNumUnc ||
      s.lvl_num == abi::kMemLvlNumIo)
    return MemClass::Uncached;
  if ((s.lvl & (abi::kMemLvlL1 | abi::kMemLvlL2 | abi::kMemLvlL3 | abi::kMemLvlLfb)) || num_cache)
    return hitm ? MemClass::LocalHitm : MemClass::LocalCache;
  return MemClass::Unknown;
}

namespace {

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool u64(std::uint64_t& v) { return copy(&v, 8); }
  bool u32(std::uint32_t& v) { return copy(&v, 4); }
  bool skip(std::size_t n) {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool bytes(std::string& out, std::size_t n) {
    if (n > bytes_.size() - pos_) return false;
    out.assign(bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::string_view rest() const { return bytes_.substr(pos_); }

 private:
  bool copy(void* out, std::size_t n) {
    if (n > bytes_.size() - pos_) return false;
    std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

constexpr std::uint64_t kUnsupported = abi::kSampleRead | abi::kSampleBranchStack | abi::kSampleRegsUser |
                                       abi::kSampleStackUser | abi::kSampleRegsIntr | abi::kSampleAux;

bool decode_sample(Reader& r, std::uint64_t st, SampleRecord& s) {
  std::uint32_t u32_pad = 0;
  if ((st & abi::kSampleIdentifier) && !r.u64(s.identifier)) return false;
  if ((st & abi::kSampleIp) && !r.u64(s.ip)) return false;
  if ((st & abi::kSampleTid) && !(r.u32(s.pid) && r.u32(s.tid))) return false;
  if ((st & abi::kSampleTime) && !r.u64(s.time)) return false;
  if ((st & abi::kSampleAddr) && !r.u64(s.addr)) return false;
  if ((st & abi::kSampleId) && !r.u64(s.id)) return false;
  if ((st & abi::kSampleStreamId) && !r.u64(s.stream_id)) return false;
  if ((st & abi::kSampleCpu) && !(r.u32(s.cpu) && r.u32(u32_pad))) return false;
  if ((st & abi::kSamplePeriod) && !r.u64(s.period)) return false;
  if (st & abi::kSampleCallchain) {
    std::uint64_t nr = 0;
    if (!r.u64(nr) || nr > r.remaining() / 8) return false;
    s.callchain.resize(nr);
    for (auto& ip : s.callchain) r.u64(ip);
  }
  if (st & abi::kSampleRaw) {
    std::uint32_t size = 0;
    if (!r.u32(size) || !r.bytes(s.raw, size)) return false;
  }
  if (st & (abi::kSampleWeight | abi::kSampleWeightStruct)) {
    std::uint64_t w = 0;
    if (!r.u64(w)) return false;
    // WEIGHT_STRUCT: var1_dw (latency) in the low 32 bits on little-endian.
    s.weight = (st & abi::kSampleWeightStruct) ? (w & 0xffffffffULL) : w;
  }
  if ((st & abi::kSampleDataSrc) && !r.u64(s.data_src)) return false;
  if ((st & abi::kSampleTransaction) && !r.u64(s.transaction)) return false;
  if ((st & abi::kSamplePhysAddr) && !r.u64(s.phys_addr)) return false;
  if ((st & abi::kSampleCgroup) && !r.u64(s.cgroup)) return false;
  if ((st & abi::kSampleDataPageSize) && !r.u64(s.data_page_size)) return false;
  if ((st & abi::kSampleCodePageSize) && !r.u64(s.code_page_size)) return false;
  return true;
}

}  // namespace

DecodeResult decode_records(std::string_view bytes, std::uint64_t sample_type) {
  DecodeResult result;
  if (sample_type & kUnsupported) {
    result.error = Error{EINVAL, "unsupported sample_type bits 0x" + [&] {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(sample_type & kUnsupported));
      return std::string(buf);
    }()};
    return result;
  }
  std::size_t pos = 0;
  while (bytes.size() - pos >= 8) {
    std::uint32_t type = 0;
    std::uint16_t misc = 0, size = 0;
    std::memcpy(&type, bytes.data() + pos, 4);
    std::memcpy(&misc, bytes.data() + pos + 4, 2);
    std::memcpy(&size, bytes.data() + pos + 6, 2);
    (void)misc;
    if (size < 8 || size % 8 != 0) {
      result.error = Error{EINVAL, "malformed perf record: size " + std::to_string(size) + " at offset " + std::to_string(pos)};
      break;
    }
    if (size > bytes.size() - pos) break;   // partial record: wait for more bytes
    Reader body(bytes.substr(pos + 8, size - 8u));
    bool ok = true;
    switch (type) {
      case abi::kRecordSample: {
        SampleRecord s;
        ok = decode_sample(body, sample_type, s);
        if (ok) result.records.emplace_back(std::move(s));
        break;
      }
      case abi::kRecordFork:
      case abi::kRecordExit: {
        TaskRecord t;
        t.exit = type == abi::kRecordExit;
        ok = body.u32(t.pid) && body.u32(t.ppid) && body.u32(t.tid) && body.u32(t.ptid) && body.u64(t.time);
        if (ok) result.records.emplace_back(t);
        break;
      }
      case abi::kRecordComm: {
        CommRecord c;
        ok = body.u32(c.pid) && body.u32(c.tid);
        if (ok) {
          std::string_view rest = body.rest();
          c.comm = std::string(rest.substr(0, rest.find('\0')));
          result.records.emplace_back(std::move(c));
        }
        break;
      }
      case abi::kRecordLost: {
        LostRecord l;
        ok = body.u64(l.id) && body.u64(l.lost);
        if (ok) result.records.emplace_back(l);
        break;
      }
      case abi::kRecordLostSamples: {
        LostRecord l;
        ok = body.u64(l.lost);
        if (ok) result.records.emplace_back(l);
        break;
      }
      default:
        result.records.emplace_back(OtherRecord{type});
    }
    if (!ok) {
      result.error = Error{EINVAL, "truncated perf record of type " + std::to_string(type) + " (size " +
                                       std::to_string(size) + ") at offset " + std::to_string(pos)};
      break;
    }
    pos += size;
  }
  result.consumed = pos;
  return result;
}

std::vector<std::uint64_t> user_frames(const SampleRecord& sample, std::size_t max_depth) {
  std::vector<std::uint64_t> frames;
  bool has_user_marker = false;
  for (std::uint64_t ip : sample.callchain) has_user_marker |= ip == kPerfContextUser;
  bool in_user = !has_user_marker;
  for (std::uint64_t ip : sample.callchain) {
    if (ip >= kPerfContextMax) {
      in_user = ip == kPerfContextUser;
      continue;
    }
    if (in_user && ip != 0 && frames.size() < max_depth) frames.push_back(ip);
  }
  if (frames.empty() && sample.ip != 0 && max_depth > 0) frames.push_back(sample.ip);
  return frames;
}

}  // namespace numa_agent::analyzer
