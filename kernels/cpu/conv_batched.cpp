// The fast path of CPU convolution:
// - a kernel that covers the whole image (one output position, e.g. DCGAN's k7 on 7×7 ↔ 1×1) is a fully
//   connected layer: one GEMM over the batch, no im2col at all (a GEMV per image otherwise);
// - tiny output planes (< kGroupBelowColumns positions): im2col of a group of images into one column
//   matrix, so that each pass is one large GEMM per channel group instead of one small GEMM per image;
// - other output planes: one GEMM per image, as the reference, with the faster im2col/col2im below and
//   the bias added while the output is in cache.
// im2col/col2im work row by row: the valid span of each kernel tap is computed once per row, the inner
// loop is a contiguous copy (stride 1) or add, never a bounds check per element.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "kernels/common/conv_math.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"

namespace kiln::cpu {
namespace {

// Elements of workspace (column matrix + the gathered output/gradient) one group of images may use: big
// enough that the GEMMs are large, small enough to stay in the last-level cache for 28×28-sized layers.
std::atomic<int64_t> g_workspace_elements{int64_t(1) << 21};
// Below this many elements of im2col/col2im work per group, OpenMP's fork costs more than it saves.
constexpr int64_t kParallelElements = int64_t(1) << 15;

// Output positions o in [lo, hi) whose tap reads inside [0, in): 0 ≤ o·stride − pad + tap·dil < in.
struct ValidSpan {
  int64_t lo, hi;
};
ValidSpan valid_outputs(int64_t out, int64_t in, int64_t stride, int64_t pad, int64_t dilation, int64_t tap) {
  const int64_t shift = pad - tap * dilation;  // o·stride ≥ shift and o·stride ≤ in − 1 + shift
  int64_t lo = shift <= 0 ? 0 : (shift + stride - 1) / stride;
  const int64_t top = in - 1 + shift;
  int64_t hi = top < 0 ? 0 : top / stride + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// The kernel covers the whole (unpadded) image once: one output position per image, whose column is the
// image itself, so the convolution is a fully connected layer over the batch, Y [N, C_out] = X [N, K] · Wᵀ.
// DCGAN's k7 layers on 7×7 ↔ 1×1 (the discriminator's last conv, the generator's first transposed conv).
bool is_fully_connected(const Conv2dGeometry& g) {
  return g.groups == 1 && g.out_h == 1 && g.out_w == 1 && g.pad_h == 0 && g.pad_w == 0 && g.kernel_h == g.in_h &&
         g.kernel_w == g.in_w && (g.dilation_h == 1 || g.kernel_h == 1) && (g.dilation_w == 1 || g.kernel_w == 1);
}

bool col_is_image(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 &&
         g.in_h == g.out_h && g.in_w == g.out_w;
}

// Calls fn(row, x_channel_plane, i, j) for every row (c, i, j) of the column matrix.
template <class F>
void for_each_row(const Conv2dGeometry& g, int64_t channels, F&& fn) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) fn((c * g.kernel_h + i) * g.kernel_w + j, c, i, j);
}

// Per-thread scratch buffers that keep their memory between calls (no page faults in steady state).
template <class T>
T* scratch(int slot, int64_t elements) {
  thread_local std::vector<T> buffers[2];
  std::vector<T>& b = buffers[slot];
  if (int64_t(b.size()) < elements) b.resize(size_t(elements));
  return b.data();
}

// Output planes at least this large make one GEMM per image efficient already; grouping them only adds the
// scatter/gather passes (measured with OpenBLAS, one thread: 7×7 planes lose 5–20% when grouped, 14×14 and
// 28×28 gain nothing), so only tiny planes are grouped.
constexpr int64_t kGroupBelowColumns = 16;

// How many images one group holds: one for large output planes, else as many as fit the workspace.
int64_t images_per_group(const Conv2dGeometry& g) {
  const int64_t cols = g.out_h * g.out_w;
  if (cols >= kGroupBelowColumns) return 1;
  const int64_t per_image = (g.in_channels * g.kernel_h * g.kernel_w + g.out_channels) * cols;
  return std::clamp<int64_t>(g_workspace_elements.load() / std::max<int64_t>(per_image, 1), 1, g.batch);
}

// Runs fn(b) for b in [0, count), across OpenMP threads when the work is large enough.
// The test is outside the pragma: an OpenMP region with a false if clause still costs about a microsecond,
// which one-image groups of small layers would pay per image (measured: +30% on a 1-channel layer).
template <class F>
void for_each_image(int64_t count, int64_t work, F&& fn) {
#ifdef _OPENMP
  if (count > 1 && work > kParallelElements) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < count; ++b) fn(b);
    return;
  }
#endif
  for (int64_t b = 0; b < count; ++b) fn(b);
}

