// The per-unit math of the fused LSTM and GRU cells, forward and backward side by side, shared by the
// CPU reference kernels and (later) the CUDA kernels. Gate pre-activations come in PyTorch's order:
// LSTM (i, f, g, o), GRU (r, z, n). Matrix products (x·Wᵀ, h·Wᵀ) are done before, by linear/matmul.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"
#include "kernels/common/unary_math.h"

namespace kiln {

// LSTM: i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o) ; c = f·c_prev + i·g ; h = o·tanh(c)
template <class T>
KILN_HD void lstm_unit_forward(T a_i, T a_f, T a_g, T a_o, T c_prev, T& h, T& c) {
  const T i = sigmoid_of(a_i), f = sigmoid_of(a_f), g = ::tanh(a_g), o = sigmoid_of(a_o);
  c = f * c_prev + i * g;
  h = o * ::tanh(c);
}

// dc_total = dc + dh·o·(1 − tanh²c) ; da_i = dc_total·g·i(1−i) ; da_f = dc_total·c_prev·f(1−f) ;
// da_g = dc_total·i·(1 − g²) ; da_o = dh·tanh(c)·o(1−o) ; dc_prev = dc_total·f
template <class T>
KILN_HD void lstm_unit_backward(T a_i, T a_f, T a_g, T a_o, T c_prev, T c, T dh, T dc, T& da_i, T& da_f, T& da_g,
                                T& da_o, T& dc_prev) {
  const T i = sigmoid_of(a_i), f = sigmoid_of(a_f), g = ::tanh(a_g), o = sigmoid_of(a_o), tc = ::tanh(c);
  const T dct = dc + dh * o * (T(1) - tc * tc);
  da_i = dct * g * i * (T(1) - i);
  da_f = dct * c_prev * f * (T(1) - f);
  da_g = dct * i * (T(1) - g * g);
  da_o = dh * tc * o * (T(1) - o);
  dc_prev = dct * f;
}

// GRU: r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r·gh_n) ; h = (1 − z)·n + z·h_prev
template <class T>
KILN_HD T gru_unit_forward(T gi_r, T gi_z, T gi_n, T gh_r, T gh_z, T gh_n, T h_prev) {
  const T r = sigmoid_of(gi_r + gh_r), z = sigmoid_of(gi_z + gh_z), n = ::tanh(gi_n + r * gh_n);
  return (T(1) - z) * n + z * h_prev;
}

// dn = dh·(1 − z) ; da_n = dn·(1 − n²) → dgi_n = da_n, dgh_n = da_n·r ; dr = da_n·gh_n ;
// da_r = dr·r(1−r) → dgi_r = dgh_r = da_r ; da_z = dh·(h_prev − n)·z(1−z) → dgi_z = dgh_z = da_z ;
// dh_prev = dh·z
template <class T>
KILN_HD void gru_unit_backward(T gi_r, T gi_z, T gi_n, T gh_r, T gh_z, T gh_n, T h_prev, T dh, T& da_r, T& da_z,
                               T& dgi_n, T& dgh_n, T& dh_prev) {
  const T r = sigmoid_of(gi_r + gh_r), z = sigmoid_of(gi_z + gh_z), n = ::tanh(gi_n + r * gh_n);
  const T da_n = dh * (T(1) - z) * (T(1) - n * n);
  dgi_n = da_n;
  dgh_n = da_n * r;
  da_r = da_n * gh_n * r * (T(1) - r);
  da_z = dh * (h_prev - n) * z * (T(1) - z);
  dh_prev = dh * z;
}

}  // namespace kiln
