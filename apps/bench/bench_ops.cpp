// `kiln bench ops`: placeholder until the instrument is written (issue 14).
#include "apps/bench/bench.h"
#include "apps/cli_args.h"

namespace kiln::apps::bench {

int bench_ops(int, char**, int) { throw cli::UsageError("kiln bench ops is not built yet"); }

}  // namespace kiln::apps::bench
