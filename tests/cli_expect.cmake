# Runs one kiln command and checks both its exit code and its output, for the bad-input tests:
#   cmake -DKILN=path/to/kiln -DARGS="train|--lr|nan" -DCODE=2 -DTEXT=regex -P cli_expect.cmake
# (ARGS separated by '|'). ctest's own PASS_REGULAR_EXPRESSION ignores the exit code, so a crash after the
# message, or a usage error reported as a runtime error, would pass there.
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
string(REPLACE "|" ";" args "${ARGS}")
kiln(${CODE} ${args})
expect_match("${output}" "${TEXT}")
