# Shared by the CLI test scripts (include()d by cli_expect.cmake, cli_resume.cmake, ...): run a command,
# show it with its output in the test log, and check its exit code and what it printed.
#   run_command(CODE COMMAND...)  fails unless COMMAND exits with CODE; sets `out` (stdout), `err`
#                                 (stderr) and `output` (both) in the caller's scope
#   kiln(CODE ARGS...)            run_command(CODE ${KILN} ARGS...)
#   expect_match(TEXT PATTERN)    fails unless TEXT matches the regular expression PATTERN
function(run_command code)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  string(REPLACE ";" " " command "${ARGN}")
  message("${command}\n${stdout}${stderr}")
  if(NOT "${rc}" STREQUAL "${code}")
    message(FATAL_ERROR "expected exit code ${code}, got '${rc}'")
  endif()
  set(out "${stdout}" PARENT_SCOPE)
  set(err "${stderr}" PARENT_SCOPE)
  set(output "${stdout}${stderr}" PARENT_SCOPE)
endfunction()

function(kiln code)
  run_command(${code} "${KILN}" ${ARGN})
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
  set(output "${output}" PARENT_SCOPE)
endfunction()

function(expect_match text pattern)
  if(NOT "${text}" MATCHES "${pattern}")
    message(FATAL_ERROR "expected output matching: ${pattern}")
  endif()
endfunction()
