// LSTM and GRU as torch.nn.LSTM / torch.nn.GRU: PyTorch's constructor arguments and defaults, parameter names
// and layouts (weight_ih_l{k} [G·H, in], weight_hh_l{k} [G·H, H], bias_ih_l{k}, bias_hh_l{k} [G·H], gate order
// LSTM (i, f, g, o), GRU (r, z, n)), every parameter initialized U(−1/√H, 1/√H), batch_first, dropout between
// layers in training (masks from the generator given at construction, which also draws the initial
// weights), optional initial states, unbatched input. The math is core/ops/rnn.h (cuDNN on CUDA, the cell
// loop elsewhere). Not supported: bidirectional and proj_size (the options exist, so code written
// for PyTorch reads the same, and the constructor rejects them with a clear error).
#pragma once
#include <string>
#include <vector>

#include "core/ops/rnn.h"
#include "core/random.h"
#include "layers/module.h"

namespace kiln {

struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;    // input and output [N, T, ·] instead of [T, N, ·]; states stay [L, N, H]
  double dropout = 0.0;        // on the outputs of every layer but the last, in training mode only
  bool bidirectional = false;  // not supported: must stay false
  int64_t proj_size = 0;       // not supported: must stay 0
};
using LSTMOptions = RNNOptions;
using GRUOptions = RNNOptions;

// What LSTM and GRU share: the parameters, the shape checks and the call into kiln::rnn.
class RNNBase : public Module {
 public:
  int64_t input_size, hidden_size;
  RNNOptions options;
  // Which path forward takes: Auto (cuDNN on CUDA where it can run, else the cell loop), or one forced.
  RnnBackend backend = RnnBackend::Auto;

  // weight_ih, weight_hh, bias_ih, bias_hh of every layer in order (biases undefined without bias).
  const std::vector<Tensor>& all_weights() const { return weights_; }
  std::string extra_repr() const override;

 protected:
  RNNBase(const char* type_name, RnnMode mode, int64_t input_size, int64_t hidden_size, const RNNOptions& options,
          Generator& generator);
  // x: [T, N, in] ([N, T, in] with batch_first) or unbatched [T, in]; h0, c0: [L, N, H] ([L, H]) or undefined.
  RnnOutput run(const Tensor& x, const Tensor& h0, const Tensor& c0);

 private:
  RnnMode mode_;
  Generator* generator_;
  std::vector<Tensor> weights_;
};

class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const LSTMOptions& options = {},
       Generator& generator = default_generator());
  // → output [T, N, H] ([N, T, H] with batch_first, [T, H] unbatched), h_n and c_n [L, N, H] ([L, H]).
  // h0 and c0 are given together or not at all (zeros), as PyTorch's (h_0, c_0).
  RnnOutput forward(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());
  RnnOutput operator()(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor()) {
    return forward(x, h0, c0);
  }
};

class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const GRUOptions& options = {},
      Generator& generator = default_generator());
  // → output [T, N, H] ([N, T, H] with batch_first, [T, H] unbatched) and h_n [L, N, H] ([L, H]); c_n undefined.
  RnnOutput forward(const Tensor& x, const Tensor& h0 = Tensor());
  RnnOutput operator()(const Tensor& x, const Tensor& h0 = Tensor()) { return forward(x, h0); }
};

}  // namespace kiln
