// The perf ring decoder and the data_src classifier, on synthetic bytes.
#include <catch2/catch.hpp>

#include "analyzer/evidence/perf_abi.hpp"
#include "analyzer/evidence/perf_records.hpp"
#include "perf_synth.hpp"

using namespace numa_agent::analyzer;
namespace abi = numa_agent::analyzer::perf_abi;
using numa_agent::test::RecordBytes;

namespace {

struct DataSrcCase {
  const char* what;
  DataSource source;
  MemClass expected;
};

DataSource ds(std::uint64_t op, std::uint64_t lvl, std::uint64_t snoop = 0, std::uint64_t lvl_num = 0,
              std::uint64_t remote = 0, std::uint64_t hops = 0) {
  DataSource s;
  s.op = op, s.lvl = lvl, s.snoop = snoop, s.lvl_num = lvl_num, s.remote = remote, s.hops = hops;
  return s;
}

}  // namespace

TEST_CASE("every data_src encoding is classified as perf mem / c2c would") {
  using namespace abi;
  const DataSrcCase cases[] = {
      {"op not available", ds(kMemOpNa, kMemLvlNa), MemClass::Unknown},
      {"prefetch", ds(kMemOpPfetch, kMemLvlHit | kMemLvlL1), MemClass::Unknown},
      {"exec", ds(kMemOpExec, kMemLvlHit | kMemLvlL1), MemClass::Unknown},
      {"load, level not available", ds(kMemOpLoad, kMemLvlNa), MemClass::Unknown},
      {"load L1 hit", ds(kMemOpLoad, kMemLvlHit | kMemLvlL1, kMemSnoopNone), MemClass::LocalCache},
      {"load LFB hit", ds(kMemOpLoad, kMemLvlHit | kMemLvlLfb), MemClass::LocalCache},
      {"load L2 hit", ds(kMemOpLoad, kMemLvlHit | kMemLvlL2), MemClass::LocalCache},
      {"load L3 hit", ds(kMemOpLoad, kMemLvlHit | kMemLvlL3, kMemSnoopHit), MemClass::LocalCache},
      {"load L3 hit modified (lcl_hitm)", ds(kMemOpLoad, kMemLvlHit | kMemLvlL3, kMemSnoopHitm), MemClass::LocalHitm},
      {"store L1 hit", ds(kMemOpStore, kMemLvlHit | kMemLvlL1), MemClass::LocalCache},
      {"legacy local DRAM", ds(kMemOpLoad, kMemLvlHit | kMemLvlLocRam, kMemSnoopMiss), MemClass::LocalDram},
      {"legacy remote DRAM 1 hop", ds(kMemOpLoad, kMemLvlHit | kMemLvlRemRam1), MemClass::RemoteDram},
      {"legacy remote DRAM 2 hops", ds(kMemOpLoad, kMemLvlHit | kMemLvlRemRam2), MemClass::RemoteDram},
      {"legacy remote cache clean", ds(kMemOpLoad, kMemLvlHit | kMemLvlRemCce1, kMemSnoopHit), MemClass::RemoteCache},
      {"legacy remote cache modified", ds(kMemOpLoad, kMemLvlHit | kMemLvlRemCce2, kMemSnoopHitm), MemClass::RemoteHitm},
      {"numbered RAM, local (Intel SKL+)", ds(kMemOpLoad, 0, kMemSnoopNone, kMemLvlNumRam, 0), MemClass::LocalDram},
      {"numbered RAM, remote (Intel SKL+)", ds(kMemOpLoad, 0, kMemSnoopNone, kMemLvlNumRam, 1), MemClass::RemoteDram},
      {"numbered PMEM, remote", ds(kMemOpLoad, 0, 0, kMemLvlNumPmem, 1), MemClass::RemoteDram},
      {"numbered CXL, local", ds(kMemOpLoad, 0, 0, kMemLvlNumCxl, 0), MemClass::LocalDram},
      {"numbered L3, remote, modified", ds(kMemOpLoad, 0, kMemSnoopHitm, kMemLvlNumL3, 1), MemClass::RemoteHitm},
      {"numbered any cache, remote, clean", ds(kMemOpLoad, 0, kMemSnoopHit, kMemLvlNumAnyCache, 1), MemClass::RemoteCache},
      {"numbered L1, local", ds(kMemOpLoad, 0, 0, kMemLvlNumL1, 0), MemClass::LocalCache},
      {"numbered L2, local", ds(kMemOpLoad, 0, 0, kMemLvlNumL2, 0), MemClass::LocalCache},
      {"numbered L4, local", ds(kMemOpLoad, 0, 0, kMemLvlNumL4, 0), MemClass::LocalCache},
      {"numbered LFB", ds(kMemOpLoad, 0, 0, kMemLvlNumLfb, 0), MemClass::LocalCache},
      {"numbered MSC (memory-side cache)", ds(kMemOpLoad, 0, 0, kMemLvlNumMsc, 0), MemClass::LocalCache},
      {"AMD IBS remote DRAM: both forms + HOPS_1",
       ds(kMemOpLoad, kMemLvlHit | kMemLvlRemRam1, kMemSnoopNone, kMemLvlNumRam, 1, kMemHops1), MemClass::RemoteDram},
      {"AMD remote socket by hops only (HOPS_2)", ds(kMemOpLoad, 0, 0, kMemLvlNumRam, 0, kMemHops2), MemClass::RemoteDram},
      {"AMD remote board (HOPS_3) cache", ds(kMemOpLoad, 0, kMemSnoopHit, kMemLvlNumAnyCache, 0, kMemHops3),
       MemClass::RemoteCache},
      {"AMD other core same node (HOPS_0) cache", ds(kMemOpLoad, 0, kMemSnoopHit, kMemLvlNumAnyCache, 0, kMemHops0),
       MemClass::LocalCache},
      {"uncached (legacy)", ds(kMemOpLoad, kMemLvlHit | kMemLvlUnc), MemClass::Uncached},
      {"I/O (legacy)", ds(kMemOpLoad, kMemLvlHit | kMemLvlIo), MemClass::Uncached},
      {"I/O (numbered)", ds(kMemOpLoad, 0, 0, kMemLvlNumIo), MemClass::Uncached},
      {"uncached (numbered)", ds(kMemOpLoad, 0, 0, kMemLvlNumUnc), MemClass::Uncached},
      {"numbered N/A", ds(kMemOpLoad, 0, 0, kMemLvlNumNa), MemClass::Unknown},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    // Through the raw 64-bit value, as the kernel delivers it.
    std::uint64_t raw = encode_data_src(c.source);
    CHECK(classify_data_src(decode_data_src(raw)) == c.expected);
  }
  CHECK(is_remote(MemClass::RemoteHitm));
  CHECK_FALSE(is_remote(MemClass::LocalHitm));
}