// The images [n0, n0 + count) of a [N, channels, L] tensor as a [channels, count·L] matrix (column b·L + p
// is position p of image n0 + b).
template <class T>
void gather_images(const T* src, int64_t n0, int64_t count, int64_t channels, int64_t cols, T* dst) {
  const int64_t ld = count * cols;
  for_each_image(count, count * channels * cols, [&](int64_t b) {
    const T* s = src + (n0 + b) * channels * cols;
    for (int64_t c = 0; c < channels; ++c) std::memcpy(dst + c * ld + b * cols, s + c * cols, size_t(cols) * sizeof(T));
  });
}

}  // namespace

int64_t set_conv_workspace_elements(int64_t elements) { return g_workspace_elements.exchange(elements); }

template <class T>
void im2col_rows(const Conv2dGeometry& g, int64_t channels, const T* x, T* col, int64_t ld) {
  const int64_t in_plane = g.in_h * g.in_w;
  for_each_row(g, channels, [&](int64_t r, int64_t c, int64_t i, int64_t j) {
    T* __restrict row = col + r * ld;
    const T* __restrict xc = x + c * in_plane;
    const ValidSpan rh = valid_outputs(g.out_h, g.in_h, g.stride_h, g.pad_h, g.dilation_h, i);
    const ValidSpan rw = valid_outputs(g.out_w, g.in_w, g.stride_w, g.pad_w, g.dilation_w, j);
    std::fill(row, row + rh.lo * g.out_w, T(0));
    std::fill(row + rh.hi * g.out_w, row + g.out_h * g.out_w, T(0));
    const int64_t w_shift = j * g.dilation_w - g.pad_w;  // input column of output column ow: ow·stride + w_shift
    for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
      T* __restrict dst = row + oh * g.out_w;
      const T* __restrict src = xc + conv_input_index(oh, i, g.stride_h, g.pad_h, g.dilation_h) * g.in_w;
      std::fill(dst, dst + rw.lo, T(0));
      std::fill(dst + rw.hi, dst + g.out_w, T(0));
      if (g.stride_w == 1) {
        if (rw.hi > rw.lo) std::memcpy(dst + rw.lo, src + rw.lo + w_shift, size_t(rw.hi - rw.lo) * sizeof(T));
      } else {
        for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow] = src[ow * g.stride_w + w_shift];
      }
    }
  });
}

template <class T>
void col2im_rows(const Conv2dGeometry& g, int64_t channels, const T* col, int64_t ld, T* x) {
  const int64_t in_plane = g.in_h * g.in_w;
  std::fill(x, x + channels * in_plane, T(0));
  for_each_row(g, channels, [&](int64_t r, int64_t c, int64_t i, int64_t j) {
    const T* __restrict row = col + r * ld;
    T* __restrict xc = x + c * in_plane;
    const ValidSpan rh = valid_outputs(g.out_h, g.in_h, g.stride_h, g.pad_h, g.dilation_h, i);
    const ValidSpan rw = valid_outputs(g.out_w, g.in_w, g.stride_w, g.pad_w, g.dilation_w, j);
    const int64_t w_shift = j * g.dilation_w - g.pad_w;
    for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
      const T* __restrict src = row + oh * g.out_w;
      T* __restrict dst = xc + conv_input_index(oh, i, g.stride_h, g.pad_h, g.dilation_h) * g.in_w;
      if (g.stride_w == 1) {
        T* __restrict d = dst + w_shift;
        for (int64_t ow = rw.lo; ow < rw.hi; ++ow) d[ow] += src[ow];
      } else {
        for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow * g.stride_w + w_shift] += src[ow];
      }
    }
  });
}

template <class T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w, image = g.in_channels * g.in_h * g.in_w;
  if (g.batch == 0 || cols == 0) return;
  if (is_fully_connected(g)) {
    gemm<T>(false, true, g.batch, g.out_channels, k, T(1), x, k, w, k, T(0), y, g.out_channels);
    if (bias) add_channel_bias(g.batch, g.out_channels, int64_t(1), bias, y);
    return;
  }
  const int64_t group_size = images_per_group(g);
  const bool direct = col_is_image(g);
  for (int64_t n0 = 0; n0 < g.batch; n0 += group_size) {
    const int64_t count = std::min(group_size, g.batch - n0), ld = count * cols;
    const T* col = x + n0 * image;
    if (!(direct && count == 1)) {
      T* buffer = scratch<T>(0, g.groups * k * ld);
      for_each_image(count, count * g.groups * k * cols,
                     [&](int64_t b) { im2col_rows(g, g.in_channels, x + (n0 + b) * image, buffer + b * cols, ld); });
      col = buffer;
    }
    // One image: the GEMM writes the output in place. Several: into [C_out, count·L], then scattered.
    T* out = count == 1 ? y + n0 * g.out_channels * cols : scratch<T>(1, g.out_channels * ld);
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, false, cout_g, ld, k, T(1), w + grp * cout_g * k, k, col + grp * k * ld, ld, T(0),
              out + grp * cout_g * ld, ld);
    if (count == 1 && !bias) continue;
    for_each_image(count, count * g.out_channels * cols, [&](int64_t b) {
      T* y_n = y + (n0 + b) * g.out_channels * cols;
      for (int64_t c = 0; c < g.out_channels; ++c) {
        T* dst = y_n + c * cols;
        const T* src = count == 1 ? dst : out + c * ld + b * cols;
        const T add = bias ? bias[c] : T(0);
        for (int64_t p = 0; p < cols; ++p) dst[p] = src[p] + add;
      }
    });
  }
}

