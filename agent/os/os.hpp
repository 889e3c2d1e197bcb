// The OS-facing layer of numa-agent. Everything that talks to the kernel or to a system library
// (hwloc, libnuma) lives under agent/os/, and nothing else includes <sys/*>, <sched.h>, <numa.h>,
// <hwloc.h> or <linux/perf_event.h>. The core (policy, options, pools, analyzer model) sees only
// the functions below and can therefore be driven by tests with a fake machine. The same holds for
// <pthread.h>, <dlfcn.h> and <unwind.h> (thread keys, fork handlers, symbol lookup, backtraces);
// interpose/ may include <pthread.h> only, for the exact signature of the pthread_create it
// interposes, and calls nothing from it. cmake/CheckLayering.cmake checks both rules.
//
// Contract, for every function in agent/os/:
//  * Thin and stateless: one kernel interface per function, no caching, no global state.
//  * Never logs and never throws. Failures come back as a negative errno (int results, the
//    malloc-safe ones) or as Result<T> (agent/error.hpp: a value or an Error{errno, what});
//    the caller decides what to say.
//  * Functions marked [malloc-safe] make no heap allocation, take no lock and touch no stdio or
//    locale: they may be called from the allocator's slow path and from thread start-up before
//    the pools exist. The others may allocate and are for start-up, exit and the analyzer.
//  * Paths are never followed through a final symlink when writing (O_NOFOLLOW).
#pragma once
#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../cpu_set.hpp"
#include "../error.hpp"
#include "../topology.hpp"

