// The functional API of kiln: every op of the op table (core/ops/op_table.h) as a free function,
// plus the composites built from them. All ops are differentiable unless marked "no gradient",
// record the autograd graph when an input requires grad, and dispatch on the inputs' device.
#pragma once
#include <array>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace kiln {

using Pair = std::array<int64_t, 2>;  // (height, width) for 2-D convolution and pooling
enum class Reduction { None, Mean, Sum };

// ----------------------------------------------------------------- views and copies (views.cpp)
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);                 // a contiguous copy
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
// Sums a broadcast gradient back down to `shape` (the adjoint of expand). Differentiable.
Tensor sum_to(const Tensor& x, const Shape& shape);

// ----------------------------------------------------------------- elementwise unary (unary.cpp)
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
enum class GeluApproximation { None, Tanh };
Tensor gelu(const Tensor& x, GeluApproximation approximate = GeluApproximation::None);
Tensor silu(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor pow(const Tensor& x, double exponent);
Tensor square(const Tensor& x);  // pow(x, 2)
// clamp to [lo, hi]; use ±infinity for an open side.
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor clamp_min(const Tensor& x, double lo);
Tensor clamp_max(const Tensor& x, double hi);
Tensor add(const Tensor& x, double value);
Tensor sub(const Tensor& x, double value);
Tensor mul(const Tensor& x, double value);
Tensor div(const Tensor& x, double value);
Tensor reciprocal(const Tensor& x);

// ----------------------------------------------------------------- elementwise binary (binary.cpp)
// float32/float64; add, sub, mul, maximum and minimum also take two int64 tensors (no gradient).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient split evenly on ties
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);  // condition: bool
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);   // composite: where
// comparisons: bool results, no gradient
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ----------------------------------------------------------------- reductions (reduce.cpp)
// `dims` empty means all dims. Integer inputs are not reduced (float32/float64 only).
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);  // ties share the gradient
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// (values, int64 indices) along one dim; the gradient goes to the index (first of ties).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // no gradient
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);  // no gradient
// Variance with Bessel's correction by default (correction = 1), like torch.var.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor stddev(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// ----------------------------------------------------------------- matrix products (matmul.cpp)
// torch.matmul semantics: 1-D·1-D dot, 2-D·2-D, batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
// x·Wᵀ + b with x [..., in], W [out, in], b [out] (optional: pass Tensor()).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Whether CPU matmul may use OpenBLAS (when built with it); the plain loop is the reference.
void set_cpu_blas_enabled(bool enabled);
bool cpu_blas_enabled();

// ----------------------------------------------------------------- softmax and losses (softmax.cpp, loss.cpp)
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
};
// logits [N, C] or [N, C, d1, ...]; target int64 class indices [N] or [N, d1, ...].
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options = {});
// Numerically stable BCE on logits; target same shape, values in [0, 1].
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// KL(N(mu, exp(logvar)) || N(0, 1)) = −½ Σ (1 + logvar − mu² − exp(logvar)); elementwise then reduced.
Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar, Reduction reduction = Reduction::Sum);

// ----------------------------------------------------------------- indexing and joining (index.cpp)
// weight [V, D], indices int64 of any shape → [..., D]; rows at padding_idx get no gradient (-1: none).
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: 1-D int64
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // index: int64, same ndim as x
Tensor one_hot(const Tensor& indices, int64_t num_classes);              // int64 result, no gradient
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);       // composite: unsqueeze + cat
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);  // views
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// ----------------------------------------------------------------- convolution and pooling (conv.cpp, pool.cpp)
// x [N, C_in, H, W], weight [C_out, C_in/groups, kH, kW], bias [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Pair stride = {1, 1},
              Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1);
// x [N, C_in, H, W], weight [C_in, C_out/groups, kH, kW] (PyTorch's layout), bias [C_out] or undefined.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Pair stride = {1, 1},
                        Pair padding = {0, 0}, Pair output_padding = {0, 0}, int64_t groups = 1,
                        Pair dilation = {1, 1});
// stride {0, 0} means stride = kernel_size, as in PyTorch.
Tensor max_pool2d(const Tensor& x, Pair kernel_size, Pair stride = {0, 0}, Pair padding = {0, 0},
                  Pair dilation = {1, 1});
Tensor avg_pool2d(const Tensor& x, Pair kernel_size, Pair stride = {0, 0}, Pair padding = {0, 0},
                  bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);
// PyTorch's 'nearest': src = ⌊dst·in/out⌋, or ⌊dst/scale_factor⌋ per axis where a scale factor (> 0) is
// given, as torch.nn.Upsample(scale_factor=...) does (output_size is then ⌊in·scale_factor⌋, the caller's).
Tensor upsample_nearest2d(const Tensor& x, Pair output_size, std::array<double, 2> scale_factor = {0.0, 0.0});

// ----------------------------------------------------------------- normalization and dropout (norm.cpp)
// x [N, C, ...]. In training, batch statistics are used and running_mean/var (if defined) are
// updated in place: r ← (1−momentum)·r + momentum·stat, with the unbiased variance for running_var.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalizes over the last normalized_shape.size() dims; weight/bias of normalized_shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);
// Zeroes each element with probability p and scales the rest by 1/(1−p); identity when !training.
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator = default_generator());

// ----------------------------------------------------------------- attention and recurrent cells
// q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv] → [..., Tq, Dv]; scale defaults to 1/√D.
// The causal mask lets query i see keys j ≤ i (top-left aligned, like PyTorch).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false,
                                    double scale = std::numeric_limits<double>::quiet_NaN());
// gates [N, 4H] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh in PyTorch's order (i, f, g, o); c_prev [N, H] → (h, c).
std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c_prev);
// gi [N, 3H] = x·W_ihᵀ + b_ih, gh [N, 3H] = h·W_hhᵀ + b_hh in PyTorch's order (r, z, n); h_prev [N, H] → h.
Tensor gru_cell(const Tensor& gi, const Tensor& gh, const Tensor& h_prev);

}  // namespace kiln
