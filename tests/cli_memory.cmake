# Memory limits, as containers and batch schedulers set them (here an address-space limit, prlimit --as):
# a batch that does not fit is refused with the numbers and a batch that fits, exit code 1, before the run
# folder exists (not killed by the kernel, exit 137); --batch auto finds a batch under the limit and
# trains with it; a config.json edited to an absurd size is named before a model is built from it.
#   cmake -DKILN=path/to/kiln -DPRLIMIT=path/to/prlimit -DRUNS=folder -P cli_memory.cmake
include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)
set(tiny --device cpu --steps 1 --layers 1 --heads 2 --width 16 --val-windows 2 --sample-every 1000)
set(refused "${RUNS}/memory_refused")
file(REMOVE_RECURSE "${refused}")
# The address space kiln takes before its step (libraries, thread stacks: it differs between machines),
# read from the refusal under a 4 GiB limit; the limit of the tests is that plus 400 MiB.
run_command(1 "${PRLIMIT}" --as=4294967296 "${KILN}" train gpt ${tiny} --context 16 --batch 1000000 --out "${refused}")
expect_match("${err}" "not enough memory: this run needs about [0-9.]+ GiB more at --batch 1000000 \\(measured")
expect_match("${err}" "only ([0-9.]+) GiB of the 4.00 GiB limit is left \\(RLIMIT_AS \\(ulimit -v\\)\\); --batch [0-9]+ fits")
if(EXISTS "${refused}")
  message(FATAL_ERROR "the refused run created its folder ${refused}")
endif()
string(REGEX MATCH "only ([0-9]+)\\.0?([0-9]+) GiB of the 4" left "${err}")
math(EXPR limit "(4 * 1024 - ${CMAKE_MATCH_1} * 1024 - ${CMAKE_MATCH_2} * 1024 / 100 + 10 + 400) * 1048576")
set(limit "--as=${limit}")

# --batch auto: the search starts at 4096 windows of 256 tokens (about 3 GiB), far past the limit.
set(auto "${RUNS}/memory_auto")
file(REMOVE_RECURSE "${auto}")
run_command(0 "${PRLIMIT}" ${limit} "${KILN}" train gpt ${tiny} --context 256 --batch auto --out "${auto}")
expect_match("${out}" "--batch auto: ([0-9]+) is the largest batch that fits")
string(REGEX MATCH "--batch auto: ([0-9]+)" found "${out}")
set(batch "${CMAKE_MATCH_1}")
if(batch GREATER_EQUAL 4096 OR batch LESS 8)
  message(FATAL_ERROR "--batch auto chose ${batch}: expected a batch under the limit, well below 4096")
endif()
file(READ "${auto}/config.json" config)
expect_match("${config}" "\"batch\": \"${batch}\"")
expect_match("${config}" "batch=${batch}")  # the number is what kiln resume replays

# A config.json edited to hidden 100000: named, before a 14 GB model is built.
set(edited "${RUNS}/memory_edited")
file(REMOVE_RECURSE "${edited}")
kiln(0 train charrnn --device cpu --steps 1 --batch 2 --context 16 --hidden 16 --embed 8 --val-windows 2
     --out "${edited}")
file(READ "${edited}/config.json" config)
string(REPLACE "\"hidden\": \"16\"" "\"hidden\": \"100000\"" config "${config}")
file(WRITE "${edited}/config.json" "${config}")
run_command(1 "${PRLIMIT}" ${limit} "${KILN}" sample "${edited}" --device cpu --length 10)
expect_match("${err}" "config.json': 'hidden' is 100000, but the weights in '[^']*model.safetensors' were trained")

# The other trainers take the same memory step (settle_batch, apps/training_run.h): the sentence VAE at an
# absurd batch is refused under the limit with the numbers, before its folder exists; --batch auto trains.
set(rnnvae_tiny --device cpu --steps 1 --hidden 16 --embed 8 --latent 4 --max-len 32)
set(refused "${RUNS}/memory_refused_rnnvae")
file(REMOVE_RECURSE "${refused}")
run_command(1 "${PRLIMIT}" ${limit} "${KILN}" train rnnvae ${rnnvae_tiny} --batch 1000000 --out "${refused}")
expect_match("${err}" "not enough memory: this run needs about [0-9.]+ GiB more at --batch 1000000 \\(measured")
expect_match("${err}" "only [0-9.]+ [GM]iB of the [0-9.]+ [GM]iB limit is left \\(RLIMIT_AS \\(ulimit -v\\)\\); --batch [0-9]+ fits")
if(EXISTS "${refused}")
  message(FATAL_ERROR "the refused run created its folder ${refused}")
endif()
set(auto "${RUNS}/memory_auto_rnnvae")
file(REMOVE_RECURSE "${auto}")
run_command(0 "${PRLIMIT}" ${limit} "${KILN}" train rnnvae ${rnnvae_tiny} --batch auto --out "${auto}")
expect_match("${out}" "--batch auto: ([0-9]+) is the largest batch that fits")
string(REGEX MATCH "--batch auto: ([0-9]+)" found "${out}")
file(READ "${auto}/config.json" config)
expect_match("${config}" "batch=${CMAKE_MATCH_1}")  # the number is what kiln resume replays