namespace numa_agent::os {


// ---- topology (os/topology_hwloc.cpp) -------------------------------------------------------
// Where a topology comes from: this machine, an hwloc XML file, or an hwloc synthetic
// description such as "pack:2 numa:1 core:4 pu:2". `distances` (row-major SLIT values,
// node_count^2 entries) overrides what the source says; empty keeps the source's own.
struct TopologySource {
  enum class Kind { ThisMachine, XmlFile, Synthetic } kind = Kind::ThisMachine;
  std::string text;                       // path or synthetic description
  std::vector<std::uint32_t> distances;   // optional override
};
Result<Topology> load_topology(const TopologySource& source);

// ---- sysfs (os/sysfs_topology.cpp) ----------------------------------------------------------
// Reads files below /sys/devices/system/ (below $HWLOC_FSROOT/sys/devices/system/ when that is
// set, as hwloc does, except in secure mode) for topology_from_sysfs and node_layout_from_sysfs.
// What libnumaagent.so uses instead of hwloc: no plugins, no per-device files.
SysfsReader sysfs_reader();

// ---- affinity and identity (os/affinity.cpp) ------------------------------------------------
CpuSet process_allowed_cpus();                  // [malloc-safe] sched_getaffinity(0)
int set_current_thread_affinity(const CpuSet&); // [malloc-safe] 0 or -errno
int set_thread_affinity(int tid, const CpuSet&);// [malloc-safe] 0 or -errno
Result<CpuSet> thread_affinity(int tid);        // [malloc-safe except on error]
// True when a pthread attribute object carries a CPU affinity (pthread_attr_setaffinity_np).
bool thread_attr_sets_affinity(const pthread_attr_t* attr);  // [malloc-safe]
int current_cpu();                              // [malloc-safe] sched_getcpu(), -1 on failure
int current_tid();                              // [malloc-safe] gettid()
int current_pid();                              // [malloc-safe]
std::uint64_t monotonic_ns();                   // [malloc-safe] CLOCK_MONOTONIC
std::uint64_t realtime_ns();                    // [malloc-safe] CLOCK_REALTIME

// pthread_atfork, for the shim's fork handling (registered once, by the start-up glue).
int register_fork_handlers(void (*prepare)(), void (*parent)(), void (*child)());

// ---- thread exit and symbols (os/threads.cpp, os/symbols.cpp) -------------------------------
// A thread-specific key whose destructor `at_exit(value)` runs when a thread that set a non-null
// value exits (pthread_key_create). Create it early: keys below 32 live inside the thread
// descriptor, which is what makes set_thread_exit_value allocation-free.
using ThreadExitKey = unsigned;
Result<ThreadExitKey> create_thread_exit_key(void (*at_exit)(void*));
int set_thread_exit_value(ThreadExitKey key, void* value);     // [malloc-safe] 0 or -errno
// The next definition of `name` after the library this code is linked into (dlsym RTLD_NEXT);
// nullptr when there is none. dlsym may call calloc: the shim serves that from its bootstrap buffer.
void* next_symbol(const char* name);
// Which loaded object (and symbol, when exported) holds a code address (dladdr). Takes the
// loader's lock: for the profile at exit, not for the allocator.
struct CodeLocation {
  const char* module = nullptr;      // file name of the object, may be null
  std::uintptr_t module_base = 0;    // its load address
  const char* symbol = nullptr;      // nearest exported symbol, may be null
};
std::optional<CodeLocation> code_location(const void* address);
// Return addresses of the caller's stack, innermost first, from the caller of backtrace() on
// (libgcc_s's _Unwind_Backtrace, which walks by the DWARF CFI with its own
// memory; glibc's backtrace() may dlopen libgcc_s and allocate). Returns the depth.
int backtrace(void** frames, int max);                         // [malloc-safe]

// ---- memory (os/memory.cpp) -----------------------------------------------------------------
void* reserve_address_space(std::size_t bytes, std::size_t alignment);  // [malloc-safe] PROT_NONE; nullptr on failure
int commit(void* addr, std::size_t bytes);                     // [malloc-safe] make read/write; 0 or -errno
int decommit(void* addr, std::size_t bytes);                   // [malloc-safe] give pages back (MADV_DONTNEED)
int bind_preferred(void* addr, std::size_t bytes, int os_node);// [malloc-safe] mbind MPOL_PREFERRED; 0 or -errno
void* map_anonymous(std::size_t bytes);                        // [malloc-safe] read/write, nullptr on failure
int unmap(void* addr, std::size_t bytes);                      // [malloc-safe]
// Node of each page (move_pages query mode) of process `pid` (0 = self). out[i] is the OS node or
// -errno (-ENOENT: not yet touched). Returns 0 or -errno for the whole call.
int page_nodes(int pid, const void* const* pages, std::size_t count, int* out);  // [malloc-safe]
std::size_t page_size();                                       // [malloc-safe]
// glibc's mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (only meaningful when glibc's malloc is
// the real allocator). 0 or -EINVAL when glibc refused a value.
int set_glibc_malloc_thresholds(std::size_t mmap_bytes, std::size_t trim_bytes);  // [malloc-safe]

// ---- placement plans (os/plan_memory.cpp) ----------------------------------------------------
// Memory policies a placement plan sets on a block before its first touch (mbind). `nodes` is a
// bit mask of OS nodes (bit n = node n), kNodeMaskWords words long.
inline constexpr std::size_t kNodeMaskWords = 1024 / (8 * sizeof(unsigned long));
enum class MemoryPolicy { Bind, Preferred, Interleave };
int set_memory_policy(void* addr, std::size_t bytes, MemoryPolicy policy, const unsigned long* nodes);  // [malloc-safe] 0 or -errno
// Gives a committed range back to a PROT_NONE reservation (mmap MAP_FIXED over it): its pages and
// its memory policy go, the addresses stay reserved. 0 or -errno.
int return_to_reservation(void* addr, std::size_t bytes);     // [malloc-safe]
// The policy in force at `addr` (get_mempolicy MPOL_F_ADDR): the kernel's MPOL_* mode, its node
// mask in `nodes` (kNodeMaskWords words). 0 or -errno.
int memory_policy_at(const void* addr, int* mode, unsigned long* nodes);  // [malloc-safe]
// An object loaded in this process (dl_iterate_phdr) with its GNU build-id and loadable segments:
// what turns a file offset, as a recording names code, into this run's address.
struct LoadedSegment {
  std::uint64_t vaddr = 0, file_offset = 0, bytes = 0;
  bool executable = false;
};
struct LoadedModule {
  std::string path;       // "" for the main program (dl_iterate_phdr names it so)
  std::string build_id;   // lower-case hex; "" without one
  std::uintptr_t bias = 0;
  std::vector<LoadedSegment> segments;
};
std::vector<LoadedModule> loaded_modules();

// ---- environment and process (os/process.cpp) -----------------------------------------------
// The process environment as glibc's `environ` sees it; safe from a constructor of a preloaded
// library (environ is set before any constructor runs). Returns nullptr when absent.
const char* environment_value(std::string_view name);           // [malloc-safe]
std::vector<std::string> environment_names_with_prefix(std::string_view prefix);
bool secure_execution();             // [malloc-safe] AT_SECURE: setuid/setgid/capabilities
std::vector<std::string> command_line();   // /proc/self/cmdline, split
std::string thread_name(int tid);          // /proc/self/task/TID/comm, "" if gone
std::string current_thread_name();         // the calling thread's comm (prctl: no /proc open)
int thread_last_cpu(int tid);              // field 39 of /proc/self/task/TID/stat, -1 if gone
// Writes `data` to `path` atomically: a temporary file beside it (O_EXCL|O_NOFOLLOW), then rename.
// A symlink at `path` is replaced, never followed. 0 or -errno.
int write_file_atomically(const std::string& path, std::string_view data);
Result<std::string> read_file(const std::string& path);
// ---- per-user cache files (os/cache_file.cpp) -----------------------------------------------
// The directory of the calling user's numa-agent caches: $XDG_RUNTIME_DIR/numa-agent when
// XDG_RUNTIME_DIR is an absolute path, else $HOME/.cache/numa-agent. ENOENT when neither is set.
Result<std::string> user_cache_dir();
// Reads a cache file that must be a regular file owned by the effective uid with no group or
// other permission bits, opened with O_NOFOLLOW (a symlink at `path` fails with ELOOP), at most
// `max_bytes` long (EFBIG).
Result<std::string> read_private_file(const std::string& path, std::size_t max_bytes);
// Writes `data` to `path` (0600) atomically through a temporary file beside it (O_EXCL|O_NOFOLLOW,
// then rename: a symlink at `path` is replaced, never followed). Creates the parent directory
// 0700 (and its parent, when missing, 0700) and refuses one that is a symlink, not owned by the
// effective uid, or writable by group or others (EPERM).
Result<void> write_private_file(const std::string& path, std::string_view data);
Result<std::string> boot_id();       // /proc/sys/kernel/random/boot_id, without its newline
std::string kernel_release();        // uname -r; "" when uname fails
unsigned effective_uid();            // geteuid()
std::string current_directory();     // getcwd; "." when it cannot be read

// Diagnostics straight to fd 2 (no FILE, no allocation): the only output allowed inside malloc.
void write_stderr(std::string_view text);  // [malloc-safe]
// "ENOMEM" for ENOMEM (strerrorname_np); nullptr for a number glibc does not know.
const char* errno_name(int error);         // [malloc-safe]
// Ends the process at once with SIGABRT (a failed internal assertion).
[[noreturn]] void abort_process();         // [malloc-safe]

}  // namespace numa_agent::os