TEST_CASE("data_src fields decode at their ABI bit positions") {
  // perf_mem_data_src: op@0 lvl@5 snoop@19 lock@24 dtlb@26 lvl_num@33 remote@37 snoopx@38 blk@40 hops@43
  std::uint64_t raw = (0x2ULL << 0) | (0x100ULL << 5) | (0x10ULL << 19) | (0x2ULL << 24) | (0x5ULL << 26) |
                      (0xdULL << 33) | (1ULL << 37) | (0x2ULL << 38) | (0x4ULL << 40) | (0x3ULL << 43);
  DataSource s = decode_data_src(raw);
  CHECK(s.op == 0x2);
  CHECK(s.lvl == 0x100);
  CHECK(s.snoop == 0x10);
  CHECK(s.lock == 0x2);
  CHECK(s.tlb == 0x5);
  CHECK(s.lvl_num == 0xd);
  CHECK(s.remote == 1);
  CHECK(s.snoopx == 0x2);
  CHECK(s.blk == 0x4);
  CHECK(s.hops == 0x3);
  CHECK(encode_data_src(s) == raw);
}

TEST_CASE("memory samples round-trip through ring bytes") {
  const std::uint64_t st = abi::kSampleIp | abi::kSampleTid | abi::kSampleTime | abi::kSampleAddr | abi::kSampleCpu |
                           abi::kSampleWeight | abi::kSampleDataSrc;
  struct Want {
    std::uint64_t ip, time, addr, weight, data_src;
    std::uint32_t pid, tid, cpu;
  };
  const Want wants[] = {
      {0x401000, 1000, 0x7f0000001000, 250, encode_data_src(ds(abi::kMemOpLoad, 0, 0, abi::kMemLvlNumRam, 1)), 10, 11, 3},
      {0x401008, 2000, 0x7f0000002040, 80, encode_data_src(ds(abi::kMemOpLoad, abi::kMemLvlHit | abi::kMemLvlLocRam)), 10, 12, 0},
  };
  std::string ring;
  for (const auto& w : wants)
    ring += RecordBytes()
                .u64(w.ip)
                .u32(w.pid)
                .u32(w.tid)
                .u64(w.time)
                .u64(w.addr)
                .u32(w.cpu)
                .u32(0)
                .u64(w.weight)
                .u64(w.data_src)
                .finish(abi::kRecordSample);
  DecodeResult r = decode_records(ring, st);
  REQUIRE_FALSE(r.error);
  REQUIRE(r.consumed == ring.size());
  REQUIRE(r.records.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& s = std::get<SampleRecord>(r.records[i]);
    CHECK(s.ip == wants[i].ip);
    CHECK(s.pid == wants[i].pid);
    CHECK(s.tid == wants[i].tid);
    CHECK(s.time == wants[i].time);
    CHECK(s.addr == wants[i].addr);
    CHECK(s.cpu == wants[i].cpu);
    CHECK(s.weight == wants[i].weight);
    CHECK(s.data_src == wants[i].data_src);
  }
  CHECK(classify_data_src(decode_data_src(std::get<SampleRecord>(r.records[0]).data_src)) == MemClass::RemoteDram);
  CHECK(classify_data_src(decode_data_src(std::get<SampleRecord>(r.records[1]).data_src)) == MemClass::LocalDram);
}

