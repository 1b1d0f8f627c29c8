# A run whose weights or checkpoint were damaged is refused, naming the file, and keeps its files:
#   model.safetensors with 4 bytes inserted in its data (every later weight would shift): `kiln sample`
#     and `kiln eval` exit 1 naming the file;
#   model.safetensors with a NaN in place of a weight: `kiln sample` exits 1 naming the file and the tensor;
#   checkpoint.safetensors with 4 bytes inserted: `kiln resume` exits 1 naming it, metrics.csv unchanged.
#   cmake -DKILN=... -DRUNS=folder -DCORPUS=file -P cli_damaged_run.cmake
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
set(run "${RUNS}/damaged")
file(REMOVE_RECURSE "${run}")
kiln(0 train gpt --context 16 --layers 1 --heads 2 --width 16 --batch 2 --val-windows 2 --device cpu --steps 2
     --data "${CORPUS}" --out "${run}")

# The size of a safetensors file's header (its first 8 bytes, little-endian; small here).
function(header_end file result)
  file(READ "${file}" length LIMIT 4 HEX)
  string(REGEX REPLACE "^(..)(..)(..)(..)$" "\\4\\3\\2\\1" length "${length}")
  math(EXPR end "8 + 0x${length}")
  set(${result} ${end} PARENT_SCOPE)
endfunction()
# `file` with the bytes `at` to `at` + `drop` replaced by `bytes` (printf escapes); CMake writes no binary.
function(splice file at drop bytes)
  math(EXPR rest "${at} + ${drop} + 1")
  execute_process(COMMAND sh -c "head -c ${at} \"$0\" && printf '${bytes}' && tail -c +${rest} \"$0\"" "${file}"
                  OUTPUT_FILE "${file}.spliced" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "could not splice ${file}")
  endif()
  file(RENAME "${file}.spliced" "${file}")
endfunction()

set(model "${run}/model.safetensors")
file(COPY_FILE "${model}" "${RUNS}/damaged-model.safetensors")
header_end("${model}" data)
math(EXPR inside "${data} + 4")
splice("${model}" ${inside} 0 "ABCD")
kiln(1 sample "${run}" --device cpu --length 8)
expect_match("${err}" "'${model}': the data section holds [0-9]+ bytes but the tensors cover [0-9]+: the 4 bytes after")
kiln(1 eval "${run}" --device cpu --windows 2)
expect_match("${err}" "'${model}': the data section holds")

# A float32 NaN (ff ff ff 7f) in place of the first weight.
file(COPY_FILE "${RUNS}/damaged-model.safetensors" "${model}")
splice("${model}" ${data} 4 "\\377\\377\\377\\177")
kiln(1 sample "${run}" --device cpu --length 8)
expect_match("${err}" "weights in '${model}': tensor '[^']+' holds nan at element 0 of")
file(COPY_FILE "${RUNS}/damaged-model.safetensors" "${model}")

set(checkpoint "${run}/checkpoint.safetensors")
header_end("${checkpoint}" data)
math(EXPR inside "${data} + 4")
splice("${checkpoint}" ${inside} 0 "ABCD")
file(READ "${run}/metrics.csv" before)
kiln(1 resume "${run}" --steps 3)
expect_match("${err}" "cannot read the checkpoint '${checkpoint}': .*the 4 bytes after")
file(READ "${run}/metrics.csv" after)
if(NOT before STREQUAL after)
  message(FATAL_ERROR "a refused resume changed metrics.csv")
endif()
