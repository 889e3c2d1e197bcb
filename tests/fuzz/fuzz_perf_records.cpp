// Fuzzes the perf ring decoder (analyzer/perf_records.hpp). Input: 8 bytes of sample_type, then
// ring bytes. Invariants: never crashes or over-reads; `consumed` is a whole number of 8-byte
// aligned records inside the input; what is left without an error is a partial record (fewer
// than 8 bytes, or a header announcing more than is there); a drain split at any point and
// resumed at `consumed` decodes the same records as one drain of everything; every data_src
// round-trips through decode/encode and classifies.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "analyzer/evidence/perf_records.hpp"

using namespace numa_agent::analyzer;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

// The kinds and the fields a consumer reads, for comparing two decodes.
bool same(const PerfRecord& a, const PerfRecord& b) {
  if (a.index() != b.index()) return false;
  if (auto* s = std::get_if<SampleRecord>(&a)) {
    auto& t = std::get<SampleRecord>(b);
    return s->ip == t.ip && s->tid == t.tid && s->addr == t.addr && s->cpu == t.cpu && s->weight == t.weight &&
           s->data_src == t.data_src && s->callchain == t.callchain && s->raw == t.raw;
  }
  if (auto* c = std::get_if<CommRecord>(&a)) return c->comm == std::get<CommRecord>(b).comm;
  if (auto* l = std::get_if<LostRecord>(&a)) return l->lost == std::get<LostRecord>(b).lost;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t sample_type = 0;
  std::memcpy(&sample_type, data, 8);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 8, size - 8);

  DecodeResult all = decode_records(bytes, sample_type);
  require(all.consumed <= bytes.size() && all.consumed % 8 == 0);
  if (!all.error && all.consumed < bytes.size()) {
    std::size_t left = bytes.size() - all.consumed;
    if (left >= 8) {
      std::uint16_t announced = 0;
      std::memcpy(&announced, bytes.data() + all.consumed + 6, 2);
      require(announced > left);
    }
  }
  if (all.error) require(all.error->what.find('\n') == std::string::npos);

  // Split drain: the first part up to a point chosen by the input, then the rest from `consumed`.
  if (!all.error && !bytes.empty()) {
    std::size_t cut = data[size - 1] % (bytes.size() + 1);
    DecodeResult first = decode_records(bytes.substr(0, cut), sample_type);
    require(!first.error);
    DecodeResult rest = decode_records(bytes.substr(first.consumed), sample_type);
    require(!rest.error);
    require(first.consumed + rest.consumed == all.consumed);
    require(first.records.size() + rest.records.size() == all.records.size());
    for (std::size_t i = 0; i < all.records.size(); ++i) {
      const PerfRecord& part = i < first.records.size() ? first.records[i] : rest.records[i - first.records.size()];
      require(same(part, all.records[i]));
    }
  }

  for (const auto& record : all.records)
    if (auto* s = std::get_if<SampleRecord>(&record)) {
      DataSource source = decode_data_src(s->data_src);
      require(decode_data_src(encode_data_src(source)).lvl_num == source.lvl_num);
      require(!mem_class_name(classify_data_src(source)).empty());
    }
  return 0;
}
