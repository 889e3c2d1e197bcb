# numa_agent_add_vm_test(NAME <name> NODES <n> [CPUS n] [MEM mib] [DISTANCES d] [TIMEOUT s]
#                        [WITH path...] COMMAND <cmd> args...)
#
# Adds a ctest (label `vm`) that runs COMMAND inside a QEMU guest with that NUMA topology through
# scripts/numa-vm. The build tree is in the guest at its host path (so $<TARGET_FILE:...> works as
# an argument); WITH ships more files or folders (e.g. a shell script from the source tree). The
# test passes when COMMAND exits 0; 77 marks it skipped. TIMEOUT (default 300 s) bounds each boot
# of the guest; numa-vm boots a stalled guest (no heartbeat for NUMA_VM_STALL_S, default 60 s) once
# more, so ctest's own limit covers two boots plus staging, and numa-vm can say what timed out.
# Guests never run two at a time (RESOURCE_LOCK): TCG on a small machine is CPU-bound.
if(COMMAND numa_agent_add_vm_test)
  return()
endif()

set(NUMA_AGENT_VM_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/../../scripts/numa-vm)
cmake_path(NORMAL_PATH NUMA_AGENT_VM_SCRIPT)

function(numa_agent_add_vm_test)
  cmake_parse_arguments(VM "" "NAME;NODES;CPUS;MEM;DISTANCES;TIMEOUT" "WITH;COMMAND" ${ARGN})
  if(NOT VM_NAME OR NOT VM_NODES OR NOT VM_COMMAND)
    message(FATAL_ERROR "numa_agent_add_vm_test: NAME, NODES and COMMAND are required")
  endif()
  if(VM_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "numa_agent_add_vm_test(${VM_NAME}): unknown arguments ${VM_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT VM_TIMEOUT)
    set(VM_TIMEOUT 300)
  endif()
  set(args --build ${CMAKE_BINARY_DIR} --nodes ${VM_NODES} --timeout ${VM_TIMEOUT})
  if(VM_CPUS)
    list(APPEND args --cpus ${VM_CPUS})
  endif()
  if(VM_MEM)
    list(APPEND args --mem ${VM_MEM})
  endif()
  if(VM_DISTANCES)
    list(APPEND args --distances ${VM_DISTANCES})
  endif()
  foreach(path IN LISTS VM_WITH)
    list(APPEND args --with ${path})
  endforeach()
  math(EXPR ctest_timeout "2 * ${VM_TIMEOUT} + 90")
  add_test(NAME ${VM_NAME} COMMAND ${NUMA_AGENT_VM_SCRIPT} ${args} -- ${VM_COMMAND})
  set_tests_properties(${VM_NAME} PROPERTIES
    LABELS vm
    TIMEOUT ${ctest_timeout}
    SKIP_RETURN_CODE 77
    RESOURCE_LOCK numa_agent_vm_guest)
endfunction()
