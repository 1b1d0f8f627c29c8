// LSTM and GRU: construction with PyTorch's parameters and initialization, shape handling (batch_first,
// unbatched input, initial states) and the forward through kiln::rnn.
#include "layers/rnn.h"

#include <cmath>

#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

RNNBase::RNNBase(const char* type_name, RnnMode mode, int64_t input_size_, int64_t hidden_size_,
                 const RNNOptions& options_, Generator& generator)
    : Module(type_name), input_size(input_size_), hidden_size(hidden_size_), options(options_), mode_(mode),
      generator_(&generator) {
  KILN_CHECK(input_size > 0 && hidden_size > 0, type_name, ": input_size and hidden_size must be positive, got ",
             input_size, " and ", hidden_size);
  KILN_CHECK(options.num_layers > 0, type_name, ": num_layers must be positive, got ", options.num_layers);
  KILN_CHECK(options.dropout >= 0.0 && options.dropout <= 1.0, type_name,
             ": dropout must be a probability between 0 and 1, got ", options.dropout);
  KILN_CHECK(!options.bidirectional, type_name, ": bidirectional=True is not supported by kiln");
  KILN_CHECK(options.proj_size == 0, type_name, ": proj_size=", options.proj_size,
             mode == RnnMode::LSTM ? " is not supported by kiln (only proj_size=0)"
                                   : " is not supported: projections exist only for LSTM");
  // PyTorch: every parameter ~ U(−1/√H, 1/√H), drawn in registration order.
  const int64_t gates = mode == RnnMode::LSTM ? 4 : 3, G = gates * hidden_size;
  const double bound = 1.0 / std::sqrt(double(hidden_size));
  for (int64_t l = 0; l < options.num_layers; ++l) {
    const std::string k = std::to_string(l);
    const int64_t in = l == 0 ? input_size : hidden_size;
    weights_.push_back(register_parameter("weight_ih_l" + k, uniform({G, in}, -bound, bound, {}, generator)));
    weights_.push_back(register_parameter("weight_hh_l" + k, uniform({G, hidden_size}, -bound, bound, {}, generator)));
    if (options.bias) {
      weights_.push_back(register_parameter("bias_ih_l" + k, uniform({G}, -bound, bound, {}, generator)));
      weights_.push_back(register_parameter("bias_hh_l" + k, uniform({G}, -bound, bound, {}, generator)));
    } else {
      weights_.insert(weights_.end(), 2, Tensor());
    }
  }
}

RnnOutput RNNBase::run(const Tensor& x, const Tensor& h0, const Tensor& c0) {
  const std::string& name = type_name();
  const int64_t L = options.num_layers, H = hidden_size;
  KILN_CHECK(x.defined(), name, ": input is undefined");
  const char* layout = options.batch_first ? "[N, T, input_size]" : "[T, N, input_size]";
  KILN_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(-1) == input_size, name, ": input has shape ",
             shape_str(x.shape()), ", expected ", layout, " or unbatched [T, input_size] with input_size = ",
             input_size);
  const Tensor& w = weights_[0];
  KILN_CHECK(x.dtype() == w.dtype() && x.device() == w.device(), name, ": input is ", dtype_name(x.dtype()), " on ",
             x.device().str(), " but the parameters are ", dtype_name(w.dtype()), " on ", w.device().str(),
             " (move the module or the input with .to)");
  const bool batched = x.dim() == 3;
  const Tensor xt = !batched ? unsqueeze(x, 1) : options.batch_first ? transpose(x, 0, 1) : x;  // [T, N, in]
  const int64_t N = xt.size(1);
  const Shape state = batched ? Shape{L, N, H} : Shape{L, H};
  for (const Tensor* s : {&h0, &c0}) {
    if (!s->defined()) continue;
    const char* arg = s == &h0 ? "h0" : "c0";
    KILN_CHECK(s->shape() == state, name, ": ", arg, " has shape ", shape_str(s->shape()), ", expected ",
               shape_str(state), batched ? " ([num_layers, N, hidden_size])" : " ([num_layers, hidden_size])",
               " for input of shape ", shape_str(x.shape()));
  }
  auto time_major_state = [batched](const Tensor& s) { return s.defined() && !batched ? unsqueeze(s, 1) : s; };
  RnnForwardOptions call{
      .dropout = options.dropout, .training = training_, .generator = generator_, .backend = backend};
  RnnOutput r = rnn(mode_, xt, time_major_state(h0), time_major_state(c0), weights_, call);
  if (!batched) {
    r.output = squeeze(r.output, 1);
    r.h_n = squeeze(r.h_n, 1);
    if (r.c_n.defined()) r.c_n = squeeze(r.c_n, 1);
  } else if (options.batch_first) {
    r.output = transpose(r.output, 0, 1);
  }
  return r;
}

std::string RNNBase::extra_repr() const {
  std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
  if (options.num_layers != 1) s += ", num_layers=" + std::to_string(options.num_layers);
  if (!options.bias) s += ", bias=False";
  if (options.batch_first) s += ", batch_first=True";
  if (options.dropout != 0) s += ", dropout=" + repr::py_float(options.dropout);
  return s;
}

LSTM::LSTM(int64_t in, int64_t hidden, const LSTMOptions& opts, Generator& generator)
    : RNNBase("LSTM", RnnMode::LSTM, in, hidden, opts, generator) {}

RnnOutput LSTM::forward(const Tensor& x, const Tensor& h0, const Tensor& c0) {
  KILN_CHECK(h0.defined() == c0.defined(), "LSTM: pass both initial states (h0, c0) or neither; got ",
             h0.defined() ? "h0 only" : "c0 only");
  return run(x, h0, c0);
}

GRU::GRU(int64_t in, int64_t hidden, const GRUOptions& opts, Generator& generator)
    : RNNBase("GRU", RnnMode::GRU, in, hidden, opts, generator) {}

RnnOutput GRU::forward(const Tensor& x, const Tensor& h0) { return run(x, h0, Tensor()); }

}  // namespace kiln