TEST_CASE("every supported sample field is read in kernel order") {
  const std::uint64_t st = abi::kSampleIdentifier | abi::kSampleIp | abi::kSampleTid | abi::kSampleTime |
                           abi::kSampleAddr | abi::kSampleId | abi::kSampleStreamId | abi::kSampleCpu |
                           abi::kSamplePeriod | abi::kSampleCallchain | abi::kSampleRaw | abi::kSampleWeightStruct |
                           abi::kSampleDataSrc | abi::kSampleTransaction | abi::kSamplePhysAddr | abi::kSampleCgroup |
                           abi::kSampleDataPageSize | abi::kSampleCodePageSize;
  std::string raw("\x01\x02\x03\x04", 4);
  std::string ring = RecordBytes()
                         .u64(77)                                   // identifier
                         .u64(0x1111)                               // ip
                         .u32(5).u32(6)                             // pid, tid
                         .u64(123456)                               // time
                         .u64(0xdead000)                            // addr
                         .u64(88)                                   // id
                         .u64(99)                                   // stream_id
                         .u32(7).u32(0)                             // cpu, res
                         .u64(1000)                                 // period
                         .u64(2).u64(0xa).u64(0xb)                  // callchain
                         .u32(4).bytes(raw)                         // raw (size + data, 8-aligned overall)
                         .u64((std::uint64_t{9} << 32) | 321)       // weight struct: var1 = 321
                         .u64(0x42)                                 // data_src
                         .u64(3)                                    // transaction
                         .u64(0x5000)                               // phys_addr
                         .u64(12)                                   // cgroup
                         .u64(4096)                                 // data page size
                         .u64(2097152)                              // code page size
                         .finish(abi::kRecordSample);
  DecodeResult r = decode_records(ring, st);
  REQUIRE_FALSE(r.error);
  REQUIRE(r.records.size() == 1);
  const auto& s = std::get<SampleRecord>(r.records[0]);
  CHECK(s.identifier == 77);
  CHECK(s.ip == 0x1111);
  CHECK(s.pid == 5);
  CHECK(s.tid == 6);
  CHECK(s.time == 123456);
  CHECK(s.addr == 0xdead000);
  CHECK(s.id == 88);
  CHECK(s.stream_id == 99);
  CHECK(s.cpu == 7);
  CHECK(s.period == 1000);
  CHECK(s.callchain == std::vector<std::uint64_t>{0xa, 0xb});
  CHECK(s.raw == raw);
  CHECK(s.weight == 321);
  CHECK(s.data_src == 0x42);
  CHECK(s.transaction == 3);
  CHECK(s.phys_addr == 0x5000);
  CHECK(s.cgroup == 12);
  CHECK(s.data_page_size == 4096);
  CHECK(s.code_page_size == 2097152);
}

