# Run folders that are not as kiln left them, for the bad-input tests:
#   MODE=corrupt_config: a copy of run RUN's config.json in DIR, with KEY set to VALUE; `kiln ARGS DIR`
#     must exit 1 naming config.json, the key and the value (or print EXPECT, when given), and leave
#     config.json as it was; WITH_WEIGHTS=1 copies the run's model.safetensors too.
#   MODE=out_not_empty: `kiln ARGS --out DIR/` with DIR holding a file of the user's must leave that file
#     alone and train into DIR-2.
#   MODE=newline_in_data: `kiln ARGS --data D` with a line break in D's name, then `kiln resume`;
#     RUN is the text file to put in D.
#   MODE=without_data: a copy of run RUN's config.json and weights in DIR, whose data no longer exists;
#     `kiln ARGS DIR` must still work (sampling a text run needs only its recorded vocabulary).
#   cmake -DKILN=... -DMODE=... -DRUN=... -DKEY=... -DVALUE=... -DDIR=... -DARGS="sample|--device|cpu" -P cli_run_folder.cmake
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
string(REPLACE "|" ";" args "${ARGS}")
if(MODE STREQUAL "corrupt_config")
  # Only config.json: the run's other files may be being written by tests that sample from it, and the
  # bad value is found before any weights are read.
  file(REMOVE_RECURSE "${DIR}")
  file(READ "${RUN}/config.json" config)
  string(REGEX REPLACE "\"${KEY}\": \"[^\"]*\"" "\"${KEY}\": \"${VALUE}\"" config "${config}")
  file(WRITE "${DIR}/config.json" "${config}")
  if(WITH_WEIGHTS)  # for a value read after the weights (written once, when the run ended)
    file(COPY_FILE "${RUN}/model.safetensors" "${DIR}/model.safetensors")
  endif()
  kiln(1 ${args} "${DIR}")
  if(NOT DEFINED EXPECT)
    set(EXPECT "config.json': '${KEY}' is '${VALUE}', expected")
  endif()
  expect_match("${err}" "${EXPECT}")
  file(READ "${DIR}/config.json" after)
  if(NOT after STREQUAL config)
    message(FATAL_ERROR "the refused command changed ${DIR}/config.json")
  endif()
elseif(MODE STREQUAL "out_not_empty")
  file(REMOVE_RECURSE "${DIR}" "${DIR}-2")
  file(WRITE "${DIR}/model.safetensors" "the user's file")
  kiln(0 ${args} --out "${DIR}/")
  expect_match("${err}" "is not empty or in use; this run goes to")
  file(READ "${DIR}/model.safetensors" kept)
  if(NOT kept STREQUAL "the user's file" OR NOT EXISTS "${DIR}-2/config.json")
    message(FATAL_ERROR "expected the run in ${DIR}-2 and the user's file untouched")
  endif()
elseif(MODE STREQUAL "without_data")
  file(REMOVE_RECURSE "${DIR}")
  file(READ "${RUN}/config.json" config)
  string(REGEX REPLACE "\"data\": \"[^\"]*\"" "\"data\": \"/nonexistent/corpus\"" config "${config}")
  file(WRITE "${DIR}/config.json" "${config}")
  file(COPY_FILE "${RUN}/model.safetensors" "${DIR}/model.safetensors")
  kiln(0 ${args} "${DIR}")  # the sample is written without the run's data
  expect_match("${out}" "wrote ")
elseif(MODE STREQUAL "newline_in_data")
  # A folder name with a line break in it survives the recorded flags: resume finds it.
  set(data "${DIR}/corpus\nwith an odd name")
  file(REMOVE_RECURSE "${DIR}")
  file(MAKE_DIRECTORY "${data}")
  file(COPY_FILE "${RUN}" "${data}/text.txt")
  kiln(0 ${args} --steps 2 --data "${data}" --out "${DIR}/run")
  kiln(0 resume "${DIR}/run" --steps 3)
  expect_match("${out}" "resuming .* at step 3 of 3")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
