#include "kernels/cpu/rnn_cell.h"

#include "core/error.h"
#include "kernels/common/rnn_cell_math.h"

namespace kiln::cpu {

void lstm_cell_forward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, void* h, void* c) {
  KILN_DISPATCH_FLOAT(dtype, "lstm_cell", [&]<class T>() {
    const T *a = static_cast<const T*>(gates), *cp = static_cast<const T*>(c_prev);
    T *hp = static_cast<T*>(h), *cn = static_cast<T*>(c);
    for (int64_t n = 0; n < N; ++n) {
      const T* row = a + n * 4 * H;
      for (int64_t j = 0; j < H; ++j)
        lstm_unit_forward(row[j], row[H + j], row[2 * H + j], row[3 * H + j], cp[n * H + j], hp[n * H + j],
                          cn[n * H + j]);
    }
  });
}

void lstm_cell_backward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, const void* c,
                        const void* dh, const void* dc, void* dgates, void* dc_prev) {
  KILN_DISPATCH_FLOAT(dtype, "lstm_cell backward", [&]<class T>() {
    const T *a = static_cast<const T*>(gates), *cp = static_cast<const T*>(c_prev), *cn = static_cast<const T*>(c);
    const T *dhp = static_cast<const T*>(dh), *dcp = static_cast<const T*>(dc);
    T *da = static_cast<T*>(dgates), *dcprev = static_cast<T*>(dc_prev);
    for (int64_t n = 0; n < N; ++n) {
      const T* row = a + n * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t at = n * H + j;
        T gi, gf, gg, go, gc;
        lstm_unit_backward(row[j], row[H + j], row[2 * H + j], row[3 * H + j], cp[at], cn[at], dhp[at], dcp[at], gi,
                           gf, gg, go, gc);
        if (da) {
          T* drow = da + n * 4 * H;
          drow[j] = gi;
          drow[H + j] = gf;
          drow[2 * H + j] = gg;
          drow[3 * H + j] = go;
        }
        if (dcprev) dcprev[at] = gc;
      }
    }
  });
}

void gru_cell_forward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev, void* h) {
  KILN_DISPATCH_FLOAT(dtype, "gru_cell", [&]<class T>() {
    const T *ip = static_cast<const T*>(gi), *hp_gates = static_cast<const T*>(gh), *hprev = static_cast<const T*>(h_prev);
    T* out = static_cast<T*>(h);
    for (int64_t n = 0; n < N; ++n) {
      const T *ri = ip + n * 3 * H, *rh = hp_gates + n * 3 * H;
      for (int64_t j = 0; j < H; ++j)
        out[n * H + j] = gru_unit_forward(ri[j], ri[H + j], ri[2 * H + j], rh[j], rh[H + j], rh[2 * H + j], hprev[n * H + j]);
    }
  });
}

void gru_cell_backward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev,
                       const void* dh, void* dgi, void* dgh, void* dh_prev) {
  KILN_DISPATCH_FLOAT(dtype, "gru_cell backward", [&]<class T>() {
    const T *ip = static_cast<const T*>(gi), *hp_gates = static_cast<const T*>(gh), *hprev = static_cast<const T*>(h_prev);
    const T* dhp = static_cast<const T*>(dh);
    T *dip = static_cast<T*>(dgi), *dhg = static_cast<T*>(dgh), *dhprev = static_cast<T*>(dh_prev);
    for (int64_t n = 0; n < N; ++n) {
      const T *ri = ip + n * 3 * H, *rh = hp_gates + n * 3 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t at = n * H + j;
        T da_r, da_z, dgi_n, dgh_n, dhprev_j;
        gru_unit_backward(ri[j], ri[H + j], ri[2 * H + j], rh[j], rh[H + j], rh[2 * H + j], hprev[at], dhp[at], da_r,
                          da_z, dgi_n, dgh_n, dhprev_j);
        if (dip) {
          T* d = dip + n * 3 * H;
          d[j] = da_r;
          d[H + j] = da_z;
          d[2 * H + j] = dgi_n;
        }
        if (dhg) {
          T* d = dhg + n * 3 * H;
          d[j] = da_r;
          d[H + j] = da_z;
          d[2 * H + j] = dgh_n;
        }
        if (dhprev) dhprev[at] = dhprev_j;
      }
    }
  });
}

}  // namespace kiln::cpu