TEST_CASE("task, comm and lost records decode, unknown types are skipped") {
  std::string ring = RecordBytes().u32(100).u32(100).u32(101).u32(100).u64(555).finish(abi::kRecordFork) +
                     RecordBytes().u32(100).u32(101).bytes(std::string("worker\0\0", 8)).finish(abi::kRecordComm) +
                     RecordBytes().u64(1).u64(42).finish(abi::kRecordLost) +
                     RecordBytes().u64(0).u64(0).finish(99) +
                     RecordBytes().u32(100).u32(100).u32(101).u32(100).u64(777).finish(abi::kRecordExit);
  DecodeResult r = decode_records(ring, abi::kSampleTid);
  REQUIRE_FALSE(r.error);
  REQUIRE(r.records.size() == 5);
  const auto& fork = std::get<TaskRecord>(r.records[0]);
  CHECK_FALSE(fork.exit);
  CHECK(fork.tid == 101);
  CHECK(fork.ptid == 100);
  CHECK(fork.time == 555);
  CHECK(std::get<CommRecord>(r.records[1]).comm == "worker");
  CHECK(std::get<CommRecord>(r.records[1]).tid == 101);
  CHECK(std::get<LostRecord>(r.records[2]).lost == 42);
  CHECK(std::get<OtherRecord>(r.records[3]).type == 99);
  CHECK(std::get<TaskRecord>(r.records[4]).exit);
  CHECK(std::get<TaskRecord>(r.records[4]).time == 777);
}

TEST_CASE("a partial trailing record is left for the next drain") {
  const std::uint64_t st = abi::kSampleTid | abi::kSampleAddr;
  std::string one = RecordBytes().u32(1).u32(2).u64(0x1000).finish(abi::kRecordSample);
  std::string ring = one + one.substr(0, 13);
  DecodeResult r = decode_records(ring, st);
  CHECK_FALSE(r.error);
  CHECK(r.records.size() == 1);
  CHECK(r.consumed == one.size());
  // Completing it yields the second record.
  std::string rest = ring.substr(r.consumed) + one.substr(13);
  DecodeResult r2 = decode_records(rest, st);
  CHECK(r2.records.size() == 1);
  CHECK(std::get<SampleRecord>(r2.records[0]).addr == 0x1000);
}

TEST_CASE("malformed records are reported, not misread") {
  const std::uint64_t st = abi::kSampleTid | abi::kSampleAddr | abi::kSampleCpu;
  SECTION("a size that is not a multiple of 8") {
    std::string bad = RecordBytes().u32(1).u32(2).finish(abi::kRecordSample);
    bad[6] = 12;
    bad += std::string(4, '\0');
    DecodeResult r = decode_records(bad, st);
    CHECK(r.error);
    CHECK(r.consumed == 0);
  }
  SECTION("a sample shorter than its sample_type needs") {
    std::string bad = RecordBytes().u32(1).u32(2).finish(abi::kRecordSample);
    DecodeResult r = decode_records(bad, st);
    CHECK(r.error->what.find("truncated") != std::string::npos);
    CHECK(r.records.empty());
  }
  SECTION("sample types the decoder cannot lay out are refused") {
    DecodeResult r = decode_records("", abi::kSampleRead | abi::kSampleTid);
    CHECK(r.error);
  }
}
