// Kernel perf ABI values that the pure decoders need, restated so that analyzer/ does not include
// <linux/perf_event.h>. agent/os/perf_event.cpp static_asserts that they match the header.
#pragma once
#include <cstdint>

namespace numa_agent::analyzer::perf_abi {

inline constexpr std::uint32_t kTypeHardware = 0;
inline constexpr std::uint32_t kTypeSoftware = 1;
inline constexpr std::uint32_t kTypeTracepoint = 2;
inline constexpr std::uint32_t kTypeHwCache = 3;

inline constexpr std::uint64_t kSwPageFaults = 2;
inline constexpr std::uint64_t kSwCpuMigrations = 4;

// PERF_TYPE_HW_CACHE config = id | (op << 8) | (result << 16)
inline constexpr std::uint64_t kHwCacheNode = 5;
inline constexpr std::uint64_t kHwCacheOpRead = 0;
inline constexpr std::uint64_t kHwCacheResultAccess = 0;
inline constexpr std::uint64_t kHwCacheResultMiss = 1;
inline constexpr std::uint64_t hw_cache_config(std::uint64_t id, std::uint64_t op, std::uint64_t result) {
  return id | (op << 8) | (result << 16);
}

// PERF_SAMPLE_* bits
inline constexpr std::uint64_t kSampleIp = 1ULL << 0;
inline constexpr std::uint64_t kSampleTid = 1ULL << 1;
inline constexpr std::uint64_t kSampleTime = 1ULL << 2;
inline constexpr std::uint64_t kSampleAddr = 1ULL << 3;
inline constexpr std::uint64_t kSampleRead = 1ULL << 4;
inline constexpr std::uint64_t kSampleCallchain = 1ULL << 5;
inline constexpr std::uint64_t kSampleId = 1ULL << 6;
inline constexpr std::uint64_t kSampleCpu = 1ULL << 7;
inline constexpr std::uint64_t kSamplePeriod = 1ULL << 8;
inline constexpr std::uint64_t kSampleStreamId = 1ULL << 9;
inline constexpr std::uint64_t kSampleRaw = 1ULL << 10;
inline constexpr std::uint64_t kSampleBranchStack = 1ULL << 11;
inline constexpr std::uint64_t kSampleRegsUser = 1ULL << 12;
inline constexpr std::uint64_t kSampleStackUser = 1ULL << 13;
inline constexpr std::uint64_t kSampleWeight = 1ULL << 14;
inline constexpr std::uint64_t kSampleDataSrc = 1ULL << 15;
inline constexpr std::uint64_t kSampleIdentifier = 1ULL << 16;
inline constexpr std::uint64_t kSampleTransaction = 1ULL << 17;
inline constexpr std::uint64_t kSampleRegsIntr = 1ULL << 18;
inline constexpr std::uint64_t kSamplePhysAddr = 1ULL << 19;
inline constexpr std::uint64_t kSampleAux = 1ULL << 20;
inline constexpr std::uint64_t kSampleCgroup = 1ULL << 21;
inline constexpr std::uint64_t kSampleDataPageSize = 1ULL << 22;
inline constexpr std::uint64_t kSampleCodePageSize = 1ULL << 23;
inline constexpr std::uint64_t kSampleWeightStruct = 1ULL << 24;

// PERF_RECORD_* types
inline constexpr std::uint32_t kRecordLost = 2;
inline constexpr std::uint32_t kRecordComm = 3;
inline constexpr std::uint32_t kRecordExit = 4;
inline constexpr std::uint32_t kRecordThrottle = 5;
inline constexpr std::uint32_t kRecordUnthrottle = 6;
inline constexpr std::uint32_t kRecordFork = 7;
inline constexpr std::uint32_t kRecordSample = 9;
inline constexpr std::uint32_t kRecordLostSamples = 13;

// union perf_mem_data_src: field shifts and values
inline constexpr int kMemOpShift = 0, kMemLvlShift = 5, kMemSnoopShift = 19, kMemLockShift = 24,
                     kMemTlbShift = 26, kMemLvlNumShift = 33, kMemRemoteShift = 37, kMemSnoopXShift = 38,
                     kMemBlkShift = 40, kMemHopsShift = 43;
inline constexpr std::uint64_t kMemOpNa = 0x1, kMemOpLoad = 0x2, kMemOpStore = 0x4, kMemOpPfetch = 0x8,
                               kMemOpExec = 0x10;
inline constexpr std::uint64_t kMemLvlNa = 0x1, kMemLvlHit = 0x2, kMemLvlMiss = 0x4, kMemLvlL1 = 0x8,
                               kMemLvlLfb = 0x10, kMemLvlL2 = 0x20, kMemLvlL3 = 0x40, kMemLvlLocRam = 0x80,
                               kMemLvlRemRam1 = 0x100, kMemLvlRemRam2 = 0x200, kMemLvlRemCce1 = 0x400,
                               kMemLvlRemCce2 = 0x800, kMemLvlIo = 0x1000, kMemLvlUnc = 0x2000;
inline constexpr std::uint64_t kMemSnoopNa = 0x1, kMemSnoopNone = 0x2, kMemSnoopHit = 0x4,
                               kMemSnoopMiss = 0x8, kMemSnoopHitm = 0x10;
inline constexpr std::uint64_t kMemSnoopXFwd = 0x1, kMemSnoopXPeer = 0x2;
inline constexpr std::uint64_t kMemLockNa = 0x1, kMemLockLocked = 0x2;
inline constexpr std::uint64_t kMemLvlNumL1 = 0x1, kMemLvlNumL2 = 0x2, kMemLvlNumL3 = 0x3, kMemLvlNumL4 = 0x4,
                               kMemLvlNumL2Mhb = 0x5, kMemLvlNumMsc = 0x6, kMemLvlNumUnc = 0x8,
                               kMemLvlNumCxl = 0x9, kMemLvlNumIo = 0xa, kMemLvlNumAnyCache = 0xb,
                               kMemLvlNumLfb = 0xc, kMemLvlNumRam = 0xd, kMemLvlNumPmem = 0xe,
                               kMemLvlNumNa = 0xf;
inline constexpr std::uint64_t kMemHops0 = 0x1, kMemHops1 = 0x2, kMemHops2 = 0x3, kMemHops3 = 0x4;

}  // namespace numa_agent::analyzer::perf_abi
