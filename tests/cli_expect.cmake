# Runs one kiln command and checks both its exit code and its output, for the bad-input tests:
#   cmake -DKILN=path/to/kiln -DARGS="train|--lr|nan" -DCODE=2 -DTEXT=regex -P cli_expect.cmake
# (ARGS separated by '|'). ctest's own PASS_REGULAR_EXPRESSION ignores the exit code, so a crash after the
# message, or a usage error reported as a runtime error, would pass there.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND "${KILN}" ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT "${rc}" STREQUAL "${CODE}")
  message(FATAL_ERROR "expected exit code ${CODE}, got '${rc}'")
endif()
if(NOT "${out}${err}" MATCHES "${TEXT}")
  message(FATAL_ERROR "expected output matching: ${TEXT}")
endif()
