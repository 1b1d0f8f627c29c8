// The kiln commands, one function each (argv as main got it; `first` is the index of the first argument
// after the command and model words). Each throws cli::UsageError for bad flags and kiln::Error for
// everything else; main turns them into exit codes 2 and 1.
#pragma once
#include <string>

namespace kiln::apps {

int train_classifier(int argc, char** argv, int first);
int train_dcgan(int argc, char** argv, int first);
int train_vae(int argc, char** argv, int first);
// kind: "gpt" or "charrnn"
int train_sequence_model(int argc, char** argv, int first, const std::string& kind);
int train_rnnvae(int argc, char** argv, int first);
int sample_command(int argc, char** argv, int first);
int eval_command(int argc, char** argv, int first);
int style_command(int argc, char** argv, int first);
int bench_command(int argc, char** argv, int first);  // apps/bench/

}  // namespace kiln::apps
