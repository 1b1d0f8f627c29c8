#!/usr/bin/env bash
# One call on a GPU machine (see ../shared/device/README.md): configure and build, then run the CUDA
# conformance suite, the whole ctest suite, compute-sanitizer (memcheck, racecheck, synccheck) over
# the CUDA tests, and the attention memory benchmark. Logs go to $OUT (or ./gpu-check-logs).
#
# Usage: tools/gpu_check.sh [step...]
#   steps: build cuda golden ctest memcheck racecheck synccheck bench resume graph speed train guard models
#          lab overhead
#   (no step: build to bench, in that order). Each step has its own time limit, so that one slow or
#        hung step leaves time (and logs) for the others. KILN_CUDA_FILTER narrows the Catch2 tests
#        that the cuda and sanitizer steps run (default "[cuda]").
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check-logs}"
mkdir -p "$out"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(build cuda golden ctest memcheck racecheck synccheck bench)
kiln=./build-gpu/kiln
filter="${KILN_CUDA_FILTER:-[cuda]}"
tests=./build-gpu/tests/kiln_tests

# The GPU machine has none of our Debian data packages: .devicepack/ (../shared/device/pack.sh) carries
# them, and they are linked where kiln looks by default, so that the CLI tests train on real data.
link_data() {
  local from=$1 to=$2
  [ -e "$to" ] || { [ -d "$from" ] && mkdir -p "$(dirname "$to")" && ln -s "$PWD/$from" "$to"; } || true
}
link_data .devicepack/data/fashion-mnist /usr/share/datasets/fashion-mnist
link_data .devicepack/data/fortunes /usr/share/games/fortunes
link_data .devicepack/data/midi /usr/share/planetblupi/music

extra_include=""
[ -d .devicepack/include ] && extra_include="-DKILN_EXTRA_INCLUDE=$PWD/.devicepack/include"

