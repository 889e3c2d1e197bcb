// Builds perf ring-buffer bytes the way the kernel lays them out, for round-trip tests of the
// decoder (analyzer/perf_records.hpp). Independent of the decoder: plain byte appends.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace numa_agent::test {

class RecordBytes {
 public:
  RecordBytes& u64(std::uint64_t v) { return put(&v, 8); }
  RecordBytes& u32(std::uint32_t v) { return put(&v, 4); }
  RecordBytes& bytes(const std::string& s) {
    body_ += s;
    return *this;
  }
  // The record with its perf_event_header (type, misc, size) in front.
  std::string finish(std::uint32_t type, std::uint16_t misc = 0) const {
    std::string out;
    std::uint16_t size = static_cast<std::uint16_t>(8 + body_.size());
    out.append(reinterpret_cast<const char*>(&type), 4);
    out.append(reinterpret_cast<const char*>(&misc), 2);
    out.append(reinterpret_cast<const char*>(&size), 2);
    return out + body_;
  }

 private:
  RecordBytes& put(const void* p, std::size_t n) {
    body_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string body_;
};

}  // namespace numa_agent::test
