// Multi-layer LSTM and GRU over whole sequences: the functional core of layers/rnn.h (as torch's _VF.lstm
// and _VF.gru), unidirectional and without projections. Two paths give the same numbers: the reference cell
// loop composed from kiln ops (one linear per layer for x·W_ihᵀ of every step, then linear + lstm_cell /
// gru_cell per step; any device), and, for CUDA float32/float64 tensors where kiln has cuDNN, the op
// `cudnn_rnn` (one autograd node for the whole stack). Time-major only: the layers handle batch_first and
// unbatched inputs.
#pragma once
#include <cstdint>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace kiln {

enum class RnnMode : uint8_t { LSTM, GRU };
// Auto: cuDNN for CUDA float32/float64 tensors where it is built in, enabled and takes the sizes, else the
// fused layers. CellLoop forces the reference; Cudnn forces cuDNN (an error where it cannot run); FusedLayers
// runs an LSTM's layers as lstm_layer ops (a GRU runs the cell loop).
enum class RnnBackend : uint8_t { Auto, CellLoop, Cudnn, FusedLayers };

struct RnnForwardOptions {
  double dropout = 0.0;            // on every layer's output but the last, in training only
  bool training = false;
  Generator* generator = nullptr;  // dropout's random numbers (null: default_generator())
  RnnBackend backend = RnnBackend::Auto;
};

struct RnnOutput {
  Tensor output;  // [T, N, H]: the last layer's h at every step
  Tensor h_n;     // [L, N, H]: every layer's h after the last step
  Tensor c_n;     // [L, N, H]: every layer's c after the last step (LSTM; undefined for a GRU)
};

// x [T, N, input_size]; h0, c0 [L, N, H] or undefined (zeros); `weights` holds 4 tensors per layer in
// PyTorch's order and layout: weight_ih [G·H, in_l], weight_hh [G·H, H], bias_ih [G·H], bias_hh [G·H] with
// G = 4 gates (i, f, g, o) for an LSTM and 3 (r, z, n) for a GRU, in_0 = input_size and in_l = H above;
// the biases are undefined in every layer or in none.
RnnOutput lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const std::vector<Tensor>& weights,
               const RnnForwardOptions& options = {});
RnnOutput gru(const Tensor& x, const Tensor& h0, const std::vector<Tensor>& weights,
              const RnnForwardOptions& options = {});
RnnOutput rnn(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0, const std::vector<Tensor>& weights,
              const RnnForwardOptions& options = {});

// The op `lstm_layer`: one LSTM layer over all T steps with one autograd node, on any device. xi [T, N, 4H]
// holds x·W_ihᵀ + b_ih of every step; per step gates = xi_t + h·W_hhᵀ + b_hh and (h, c) = lstm_cell(gates, c).
// h0, c0 [N, H] or undefined (zeros); b_hh [4H] or undefined. Returns output [T, N, H], h_n and c_n [N, H].
// Its backward takes W_hh's gradient as one product over all steps (core/ops/lstm_layer.cpp).
RnnOutput lstm_layer(const Tensor& xi, const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh);

// The op `cudnn_rnn`: every layer in one cuDNN call and one autograd node, without dropout. Arguments as
// above, on a CUDA device, float32 or float64; throws where cuDNN cannot run it (see cudnn_rnn_available).
RnnOutput cudnn_rnn(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                    const std::vector<Tensor>& weights);
// Whether this build and machine can run cudnn_rnn at all: built with cuDNN, cuDNN enabled, a CUDA device.
bool cudnn_rnn_available();
// How many cuDNN RNN forward/backward calls this process has run (0 without cuDNN): lets tests check that
// the cuDNN path is really taken rather than silently falling back to the cell loop.
int64_t cudnn_rnn_calls_run();

}  // namespace kiln
