# One writer per run folder: while `kiln train` writes RUN, `kiln resume RUN` is refused (exit 1, a message
# saying another kiln process is writing it) instead of interleaving checkpoints and metrics.
#   cmake -DKILN=path/to/kiln -DTIMEOUT=path/to/timeout -DDATA=text-file -DRUN=folder -P cli_run_lock.cmake
file(REMOVE_RECURSE "${RUN}")
set(flags --device cpu --context 16 --layers 1 --heads 2 --width 16 --batch 2 --val-windows 2 --log-every 1000
    --sample-every 1000000 --checkpoint-every 1 --data "${DATA}")
# The two commands of one execute_process run at the same time: training for 12 s (a checkpoint after
# every step, so the run folder is there at once), and a resume of the same folder 6 s in.
# (The training's output goes to /dev/null: the pipe to the second command is never read.)
execute_process(COMMAND sh -c "\"$@\" > /dev/null" sh "${TIMEOUT}" -s INT 12 "${KILN}" train gpt --steps 1000000
                        ${flags} --out "${RUN}"
                COMMAND sh -c "sleep 6; exec \"$0\" resume \"$1\" --steps 2000000" "${KILN}" "${RUN}"
                RESULTS_VARIABLE rcs OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
list(GET rcs 1 resume_rc)
if(NOT resume_rc EQUAL 1 OR NOT "${err}" MATCHES "is being written by another kiln process")
  message(FATAL_ERROR "expected the resume to be refused while the run trains, got exit code '${resume_rc}'")
endif()