template <class T>
void conv2d_backward_input(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w, image = g.in_channels * g.in_h * g.in_w;
  if (g.batch == 0) return;
  if (cols == 0) return std::fill(dx, dx + g.batch * image, T(0));
  if (is_fully_connected(g))  // dX [N, K] = dY [N, C_out] · W [C_out, K]
    return gemm<T>(false, false, g.batch, k, g.out_channels, T(1), dy, g.out_channels, w, k, T(0), dx, k);
  const int64_t group_size = images_per_group(g);
  const bool direct = col_is_image(g);
  for (int64_t n0 = 0; n0 < g.batch; n0 += group_size) {
    const int64_t count = std::min(group_size, g.batch - n0), ld = count * cols;
    const T* dyc = dy + n0 * g.out_channels * cols;
    if (count > 1) {
      T* gathered = scratch<T>(1, g.out_channels * ld);
      gather_images(dy, n0, count, g.out_channels, cols, gathered);
      dyc = gathered;
    }
    // A 1×1 stride-1 kernel of one image: the column gradient is the input gradient itself.
    const bool in_place = direct && count == 1;
    T* dcol = in_place ? dx + n0 * image : scratch<T>(0, g.groups * k * ld);
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(true, false, k, ld, cout_g, T(1), w + grp * cout_g * k, k, dyc + grp * cout_g * ld, ld, T(0),
              dcol + grp * k * ld, ld);
    if (in_place) continue;
    for_each_image(count, count * g.groups * k * cols,
                   [&](int64_t b) { col2im_rows(g, g.in_channels, dcol + b * cols, ld, dx + (n0 + b) * image); });
  }
}

template <class T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w, image = g.in_channels * g.in_h * g.in_w;
  if (g.batch == 0 || cols == 0) return std::fill(dw, dw + g.out_channels * k, T(0));
  if (is_fully_connected(g))  // dW [C_out, K] = dYᵀ [C_out, N] · X [N, K]
    return gemm<T>(true, false, g.out_channels, k, g.batch, T(1), dy, g.out_channels, x, k, T(0), dw, k);
  const int64_t group_size = images_per_group(g);
  const bool direct = col_is_image(g);
  for (int64_t n0 = 0; n0 < g.batch; n0 += group_size) {
    const int64_t count = std::min(group_size, g.batch - n0), ld = count * cols;
    const T* col = x + n0 * image;
    if (!(direct && count == 1)) {
      T* buffer = scratch<T>(0, g.groups * k * ld);
      for_each_image(count, count * g.groups * k * cols,
                     [&](int64_t b) { im2col_rows(g, g.in_channels, x + (n0 + b) * image, buffer + b * cols, ld); });
      col = buffer;
    }
    const T* dyc = dy + n0 * g.out_channels * cols;
    if (count > 1) {
      T* gathered = scratch<T>(1, g.out_channels * ld);
      gather_images(dy, n0, count, g.out_channels, cols, gathered);
      dyc = gathered;
    }
    // dW_g += dY_g [C_out/G, count·L] · col_gᵀ [count·L, k]: the whole group's columns in one product.
    const T beta = n0 == 0 ? T(0) : T(1);
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, true, cout_g, k, ld, T(1), dyc + grp * cout_g * ld, ld, col + grp * k * ld, ld, beta,
              dw + grp * cout_g * k, k);
  }
}

#define KILN_INSTANTIATE_CONV_BATCHED(T)                                                        \
  template void im2col_rows<T>(const Conv2dGeometry&, int64_t, const T*, T*, int64_t);          \
  template void col2im_rows<T>(const Conv2dGeometry&, int64_t, const T*, int64_t, T*);          \
  template void conv2d_forward<T>(const Conv2dGeometry&, const T*, const T*, const T*, T*);     \
  template void conv2d_backward_input<T>(const Conv2dGeometry&, const T*, const T*, T*);        \
  template void conv2d_backward_weight<T>(const Conv2dGeometry&, const T*, const T*, T*);
KILN_INSTANTIATE_CONV_BATCHED(float)
KILN_INSTANTIATE_CONV_BATCHED(double)
#undef KILN_INSTANTIATE_CONV_BATCHED

}  // namespace kiln::cpu
