// `kiln bench`: the measuring instruments. models: one training step of each reference workload of
// shared/anchors/WORKLOADS.md, beside PyTorch; ops: the kernel lab; overhead: host time per tiny op.
// Each subcommand takes argv from `first` (the word after its name) and returns the exit code.
#pragma once

namespace kiln::apps::bench {

int bench_models(int argc, char** argv, int first);
int bench_ops(int argc, char** argv, int first);
int bench_overhead(int argc, char** argv, int first);

}  // namespace kiln::apps::bench
