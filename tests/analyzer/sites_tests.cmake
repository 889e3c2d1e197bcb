# Sites in the user's code (issue 14 parts 3 and 4): the symboliser on a -g program, build-id keys
# across runs, frame skipping through a wrapper library, the site table and `--format folded`.
# Included from analyzer/CMakeLists.txt at the end of the top directory (numa_agent_add_catch_test).
if(NOT COMMAND numa_agent_add_catch_test OR NOT TARGET numa-analyze)
  return()
endif()
set(sites_programs ${NUMA_AGENT_SOURCE_DIR}/tests/programs)
add_library(sites_wrap SHARED ${sites_programs}/sites_wrap.c)
target_compile_options(sites_wrap PRIVATE -g -O1 -fno-omit-frame-pointer)
set_target_properties(sites_wrap PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/programs)
add_executable(sites_first_touch ${sites_programs}/sites_first_touch.c)
target_compile_options(sites_first_touch PRIVATE -g -O1 -fno-omit-frame-pointer)
target_link_libraries(sites_first_touch PRIVATE sites_wrap)
set_target_properties(sites_first_touch PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/programs)

# The source lines the tests expect, found by their marker comments (never written down twice).
function(sites_marker_line file marker out)
  file(STRINGS ${file} lines)
  set(n 0)
  foreach(l IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(l MATCHES ";[ ]+// ${marker}")
      set(${out} ${n} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "${marker} not found in ${file}")
endfunction()
sites_marker_line(${sites_programs}/sites_first_touch.c SITES_FIRST_TOUCH_LINE first_touch_line)
sites_marker_line(${sites_programs}/sites_first_touch.c SITES_WHERE_LINE where_line)
sites_marker_line(${sites_programs}/sites_wrap.c SITES_WRAP_MALLOC_LINE wrap_malloc_line)
set_property(DIRECTORY ${NUMA_AGENT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${sites_programs}/sites_first_touch.c ${sites_programs}/sites_wrap.c)

set(sites_definitions
  SITES_PROGRAM="$<TARGET_FILE:sites_first_touch>" SITES_WRAP_LIBRARY="$<TARGET_FILE:sites_wrap>"
  SITES_FIRST_TOUCH_LINE=${first_touch_line} SITES_WHERE_LINE=${where_line} SITES_WRAP_MALLOC_LINE=${wrap_malloc_line})
numa_agent_add_catch_test(sites_unit unit ${NUMA_AGENT_SOURCE_DIR}/tests/analyzer/sites_unit_test.cpp LIBS numaanalyze_core)
target_include_directories(sites_unit PRIVATE ${NUMA_AGENT_SOURCE_DIR})
target_compile_definitions(sites_unit PRIVATE ${sites_definitions})
add_dependencies(sites_unit sites_first_touch)
numa_agent_add_catch_test(sites_integration integration ${NUMA_AGENT_SOURCE_DIR}/tests/analyzer/sites_record_test.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(sites_integration PRIVATE ${sites_definitions})
add_dependencies(sites_integration sites_first_touch numa-analyze numaagent)
if(TARGET numa-demo)
  add_dependencies(sites_integration numa-demo)
endif()
