// See symbolizer.hpp. One offline Dwfl per ELF file (dwfl_report_offline), kept for the
// Symbolizer's life: a recording asks about the same few files thousands of times.
#include "analyzer/evidence/symbolizer.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <array>
#include <cstdlib>

#include "agent/text.hpp"

namespace numa_agent::analyzer {
namespace {

const Dwfl_Callbacks kOfflineCallbacks = {
    dwfl_build_id_find_elf,            // find_elf
    dwfl_standard_find_debuginfo,      // find_debuginfo: .gnu_debuglink, /usr/lib/debug/.build-id
    dwfl_offline_section_address,      // section_address
    nullptr,                           // debuginfo_path: the default
};

std::string demangle(const char* name) {
  if (!name) return "";
  int status = 0;
  char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && plain ? plain : name;
  std::free(plain);
  return out;
}

// DW_AT_linkage_name (demangled) or DW_AT_name, through abstract origins / specifications.
std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name})
    if (dwarf_attr_integrate(die, at, &attr))
      if (const char* s = dwarf_formstring(&attr)) return at == DW_AT_name ? std::string(s) : demangle(s);
  return "";
}

std::string call_file(Dwarf_Die* cu, Dwarf_Die* inlined) {
  Dwarf_Attribute attr;
  Dwarf_Word index = 0;
  Dwarf_Files* files = nullptr;
  std::size_t count = 0;
  if (!dwarf_attr(inlined, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &index) != 0) return "";
  if (dwarf_getsrcfiles(cu, &files, &count) != 0 || index >= count) return "";
  const char* name = dwarf_filesrc(files, index, nullptr, nullptr);
  return name ? name : "";
}

int call_line(Dwarf_Die* inlined) {
  Dwarf_Attribute attr;
  Dwarf_Word line = 0;
  if (!dwarf_attr(inlined, DW_AT_call_line, &attr) || dwarf_formudata(&attr, &line) != 0) return 0;
  return static_cast<int>(line);
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes)
    if (s.starts_with(p)) return true;
  return false;
}

}  // namespace

struct Symbolizer::Module {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  Elf* elf = nullptr;
  GElf_Addr bias = 0;
  ~Module() {
    if (dwfl) dwfl_end(dwfl);
  }
  // PT_LOAD segments: (file offset, vaddr, file size).
  std::vector<std::array<std::uint64_t, 3>> loads;
};

Symbolizer::Symbolizer() = default;
Symbolizer::~Symbolizer() = default;

Symbolizer::Module* Symbolizer::module(const std::string& path) {
  auto found = modules_.find(path);
  if (found != modules_.end()) return found->second.get();
  auto m = std::make_unique<Module>();
  m->dwfl = dwfl_begin(&kOfflineCallbacks);
  if (m->dwfl) {
    m->mod = dwfl_report_offline(m->dwfl, std::string(module_basename(path)).c_str(), path.c_str(), -1);
    dwfl_report_end(m->dwfl, nullptr, nullptr);
  }
  if (m->mod) m->elf = dwfl_module_getelf(m->mod, &m->bias);
  std::size_t count = 0;
  if (m->elf && elf_getphdrnum(m->elf, &count) == 0)
    for (std::size_t i = 0; i < count; ++i) {
      GElf_Phdr ph;
      if (gelf_getphdr(m->elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD)
        m->loads.push_back({ph.p_offset, ph.p_vaddr, ph.p_filesz});
    }
  if (!m->elf) m.reset();   // not an ELF file (gone, [vdso], a data file): remember that too
  return modules_.emplace(path, std::move(m)).first->second.get();
}

std::string Symbolizer::build_id(const std::string& path) {
  Module* m = module(path);
  const unsigned char* bits = nullptr;
  GElf_Addr where = 0;
  int length = m ? dwfl_module_build_id(m->mod, &bits, &where) : 0;
  std::string hex;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < length; ++i) hex += kDigits[bits[i] >> 4], hex += kDigits[bits[i] & 15];
  return hex;
}

std::optional<std::uint64_t> Symbolizer::vaddr_of_offset(const std::string& path, std::uint64_t file_offset) {
  if (Module* m = module(path))
    for (const auto& [offset, vaddr, size] : m->loads)
      if (file_offset >= offset && file_offset < offset + size) return file_offset - offset + vaddr;
  return std::nullopt;
}

