// The test runner. With KILN_CHECK_GRADCHECK_COVERAGE=1 (the ctest test gradcheck_covers_every_op)
// it also fails when a differentiable op of the op table was not covered by a passing gradcheck; with
// KILN_CHECK_CUDA_COVERAGE=1 (the ctest test cuda_conformance, on a GPU machine), when one was not
// covered by a passing CUDA-vs-CPU comparison.
#if defined(KILN_CATCH2_V2_HEADER)
#define CATCH_CONFIG_RUNNER
#include KILN_CATCH2_V2_HEADER
#elif __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <cstdio>
#include <cstdlib>

#include "core/allocator.h"
#include "core/gradcheck.h"
#include "core/ops/op_table.h"
#include "core/ops/rnn.h"
#include "cuda/conformance.h"

int main(int argc, char** argv) {
  int failed = Catch::Session().run(argc, argv);
  const char* check = std::getenv("KILN_CHECK_GRADCHECK_COVERAGE");
  if (check && check[0] == '1') {
    int missing = 0;
    for (int i = 0; i < kiln::kOpCount; ++i) {
      auto op = kiln::OpId(i);
      if (!kiln::op_is_differentiable(op) || kiln::gradcheck_coverage().count(op)) continue;
      // Moving between devices can only be checked where there are two devices.
      if (op == kiln::OpId::to_device && !kiln::cuda_is_available()) {
        std::printf("op 'to_device' not checked: no CUDA device (its gradient check runs on GPU machines)\n");
        continue;
      }
      // cuDNN's RNN runs only on a GPU, in a build with cuDNN.
      if (op == kiln::OpId::cudnn_rnn && !kiln::cudnn_rnn_available()) {
        std::printf("op 'cudnn_rnn' not checked: no CUDA device with cuDNN "
                    "(its gradient check runs on GPU machines)\n");
        continue;
      }
      {
        std::printf("op '%s' has no passing gradient check\n", kiln::op_name(op));
        ++missing;
      }
    }
    std::printf("gradient-check coverage: %d of the op table's differentiable ops missing\n", missing);
    if (missing) return 1;
  }
  const char* cuda_check = std::getenv("KILN_CHECK_CUDA_COVERAGE");
  if (cuda_check && cuda_check[0] == '1') {
    if (!kiln::cuda_is_available()) {
      std::printf("CUDA conformance coverage: not checked (no CUDA device)\n");
      return failed;
    }
    int missing = 0;
    for (int i = 0; i < kiln::kOpCount; ++i) {
      auto op = kiln::OpId(i);
      if (!kiln::op_is_differentiable(op) || kiln::test::cuda_conformance_coverage().count(op)) continue;
      // The harness moves inputs to the GPU outside the graph; to_device's own gradient check runs on
      // GPU machines in gradcheck_covers_every_op.
      if (op == kiln::OpId::to_device) continue;
      std::printf("op '%s' has no passing CUDA-vs-CPU comparison\n", kiln::op_name(op));
      ++missing;
    }
    std::printf("CUDA conformance coverage: %d of the op table's differentiable ops missing\n", missing);
    if (missing) return 1;
  }
  return failed;
}
