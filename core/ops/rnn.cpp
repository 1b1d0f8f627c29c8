// Multi-layer LSTM and GRU (core/ops/rnn.h): argument checks, the reference cell loop composed from kiln
// ops, the op `cudnn_rnn` (forward and backward through kernels/cudnn/cudnn_rnn, one autograd node for the
// whole stack) and the dispatch between them. PyTorch's weights are copied into cuDNN's packed weight space
// before each cuDNN forward and the packed weight gradient is scattered back to them after the backward.
#include "core/ops/rnn.h"

#include <string>

#include "core/allocator.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cudnn/cudnn_rnn.h"
#if KILN_HAVE_CUDA
#include "kernels/cuda/conv.h"  // cuda::cudnn_enabled()
#endif

namespace kiln {
namespace {

const char* mode_name(RnnMode mode) { return mode == RnnMode::LSTM ? "lstm" : "gru"; }
int64_t gate_count(RnnMode mode) { return mode == RnnMode::LSTM ? 4 : 3; }

// The sizes of one call, read off x and the weights once they are checked.
struct RnnGeometry {
  int64_t T = 0, N = 0, input_size = 0, H = 0, L = 0;
  bool bias = false;
};

// PyTorch's name of weights[k]: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_ih_l1, ...
std::string weight_name(size_t k) {
  static const char* kinds[4] = {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"};
  return kinds[k % 4] + std::to_string(k / 4);
}

void check_same_kind(const char* op, const std::string& arg, const Tensor& t, const Tensor& x) {
  check_float(op, arg.c_str(), t);
  KILN_CHECK(t.dtype() == x.dtype(), op, ": ", arg, " has dtype ", dtype_name(t.dtype()), " but x has ",
             dtype_name(x.dtype()));
  KILN_CHECK(t.device() == x.device(), op, ": ", arg, " is on ", t.device().str(), " but x is on ", x.device().str());
}

RnnGeometry check_rnn_args(const char* op, RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                           const std::vector<Tensor>& weights) {
  KILN_CHECK(x.defined(), op, ": x is undefined");
  check_float(op, "x", x);
  KILN_CHECK(x.dim() == 3, op, ": x has shape ", shape_str(x.shape()), ", expected [T, N, input_size] (time-major)");
  RnnGeometry g;
  g.T = x.size(0), g.N = x.size(1), g.input_size = x.size(2);
  KILN_CHECK(g.T >= 1 && g.N >= 1 && g.input_size >= 1, op, ": x has shape ", shape_str(x.shape()),
             ", expected at least one time step, one sequence and one input feature");
  KILN_CHECK(!weights.empty() && weights.size() % 4 == 0, op,
             ": expected 4 weights per layer (weight_ih, weight_hh, bias_ih, bias_hh; biases may be undefined), got ",
             weights.size());
  const int64_t G = gate_count(mode);
  g.L = int64_t(weights.size() / 4);
  const Tensor& w_hh0 = weights[1];
  KILN_CHECK(w_hh0.defined() && w_hh0.dim() == 2 && w_hh0.size(1) >= 1, op, ": weight_hh_l0 must be a matrix [",
             G, "·hidden_size, hidden_size], got ", w_hh0.defined() ? shape_str(w_hh0.shape()) : "undefined");
  g.H = w_hh0.size(1);
  g.bias = weights[2].defined();
  for (size_t k = 0; k < weights.size(); ++k) {
    const Tensor& w = weights[k];
    const std::string name = weight_name(k);
    const int64_t layer = int64_t(k / 4), in = layer == 0 ? g.input_size : g.H;
    const bool is_bias = k % 4 >= 2;
    if (is_bias) {
      KILN_CHECK(w.defined() == g.bias, op, ": ", name, " is ", w.defined() ? "defined" : "undefined",
                 " but bias_ih_l0 is ", g.bias ? "defined" : "undefined", ": pass the biases of every layer or none");
      if (!w.defined()) continue;
    }
    KILN_CHECK(w.defined(), op, ": ", name, " is undefined");
    check_same_kind(op, name, w, x);
    const Shape expected = is_bias ? Shape{G * g.H} : Shape{G * g.H, k % 4 == 0 ? in : g.H};
    KILN_CHECK(w.shape() == expected, op, ": ", name, " has shape ", shape_str(w.shape()), ", expected ",
               shape_str(expected), " (", G, " gates of hidden_size ", g.H,
               k % 4 != 0 ? std::string()
               : layer == 0 ? ", input_size " + std::to_string(in)
                            : ", the layer below's hidden_size as input",
               ")");
  }
  KILN_CHECK(!(mode == RnnMode::GRU && c0.defined()), op, ": c0 was given but a GRU has no cell state");
  for (const Tensor* s : {&h0, &c0}) {
    if (!s->defined()) continue;
    const char* arg = s == &h0 ? "h0" : "c0";
    check_same_kind(op, arg, *s, x);
    KILN_CHECK(s->shape() == Shape({g.L, g.N, g.H}), op, ": ", arg, " has shape ", shape_str(s->shape()),
               ", expected [num_layers, N, hidden_size] = [", g.L, ", ", g.N, ", ", g.H, "] for x of shape ",
               shape_str(x.shape()));
  }
  return g;
}

// ---------------------------------------------------------------- the reference: a cell loop of kiln ops

// Per layer: xi = x·W_ihᵀ + b_ih for all T steps in one linear ([T, N, G·H]); then per step
//   LSTM: (h, c) = lstm_cell(xi_t + h·W_hhᵀ + b_hh, c) ;  GRU: h = gru_cell(xi_t, h·W_hhᵀ + b_hh, h)
// The layer's outputs, stacked, feed the next layer (through dropout in training). Autograd records it all.
// With `fused_lstm` an LSTM layer's steps run as one lstm_layer op (the fast path) instead of per-step ops.
RnnOutput cell_loop(RnnMode mode, const RnnGeometry& g, const Tensor& x, const Tensor& h0, const Tensor& c0,
                    const std::vector<Tensor>& weights, double dropout_p, bool training, Generator& generator,
                    bool fused_lstm) {
  const bool lstm = mode == RnnMode::LSTM;
  Tensor layer_input = x;
  std::vector<Tensor> h_n, c_n;
  for (int64_t l = 0; l < g.L; ++l) {
    const Tensor &w_ih = weights[size_t(4 * l)], &w_hh = weights[size_t(4 * l + 1)];
    const Tensor &b_ih = weights[size_t(4 * l + 2)], &b_hh = weights[size_t(4 * l + 3)];
    Tensor xi = linear(layer_input, w_ih, b_ih);
    if (lstm && fused_lstm) {
      RnnOutput r = lstm_layer(xi, h0.defined() ? select(h0, 0, l) : Tensor(), c0.defined() ? select(c0, 0, l) : Tensor(),
                               w_hh, b_hh);
      h_n.push_back(r.h_n);
      c_n.push_back(r.c_n);
      layer_input = l + 1 < g.L ? dropout(r.output, dropout_p, training, generator) : r.output;
      continue;
    }
    Tensor h = h0.defined() ? select(h0, 0, l) : zeros({g.N, g.H}, x.options());
    Tensor c = !lstm ? Tensor() : c0.defined() ? select(c0, 0, l) : zeros({g.N, g.H}, x.options());
    std::vector<Tensor> steps;
    steps.reserve(size_t(g.T));
    for (int64_t t = 0; t < g.T; ++t) {
      Tensor gh = linear(h, w_hh, b_hh);
      if (lstm) {
        auto [h_next, c_next] = lstm_cell(add(select(xi, 0, t), gh), c);
        h = h_next;
        c = c_next;
      } else {
        h = gru_cell(select(xi, 0, t), gh, h);
      }
      steps.push_back(h);
    }
    h_n.push_back(h);
    if (lstm) c_n.push_back(c);
    Tensor out = stack(steps, 0);
    layer_input = l + 1 < g.L ? dropout(out, dropout_p, training, generator) : out;
  }
  return {layer_input, stack(h_n, 0), lstm ? stack(c_n, 0) : Tensor()};
}

// ---------------------------------------------------------------- the op cudnn_rnn

#if KILN_HAVE_CUDA
cuda::CudnnRnnShape cudnn_shape(RnnMode mode, const RnnGeometry& g) {
  return {.lstm = mode == RnnMode::LSTM, .input_size = g.input_size, .hidden_size = g.H, .num_layers = g.L,
          .seq_length = g.T, .batch = g.N};
}

// Whether cuDNN can run these sizes on x's device, for the whole stack or one layer at a time.
bool cudnn_can_run(RnnMode mode, const RnnGeometry& g, const Tensor& x, bool per_layer) {
  if (!x.device().is_cuda() || !cudnn_rnn_available()) return false;
  if (x.dtype() != DType::Float32 && x.dtype() != DType::Float64) return false;
  cuda::use_device(x.device().index);
  RnnGeometry first = g, above = g;
  if (per_layer) first.L = above.L = 1, above.input_size = g.H;
  if (!cuda::cudnn_rnn_prepare(cudnn_shape(mode, first), x.dtype(), nullptr)) return false;
  return !per_layer || g.L == 1 || cuda::cudnn_rnn_prepare(cudnn_shape(mode, above), x.dtype(), nullptr);
}
#else
bool cudnn_can_run(RnnMode, const RnnGeometry&, const Tensor&, bool) { return false; }
#endif

// A flat stretch of a contiguous tensor (no autograd): elements [start, start + numel).
Tensor flat_range(const Tensor& t, int64_t start, int64_t numel) {
  return make_view(t, {numel}, {1}, t.offset() + start);
}

#if KILN_HAVE_CUDA
Tensor contiguous_data(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard no_grad;
  return contiguous(t.detach());
}

void* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// cuDNN's weight space with PyTorch's parameters copied in (run by run; the bias stretches stay zero when the
// stack has no biases, since cuDNN always adds both).
Tensor pack_weights(const std::vector<Tensor>& weights, const cuda::CudnnRnnPlanInfo& info, bool bias,
                    const TensorOptions& options) {
  Tensor space = empty({info.weight_space_numel}, options);
  if (!bias) fill_data(space, 0.0);
  for (const cuda::CudnnRnnWeightRun& run : info.runs) {
    const Tensor& w = weights[size_t(4 * run.layer + run.which)];
    if (!w.defined()) continue;
    Tensor wc = contiguous_data(w);
    copy_data(flat_range(space, run.space_offset, run.numel), flat_range(wc, run.param_offset, run.numel));
  }
  return space;
}
#endif

// ---- cudnn_rnn backward: cudnnRNNBackwardData_v8 gives dx, dh0, dc0 from dy, dh_n, dc_n (missing ones are
// zeros); cudnnRNNBackwardWeights_v8 then gives the packed weight gradient, scattered back per parameter.
struct CudnnRnnNode final : Node {
  cuda::CudnnRnnShape shape;
  DType dtype;
  int device;
  std::vector<cuda::CudnnRnnWeightRun> runs;
  std::vector<Shape> weight_shapes;  // undefined biases: empty shapes, never asked for
  CudnnRnnNode(const cuda::CudnnRnnShape& s, DType dt, int dev, std::vector<cuda::CudnnRnnWeightRun> r)
      : Node(OpId::cudnn_rnn), shape(s), dtype(dt), device(dev), runs(std::move(r)) {}

  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), h0 = saved(1), c0 = saved(2), y = saved(3), space = saved(4), reserve = saved(5);
    const Shape state{shape.num_layers, shape.batch, shape.hidden_size};
    Tensor dy = contiguous(grad_or_zeros(g, 0));
    Tensor dhy = g[1].defined() ? contiguous(g[1]) : Tensor();
    Tensor dcy = shape.lstm && g[2].defined() ? contiguous(g[2]) : Tensor();
    Tensor dx = empty(x.shape(), x.options());  // cuDNN always computes it
    Tensor dh0 = needs_input_grad(1) ? empty(state, x.options()) : Tensor();
    Tensor dc0 = needs_input_grad(2) ? empty(state, x.options()) : Tensor();
    bool weight_grads = false;
    for (size_t k = 0; k < weight_shapes.size(); ++k) weight_grads |= needs_input_grad(3 + k);
    Tensor dspace = weight_grads ? empty(space.shape(), space.options()) : Tensor();
#if KILN_HAVE_CUDA
    cuda::use_device(device);
    cuda::cudnn_rnn_backward(shape, dtype, space.data(), x.data(), data_or_null(h0), data_or_null(c0), y.data(),
                             dy.data(), data_or_null(dhy), data_or_null(dcy), dx.data(), data_or_null(dh0),
                             data_or_null(dc0), data_or_null(dspace), data_or_null(reserve));
#else
    KILN_FAIL("cudnn_rnn: backward needs a CUDA build");
#endif
    std::vector<Tensor> grads = {needs_input_grad(0) ? dx : Tensor(), dh0, dc0};
    for (size_t k = 0; k < weight_shapes.size(); ++k)
      grads.push_back(needs_input_grad(3 + k) ? empty(weight_shapes[k], x.options()) : Tensor());
    for (const cuda::CudnnRnnWeightRun& run : runs) {
      const Tensor& dw = grads[size_t(3 + 4 * run.layer + run.which)];
      if (dw.defined())
        copy_data(flat_range(dw, run.param_offset, run.numel), flat_range(dspace, run.space_offset, run.numel));
    }
    return grads;
  }
};

}  // namespace

