// The per-unit math of the fused LSTM and GRU cells, forward and backward side by side, shared by the
// CPU reference kernels and (later) the CUDA kernels. Gate pre-activations come in PyTorch's order:
// LSTM (i, f, g, o), GRU (r, z, n). Matrix products (x·Wᵀ, h·Wᵀ) are done before, by linear/matmul.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/host_device.h"
#include "kernels/common/unary_math.h"

namespace kiln {

// tanh in T's own precision: ::tanh of a float computes in double on the host (glibc's tanh and expm1 were
// a fifth of the CPU LSTM's time); tanhf exists on the host and on the device.
template <class T>
KILN_HD T cell_tanh(T x) {
  if constexpr (std::is_same_v<T, float>) return ::tanhf(x);
  else return ::tanh(x);
}

// LSTM: i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o) ; c = f·c_prev + i·g ; h = o·tanh(c)
template <class T>
KILN_HD void lstm_unit_forward(T a_i, T a_f, T a_g, T a_o, T c_prev, T& h, T& c) {
  const T i = sigmoid_of(a_i), f = sigmoid_of(a_f), g = cell_tanh(a_g), o = sigmoid_of(a_o);
  c = f * c_prev + i * g;
  h = o * cell_tanh(c);
}

// dc_total = dc + dh·o·(1 − tanh²c) ; da_i = dc_total·g·i(1−i) ; da_f = dc_total·c_prev·f(1−f) ;
// da_g = dc_total·i·(1 − g²) ; da_o = dh·tanh(c)·o(1−o) ; dc_prev = dc_total·f
template <class T>
KILN_HD void lstm_unit_backward(T a_i, T a_f, T a_g, T a_o, T c_prev, T c, T dh, T dc, T& da_i, T& da_f, T& da_g,
                                T& da_o, T& dc_prev) {
  const T i = sigmoid_of(a_i), f = sigmoid_of(a_f), g = cell_tanh(a_g), o = sigmoid_of(a_o), tc = cell_tanh(c);
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
  const T r = sigmoid_of(gi_r + gh_r), z = sigmoid_of(gi_z + gh_z), n = cell_tanh(gi_n + r * gh_n);
  return (T(1) - z) * n + z * h_prev;
}

// dn = dh·(1 − z) ; da_n = dn·(1 − n²) → dgi_n = da_n, dgh_n = da_n·r ; dr = da_n·gh_n ;
// da_r = dr·r(1−r) → dgi_r = dgh_r = da_r ; da_z = dh·(h_prev − n)·z(1−z) → dgi_z = dgh_z = da_z ;
// dh_prev = dh·z
template <class T>
KILN_HD void gru_unit_backward(T gi_r, T gi_z, T gi_n, T gh_r, T gh_z, T gh_n, T h_prev, T dh, T& da_r, T& da_z,
                               T& dgi_n, T& dgh_n, T& dh_prev) {
  const T r = sigmoid_of(gi_r + gh_r), z = sigmoid_of(gi_z + gh_z), n = cell_tanh(gi_n + r * gh_n);
  const T da_n = dh * (T(1) - z) * (T(1) - n * n);
  dgi_n = da_n;
  dgh_n = da_n * r;
  da_r = da_n * gh_n * r * (T(1) - r);
  da_z = dh * (h_prev - n) * z * (T(1) - z);
  dh_prev = dh * z;
}

// The layout of the fused cells, shared by the CPU loop and the CUDA kernel: element `at` = n·H + j of
// the [N, H] states; gates row n holds LSTM's (i, f, g, o) at j, H + j, 2H + j, 3H + j and GRU's
// (r, z, n) at j, H + j, 2H + j. Gradient outputs may be null (not needed).
template <class T>
KILN_HD void lstm_element_forward(int64_t at, int64_t H, const T* gates, const T* c_prev, T* h, T* c) {
  const int64_t n = at / H, j = at - n * H;
  const T* row = gates + n * 4 * H;
  lstm_unit_forward(row[j], row[H + j], row[2 * H + j], row[3 * H + j], c_prev[at], h[at], c[at]);
}

template <class T>
KILN_HD void lstm_element_backward(int64_t at, int64_t H, const T* gates, const T* c_prev, const T* c, const T* dh,
                                   const T* dc, T* dgates, T* dc_prev) {
  const int64_t n = at / H, j = at - n * H;
  const T* row = gates + n * 4 * H;
  T gi, gf, gg, go, gc;
  lstm_unit_backward(row[j], row[H + j], row[2 * H + j], row[3 * H + j], c_prev[at], c[at], dh[at], dc[at], gi, gf, gg,
                     go, gc);
  if (dgates) {
    T* drow = dgates + n * 4 * H;
    drow[j] = gi;
    drow[H + j] = gf;
    drow[2 * H + j] = gg;
    drow[3 * H + j] = go;
  }
  if (dc_prev) dc_prev[at] = gc;
}

template <class T>
KILN_HD void gru_element_forward(int64_t at, int64_t H, const T* gi, const T* gh, const T* h_prev, T* h) {
  const int64_t n = at / H, j = at - n * H;
  const T *ri = gi + n * 3 * H, *rh = gh + n * 3 * H;
  h[at] = gru_unit_forward(ri[j], ri[H + j], ri[2 * H + j], rh[j], rh[H + j], rh[2 * H + j], h_prev[at]);
}

template <class T>
KILN_HD void gru_element_backward(int64_t at, int64_t H, const T* gi, const T* gh, const T* h_prev, const T* dh, T* dgi,
                                  T* dgh, T* dh_prev) {
  const int64_t n = at / H, j = at - n * H;
  const T *ri = gi + n * 3 * H, *rh = gh + n * 3 * H;
  T da_r, da_z, dgi_n, dgh_n, dhprev_j;
  gru_unit_backward(ri[j], ri[H + j], ri[2 * H + j], rh[j], rh[H + j], rh[2 * H + j], h_prev[at], dh[at], da_r, da_z,
                    dgi_n, dgh_n, dhprev_j);
  if (dgi) {
    T* d = dgi + n * 3 * H;
    d[j] = da_r;
    d[H + j] = da_z;
    d[2 * H + j] = dgi_n;
  }
  if (dgh) {
    T* d = dgh + n * 3 * H;
    d[j] = da_r;
    d[H + j] = da_z;
    d[2 * H + j] = dgh_n;
  }
  if (dh_prev) dh_prev[at] = dhprev_j;
}

}  // namespace kiln