for step in "${steps[@]}"; do
  start=$(date +%s)
  case $step in
    build)
      { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nvcc --version | tail -2; date -u; } \
        > "$out/machine.txt" 2>&1
      { cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 $extra_include &&
        cmake --build build-gpu -j"$(nproc)"; } > "$out/build.log" 2>&1 ||
        { grep -E 'error|Error' -A5 "$out/build.log" | head -60; exit 1; } ;;
    cuda)
      timeout 240 $tests "$filter" > "$out/cuda_tests.log" 2>&1
      echo "cuda tests (rc $?): $(tail -3 "$out/cuda_tests.log" | tr '\n' ' ')"
      grep -E "FAILED|with message|exceeds|error" -A4 "$out/cuda_tests.log" | head -60 ;;
    golden)
      # The PyTorch golden tests; on a GPU machine they include the float32-on-CUDA configuration.
      timeout 240 $tests "[golden]" > "$out/golden.log" 2>&1
      echo "golden (rc $?): $(tail -2 "$out/golden.log" | tr '\n' ' ')"
      echo "CUDA comparisons: $(grep -c 'on cuda' "$out/golden.log"), exceeding: $(grep -c 'EXCEEDS\|MISMATCH' "$out/golden.log")"
      grep -E "EXCEEDS|MISMATCH" "$out/golden.log" | head -20 ;;
    ctest)
      timeout 300 ctest --test-dir build-gpu --output-on-failure -j8 -LE cuda --timeout 240 > "$out/ctest.log" 2>&1
      echo "ctest (rc $?): $(grep -E 'tests passed' "$out/ctest.log")"
      grep -E "\(Failed\)|\(Timeout\)|Exception" "$out/ctest.log" | head -30 ;;
    memcheck|racecheck|synccheck)
      limit=200; [ "$step" = memcheck ] || limit=150
      timeout $limit compute-sanitizer --tool "$step" $tests "$filter" > "$out/$step.log" 2>&1
      echo "$step (rc $?): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|test cases' "$out/$step.log" | tail -2 | tr '\n' ' ')"
      grep -E "^========= (Invalid|Error|Race|Barrier|Program hit)" -A3 "$out/$step.log" | head -30 ;;
    bench)
      [ -x build-gpu/benchmarks/bench_attention_memory ] &&
        timeout 120 ./build-gpu/benchmarks/bench_attention_memory > "$out/attention_memory.md" 2>&1
      echo "attention memory benchmark (rc $?):"; tail -15 "$out/attention_memory.md" ;;
    resume)
      # Interrupted and resumed = uninterrupted through the command line, on the CPU and on the GPU in
      # deterministic mode: 6 DCGAN steps straight vs 3 + `kiln resume --steps 6`, every tensor compared.
      flags="--batch 8 --features 4 --limit 64 --log-every 2 --sample-every 3 --checkpoint-every 3"
      ctest_runs=build-gpu/tests/cli-runs
      [ -f $ctest_runs/straight/model.safetensors ] &&
        echo "ctest's resume runs (cpu):" && python3 tools/compare_safetensors.py $ctest_runs/{straight,halves}/model.safetensors | tail -8
      for dev in cpu "cuda --deterministic"; do
        d=$(mktemp -d)
        $kiln train dcgan --steps 6 --device $dev $flags --out $d/straight > $d/log 2>&1 &&
          $kiln train dcgan --steps 3 --device $dev $flags --out $d/halves >> $d/log 2>&1 &&
          $kiln resume $d/halves --steps 6 >> $d/log 2>&1 || tail -5 $d/log
        echo "resume on $dev: metrics $(cmp -s $d/straight/metrics.csv $d/halves/metrics.csv && echo same || echo DIFFER)," \
          "weights $(cmp -s $d/straight/model.safetensors $d/halves/model.safetensors && echo same || echo DIFFER)"
        python3 tools/compare_safetensors.py $d/straight/model.safetensors $d/halves/model.safetensors
      done ;;
    graph)
      # Whole-step CUDA graphs through the command line (docs/cuda.md, "CUDA graphs"): kiln train vae on the
      # GPU in deterministic mode with --cuda-graph off, on, and on stopped at step 6 then resumed; metrics
      # and every tensor compared with the eager run. The "CUDA graph" lines say where a graph was refused.
      flags="--device cuda --deterministic --batch 32 --limit 512 --latent 8 --log-every 4 --sample-every 100 --checkpoint-every 6"
      d=$(mktemp -d)
      $kiln train vae --steps 12 $flags --cuda-graph off --out $d/eager > $d/log 2>&1 &&
        $kiln train vae --steps 12 $flags --cuda-graph on --out $d/graph >> $d/log 2>&1 &&
        $kiln train vae --steps 6 $flags --cuda-graph on --out $d/halves >> $d/log 2>&1 &&
        $kiln resume $d/halves --steps 12 >> $d/log 2>&1 || tail -5 $d/log
      grep -h "CUDA graph" $d/log | sort | uniq -c
      for run in graph halves; do
        echo "vae --cuda-graph on ($run) vs off: metrics $(cmp -s $d/eager/metrics.csv $d/$run/metrics.csv && echo same || echo DIFFER)," \
          "weights $(cmp -s $d/eager/model.safetensors $d/$run/model.safetensors && echo same || echo DIFFER)"
        python3 tools/compare_safetensors.py $d/eager/model.safetensors $d/$run/model.safetensors
      done ;;
    speed)
      # Each model alone on the GPU for a short run (the progress line's throughput), then PyTorch's
      # anchor timings for the same workloads in the same call, when .devicepack/anchors/torch_anchors.py
      # is there (copy it from ../shared/anchors/ after pack.sh).
      rm -rf speed-runs; mkdir -p speed-runs
      common="--device cuda --sample-every 100000 --checkpoint-every 100000 --log-every 50"
      for m in "dcgan --steps 400" "vae --steps 400" "classifier --steps 400" "charrnn --steps 200" \
               "gpt --steps 150" "rnnvae --steps 400"; do
        name=${m%% *}
        timeout 90 $kiln train $m $common --out speed-runs/$name > speed-runs/$name.log 2>&1
        echo "$m: $(tr '\r' '\n' < speed-runs/$name.log | grep -E '^step' | tail -1)"
      done
      [ -f .devicepack/anchors/torch_anchors.py ] &&
        timeout 150 python3 .devicepack/anchors/torch_anchors.py 2>&1 | grep -E "_ms|ms\"" | head -12 ;;
    train)
      # Models with their default GPU length, all at once (so throughput figures are shared-GPU
      # figures), each under KILN_TRAIN_LIMIT seconds; KILN_TRAIN_MODELS picks them (default: all eight,
      # e.g. KILN_TRAIN_MODELS="gpt rnnvae" for fewer, faster runs). Then every finished run is evaluated
      # and sampled, and style transfer runs on the classifier's features. The run folders come back as
      # $OUT/runs.tar.gz (without weights, audio and reports, to stay under the size limit).
      limit=${KILN_TRAIN_LIMIT:-300}
      device=${KILN_TRAIN_DEVICE:-cuda}  # cpu: to try this step on a machine without a GPU
      models=${KILN_TRAIN_MODELS:-"classifier dcgan vae gpt charrnn rnnvae gpt:music charrnn:music"}
      rm -rf gpu-runs; mkdir -p gpu-runs
      for m in $models; do
        name=${m/:/}
        args=${m%%:*}; [ "$m" != "${m%%:*}" ] && args="$args --corpus ${m##*:}"
        OMP_NUM_THREADS=2 timeout $limit $kiln train $args --device $device --out gpu-runs/$name > gpu-runs/$name.log 2>&1 &
      done
      wait
      for r in gpu-runs/*/; do echo "$r: $(tail -c 300 ${r%/}.log | tr '\r' '\n' | tail -2 | tr '\n' ' ')"; done
      : > gpu-runs/eval.log
      for r in gpu-runs/*/; do
        r=${r%/}; extra=""
        [ "$r" = gpu-runs/dcgan ] && extra="--classifier gpu-runs/classifier"
        $kiln eval $r $extra --device $device >> gpu-runs/eval.log 2>&1
        $kiln sample $r --device $device >> gpu-runs/sample.log 2>&1
      done
      [ -d gpu-runs/classifier ] &&
        $kiln style --content tests/golden/style_content.png --style tests/golden/style_style.png \
          --weights gpu-runs/classifier --device $device --out gpu-runs/style.png >> gpu-runs/sample.log 2>&1
      tail -40 gpu-runs/eval.log; grep -E "wrote|rror" gpu-runs/sample.log | tail -20
      tar czf "$out/runs.tar.gz" --exclude='*.safetensors' --exclude='*.wav' --exclude='report.html' gpu-runs ;;
    guard)
      # Issue 13 on a GPU: the NaN guard in each --on-nan mode and --detect-anomaly (tests/cli_nan_guard.cmake
      # with CUDA tensors, the guard's checks deferred to log points), then --batch auto against device memory.
      rm -rf gpu-guard; mkdir -p gpu-guard
      timeout 300 cmake -DKILN=$kiln -DRUNS=$PWD/gpu-guard -DDEVICE=cuda -P tests/cli_nan_guard.cmake > "$out/guard.log" 2>&1
      echo "NaN guard on cuda (rc $?)"; grep -E "Error|expected" -A3 "$out/guard.log" | head -20
      timeout 200 $kiln train gpt --device cuda --batch auto --steps 20 --out gpu-guard/batch-auto >> "$out/guard.log" 2>&1
      echo "--batch auto on cuda (rc $?): $(grep -o '"batch": "[0-9]*"' gpu-guard/batch-auto/config.json)" ;;
    models)
      # Issue 14: every reference workload's step in kiln beside PyTorch (eager and whole-step CUDA graph)
      # in one call; the results file (benchmarks/results/<gpu>-<date>.json and .md) comes back in $OUT.
      timeout 420 $kiln bench models --device cuda --graph both --torch --results "$out" > "$out/bench_models.log" 2>&1
      echo "bench models (rc $?):"; tail -20 "$out/bench_models.log" ;;
    lab)
      # Issue 14: the kernel lab, every family and version checked against the CPU, then timed.
      timeout 300 $kiln bench ops --device cuda --json "$out/bench_ops.json" > "$out/bench_ops.log" 2>&1
      echo "bench ops (rc $?):"; grep -E "FAILED|winner" "$out/bench_ops.log" | head -40 ;;
    overhead)
      timeout 60 $kiln bench overhead --device cuda --torch --json "$out/bench_overhead.json" > "$out/bench_overhead.log" 2>&1
      echo "bench overhead (rc $?):"; tail -12 "$out/bench_overhead.log" ;;
    *) echo "unknown step '$step' (steps: build cuda golden ctest memcheck racecheck synccheck bench resume graph speed train guard models lab overhead)"; exit 2 ;;
  esac
  echo "[$step: $(($(date +%s) - start)) s]"
done
