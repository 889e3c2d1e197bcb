// Reading /proc and /sys for numa-analyze: whole text files with the exact errno of the failing
// call (EACCES from a ptrace-protected file, ESRCH/ENOENT from a vanished process), directory
// listings. Parsing of the text is pure code in analyzer/proc_parsers.hpp. Contract: os.hpp.
#pragma once
#include <string>
#include <vector>

#include "os.hpp"

namespace numa_agent::os {

// The whole file, read with open/read (not iostreams) so that errno is the kernel's.
// Files under /proc report size 0; this reads until EOF. `max_bytes` guards against runaway files.
Result<std::string> read_text_file(const std::string& path, std::size_t max_bytes = 64u << 20);
// Entry names of a directory, without "." and "..", unsorted.
Result<std::vector<std::string>> list_directory(const std::string& path);
// True while /proc/PID exists and is not a zombie's empty shell (state Z or X).
bool process_running(int pid);

}  // namespace numa_agent::os
