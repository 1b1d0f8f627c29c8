# The NaN guard: `kiln train gpt --lr 100` diverges within a few steps. Each --on-nan mode does what
# docs/cli.md says, says so, and leaves a run folder whose checkpoint holds finite weights: resuming it
# gently (--lr 1e-3 --on-nan stop, which would stop at once on nan weights) trains to the end.
#   cmake -DKILN=path/to/kiln -DRUNS=folder [-DDEVICE=cuda] -P cli_nan_guard.cmake
# (DEVICE: cpu, the default; tools/gpu_check.sh's guard step runs it on a GPU, where the guard's checks
# are deferred to log, sample and checkpoint steps.)
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
if(NOT DEFINED DEVICE)
  set(DEVICE cpu)
endif()
set(tiny --data ${CMAKE_CURRENT_LIST_DIR}/cli_data/unseen_byte.txt --device ${DEVICE} --batch 2 --context 16 --layers 1 --heads 2 --width 16 --val-windows 2 --sample-every 1000
    --log-every 1 --warmup 0)
set(RUNS "${RUNS}/nan-guard")
file(REMOVE_RECURSE "${RUNS}")

# The resumed run finishes without a non-finite loss: the checkpoint the guard kept is finite.
function(expect_finite_checkpoint run steps)
  kiln(0 resume "${run}" --lr 1e-3 --on-nan stop --steps ${steps})
endfunction()

# rollback (the default): back to the start with the learning rate halved, twice, then it stops.
kiln(1 train gpt ${tiny} --steps 30 --lr 100 --nan-limit 2 --out "${RUNS}/rollback")
expect_match("${out}" "step [0-9]+: [a-z_ ]+ is (nan|inf|-inf); rolled back to step 0 and halved the learning rate to 50 \\(rollback 1 of at most 2\\)")
expect_match("${out}" "rolled back to step 0 and halved the learning rate to 25 \\(rollback 2 of at most 2\\)")
expect_match("${err}" "the run diverged: step [0-9]+: .*stopped \\(--nan-limit 2 reached: 2 rollbacks before\\).*kiln resume .* --lr 12.5")
expect_finite_checkpoint("${RUNS}/rollback" 31)

# skip: the diverging step's update is dropped; diverging again and again, it stops after --nan-limit.
kiln(1 train gpt ${tiny} --steps 30 --lr 100 --on-nan skip --nan-limit 2 --out "${RUNS}/skip")
expect_match("${out}" "step ([0-9]+): [a-z_ ]+ is (nan|inf|-inf); skipped its update \\(1 of at most 2 in a row\\)")
expect_match("${err}" "stopped \\(--nan-limit 2 reached: 3 diverging checks in a row\\)")
expect_finite_checkpoint("${RUNS}/skip" 31)

# stop: at once, with the start of the run as its checkpoint.
kiln(1 train gpt ${tiny} --steps 30 --lr 100 --on-nan stop --out "${RUNS}/stop")
expect_match("${err}" "stopped \\(--on-nan stop\\)\\. .* keeps the last good state, the checkpoint of step 0")
expect_finite_checkpoint("${RUNS}/stop" 31)
# --on-nan is recorded: the resumed run replays it (and its metrics.csv has rows, all finite).
file(READ "${RUNS}/stop/config.json" config)
expect_match("${config}" "on-nan=stop")
file(READ "${RUNS}/stop/metrics.csv" metrics)
if(metrics MATCHES "nan|inf")
  message(FATAL_ERROR "metrics.csv holds a non-finite value:\n${metrics}")
endif()

# A spike: at --lr 1 the loss of this tiny GPT jumps above its running mean now and then (by up to 5%
# around step 78), so a factor of 1.01 finds one, but only after the warm-up of 50 good steps.
kiln(1 train gpt ${tiny} --warmup 15 --steps 150 --lr 1 --spike-factor 1.01 --on-nan stop --out "${RUNS}/spike")
expect_match("${err}" "the run diverged: step ([5-9][0-9]|1[0-9][0-9]): loss [0-9.]+ is over 1.01 × its running mean [0-9.]+; stopped \\(--on-nan stop\\)")

# --detect-anomaly: backward stops at the op whose gradient first went non-finite, naming it and the
# forward that called it (the GPT's).
kiln(1 train gpt ${tiny} --steps 30 --lr 100 --detect-anomaly --out "${RUNS}/anomaly")
expect_match("${err}" "detect anomaly: the backward of '[a-z_]+' returned (nan|inf) in the gradient of its input")
expect_match("${err}" "at kiln::models::GPT::forward")

kiln(2 train gpt ${tiny} --on-nan ignore --out "${RUNS}/bad-flag")
expect_match("${err}" "--on-nan ignore: expected skip, rollback or stop")
