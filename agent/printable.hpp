// Text from the environment or the command line, made safe for one diagnostic line: a value may
// hold newlines (which would forge a second line), terminal escapes, invalid UTF-8 or 64 KiB.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace numa_agent {

// Control bytes (< 0x20, 0x7f) and bytes that are not part of valid UTF-8 become "\xNN"; valid
// UTF-8 is kept. When the result would exceed `max_bytes`, it is cut at a character boundary and
// "...(N bytes)" names the original size.
std::string printable(std::string_view text, std::size_t max_bytes = 80);

}  // namespace numa_agent
