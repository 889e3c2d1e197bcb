// See mem_class.hpp.
#include "analyzer/model/mem_class.hpp"

namespace numa_agent::analyzer {

namespace {
constexpr MemClass kAllClasses[] = {MemClass::Unknown,    MemClass::LocalCache,  MemClass::LocalHitm,
                                    MemClass::LocalDram,  MemClass::RemoteDram,  MemClass::RemoteCache,
                                    MemClass::RemoteHitm, MemClass::Uncached};
}  // namespace

std::string_view mem_class_name(MemClass c) {
  switch (c) {
    case MemClass::Unknown: return "unknown";
    case MemClass::LocalCache: return "local-cache";
    case MemClass::LocalHitm: return "local-hitm";
    case MemClass::LocalDram: return "local-dram";
    case MemClass::RemoteDram: return "remote-dram";
    case MemClass::RemoteCache: return "remote-cache";
    case MemClass::RemoteHitm: return "remote-hitm";
    case MemClass::Uncached: return "uncached";
  }
  return "unknown";
}

MemClass parse_mem_class(std::string_view name) {
  for (MemClass c : kAllClasses)
    if (mem_class_name(c) == name) return c;
  return MemClass::Unknown;
}

}  // namespace numa_agent::analyzer
