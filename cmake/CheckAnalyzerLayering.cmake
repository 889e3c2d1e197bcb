# The analyzer's include directions follow its data flow (analyzer/CMakeLists.txt):
#   model/     includes nothing else of the analyzer
#   evidence/  model/
#   rules/     model/
#   views/     model/
#   commands/  anything
# rules/ and views/ are pure (they compute and render, the OS is the commands' and evidence's
# business), so they include nothing from agent/os/ either. Every other agent/ header is fine.
#
# Script mode: cmake -DANALYZER_DIR=<source>/analyzer -P CheckAnalyzerLayering.cmake
# Prints one line per include that breaks the rules and fails when there is any.
cmake_minimum_required(VERSION 3.25)
if(NOT ANALYZER_DIR OR NOT IS_DIRECTORY "${ANALYZER_DIR}")
  message(FATAL_ERROR "CheckAnalyzerLayering: pass -DANALYZER_DIR=<source>/analyzer (got '${ANALYZER_DIR}')")
endif()

set(allowed_model "model")
set(allowed_evidence "model;evidence")
set(allowed_rules "model;rules")
set(allowed_views "model;views")
set(pure_layers "rules;views")
set(layers model evidence rules views)

set(violations "")
set(checked 0)
foreach(layer IN LISTS layers)
  file(GLOB sources "${ANALYZER_DIR}/${layer}/*.cpp" "${ANALYZER_DIR}/${layer}/*.hpp")
  foreach(source IN LISTS sources)
    math(EXPR checked "${checked} + 1")
    file(STRINGS "${source}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    file(RELATIVE_PATH shown "${ANALYZER_DIR}/.." "${source}")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*$" "\\1" header "${line}")
      if(header MATCHES "^analyzer/([^/]+)/")
        set(target "${CMAKE_MATCH_1}")
        if(NOT target IN_LIST allowed_${layer})
          list(APPEND violations "${shown} (${layer}/) includes ${header} (${target}/)")
        endif()
      elseif(header MATCHES "^agent/os/" AND layer IN_LIST pure_layers)
        list(APPEND violations "${shown} (${layer}/) includes ${header}: ${layer}/ does no I/O")
      elseif(NOT header MATCHES "^(analyzer|agent|interpose)/")
        list(APPEND violations "${shown} includes \"${header}\": includes are root-relative (analyzer/<layer>/...)")
      endif()
    endforeach()
  endforeach()
endforeach()

list(LENGTH violations count)
if(count GREATER 0)
  foreach(v IN LISTS violations)
    message("layering: ${v}")
  endforeach()
  message(FATAL_ERROR "layering: ${count} include(s) against the analyzer's data flow (see cmake/CheckAnalyzerLayering.cmake)")
endif()
message("layering: ${checked} files of analyzer/{model,evidence,rules,views} include only what their layer may")
