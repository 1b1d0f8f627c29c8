// BatchNorm's num_batches_tracked: counted on the tensor's device with an int64 add (no host read), and
// momentum = None (a cumulative average, factor 1/num_batches_tracked) computed from the buffer itself.
#include <cstdint>

#include "kiln_test.h"
#include "layers/norm.h"

using namespace kiln;

TEST_CASE("BatchNorm counts batches in place, exactly, in training only", "[layers][checkpoint]") {
  BatchNorm1d bn(2);
  Tensor counter = bn.num_batches_tracked;
  const void* storage = counter.data();
  for (int k = 1; k <= 3; ++k) {
    bn(randn({4, 2}));
    CHECK(bn.num_batches_tracked.data_ptr<int64_t>()[0] == k);
  }
  CHECK(bn.num_batches_tracked.data() == storage);  // the same buffer, updated in place
  CHECK(counter.data_ptr<int64_t>()[0] == 3);
  bn.eval();
  bn(randn({4, 2}));
  CHECK(bn.num_batches_tracked.data_ptr<int64_t>()[0] == 3);

  // Counts beyond 2^53 stay exact (an int64 add, not a round trip through a double).
  const int64_t big = (int64_t(1) << 60) + 1;
  bn.train();
  bn.num_batches_tracked.copy_(from_vector(std::vector<int64_t>{big}, Shape{}, {.dtype = DType::Int64}));
  bn(randn({4, 2}));
  CHECK(bn.num_batches_tracked.data_ptr<int64_t>()[0] == big + 1);

  BatchNorm1d untracked(2, {.track_running_stats = false});
  CHECK(!untracked.num_batches_tracked.defined());
  untracked(randn({4, 2}));
}

TEST_CASE("BatchNorm with momentum None keeps the cumulative average of the batch statistics", "[layers][checkpoint]") {
  BatchNorm1d bn(2, {.momentum = std::nullopt});
  bn.to(DType::Float64);
  // Channel 0 and 1 of three batches of 4; PyTorch's cumulative average: r_k = r_{k−1} + (s_k − r_{k−1})/k,
  // i.e. the plain mean of the batch means and of the unbiased batch variances.
  const std::vector<std::vector<double>> batches = {
      {1, 10, 2, 20, 6, 30, 3, 40}, {0, -1, 4, 1, 8, -3, 4, 3}, {5, 5, 5, 6, 5, 7, 9, 8}};
  double mean_sum[2] = {0, 0}, var_sum[2] = {0, 0};
  for (size_t k = 0; k < batches.size(); ++k) {
    Tensor x = test::f64(batches[k], {4, 2});
    Tensor y = bn(x);
    for (int c = 0; c < 2; ++c) {
      double m = 0, v = 0;
      for (int n = 0; n < 4; ++n) m += batches[k][size_t(2 * n + c)] / 4;
      for (int n = 0; n < 4; ++n) v += (batches[k][size_t(2 * n + c)] - m) * (batches[k][size_t(2 * n + c)] - m) / 3;
      mean_sum[c] += m;
      var_sum[c] += v;
      // The output is normalized with the batch's own (biased) statistics.
      const double x0 = batches[k][size_t(c)];
      CHECK(std::fabs(y[0][c].item() - (x0 - m) / std::sqrt(v * 3 / 4 + 1e-5)) < 1e-12);
    }
    const double n = double(k + 1);
    CHECK_CLOSE(bn.running_mean, {mean_sum[0] / n, mean_sum[1] / n}, 1e-12, 1e-12);
    CHECK_CLOSE(bn.running_var, {var_sum[0] / n, var_sum[1] / n}, 1e-12, 1e-12);
    CHECK(bn.num_batches_tracked.data_ptr<int64_t>()[0] == int64_t(k + 1));
  }

  // The factor comes from the buffer: after loading a state with 4 batches counted, the next batch
  // weighs 1/5. (Running statistics 10 and 2; the batch has mean 3 and unbiased variance 10/3.)
  BatchNorm1d loaded(1, {.momentum = std::nullopt});
  loaded.to(DType::Float64);
  loaded.load_state_dict(NamedTensors{{"weight", test::f64({1}, {1})}, {"bias", test::f64({0}, {1})},
                          {"running_mean", test::f64({10}, {1})}, {"running_var", test::f64({2}, {1})},
                          {"num_batches_tracked",
                           from_vector(std::vector<int64_t>{4}, Shape{}, {.dtype = DType::Int64})}});
  loaded(test::f64({1, 2, 4, 5}, {4, 1}));
  CHECK_CLOSE(loaded.running_mean, {0.8 * 10 + 0.2 * 3}, 1e-12, 1e-12);
  CHECK_CLOSE(loaded.running_var, {0.8 * 2 + 0.2 * 10.0 / 3}, 1e-12, 1e-12);
  CHECK(loaded.num_batches_tracked.data_ptr<int64_t>()[0] == 5);

  // Eval mode uses (and leaves) the running statistics.
  loaded.eval();
  loaded(test::f64({1, 2, 4, 5}, {4, 1}));
  CHECK(loaded.num_batches_tracked.data_ptr<int64_t>()[0] == 5);
  CHECK_CLOSE(loaded.running_mean, {8.6}, 1e-12, 1e-12);
}
