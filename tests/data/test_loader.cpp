// The data loader: batches cover each epoch once, orders are reproducible from (seed, epoch), seek()
// resumes exactly, and prefetching gives the same batches as assembling in place.
#include <algorithm>

#include "data/loader.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;

namespace {

std::vector<Tensor> numbered(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.insert(x.end(), {float(i), float(-i)});
    y.push_back(i);
  }
  return {from_vector(x, {n, 2}), from_vector(y, {n}, {.dtype = DType::Int64})};
}

}  // namespace

TEST_CASE("loader: every sample once per epoch, rows kept together", "[data][loader]") {
  DataLoader loader(numbered(10), {.batch_size = 3, .drop_last = false, .seed = 7});
  CHECK(loader.batches_per_epoch() == 4);
  std::vector<int64_t> seen;
  for (int b = 0; b < 4; ++b) {
    std::vector<Tensor> batch = loader.next();
    std::vector<float> x = batch[0].to_vector<float>();
    std::vector<int64_t> y = batch[1].to_vector<int64_t>();
    CHECK(int64_t(y.size()) == (b < 3 ? 3 : 1));
    for (size_t i = 0; i < y.size(); ++i) CHECK((x[2 * i] == float(y[i]) && x[2 * i + 1] == -float(y[i])));
    seen.insert(seen.end(), y.begin(), y.end());
  }
  CHECK(loader.position() == LoaderPosition{1, 0});
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(seen == loader.epoch_order(0));
  CHECK(loader.epoch_order(0) != loader.epoch_order(1));
  DataLoader same_seed(numbered(10), {.batch_size = 3, .seed = 7});
  CHECK(same_seed.epoch_order(1) == loader.epoch_order(1));
}

TEST_CASE("loader: seek resumes the exact batch sequence, with and without prefetching", "[data][loader]") {
  for (int prefetch : {0, 2}) {
    INFO("prefetch " << prefetch);
    DataLoader straight(numbered(11), {.batch_size = 4, .seed = 3, .prefetch = prefetch});
    std::vector<std::vector<int64_t>> expected;
    for (int i = 0; i < 7; ++i) expected.push_back(straight.next()[1].to_vector<int64_t>());
    DataLoader resumed(numbered(11), {.batch_size = 4, .seed = 3, .prefetch = prefetch});
    resumed.next();
    resumed.seek({1, 1});  // the 5th batch: epoch 1 (2 batches an epoch with drop_last), batch 1
    CHECK(resumed.next()[1].to_vector<int64_t>() == expected[3]);
    for (int i = 4; i < 7; ++i) CHECK(resumed.next()[1].to_vector<int64_t>() == expected[size_t(i)]);
  }
}

TEST_CASE("loader: bad arguments are reported", "[data][loader]") {
  CHECK_THROWS_WITH_TEXT(DataLoader(numbered(5), {.batch_size = 0}), "batch size must be at least 1");
  CHECK_THROWS_WITH_TEXT(DataLoader(numbered(5), {.batch_size = 8}), "5 samples make no batch of 8");
  CHECK_THROWS_WITH_TEXT(DataLoader({zeros({4}), zeros({5})}, {.batch_size = 2}), "disagree on the number of samples");
  DataLoader ok(numbered(5), {.batch_size = 2});
  CHECK_THROWS_WITH_TEXT(ok.seek({0, 2}), "outside an epoch of 2 batches");
}