std::optional<std::uint64_t> Symbolizer::offset_of_vaddr(const std::string& path, std::uint64_t vaddr) {
  if (Module* m = module(path))
    for (const auto& [offset, start, size] : m->loads)
      if (vaddr >= start && vaddr < start + size) return vaddr - start + offset;
  return std::nullopt;
}

SourceLocation Symbolizer::locate(const std::string& path, std::uint64_t file_offset) {
  SourceLocation loc;
  Module* m = module(path);
  auto vaddr = vaddr_of_offset(path, file_offset);
  if (!m || !vaddr) return loc;
  const Dwarf_Addr addr = *vaddr + m->bias;
  loc.function = demangle(dwfl_module_addrname(m->mod, addr));
  if (Dwfl_Line* line = dwfl_module_getsrc(m->mod, addr)) {
    int lineno = 0;
    if (const char* src = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) loc.file = src, loc.line = lineno;
  }
  // Inlined frames: the scopes at the address, innermost first; each inlined_subroutine's caller
  // is the next function-like scope out, called from the inlined one's DW_AT_call_file/line.
  Dwarf_Addr dwarf_bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(m->mod, addr, &dwarf_bias);
  Dwarf_Die* scopes = nullptr;
  int n = cu ? dwarf_getscopes(cu, addr - dwarf_bias, &scopes) : 0;
  bool innermost = true;
  for (int i = 0; i < n; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    if (innermost) {
      if (std::string name = die_function_name(&scopes[i]); !name.empty()) loc.function = name;
      innermost = false;
    }
    if (tag != DW_TAG_inlined_subroutine) break;
    SourceLocation::Inlined caller{"", call_file(cu, &scopes[i]), call_line(&scopes[i])};
    for (int k = i + 1; k < n; ++k)
      if (int t = dwarf_tag(&scopes[k]); t == DW_TAG_inlined_subroutine || t == DW_TAG_subprogram) {
        caller.function = die_function_name(&scopes[k]);
        break;
      }
    loc.inlined_into.push_back(std::move(caller));
  }
  std::free(scopes);
  return loc;
}

std::vector<SiteFrame> site_frames(Symbolizer& symbols, const std::string& module_path, std::uint64_t file_offset) {
  SiteFrame f;
  f.site = site_name(module_path, file_offset);
  f.module = module_path;
  f.offset = file_offset;
  if (const std::string id = symbols.build_id(module_path); !id.empty()) f.key = id + "+" + text::hex(file_offset);
  SourceLocation where = symbols.locate(module_path, file_offset);
  std::vector<SiteFrame> frames;
  SiteFrame innermost = f;
  innermost.function = std::move(where.function);
  innermost.file = std::move(where.file);
  innermost.line = where.line;
  frames.push_back(std::move(innermost));
  for (auto& caller : where.inlined_into) {
    SiteFrame outer = f;
    outer.function = std::move(caller.function);
    outer.file = std::move(caller.call_file);
    outer.line = caller.call_line;
    frames.push_back(std::move(outer));
  }
  return frames;
}

std::string_view module_basename(std::string_view path) {
  auto slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string site_name(std::string_view module_path, std::uint64_t file_offset) {
  std::string_view base = module_basename(module_path);
  return std::string(base.empty() ? "[anon]" : base) + "+" + text::hex(file_offset);
}

bool agent_dependency(std::string_view module_path) {
  return starts_with_any(module_basename(module_path),
                         {"libstdc++", "libunwind", "libspdlog", "libfmt", "libhwloc", "libnuma", "libudev", "libgcc_s"});
}

bool skipped_frame(std::string_view module_path, std::string_view function) {
  const std::string_view base = module_basename(module_path);
  // Whole modules: the agent, the loader, libc (the malloc family, memset/memcpy and the string
  // routines; its other frames, start_thread and __libc_start_main, are below the program's own:
  // libc only touches the program's memory on the program's behalf), the other allocators.
  if (agent_code(module_path) || base.starts_with("ld-linux") || base.starts_with("ld-2.") || base == "[vdso]" ||
      starts_with_any(base, {"libc.so", "libc-", "libjemalloc", "libtcmalloc", "libmimalloc", "libgcc_s"}))
    return true;
  // libstdc++: operator new/delete (mangled _Znwm, _Znam, _ZdlPv, ... or demangled).
  if (base.starts_with("libstdc++"))
    return starts_with_any(function, {"_Znw", "_Zna", "_Zdl", "_Zda", "operator new", "operator delete"});
  return false;
}

}  // namespace numa_agent::analyzer