bool cudnn_rnn_available() {
#if KILN_HAVE_CUDA
  return cuda::cudnn_available() && cuda::cudnn_enabled() && cuda_is_available();
#else
  return false;
#endif
}

int64_t cudnn_rnn_calls_run() {
#if KILN_HAVE_CUDA
  return cuda::cudnn_rnn_calls_run();
#else
  return 0;
#endif
}

// cudnn_rnn: the whole stack in one cuDNN call (math as the cell loop above, per layer and step) ;
// backward: cudnnRNNBackwardData_v8 (dx, dh0, dc0) then cudnnRNNBackwardWeights_v8 (every weight and bias)
RnnOutput cudnn_rnn(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                    const std::vector<Tensor>& weights) {
  const char* op = "cudnn_rnn";
  const RnnGeometry g = check_rnn_args(op, mode, x, h0, c0, weights);
  KILN_CHECK(x.device().is_cuda(), op, ": x is on ", x.device().str(), ", expected a CUDA device");
  KILN_CHECK(cudnn_rnn_available(), op, ": cuDNN is not available (kiln built without it, or disabled)");
#if KILN_HAVE_CUDA
  const bool lstm = mode == RnnMode::LSTM;
  const cuda::CudnnRnnShape shape = cudnn_shape(mode, g);
  cuda::CudnnRnnPlanInfo info;
  cuda::use_device(x.device().index);
  KILN_CHECK(cuda::cudnn_rnn_prepare(shape, x.dtype(), &info), op, ": cuDNN cannot run ", lstm ? "an LSTM" : "a GRU",
             " with input_size ", g.input_size, ", hidden_size ", g.H, ", num_layers ", g.L, " on x of shape ",
             shape_str(x.shape()), " (", dtype_name(x.dtype()), ")");

  Tensor xc = contiguous_data(x), h0c = contiguous_data(h0), c0c = contiguous_data(c0);
  Tensor space = pack_weights(weights, info, g.bias, x.options());
  Tensor y = empty({g.T, g.N, g.H}, x.options()), h_n = empty({g.L, g.N, g.H}, x.options());
  Tensor c_n = lstm ? empty({g.L, g.N, g.H}, x.options()) : Tensor();
  std::vector<Tensor> inputs = {x, h0, c0};
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  const bool training = any_requires_grad(inputs);
  Tensor reserve = training && info.reserve_bytes > 0
                       ? empty({info.reserve_bytes}, {.dtype = DType::UInt8, .device = x.device()})
                       : Tensor();
  cuda::cudnn_rnn_forward(shape, x.dtype(), space.data(), xc.data(), data_or_null(h0c), data_or_null(c0c), y.data(),
                          h_n.data(), data_or_null(c_n), training, data_or_null(reserve));
  if (training) {
    auto node = std::make_shared<CudnnRnnNode>(shape, x.dtype(), x.device().index, info.runs);
    for (const Tensor& w : weights) node->weight_shapes.push_back(w.defined() ? w.shape() : Shape{});
    node->save(xc);
    node->save(h0c);
    node->save(c0c);
    node->save(y);
    node->save(space);
    node->save(reserve);
    std::vector<Tensor> outputs = {y, h_n};
    if (lstm) outputs.push_back(c_n);
    record_op_list(node, inputs, outputs);
  }
  return {y, h_n, c_n};
#else
  (void)g;
  KILN_FAIL(op, ": needs a CUDA build");
#endif
}

