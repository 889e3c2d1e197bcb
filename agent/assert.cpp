#include "assert.hpp"

#include <string_view>

#include "os/os.hpp"

namespace numa_agent {

void assertion_failed(const char* condition, const char* file, int line) {
  char digits[12];
  char* end = digits + sizeof digits;
  char* p = end;
  unsigned n = line > 0 ? static_cast<unsigned>(line) : 0;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0 && p != digits);
  os::write_stderr("numa-agent: internal assertion failed: ");
  os::write_stderr(condition);
  os::write_stderr(" (");
  os::write_stderr(file);
  os::write_stderr(":");
  os::write_stderr(std::string_view(p, static_cast<std::size_t>(end - p)));
  os::write_stderr(")\n");
  os::abort_process();
}

}  // namespace numa_agent
