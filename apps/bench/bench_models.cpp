// `kiln bench models`: placeholder until the instrument is written (issue 14).
#include "apps/bench/bench.h"
#include "apps/cli_args.h"

namespace kiln::apps::bench {

int bench_models(int, char**, int) { throw cli::UsageError("kiln bench models is not built yet"); }

}  // namespace kiln::apps::bench