RnnOutput rnn(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0, const std::vector<Tensor>& weights,
              const RnnForwardOptions& options) {
  const char* op = mode_name(mode);
  const RnnGeometry g = check_rnn_args(op, mode, x, h0, c0, weights);
  KILN_CHECK(options.dropout >= 0.0 && options.dropout <= 1.0, op, ": dropout must be between 0 and 1, got ",
             options.dropout);
  Generator& generator = options.generator ? *options.generator : default_generator();
  // Dropout between layers runs as kiln's dropout op on both paths, so the masks are the same numbers.
  const bool per_layer = options.training && options.dropout > 0.0 && g.L > 1;
  bool use_cudnn = false;
  if (options.backend == RnnBackend::Cudnn) {
    KILN_CHECK(cudnn_can_run(mode, g, x, per_layer), op, ": the cuDNN backend was asked for but cannot run x of shape ",
               shape_str(x.shape()), " (", dtype_name(x.dtype()), ") on ", x.device().str(),
               " (cuDNN needs a CUDA float32/float64 tensor and a build with cuDNN, enabled)");
    use_cudnn = true;
  } else if (options.backend == RnnBackend::Auto) {
    use_cudnn = cudnn_can_run(mode, g, x, per_layer);
  }
  if (!use_cudnn)
    return cell_loop(mode, g, x, h0, c0, weights, options.dropout, options.training, generator,
                     options.backend != RnnBackend::CellLoop);
  if (!per_layer) return cudnn_rnn(mode, x, h0, c0, weights);

  // One cuDNN call per layer with kiln's dropout between them.
  const bool lstm = mode == RnnMode::LSTM;
  Tensor layer_input = x;
  std::vector<Tensor> h_n, c_n;
  for (int64_t l = 0; l < g.L; ++l) {
    auto state = [l](const Tensor& s) { return s.defined() ? narrow(s, 0, l, 1) : Tensor(); };
    std::vector<Tensor> layer_weights(weights.begin() + 4 * l, weights.begin() + 4 * l + 4);
    RnnOutput r = cudnn_rnn(mode, layer_input, state(h0), state(c0), layer_weights);
    h_n.push_back(r.h_n);
    if (lstm) c_n.push_back(r.c_n);
    layer_input = l + 1 < g.L ? dropout(r.output, options.dropout, true, generator) : r.output;
  }
  return {layer_input, cat(h_n, 0), lstm ? cat(c_n, 0) : Tensor()};
}

RnnOutput lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const std::vector<Tensor>& weights,
               const RnnForwardOptions& options) {
  return rnn(RnnMode::LSTM, x, h0, c0, weights, options);
}

RnnOutput gru(const Tensor& x, const Tensor& h0, const std::vector<Tensor>& weights, const RnnForwardOptions& options) {
  return rnn(RnnMode::GRU, x, h0, Tensor(), weights, options);
}

}  // namespace kiln
