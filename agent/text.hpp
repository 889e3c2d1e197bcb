// Small string helpers shared by the agent's parsers and the analyzer (one copy each).
// Not for the allocator's malloc-safe paths: they allocate.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace numa_agent::text {

std::string lower(std::string_view s);                               // ASCII lower case
std::string_view trim(std::string_view s);                           // without leading/trailing white space
std::vector<std::string_view> split(std::string_view s, char sep);   // "a,,b" -> {"a", "", "b"}; "" -> {""}
std::string hex(std::uint64_t v);                                    // "0x1f"

}  // namespace numa_agent::text
