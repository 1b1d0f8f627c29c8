#include "kernels/cpu/rnn_cell.h"

#include "core/error.h"
#include "kernels/common/rnn_cell_math.h"

namespace kiln::cpu {

// One plain loop per cell over the N·H state elements; the per-element math and the gate layout are
// kernels/common/rnn_cell_math.h, shared with the CUDA kernels.
void lstm_cell_forward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, void* h, void* c) {
  KILN_DISPATCH_FLOAT(dtype, "lstm_cell", [&]<class T>() {
    for (int64_t at = 0; at < N * H; ++at)
      lstm_element_forward(at, H, static_cast<const T*>(gates), static_cast<const T*>(c_prev), static_cast<T*>(h),
                           static_cast<T*>(c));
  });
}

void lstm_cell_backward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, const void* c,
                        const void* dh, const void* dc, void* dgates, void* dc_prev) {
  KILN_DISPATCH_FLOAT(dtype, "lstm_cell backward", [&]<class T>() {
    for (int64_t at = 0; at < N * H; ++at)
      lstm_element_backward(at, H, static_cast<const T*>(gates), static_cast<const T*>(c_prev), static_cast<const T*>(c),
                            static_cast<const T*>(dh), static_cast<const T*>(dc), static_cast<T*>(dgates),
                            static_cast<T*>(dc_prev));
  });
}

void gru_cell_forward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev, void* h) {
  KILN_DISPATCH_FLOAT(dtype, "gru_cell", [&]<class T>() {
    for (int64_t at = 0; at < N * H; ++at)
      gru_element_forward(at, H, static_cast<const T*>(gi), static_cast<const T*>(gh), static_cast<const T*>(h_prev),
                          static_cast<T*>(h));
  });
}

void gru_cell_backward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev,
                       const void* dh, void* dgi, void* dgh, void* dh_prev) {
  KILN_DISPATCH_FLOAT(dtype, "gru_cell backward", [&]<class T>() {
    for (int64_t at = 0; at < N * H; ++at)
      gru_element_backward(at, H, static_cast<const T*>(gi), static_cast<const T*>(gh), static_cast<const T*>(h_prev),
                           static_cast<const T*>(dh), static_cast<T*>(dgi), static_cast<T*>(dgh),
                           static_cast<T*>(dh_prev));
  });
}

}  // namespace kiln::cpu
