# Resumed = uninterrupted, through the command line, for any model: `kiln train ARGS --steps 4` against
# `kiln train ARGS --steps 2` + `kiln resume --steps 4`, which must log the same metrics and end with
# byte-identical weights. Also: resuming a finished run without a larger --steps is a usage error that
# leaves the run folder as it was; stale temporary files of a killed writer are removed by the resume.
#   cmake -DKILN=path/to/kiln -DRUNS=folder -DARGS="gpt|--device|cpu|..." -P cli_resume.cmake  (ARGS '|'-separated)
string(REPLACE "|" ";" args "${ARGS}")
file(REMOVE_RECURSE "${RUNS}/straight" "${RUNS}/halves")
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
# `kiln ARGN` is refused with exit code `expected_rc` and a message matching `pattern`, and leaves the
# file `kept` as it was.
function(refused expected_rc pattern kept)
  file(READ "${kept}" before)
  kiln(${expected_rc} ${ARGN})
  expect_match("${output}" "${pattern}")
  file(READ "${kept}" after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "a refused resume changed ${kept}")
  endif()
endfunction()
kiln(0 train ${args} --steps 4 --out "${RUNS}/straight")
kiln(0 train ${args} --steps 2 --out "${RUNS}/halves")
refused(2 "has already trained 2 steps" "${RUNS}/halves/config.json" resume "${RUNS}/halves" --steps 2)
# Runs made before 2026-11-22 recorded "limit=0" among their flags, which resume replays, and runs made
# before 2026-12-07 could record an empty value ("data=", from --data ''; these runs read the default
# data): both still accepted.
file(READ "${RUNS}/halves/config.json" config)
string(REPLACE "\"flags\": \"" "\"flags\": \"limit=0\\n" config "${config}")
string(REGEX REPLACE "(\"flags\": \"[^\"]*)\"" "\\1\\\\ndata=\"" config "${config}")
file(WRITE "${RUNS}/halves/config.json" "${config}")
# What a writer killed in the middle of a checkpoint or a sample leaves behind goes at the resume.
file(WRITE "${RUNS}/halves/.checkpoint.safetensors.tmp.99999.0.1" "half a checkpoint")
file(WRITE "${RUNS}/halves/samples/.step-000002.txt.tmp.99999.1.2" "half a sample")
kiln(0 resume "${RUNS}/halves" --steps 4)
expect_match("${output}" "resuming .* at step 3 of 4")
file(GLOB_RECURSE left "${RUNS}/halves/.*.tmp.*" "${RUNS}/halves/samples/.*.tmp.*")
if(left)
  message(FATAL_ERROR "stale temporary files were not removed: ${left}")
endif()
foreach(file metrics.csv model.safetensors)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${RUNS}/straight/${file}" "${RUNS}/halves/${file}"
                  RESULT_VARIABLE differ)
  if(differ)
    message(FATAL_ERROR "${file} of the resumed run differs from the uninterrupted run's")
  endif()
endforeach()
# A checkpoint copied in from another run (here FOREIGN_ARGS, when given: the same model on another
# corpus) is refused with the name of what differs, and the run it was copied into keeps its files.
if(DEFINED FOREIGN_ARGS)
  string(REPLACE "|" ";" foreign_args "${FOREIGN_ARGS}")
  file(REMOVE_RECURSE "${RUNS}/foreign")
  kiln(0 train ${foreign_args} --steps 2 --out "${RUNS}/foreign")
  file(COPY_FILE "${RUNS}/halves/checkpoint.safetensors" "${RUNS}/foreign/checkpoint.safetensors")
  refused(1 "was written by another run: its 'corpus' differs" "${RUNS}/foreign/metrics.csv"
          resume "${RUNS}/foreign" --steps 4)
endif()
