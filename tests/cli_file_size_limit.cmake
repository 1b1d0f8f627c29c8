# A file size limit (ulimit -f) smaller than a checkpoint: `kiln train` must end with exit code 1 and a
# message naming the file and the limit, not be killed by SIGXFSZ (exit code 153, no message), and must
# leave no temporary file in the run folder.
#   cmake -DKILN=path/to/kiln -DIMAGES=folder -DRUNS=folder -P cli_file_size_limit.cmake
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
set(run "${RUNS}/file_size_limit")
file(REMOVE_RECURSE "${run}")
# 200 blocks (100 or 200 KiB, by the shell's unit): config.json fits, the checkpoint (about 1.3 MB) does not.
run_command(1 sh -c "ulimit -f 200 && exec \"$0\" \"$@\"" "${KILN}" train dcgan --data "${IMAGES}"
            --image-size 28 --channels 1 --features 4 --steps 2 --batch 2 --device cpu --checkpoint-every 1
            --out "${run}")
expect_match("${err}" "cannot write '[^']*checkpoint.safetensors': .*File too large \\(the file size limit, ulimit -f, is")
file(GLOB temporary "${run}/.*.tmp.*")
if(temporary)
  message(FATAL_ERROR "temporary files left behind: ${temporary}")
endif()
