# Fails when a Catch2 test case name holds a ';' (tests/CMakeLists.txt: test_names_are_discoverable).
# catch_discover_tests turns the output of the listing into a CMake list, so such a name becomes two
# ctest tests that match no test case. Usage: cmake -DTESTS=kiln_tests -DLIST_ARGS=a|b -P test_names.cmake
string(REPLACE "|" ";" list_args "${LIST_ARGS}")
# The listing's exit code is the number of test cases (Catch2 v2): only its output tells.
execute_process(COMMAND ${TESTS} ${list_args} OUTPUT_VARIABLE names ERROR_VARIABLE errors)
string(REGEX MATCHALL "[^\n]+" lines "${names}")
list(LENGTH lines count)
if(count LESS 10)
  message(FATAL_ERROR "'${TESTS} ${LIST_ARGS}' listed ${count} test cases:\n${names}${errors}")
endif()
# Seen through a CMake variable, a ';' separates list items: mark it before looking for it.
string(REPLACE ";" "<SEMICOLON>" marked "${names}")
string(REGEX MATCHALL "[^\n]*<SEMICOLON>[^\n]*" bad "${marked}")
if(bad)
  list(JOIN bad "\n" bad)
  string(REPLACE "<SEMICOLON>" ";" bad "${bad}")
  message(FATAL_ERROR "test case names with ';' (ctest's discovery splits them into tests that run nothing; "
                      "write ', and' or ':' instead):\n${bad}")
endif()
message(STATUS "${count} test case names, none with ';'")
