# Runs one end-to-end case: BIN with ARGS (\x1f-separated), checks the exit code and output.
string(ASCII 31 _unit_separator)  # CMake has no "\x1f" escape
string(REPLACE "${_unit_separator}" ";" _args "${ARGS}")
execute_process(COMMAND ${BIN} ${_args}
                WORKING_DIRECTORY ${WORKDIR}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
message("$ cnndiag ${_args}\n${all}[exit ${rc}]")
if(NOT "${rc}" STREQUAL "${EXIT}")
  message(FATAL_ERROR "expected exit code ${EXIT}, got ${rc}")
endif()
if(MATCH AND NOT all MATCHES "${MATCH}")
  message(FATAL_ERROR "output does not match: ${MATCH}")
endif()
if(NOMATCH AND all MATCHES "${NOMATCH}")
  message(FATAL_ERROR "output matches what it must not: ${NOMATCH}")
endif()
