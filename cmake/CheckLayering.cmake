# Fails when code outside agent/os includes an OS header (the rule is stated in agent/os/os.hpp):
#  * the core (agent/ and agent/pool/ outside agent/os, analyzer/) includes none;
#  * the LD_PRELOAD shim (interpose/) includes <pthread.h> only, for the exact signature of the
#    pthread_create it interposes; every OS call it makes goes through agent/os.
set(os_headers "sys/|sched\\.h|numa\\.h|numaif\\.h|hwloc\\.h|linux/perf_event\\.h|unistd\\.h|fcntl\\.h|dlfcn\\.h|libunwind\\.h|unwind\\.h|link\\.h|execinfo\\.h")
set(core_forbidden "^[ \t]*#[ \t]*include[ \t]*<(${os_headers}|pthread\\.h)")
set(shim_forbidden "^[ \t]*#[ \t]*include[ \t]*<(${os_headers})")

set(bad "")
function(check_sources regex)
  foreach(f IN LISTS ARGN)
    if(f MATCHES "/agent/os/")
      continue()
    endif()
    file(STRINGS ${f} lines REGEX "${regex}")
    if(lines)
      string(APPEND bad "${f}: ${lines}\n")
    endif()
  endforeach()
  set(bad "${bad}" PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE core ${ROOT}/agent/*.cpp ${ROOT}/agent/*.hpp ${ROOT}/analyzer/*.cpp ${ROOT}/analyzer/*.hpp)
check_sources("${core_forbidden}" ${core})
file(GLOB_RECURSE shim ${ROOT}/interpose/*.cpp ${ROOT}/interpose/*.hpp)
check_sources("${shim_forbidden}" ${shim})
if(bad)
  message(FATAL_ERROR "OS headers outside agent/os:\n${bad}")
endif()
message(STATUS "layering ok: ${ROOT}")
