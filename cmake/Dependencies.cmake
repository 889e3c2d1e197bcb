# Finds every dependency once. A missing one stops configuration with the Debian package to install;
# scripts/install-deps installs them all.
find_package(PkgConfig)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run scripts/install-deps)")
endif()

function(numa_agent_require_pkg var module debian_pkg)
  pkg_check_modules(${var} IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install ${debian_pkg} (or run scripts/install-deps)")
  endif()
endfunction()

function(numa_agent_require_config name debian_pkg)
  find_package(${name} CONFIG QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "${name} not found: apt-get install ${debian_pkg} (or run scripts/install-deps)")
  endif()
endfunction()

numa_agent_require_pkg(HWLOC hwloc libhwloc-dev)
numa_agent_require_pkg(NUMA numa libnuma-dev)
numa_agent_require_config(nlohmann_json nlohmann-json3-dev)
numa_agent_require_config(CLI11 libcli11-dev)
numa_agent_require_config(Catch2 catch2)
list(APPEND CMAKE_MODULE_PATH ${Catch2_DIR})   # Catch.cmake (catch_discover_tests)

include(CheckIncludeFileCXX)
check_include_file_cxx(linux/perf_event.h HAVE_PERF_EVENT_H)
if(NOT HAVE_PERF_EVENT_H)
  message(FATAL_ERROR "linux/perf_event.h not found: apt-get install linux-libc-dev (or run scripts/install-deps)")
endif()

# Role rules from NUMA_AGENT_CONFIG (agent/role_rules.cpp): toml++ header-only, so the preload
# gains no shared library.
check_include_file_cxx(toml++/toml.h HAVE_TOMLPLUSPLUS)
if(NOT HAVE_TOMLPLUSPLUS)
  message(FATAL_ERROR "toml++/toml.h not found: apt-get install libtomlplusplus-dev (or run scripts/install-deps)")
endif()

find_package(Threads REQUIRED)
find_package(OpenMP)   # optional: only the OpenMP integration test needs it
