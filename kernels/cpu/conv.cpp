// The plain reference loops of 2-D convolution on the CPU by im2col + GEMM: each output position's receptive
// field becomes a column, so the convolution of one image and group is one matrix product with the weight
// matrix. The fast path (kernels/cpu/conv_batched.cpp) is tested against these.
#include "kernels/cpu/conv.h"

#include <algorithm>
#include <vector>

#include "kernels/common/conv_math.h"
#include "kernels/cpu/gemm.h"

namespace kiln::cpu {
namespace {

// A 1×1 kernel with stride 1, no padding and an image the size of the columns: col is the image itself.
bool col_is_image(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 &&
         g.in_h == g.out_h && g.in_w == g.out_w;
}

// Visits every (col element, input element) pair of one image: fn(col_index, x_index), x_index = −1 in the padding.
template <class F>
void for_each_tap(const Conv2dGeometry& g, int64_t channels, F&& fn) {
  const int64_t cols = g.out_h * g.out_w;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t row = (c * g.kernel_h + i) * g.kernel_w + j;
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const int64_t ih = conv_input_index(oh, i, g.stride_h, g.pad_h, g.dilation_h);
          const bool row_inside = ih >= 0 && ih < g.in_h;
          for (int64_t ow = 0; ow < g.out_w; ++ow) {
            const int64_t iw = conv_input_index(ow, j, g.stride_w, g.pad_w, g.dilation_w);
            const bool inside = row_inside && iw >= 0 && iw < g.in_w;
            fn(row * cols + oh * g.out_w + ow, inside ? (c * g.in_h + ih) * g.in_w + iw : int64_t(-1));
          }
        }
      }
}

}  // namespace

template <class T>
void im2col(const Conv2dGeometry& g, int64_t channels, const T* x, T* col) {
  for_each_tap(g, channels, [&](int64_t ci, int64_t xi) { col[ci] = xi < 0 ? T(0) : x[xi]; });
}

template <class T>
void col2im(const Conv2dGeometry& g, int64_t channels, const T* col, T* x) {
  std::fill(x, x + channels * g.in_h * g.in_w, T(0));
  for_each_tap(g, channels, [&](int64_t ci, int64_t xi) {
    if (xi >= 0) x[xi] += col[ci];
  });
}

template <class T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
  const bool direct = col_is_image(g);
  std::vector<T> buffer(direct ? 0 : size_t(g.groups * k * cols));
  for (int64_t n = 0; n < g.batch; ++n) {
    const T* x_n = x + n * g.in_channels * g.in_h * g.in_w;
    T* y_n = y + n * g.out_channels * cols;
    const T* col = x_n;
    if (!direct) {
      im2col(g, g.in_channels, x_n, buffer.data());
      col = buffer.data();
    }
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, false, cout_g, cols, k, T(1), w + grp * cout_g * k, k, col + grp * k * cols, cols, T(0),
              y_n + grp * cout_g * cols, cols);
  }
  if (bias) add_channel_bias(g.batch, g.out_channels, cols, bias, y);
}

template <class T>
void conv2d_backward_input_reference(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
  const bool direct = col_is_image(g);
  std::vector<T> buffer(direct ? 0 : size_t(g.groups * k * cols));
  for (int64_t n = 0; n < g.batch; ++n) {
    const T* dy_n = dy + n * g.out_channels * cols;
    T* dx_n = dx + n * g.in_channels * g.in_h * g.in_w;
    T* dcol = direct ? dx_n : buffer.data();
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(true, false, k, cols, cout_g, T(1), w + grp * cout_g * k, k, dy_n + grp * cout_g * cols, cols, T(0),
              dcol + grp * k * cols, cols);
    if (!direct) col2im(g, g.in_channels, dcol, dx_n);
  }
}

template <class T>
void conv2d_backward_weight_reference(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
  std::fill(dw, dw + g.out_channels * k, T(0));
  const bool direct = col_is_image(g);
  std::vector<T> buffer(direct ? 0 : size_t(g.groups * k * cols));
  for (int64_t n = 0; n < g.batch; ++n) {
    const T* x_n = x + n * g.in_channels * g.in_h * g.in_w;
    const T* dy_n = dy + n * g.out_channels * cols;
    const T* col = x_n;
    if (!direct) {
      im2col(g, g.in_channels, x_n, buffer.data());
      col = buffer.data();
    }
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, true, cout_g, k, cols, T(1), dy_n + grp * cout_g * cols, cols, col + grp * k * cols, cols, T(1),
              dw + grp * cout_g * k, k);
  }
}

template <class T>
void add_channel_bias(int64_t batch, int64_t channels, int64_t spatial, const T* bias, T* y) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      T* row = y + (n * channels + c) * spatial;
      for (int64_t s = 0; s < spatial; ++s) row[s] += bias[c];
    }
}

template <class T>
void sum_per_channel(int64_t batch, int64_t channels, int64_t spatial, const T* dy, T* db) {
  for (int64_t c = 0; c < channels; ++c) {
    double acc = 0;
    for (int64_t n = 0; n < batch; ++n) {
      const T* row = dy + (n * channels + c) * spatial;
      for (int64_t s = 0; s < spatial; ++s) acc += double(row[s]);
    }
    db[c] = T(acc);
  }
}

#define KILN_INSTANTIATE_CONV(T)                                                                      \
  template void im2col<T>(const Conv2dGeometry&, int64_t, const T*, T*);                              \
  template void col2im<T>(const Conv2dGeometry&, int64_t, const T*, T*);                              \
  template void conv2d_forward_reference<T>(const Conv2dGeometry&, const T*, const T*, const T*, T*);           \
  template void conv2d_backward_input_reference<T>(const Conv2dGeometry&, const T*, const T*, T*);              \
  template void conv2d_backward_weight_reference<T>(const Conv2dGeometry&, const T*, const T*, T*);             \
  template void add_channel_bias<T>(int64_t, int64_t, int64_t, const T*, T*);                         \
  template void sum_per_channel<T>(int64_t, int64_t, int64_t, const T*, T*);
KILN_INSTANTIATE_CONV(float)
KILN_INSTANTIATE_CONV(double)
#undef KILN_INSTANTIATE_CONV

}  // namespace kiln::cpu
