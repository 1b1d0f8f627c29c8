// The kernel lab's memory-bound families (docs/kernel-lab.md): elementwise, reductions, softmax,
// softmax + cross-entropy, layer_norm, batch_norm, pooling and AdamW. Their rate is bytes moved per second
// (the least a kernel must read and write), compared with the device's measured copy bandwidth.
// A new version is one more .add(...) line in its family below.
#include <array>
#include <limits>
#include <memory>

#include "apps/bench/lab_buffers.h"
#include "apps/bench/lab_registry.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/optim_step.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/softmax.h"

#if KILN_HAVE_CUDA
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/optim_step.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/softmax.h"
#endif

namespace kiln::apps::bench {
namespace {

constexpr DeviceType CPU = DeviceType::CPU;
[[maybe_unused]] constexpr DeviceType CUDA = DeviceType::CUDA;
constexpr double kF32 = 4;  // bytes per float32 element

// Families here measure bytes against the copy bandwidth.
template <class P>
std::shared_ptr<LabFamily<P>> new_family(const char* name, const char* measures, const char* cost_model) {
  return new_lab_family<P>(name, measures, cost_model, CostUnit::Bytes, ReferenceKind::CopyBandwidth);
}

// ---------------------------------------------------------------- a row-wise problem [M, K]: x → y
// Shared by elementwise (x and a second input), reductions, softmax and layer_norm.
struct RowsProblem {
  int64_t M = 0, K = 0;
  std::vector<int64_t> shape, strides, padded_strides;
  std::vector<float> host_x, host_b;
  LabBuffer x, b, x_padded, b_padded, y, mean, rstd, weight, bias;
};

std::unique_ptr<RowsProblem> rows_problem(const LabDims& d, Device dev, bool padded_copies) {
  auto p = std::make_unique<RowsProblem>();
  p->M = d[0];
  p->K = d[1];
  p->shape = {p->M, p->K};
  p->strides = {p->K, 1};
  p->padded_strides = {p->K + 1, 1};
  p->host_x = random_floats(p->M * p->K, 1, -4.f, 4.f);
  p->host_b = random_floats(p->M * p->K, 2);
  p->x = upload(p->host_x, dev);
  p->b = upload(p->host_b, dev);
  if (padded_copies) {  // the same values in rows of K + 1: no two rows merge, so the strided path runs
    std::vector<float> xp(static_cast<size_t>(p->M * (p->K + 1))), bp(xp.size());
    for (int64_t i = 0; i < p->M; ++i)
      for (int64_t j = 0; j < p->K; ++j) {
        xp[size_t(i * (p->K + 1) + j)] = p->host_x[size_t(i * p->K + j)];
        bp[size_t(i * (p->K + 1) + j)] = p->host_b[size_t(i * p->K + j)];
      }
    p->x_padded = upload(xp, dev);
    p->b_padded = upload(bp, dev);
  }
  p->y = zeros_f32(p->M * p->K, dev);
  return p;
}

const std::vector<LabDims> kRowShapes = {{1, 1}, {7, 33}, {64, 1000}, {3, 4097}, {129, 127}};

}  // namespace

std::shared_ptr<LabFamilyBase> elementwise_family() {
  auto f = new_family<RowsProblem>("elementwise", "y = a + b on float32 [M, K]",
                                   "bytes = 3·M·K·4 (a and b read, y written)");
  f->check_shapes = kRowShapes;
  f->cuda_shape = {16384, 4096};
  f->cpu_shape = {2048, 2048};
  f->quick_shape = {256, 256};
  f->work = [](const LabDims& d) { return 3 * kF32 * double(d[0] * d[1]); };
  f->make = [](const LabDims& d, Device dev) { return rows_problem(d, dev, dev.is_cuda()); };
  f->expected = [](const RowsProblem& p) {
    const auto a = to_double(p.host_x), b = to_double(p.host_b);
    std::vector<double> y(a.size());
    cpu::binary_forward_strided(BinaryOp::Add, DType::Float64, p.shape, y.data(), a.data(), p.strides.data(), b.data(),
                        p.strides.data());
    return y;
  };
  f->result = [](const RowsProblem& p) { return download(p.y); };
  f->add(CPU, "v1", "the strided loop of kernels/cpu/elementwise (one odometer walk over every operand)",
         [](RowsProblem& p) {
           cpu::binary_forward_strided(BinaryOp::Add, DType::Float32, p.shape, p.y.f(), p.x.f(), p.strides.data(),
                                       p.b.f(), p.strides.data());
         });
  f->add(CPU, "v2", "all operands contiguous: one flat loop the compiler vectorizes, chunks over OpenMP",
         [](RowsProblem& p) {
           cpu::binary_forward(BinaryOp::Add, DType::Float32, p.shape, p.y.f(), p.x.f(), p.strides.data(), p.b.f(),
                               p.strides.data());
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "the general strided kernel (index arithmetic per element), run on rows padded to K + 1",
         [](RowsProblem& p) {
           cuda::binary_forward(BinaryOp::Add, DType::Float32, p.shape, p.y.f(), p.x_padded.f(),
                                p.padded_strides.data(), p.b_padded.f(), p.padded_strides.data());
         });
  f->add(CUDA, "v2", "all operands contiguous: dims merged, index-free loop with 128-bit vector loads",
         [](RowsProblem& p) {
           cuda::binary_forward(BinaryOp::Add, DType::Float32, p.shape, p.y.f(), p.x.f(), p.strides.data(), p.b.f(),
                                p.strides.data());
         },
         false, true);
#endif
  return f;
}

std::shared_ptr<LabFamilyBase> reductions_family() {
  auto f = new_family<RowsProblem>("reductions", "sum over the last dim of float32 [M, K]",
                                   "bytes = (M·K + M)·4 (x read, one sum per row written)");
  f->check_shapes = kRowShapes;
  f->cuda_shape = {16384, 4096};
  f->cpu_shape = {2048, 2048};
  f->quick_shape = {256, 256};
  f->work = [](const LabDims& d) { return kF32 * double(d[0] * d[1] + d[0]); };
  f->make = [](const LabDims& d, Device dev) { return rows_problem(d, dev, false); };
  f->expected = [](const RowsProblem& p) {
    const auto x = to_double(p.host_x);
    std::vector<double> y(static_cast<size_t>(p.M));
    cpu::reduce_strided(cpu::ReduceKind::Sum, DType::Float64, p.shape, p.strides.data(), x.data(), {1}, y.data());
    return y;
  };
  f->result = [](const RowsProblem& p) {
    auto all = download(p.y);
    all.resize(static_cast<size_t>(p.M));
    return all;
  };
  f->add(CPU, "v1", "the reference walk of kernels/cpu/reduce (for_each_reduced, one element at a time, double sums)",
         [](RowsProblem& p) {
           cpu::reduce_strided(cpu::ReduceKind::Sum, DType::Float32, p.shape, p.strides.data(), p.x.f(), {1}, p.y.f());
         });
  f->add(CPU, "v2", "contiguous input summed over its last dims: 8 double partial sums so the loop vectorizes",
         [](RowsProblem& p) {
           cpu::reduce(cpu::ReduceKind::Sum, DType::Float32, p.shape, p.strides.data(), p.x.f(), {1}, p.y.f());
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/reduce: a block per output, a deterministic tree in double",
         [](RowsProblem& p) {
           cuda::reduce(cpu::ReduceKind::Sum, DType::Float32, p.shape, p.strides.data(), p.x.f(), {1}, p.y.f());
         },
         false, true);
#endif
  return f;
}

std::shared_ptr<LabFamilyBase> softmax_family() {
  auto f = new_family<RowsProblem>("softmax", "softmax along the last dim of float32 [M, K]",
                                   "bytes = 2·M·K·4 (x read, y written)");
  f->check_shapes = kRowShapes;
  f->cuda_shape = {16384, 4096};
  f->cpu_shape = {2048, 2048};
  f->quick_shape = {256, 256};
  f->work = [](const LabDims& d) { return 2 * kF32 * double(d[0] * d[1]); };
  f->make = [](const LabDims& d, Device dev) { return rows_problem(d, dev, false); };
  f->expected = [](const RowsProblem& p) {
    const auto x = to_double(p.host_x);
    std::vector<double> y(x.size());
    cpu::softmax_forward_reference(false, DType::Float64, p.shape, 1, x.data(), p.strides.data(), y.data());
    return y;
  };
  f->result = [](const RowsProblem& p) { return download(p.y); };
  f->add(CPU, "v1", "the reference loop of kernels/cpu/softmax (every line in double, exp computed twice)",
         [](RowsProblem& p) {
           cpu::softmax_forward_reference(false, DType::Float32, p.shape, 1, p.x.f(), p.strides.data(), p.y.f());
         });
  f->add(CPU, "v2", "contiguous rows: float sums in 32 lanes, each exp once (vectorized exp_f32), rows over OpenMP",
         [](RowsProblem& p) {
           cpu::softmax_forward(false, DType::Float32, p.shape, 1, p.x.f(), p.strides.data(), p.y.f());
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/softmax: one block per line, max and sum in double",
         [](RowsProblem& p) {
           cuda::softmax_forward(false, DType::Float32, p.shape, 1, p.x.f(), p.strides.data(), p.y.f());
         },
         false, true);
#endif
  return f;
}

// ---------------------------------------------------------------- softmax + cross-entropy
struct CrossEntropyProblem {
  int64_t M = 0, C = 0;
  std::vector<int64_t> shape, strides, pos_strides, zero_strides;
  std::vector<float> host_x;
  std::vector<int64_t> host_target;
  LabBuffer x, target, loss, lse, valid, dy, dx;
};

std::shared_ptr<LabFamilyBase> cross_entropy_family() {
  auto f = new_family<CrossEntropyProblem>(
      "softmax_xent", "fused softmax + cross-entropy on float32 logits [M, C], forward then backward",
      "bytes = 3·M·C·4 (logits read by forward and backward, dlogits written)");
  f->check_shapes = {{1, 2}, {7, 33}, {64, 65}, {5, 4097}, {129, 127}};
  f->cuda_shape = {16384, 4096};
  f->cpu_shape = {2048, 2048};
  f->quick_shape = {256, 256};
  f->work = [](const LabDims& d) { return 3 * kF32 * double(d[0] * d[1]); };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<CrossEntropyProblem>();
    p->M = d[0];
    p->C = d[1];
    p->shape = {p->M, p->C};
    p->strides = {p->C, 1};
    p->pos_strides = {1, 0};
    p->zero_strides = {0, 0};
    p->host_x = random_floats(p->M * p->C, 3, -4.f, 4.f);
    p->host_target = random_ints(p->M, 4, 0, p->C);
    p->x = upload(p->host_x, dev);
    p->target = upload(p->host_target, dev);
    p->loss = zeros_f32(p->M, dev);
    p->lse = zeros_f32(p->M, dev);
    p->valid = zeros_f32(p->M, dev);
    p->dy = upload(std::vector<float>{1.f}, dev);
    p->dx = zeros_f32(p->M * p->C, dev);
    return p;
  };
  f->expected = [](const CrossEntropyProblem& p) {
    const auto x = to_double(p.host_x);
    std::vector<double> loss(static_cast<size_t>(p.M)), lse(static_cast<size_t>(p.M)), dx(x.size());
    const double dy = 1;
    cpu::cross_entropy_forward_reference(DType::Float64, p.shape, x.data(), p.strides.data(), p.host_target.data(),
                               p.pos_strides.data(), -100, 0.0, loss.data(), p.pos_strides.data(), lse.data(),
                               p.pos_strides.data());
    cpu::cross_entropy_backward_reference(DType::Float64, p.shape, x.data(), p.strides.data(), p.host_target.data(),
                                p.pos_strides.data(), -100, 0.0, lse.data(), p.pos_strides.data(), &dy,
                                p.zero_strides.data(), 1.0 / double(p.M), dx.data());
    append(loss, dx);
    return loss;
  };
  f->result = [](const CrossEntropyProblem& p) {
    auto out = download(p.loss);
    append(out, download(p.dx));
    return out;
  };
  f->add(CPU, "v1", "the reference loops of kernels/cpu/loss (per line in double; the backward recomputes exp)",
         [](CrossEntropyProblem& p) {
           cpu::cross_entropy_forward_reference(DType::Float32, p.shape, p.x.f(), p.strides.data(), p.target.i64(),
                                      p.pos_strides.data(), -100, 0.0, p.loss.f(), p.pos_strides.data(), p.lse.f(),
                                      p.pos_strides.data());
           cpu::cross_entropy_backward_reference(DType::Float32, p.shape, p.x.f(), p.strides.data(), p.target.i64(),
                                       p.pos_strides.data(), -100, 0.0, p.lse.f(), p.pos_strides.data(), p.dy.f(),
                                       p.zero_strides.data(), 1.0 / double(p.M), p.dx.f());
         });
  f->add(CPU, "v2", "2-d contiguous rows: float sums in 32 lanes, each exp once (vectorized), rows over OpenMP",
         [](CrossEntropyProblem& p) {
           cpu::cross_entropy_forward(DType::Float32, p.shape, p.x.f(), p.strides.data(), p.target.i64(),
                                      p.pos_strides.data(), -100, 0.0, p.loss.f(), p.pos_strides.data(), p.lse.f(),
                                      p.pos_strides.data());
           cpu::cross_entropy_backward(DType::Float32, p.shape, p.x.f(), p.strides.data(), p.target.i64(),
                                       p.pos_strides.data(), -100, 0.0, p.lse.f(), p.pos_strides.data(), p.dy.f(),
                                       p.zero_strides.data(), 1.0 / double(p.M), p.dx.f());
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/loss: one block per position for the forward (lse saved), one pass backward",
         [](CrossEntropyProblem& p) {
           cuda::cross_entropy_forward(DType::Float32, p.shape, p.x.f(), p.strides.data(), p.target.i64(),
                                       p.pos_strides.data(), -100, 0.0, p.loss.f(), p.pos_strides.data(), p.lse.f(),
                                       p.pos_strides.data(), p.valid.f(), p.pos_strides.data());
           cuda::cross_entropy_backward(DType::Float32, p.shape, p.x.f(), p.strides.data(), p.target.i64(),
                                        p.pos_strides.data(), -100, 0.0, p.lse.f(), p.pos_strides.data(), p.dy.f(),
                                        p.zero_strides.data(), 1.0 / double(p.M), p.dx.f());
         },
         false, true);
#endif
  return f;
}

// ---------------------------------------------------------------- layer_norm
std::shared_ptr<LabFamilyBase> layer_norm_family() {
  auto f = new_family<RowsProblem>("layer_norm", "layer_norm forward of float32 [M, K] with weight and bias [K]",
                                   "bytes = (2·M·K + 2·K)·4 (x read, y written, weight and bias read)");
  f->check_shapes = kRowShapes;
  f->cuda_shape = {16384, 768};
  f->cpu_shape = {4096, 768};
  f->quick_shape = {256, 128};
  f->work = [](const LabDims& d) { return kF32 * double(2 * d[0] * d[1] + 2 * d[1]); };
  f->make = [](const LabDims& d, Device dev) {
    auto p = rows_problem(d, dev, false);
    p->weight = upload(random_floats(p->K, 5, 0.5f, 1.5f), dev);
    p->bias = upload(random_floats(p->K, 6), dev);
    p->mean = zeros_f32(p->M, dev);
    p->rstd = zeros_f32(p->M, dev);
    return p;
  };
  f->expected = [](const RowsProblem& p) {
    const auto x = to_double(p.host_x), w = download(p.weight), b = download(p.bias);
    std::vector<double> y(x.size()), mean(static_cast<size_t>(p.M)), rstd(static_cast<size_t>(p.M));
    cpu::layer_norm_forward_reference(DType::Float64, p.M, p.K, x.data(), w.data(), b.data(), 1e-5, y.data(), mean.data(),
                            rstd.data());
    append(y, mean);
    append(y, rstd);
    return y;
  };
  f->result = [](const RowsProblem& p) {
    auto y = download(p.y);
    append(y, download(p.mean));
    append(y, download(p.rstd));
    return y;
  };
  f->add(CPU, "v1", "the reference loop of kernels/cpu/norm (two passes per row in double)",
         [](RowsProblem& p) {
           cpu::layer_norm_forward_reference(DType::Float32, p.M, p.K, p.x.f(), p.weight.f(), p.bias.f(), 1e-5,
                                             p.y.f(), p.mean.f(), p.rstd.f());
         });
  f->add(CPU, "v2", "float sums in 32 lanes (mean corrected when |mean| >> std), vectorized, rows over OpenMP",
         [](RowsProblem& p) {
           cpu::layer_norm_forward(DType::Float32, p.M, p.K, p.x.f(), p.weight.f(), p.bias.f(), 1e-5, p.y.f(),
                                   p.mean.f(), p.rstd.f());
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/norm: one block per row, statistics in double",
         [](RowsProblem& p) {
           cuda::layer_norm_forward(DType::Float32, p.M, p.K, p.x.f(), p.weight.f(), p.bias.f(), 1e-5, p.y.f(),
                                    p.mean.f(), p.rstd.f());
         },
         false, true);
#endif
  return f;
}

// ---------------------------------------------------------------- batch_norm (training forward)
struct BatchNormProblem {
  int64_t N = 0, C = 0, S = 0;
  std::vector<float> host_x;
  LabBuffer x, weight, bias, y, mean, var, rstd;
};

std::shared_ptr<LabFamilyBase> batch_norm_family() {
  auto f = new_family<BatchNormProblem>(
      "batch_norm", "batch_norm training forward (batch statistics, then normalize) of float32 [N, C, S]",
      "bytes = 2·N·C·S·4 (x read once, y written: the least any kernel moves)");
  f->check_shapes = {{1, 1, 1}, {2, 3, 5}, {3, 7, 49}, {8, 16, 33}};
  f->cuda_shape = {128, 256, 28 * 28};
  f->cpu_shape = {32, 64, 28 * 28};
  f->quick_shape = {8, 16, 64};
  f->work = [](const LabDims& d) { return 2 * kF32 * double(d[0] * d[1] * d[2]); };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<BatchNormProblem>();
    p->N = d[0];
    p->C = d[1];
    p->S = d[2];
    p->host_x = random_floats(p->N * p->C * p->S, 7, -2.f, 3.f);
    p->x = upload(p->host_x, dev);
    p->weight = upload(random_floats(p->C, 8, 0.5f, 1.5f), dev);
    p->bias = upload(random_floats(p->C, 9), dev);
    p->y = zeros_f32(p->N * p->C * p->S, dev);
    p->mean = zeros_f32(p->C, dev);
    p->var = zeros_f32(p->C, dev);
    p->rstd = zeros_f32(p->C, dev);
    return p;
  };
  f->expected = [](const BatchNormProblem& p) {
    const auto x = to_double(p.host_x), w = download(p.weight), b = download(p.bias);
    std::vector<double> y(x.size()), mean(static_cast<size_t>(p.C)), var(static_cast<size_t>(p.C)), rstd(static_cast<size_t>(p.C));
    cpu::batch_norm_stats_reference(DType::Float64, p.N, p.C, p.S, x.data(), mean.data(), var.data());
    cpu::batch_norm_forward_reference(DType::Float64, p.N, p.C, p.S, x.data(), mean.data(), var.data(), 1e-5, w.data(),
                            b.data(), y.data(), rstd.data());
    append(y, mean);
    append(y, var);
    return y;
  };
  f->result = [](const BatchNormProblem& p) {
    auto y = download(p.y);
    append(y, download(p.mean));
    append(y, download(p.var));
    return y;
  };
  f->add(CPU, "v1", "the reference loops of kernels/cpu/norm: statistics pass, then normalize pass, in double",
         [](BatchNormProblem& p) {
           cpu::batch_norm_stats_reference(DType::Float32, p.N, p.C, p.S, p.x.f(), p.mean.f(), p.var.f());
           cpu::batch_norm_forward_reference(DType::Float32, p.N, p.C, p.S, p.x.f(), p.mean.f(), p.var.f(), 1e-5, p.weight.f(),
                                   p.bias.f(), p.y.f(), p.rstd.f());
         });
  f->add(CPU, "v2", "planes of at least 16: float sums in 32 lanes, vectorized normalize, channels over OpenMP",
         [](BatchNormProblem& p) {
           cpu::batch_norm_stats(DType::Float32, p.N, p.C, p.S, p.x.f(), p.mean.f(), p.var.f());
           cpu::batch_norm_forward(DType::Float32, p.N, p.C, p.S, p.x.f(), p.mean.f(), p.var.f(), 1e-5, p.weight.f(),
                                   p.bias.f(), p.y.f(), p.rstd.f());
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/norm: a statistics kernel per channel, then the normalize kernel",
         [](BatchNormProblem& p) {
           cuda::batch_norm_stats(DType::Float32, p.N, p.C, p.S, p.x.f(), p.mean.f(), p.var.f());
           cuda::batch_norm_forward(DType::Float32, p.N, p.C, p.S, p.x.f(), p.mean.f(), p.var.f(), 1e-5,
                                    p.weight.f(), p.bias.f(), p.y.f(), p.rstd.f());
         },
         false, true);
#endif
  return f;
}

// ---------------------------------------------------------------- pooling (max_pool2d forward)
struct PoolProblem {
  cpu::Pool2dGeometry g;
  std::array<int64_t, 4> strides{};
  std::vector<float> host_x;
  LabBuffer x, y, argmax;
};

std::shared_ptr<LabFamilyBase> pooling_family() {
  auto f = new_family<PoolProblem>(
      "pooling", "max_pool2d forward, kernel k, stride s, of float32 [N, C, H, W] (dims: N, C, H, W, k, s)",
      "bytes = N·C·H·W·4 + N·C·Ho·Wo·(4 + 8) (x read, y and the int64 argmax written)");
  f->check_shapes = {{1, 1, 2, 2, 2, 2}, {2, 3, 7, 9, 2, 2}, {2, 5, 11, 13, 3, 2}, {1, 4, 28, 28, 2, 2}};
  f->cuda_shape = {128, 32, 28, 28, 2, 2};
  f->cpu_shape = {32, 32, 28, 28, 2, 2};
  f->quick_shape = {4, 8, 28, 28, 2, 2};
  auto geometry = [](const LabDims& d) {
    cpu::Pool2dGeometry g;
    g.N = d[0];
    g.C = d[1];
    g.H = d[2];
    g.W = d[3];
    g.kH = g.kW = d[4];
    g.sH = g.sW = d[5];
    g.Ho = (g.H - g.kH) / g.sH + 1;
    g.Wo = (g.W - g.kW) / g.sW + 1;
    return g;
  };
  f->work = [geometry](const LabDims& d) {
    const auto g = geometry(d);
    return kF32 * double(g.N * g.C * g.H * g.W) + 12.0 * double(g.N * g.C * g.Ho * g.Wo);
  };
  f->make = [geometry](const LabDims& d, Device dev) {
    auto p = std::make_unique<PoolProblem>();
    p->g = geometry(d);
    const auto& g = p->g;
    p->strides = {g.C * g.H * g.W, g.H * g.W, g.W, 1};
    p->host_x = random_floats(g.N * g.C * g.H * g.W, 10);
    p->x = upload(p->host_x, dev);
    p->y = zeros_f32(g.N * g.C * g.Ho * g.Wo, dev);
    p->argmax = upload(std::vector<int64_t>(static_cast<size_t>(g.N * g.C * g.Ho * g.Wo), 0), dev);
    return p;
  };
  f->expected = [](const PoolProblem& p) {
    const auto x = to_double(p.host_x);
    const int64_t n = p.g.N * p.g.C * p.g.Ho * p.g.Wo;
    std::vector<double> y(static_cast<size_t>(n));
    std::vector<int64_t> arg(static_cast<size_t>(n));
    cpu::max_pool2d_forward_reference(DType::Float64, p.g, x.data(), p.strides.data(), y.data(), arg.data());
    for (int64_t a : arg) y.push_back(double(a));
    return y;
  };
  f->result = [](const PoolProblem& p) {
    auto y = download(p.y);
    append(y, download(p.argmax));
    return y;
  };
  f->add(CPU, "v1", "the reference loop of kernels/cpu/pool (strided window walk per output)",
         [](PoolProblem& p) {
           cpu::max_pool2d_forward_reference(DType::Float32, p.g, p.x.f(), p.strides.data(), p.y.f(), p.argmax.i64());
         });
  f->add(CPU, "v2", "windows computed once per row, branch-free 2x2 select loop, planes over OpenMP",
         [](PoolProblem& p) { cpu::max_pool2d_forward(DType::Float32, p.g, p.x.f(), p.strides.data(), p.y.f(), p.argmax.i64()); },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/pool: one thread per output",
         [](PoolProblem& p) { cuda::max_pool2d_forward(DType::Float32, p.g, p.x.f(), p.strides.data(), p.y.f(), p.argmax.i64()); },
         false, true);
#endif
  f->missing_cuda = {"cuDNN pooling: kernels/cudnn has no pooling wrapper yet (issue 14, item 3)"};
  return f;
}

// ---------------------------------------------------------------- AdamW
// The parameter list of a GPT with `layers` blocks of width `width` (dims: layers, width), as the gpt workload.
static std::vector<int64_t> gpt_parameter_sizes(int64_t layers, int64_t width) {
  std::vector<int64_t> sizes = {65 * width, 256 * width};
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t n : {width, width, 3 * width * width, width * width, width, width, width, 4 * width * width,
                      4 * width, 4 * width * width, width})
      sizes.push_back(n);
  sizes.push_back(width);
  sizes.push_back(width);
  sizes.push_back(65 * width);
  return sizes;
}

struct AdamProblem {
  std::vector<int64_t> sizes;
  std::vector<float> host_p, host_g, host_m, host_v;  // all tensors back to back
  LabBuffer p, g, m, v;
  std::vector<AdamTensor> tensors;
  AdamHyperparams hyper{1e-3, 0.9, 0.99, 1e-8, 0.1, false, true};
};

static std::vector<AdamTensor> adam_tensors(const std::vector<int64_t>& sizes, const AdamHyperparams& h, char* p,
                                     const char* g, char* m, char* v, size_t element_bytes) {
  std::vector<AdamTensor> out;
  size_t offset = 0;
  for (int64_t n : sizes) {
    const size_t bytes = offset * element_bytes;
    AdamTensor t{p + bytes, g + bytes, m + bytes, v + bytes, nullptr, n, 0, 0};
    set_adam_bias_corrections(t, h, 3);
    out.push_back(t);
    offset += static_cast<size_t>(n);
  }
  return out;
}

std::shared_ptr<LabFamilyBase> adamw_family() {
  auto f = new_family<AdamProblem>("adamw",
                                    "one AdamW step over a GPT's parameter list (dims: layers, width), float32",
                                    "bytes = 7·numel·4 (param, grad, exp_avg, exp_avg_sq read; three written)");
  f->check_shapes = {{1, 8}, {2, 12}, {1, 33}};
  f->cuda_shape = {6, 384};
  f->cpu_shape = {2, 256};
  f->quick_shape = {1, 64};
  f->work = [](const LabDims& d) {
    double n = 0;
    for (int64_t s : gpt_parameter_sizes(d[0], d[1])) n += double(s);
    return 7 * kF32 * n;
  };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<AdamProblem>();
    p->sizes = gpt_parameter_sizes(d[0], d[1]);
    int64_t n = 0;
    for (int64_t s : p->sizes) n += s;
    p->host_p = random_floats(n, 11);
    p->host_g = random_floats(n, 12);
    p->host_m = random_floats(n, 13, -0.1f, 0.1f);
    p->host_v = random_floats(n, 14, 0.f, 0.01f);
    p->p = upload(p->host_p, dev);
    p->g = upload(p->host_g, dev);
    p->m = upload(p->host_m, dev);
    p->v = upload(p->host_v, dev);
    p->tensors = adam_tensors(p->sizes, p->hyper, reinterpret_cast<char*>(p->p.f()),
                              reinterpret_cast<const char*>(p->g.f()), reinterpret_cast<char*>(p->m.f()),
                              reinterpret_cast<char*>(p->v.f()), sizeof(float));
    return p;
  };
  f->expected = [](const AdamProblem& p) {
    auto param = to_double(p.host_p), m = to_double(p.host_m), v = to_double(p.host_v);
    const auto g = to_double(p.host_g);
    const auto tensors =
        adam_tensors(p.sizes, p.hyper, reinterpret_cast<char*>(param.data()), reinterpret_cast<const char*>(g.data()),
                     reinterpret_cast<char*>(m.data()), reinterpret_cast<char*>(v.data()), sizeof(double));
    cpu::adam_step(DType::Float64, tensors, p.hyper);
    append(param, m);
    append(param, v);
    return param;
  };
  f->result = [](const AdamProblem& p) {
    auto out = download(p.p);
    append(out, download(p.m));
    append(out, download(p.v));
    return out;
  };
  f->add(CPU, "v1", "per tensor: one kernels/cpu/optim_step call for each parameter (as a foreach-less loop)",
         [](AdamProblem& p) {
           for (const auto& t : p.tensors) cpu::adam_step(DType::Float32, {t}, p.hyper);
         });
  f->add(CPU, "v2", "fused: one call over the whole list (no per-tensor dispatch)",
         [](AdamProblem& p) { cpu::adam_step(DType::Float32, p.tensors, p.hyper); }, false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "per tensor: one kernel launch for each parameter",
         [](AdamProblem& p) {
           for (const auto& t : p.tensors) cuda::adam_step(DType::Float32, {t}, p.hyper);
         });
  f->add(CUDA, "v2", "fused: multi_tensor_apply, one launch per chunk of up to 58 tensors (launch cost amortized)",
         [](AdamProblem& p) { cuda::adam_step(DType::Float32, p.tensors, p.hyper); }, false, true);
#endif
  return f;
}

}  // namespace kiln::apps::bench
