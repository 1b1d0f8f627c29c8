// `kiln bench SUBCOMMAND ...`: picks the instrument (apps/bench/bench.h).
#include <string>

#include "apps/bench/bench.h"
#include "apps/cli_args.h"
#include "apps/commands.h"

namespace kiln::apps {

int bench_command(int argc, char** argv, int first) {
  if (first >= argc) throw cli::UsageError("kiln bench needs one of: models, ops, overhead");
  const std::string what = argv[first];
  if (what == "models") return bench::bench_models(argc, argv, first + 1);
  if (what == "ops") return bench::bench_ops(argc, argv, first + 1);
  if (what == "overhead") return bench::bench_overhead(argc, argv, first + 1);
  throw cli::UsageError("kiln bench: unknown instrument '" + what + "' (models, ops, overhead)");
}

}  // namespace kiln::apps
