// `kiln bench overhead`: placeholder until the instrument is written (issue 14).
#include "apps/bench/bench.h"
#include "apps/cli_args.h"

namespace kiln::apps::bench {

int bench_overhead(int, char**, int) { throw cli::UsageError("kiln bench overhead is not built yet"); }

}  // namespace kiln::apps::bench
