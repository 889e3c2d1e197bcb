// Code addresses of a recorded program to names a programmer reads: an ELF file and a file
// offset in it (what /proc/PID/maps turns a runtime address into, stable across runs under ASLR)
// to the function, source file and line, from DWARF by elfutils libdw (Debian libdw-dev), and the
// file's build-id that keys a site across runs. libdw opens and maps the files itself.
// `record` symbolises at its end, while the program's files are certainly still there (a
// recording is reported later, often on another machine, where they may be gone or rebuilt).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

struct SourceLocation {
  std::string function;   // demangled; "" when the file has no symbol there
  std::string file;       // source file from the line table; "" without DWARF
  int line = 0;
  // Functions inlined at this address, innermost first, each with the line it was inlined at
  // in its caller ("file:line" of the call); `function`/`file`/`line` are the innermost.
  struct Inlined {
    std::string function, call_file;
    int call_line = 0;
  };
  std::vector<Inlined> inlined_into;
};

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // The GNU build-id of the ELF file at `path` in lower-case hex; "" when it has none or cannot be read.
  std::string build_id(const std::string& path);
  // The link-time virtual address of `file_offset` (through its PT_LOAD segment), and back.
  std::optional<std::uint64_t> vaddr_of_offset(const std::string& path, std::uint64_t file_offset);
  std::optional<std::uint64_t> offset_of_vaddr(const std::string& path, std::uint64_t vaddr);
  // What is at `file_offset` of `path`: function from the symbol table, file:line and inlined
  // frames from DWARF (also from separate debug files by build-id). Empty fields when unknown.
  SourceLocation locate(const std::string& path, std::uint64_t file_offset);

 private:
  struct Module;
  Module* module(const std::string& path);
  std::map<std::string, std::unique_ptr<Module>> modules_;
};

// The recording's frames for `file_offset` of `module_path` (site name, build-id key, function,
// file:line), innermost first: the inlined functions there, then the function they were inlined
// into, each caller at the line of its inlined call. Always at least one frame.
std::vector<SiteFrame> site_frames(Symbolizer& symbols, const std::string& module_path, std::uint64_t file_offset);

// "libc.so.6" of "/usr/lib/x86_64-linux-gnu/libc.so.6".
std::string_view module_basename(std::string_view path);
// "firsttouch+0x120a": how a recording names a code address (module basename + file offset).
std::string site_name(std::string_view module_path, std::uint64_t file_offset);
// Frames that are not the program's own code and are skipped to its first frame: the agent
// (libnumaagent.so), the dynamic loader, libc (malloc family, memset/memcpy-like routines: a
// stripped libc names none of its internal variants, so all of it), other allocators, and
// libstdc++'s operator new/delete. `function` may be mangled or not.
bool skipped_frame(std::string_view module_path, std::string_view function);
// Libraries libnumaagent.so itself calls (libstdc++, libunwind, spdlog, fmt, hwloc, libnuma): their
// frames called from the agent are the agent's work, not the program's.
bool agent_dependency(std::string_view module_path);

}  // namespace numa_agent::analyzer
