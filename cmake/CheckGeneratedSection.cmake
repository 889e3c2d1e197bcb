# Fails when a generated section of a document differs from what its generator prints now; with
# -DUPDATE=ON rewrites the section instead. One comparator for every section generated from the
# option table; each SECTION names its markers (the lines around it) here:
#   readme-options    README.md's option table        (GENERATOR = numa-agent-help --markdown)
#   man-environment   numa-agent(1)'s ENVIRONMENT     (GENERATOR = numa-agent-man-environment)
# Usage:
#   cmake -DSECTION=man-environment -DGENERATOR=build/numa-agent-man-environment \
#         -DFILE=docs/man/numa-agent.1 [-DUPDATE=ON] -P cmake/CheckGeneratedSection.cmake
# GENERATOR may be a ;-list (program and arguments).
if(SECTION STREQUAL "readme-options")
  set(begin_marker "<!-- OPTIONS:BEGIN -->\n")
  set(end_marker "<!-- OPTIONS:END -->")
elseif(SECTION STREQUAL "man-environment")
  set(begin_marker ".\\\" ENVIRONMENT:BEGIN (generated from the option table; do not edit)\n")
  set(end_marker ".\\\" ENVIRONMENT:END")
else()
  message(FATAL_ERROR "CheckGeneratedSection: unknown SECTION '${SECTION}' (readme-options, man-environment)")
endif()

execute_process(COMMAND ${GENERATOR} OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${GENERATOR} failed (${rc})")
endif()
file(READ ${FILE} text)
string(FIND "${text}" "${begin_marker}" begin)
string(FIND "${text}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  string(STRIP "${begin_marker}" shown)
  message(FATAL_ERROR "${FILE} has no '${shown}' ... '${end_marker}' lines around its ${SECTION} section")
endif()
string(LENGTH "${begin_marker}" marker_length)
math(EXPR start "${begin} + ${marker_length}")
math(EXPR len "${end} - ${start}")
string(SUBSTRING "${text}" ${start} ${len} current)
if(current STREQUAL generated)
  message(STATUS "${FILE}: ${SECTION} matches the option table")
elseif(UPDATE)
  string(SUBSTRING "${text}" 0 ${start} head)
  string(SUBSTRING "${text}" ${end} -1 tail)
  file(WRITE ${FILE} "${head}${generated}${tail}")
  message(STATUS "${FILE}: ${SECTION} regenerated")
else()
  message(FATAL_ERROR "${FILE}: the ${SECTION} section is out of date with the option table; regenerate with\n"
                      "  scripts/update-generated-docs")
endif()
