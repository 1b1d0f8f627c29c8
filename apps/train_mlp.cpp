#include "apps/train_mlp.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "apps/train_options.h"
#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "data/idx.h"

namespace kiln::apps {
namespace {

// PyTorch's nn.Linear initialization: U(−1/√fan_in, 1/√fan_in) for weight and bias.
Tensor linear_init(const Shape& shape, int64_t fan_in, Generator& gen) {
  double bound = 1.0 / std::sqrt(double(fan_in));
  return uniform(shape, -bound, bound, {}, gen).requires_grad_(true);
}

// The rows `order[start..start+n)` of a host array of `row` floats, as a tensor of `shape`.
Tensor gather_rows(const std::vector<float>& all, int64_t row, const std::vector<int64_t>& order, int64_t start,
                   int64_t n) {
  std::vector<float> out(static_cast<size_t>(n * row));
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(all.begin() + order[start + i] * row, row, out.begin() + i * row);
  return from_vector(out, {n, row});
}

Tensor gather_labels(const std::vector<int64_t>& all, const std::vector<int64_t>& order, int64_t start, int64_t n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = all[order[start + i]];
  return from_vector(out, {n}, {.dtype = DType::Int64});
}

}  // namespace

double train_mlp(const MlpConfig& cfg) {
  data::ImageDataset train = data::load_mnist_format(cfg.data_dir, "train");
  data::ImageDataset test = data::load_mnist_format(cfg.data_dir, "test");
  const int64_t pixels = train.images.numel() / train.images.size(0);
  std::vector<float> train_x = train.images.to_vector<float>(), test_x = test.images.to_vector<float>();
  std::vector<int64_t> train_y = train.labels.to_vector<int64_t>(), test_y = test.labels.to_vector<int64_t>();
  int64_t n_train = train.images.size(0);
  if (cfg.limit > 0) n_train = std::min(n_train, cfg.limit);
  check_batch_fits(cfg.batch, n_train, cfg.data_dir);
  std::printf("kiln demo: MLP %lld-%lld-10 on %s (%lld training images, %lld test), batch %lld, SGD lr %g momentum %g, cpu\n",
              (long long)pixels, (long long)cfg.hidden, cfg.data_dir.c_str(), (long long)n_train,
              (long long)test.images.size(0), (long long)cfg.batch, cfg.lr, cfg.momentum);

  Generator gen(cfg.seed);
  std::vector<Tensor> params = {linear_init({cfg.hidden, pixels}, pixels, gen), linear_init({cfg.hidden}, pixels, gen),
                                linear_init({10, cfg.hidden}, cfg.hidden, gen), linear_init({10}, cfg.hidden, gen)};
  std::vector<Tensor> velocity;
  for (const Tensor& p : params) velocity.push_back(zeros(p.shape()));
  auto forward = [&](const Tensor& x) { return linear(relu(linear(x, params[0], params[1])), params[2], params[3]); };

  double accuracy = 0;
  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order = randperm(train.images.size(0), gen).to_vector<int64_t>();
    double loss_sum = 0;
    int64_t steps = 0;
    for (int64_t start = 0; start + cfg.batch <= n_train; start += cfg.batch, ++steps) {
      Tensor x = gather_rows(train_x, pixels, order, start, cfg.batch);
      Tensor y = gather_labels(train_y, order, start, cfg.batch);
      Tensor loss = cross_entropy(forward(x), y);
      for (const Tensor& p : params) p.set_grad(Tensor());
      loss.backward();
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {  // v ← μ·v + g ;  p ← p − lr·v   (PyTorch's SGD)
        velocity[i].mul_(cfg.momentum).add_(params[i].grad());
        params[i].add_(velocity[i], -cfg.lr);
      }
      loss_sum += loss.item();
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    NoGradGuard no_grad;
    int64_t correct = 0, n_test = test.images.size(0);
    std::vector<int64_t> all(static_cast<size_t>(n_test));
    for (int64_t i = 0; i < n_test; ++i) all[i] = i;
    for (int64_t start = 0; start < n_test; start += 1000) {
      int64_t n = std::min<int64_t>(1000, n_test - start);
      std::vector<int64_t> predicted = argmax(forward(gather_rows(test_x, pixels, all, start, n)), 1).to_vector<int64_t>();
      for (int64_t i = 0; i < n; ++i) correct += predicted[i] == test_y[start + i];
    }
    accuracy = double(correct) / double(n_test);
    std::printf("epoch %lld/%lld  train loss %.4f  test accuracy %.2f%%  %.1f s  %.0f images/s\n", (long long)epoch,
                (long long)cfg.epochs, loss_sum / double(std::max<int64_t>(steps, 1)), 100 * accuracy, seconds,
                double(steps * cfg.batch) / seconds);
    std::fflush(stdout);
  }
  return accuracy;
}

}  // namespace kiln::apps
