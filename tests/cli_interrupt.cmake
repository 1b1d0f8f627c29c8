# Ctrl-C during training: `kiln train` stops at the end of a step with a checkpoint and exit code 130,
# and `kiln resume` then ends with exactly the checkpoint of a run that was never interrupted.
#   cmake -DKILN=path/to/kiln -DRUNS=folder [-DCHECKPOINT_EVERY=1] -P cli_interrupt.cmake  (needs sh)
# Metrics every 7 steps: the interruption most likely falls inside a window of 7, whose running sums the
# checkpoint must carry for the resumed run to log the same rows. With -DCHECKPOINT_EVERY=1 every step is
# a checkpoint step, so the signal lands (whenever it comes) at a step whose checkpoint is due: its
# metrics row must be logged, as an uninterrupted run logs it.
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
if(NOT DEFINED CHECKPOINT_EVERY)
  set(CHECKPOINT_EVERY 1000000)
endif()
set(flags --device cpu --batch 8 --features 4 --limit 64 --log-every 7 --sample-every 1000000
    --checkpoint-every ${CHECKPOINT_EVERY} --seed 3)
set(RUNS "${RUNS}/interrupt-${CHECKPOINT_EVERY}")
file(REMOVE_RECURSE "${RUNS}/interrupted" "${RUNS}/uninterrupted")
# SIGINT half a second after the first metrics row is logged (at step 7), so that the signal finds the
# run training however long the data set takes to load on a loaded machine (at most 4 minutes' wait).
# (No ';' in the script: run_command's arguments are a CMake list, which ';' would cut.)
set(run "${RUNS}/interrupted")
run_command(130 sh -c "\"$0\" \"$@\" & kiln=$!
                i=0
                while [ $(cat '${run}/metrics.csv' 2>/dev/null | wc -l) -lt 2 ] && [ $i -lt 2400 ] &&
                      kill -0 $kiln 2>/dev/null
                do
                  sleep 0.1
                  i=$((i + 1))
                done
                sleep 0.5
                kill -INT $kiln
                wait $kiln"
            "${KILN}" train dcgan --steps 1000000 ${flags} --out "${run}")
if(NOT "${err}" MATCHES "interrupted at step ([0-9]+) of 1000000; the checkpoint is saved")
  message(FATAL_ERROR "expected 'interrupted at step N of 1000000; the checkpoint is saved'")
endif()
set(stopped ${CMAKE_MATCH_1})
math(EXPR last "${stopped} + 2")
kiln(0 resume "${RUNS}/interrupted" --steps ${last})  # continues at the next step and finishes
math(EXPR next "${stopped} + 1")
expect_match("${out}" "resuming DCGAN .* at step ${next} of ${last}")
kiln(0 train dcgan --steps ${last} ${flags} --out "${RUNS}/uninterrupted")
foreach(file model.safetensors metrics.csv)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${RUNS}/interrupted/${file}"
                          "${RUNS}/uninterrupted/${file}" RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    message(FATAL_ERROR "the interrupted and resumed run's ${file} differs from an uninterrupted run's")
  endif()
endforeach()
