// The plain reference loops of CPU pooling and upsampling (one window at a time, bounds checked per tap,
// gradients summed in a double buffer of the whole input). Max and average pooling also have a fast path
// (kernels/cpu/pool_fast.cpp) that the tests compare with these.
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/error.h"
#include "kernels/common/pool_math.h"
#include "kernels/cpu/pool_window.h"

namespace kiln::cpu {
namespace {

// Calls fn(plane, x_base, out_base) for each of the N·C planes: x_base is the plane's offset in the
// strided input, out_base its offset in the contiguous [N, C, Ho, Wo] output.
template <class F>
void for_each_plane(const Pool2dGeometry& g, const int64_t* strides, F&& fn) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) fn(n * g.C + c, n * strides[0] + c * strides[1], (n * g.C + c) * g.Ho * g.Wo);
}

// Writes a double accumulator into a T buffer.
template <class T>
void store(const std::vector<double>& acc, void* out) {
  T* o = static_cast<T*>(out);
  for (size_t i = 0; i < acc.size(); ++i) o[i] = T(acc[i]);
}

}  // namespace

void max_pool2d_forward_reference(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* xs, void* y,
                                  int64_t* argmax) {
  KILN_DISPATCH_FLOAT(dtype, "max_pool2d", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    for_each_plane(g, xs, [&](int64_t, int64_t xb, int64_t ob) {
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t best_index = -1;
          for (int64_t i = 0; i < g.kH; ++i) {
            int64_t h = oh * g.sH - g.pH + i * g.dH;
            if (h < 0 || h >= g.H) continue;
            for (int64_t j = 0; j < g.kW; ++j) {
              int64_t w = ow * g.sW - g.pW + j * g.dW;
              if (w < 0 || w >= g.W) continue;
              T v = xp[xb + h * xs[2] + w * xs[3]];
              if (best_index < 0 || v > best || v != v) {
                best = v;
                best_index = h * g.W + w;
              }
            }
          }
          yp[ob + oh * g.Wo + ow] = best;
          argmax[ob + oh * g.Wo + ow] = best_index;
        }
    });
  });
}

void max_pool2d_backward_reference(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dys,
                                   const int64_t* argmax, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "max_pool2d_backward", [&]<class T>() {
    const T* gp = static_cast<const T*>(dy);
    std::vector<double> acc(size_t(g.N * g.C * g.H * g.W), 0.0);
    for_each_plane(g, dys, [&](int64_t plane, int64_t db, int64_t ob) {
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          int64_t at = argmax[ob + oh * g.Wo + ow];
          if (at >= 0) acc[size_t(plane * g.H * g.W + at)] += double(gp[db + oh * dys[2] + ow * dys[3]]);
        }
    });
    store<T>(acc, dx);
  });
}

void avg_pool2d_forward_reference(DType dtype, const Pool2dGeometry& g, bool count_include_pad, const void* x,
                                  const int64_t* xs, void* y) {
  KILN_DISPATCH_FLOAT(dtype, "avg_pool2d", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    for_each_plane(g, xs, [&](int64_t, int64_t xb, int64_t ob) {
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        AvgWindow wh = avg_window(oh, g.H, g.kH, g.sH, g.pH);
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          AvgWindow ww = avg_window(ow, g.W, g.kW, g.sW, g.pW);
          double total = 0;
          for (int64_t h = wh.start; h < wh.end; ++h)
            for (int64_t w = ww.start; w < ww.end; ++w) total += double(xp[xb + h * xs[2] + w * xs[3]]);
          int64_t divisor = count_include_pad ? wh.padded_len * ww.padded_len
                                              : (wh.end - wh.start) * (ww.end - ww.start);
          yp[ob + oh * g.Wo + ow] = T(total / double(divisor));
        }
      }
    });
  });
}

void avg_pool2d_backward_reference(DType dtype, const Pool2dGeometry& g, bool count_include_pad, const void* dy,
                                   const int64_t* dys, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "avg_pool2d_backward", [&]<class T>() {
    const T* gp = static_cast<const T*>(dy);
    std::vector<double> acc(size_t(g.N * g.C * g.H * g.W), 0.0);
    for_each_plane(g, dys, [&](int64_t plane, int64_t db, int64_t) {
      double* a = acc.data() + plane * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        AvgWindow wh = avg_window(oh, g.H, g.kH, g.sH, g.pH);
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          AvgWindow ww = avg_window(ow, g.W, g.kW, g.sW, g.pW);
          int64_t divisor = count_include_pad ? wh.padded_len * ww.padded_len
                                              : (wh.end - wh.start) * (ww.end - ww.start);
          double share = double(gp[db + oh * dys[2] + ow * dys[3]]) / double(divisor);
          for (int64_t h = wh.start; h < wh.end; ++h)
            for (int64_t w = ww.start; w < ww.end; ++w) a[h * g.W + w] += share;
        }
      }
    });
    store<T>(acc, dx);
  });
}

void adaptive_avg_pool2d_forward(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* xs, void* y) {
  KILN_DISPATCH_FLOAT(dtype, "adaptive_avg_pool2d", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    for_each_plane(g, xs, [&](int64_t, int64_t xb, int64_t ob) {
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        int64_t h0 = adaptive_start(oh, g.H, g.Ho), h1 = adaptive_end(oh, g.H, g.Ho);
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          int64_t w0 = adaptive_start(ow, g.W, g.Wo), w1 = adaptive_end(ow, g.W, g.Wo);
          double total = 0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) total += double(xp[xb + h * xs[2] + w * xs[3]]);
          yp[ob + oh * g.Wo + ow] = T(total / double((h1 - h0) * (w1 - w0)));
        }
      }
    });
  });
}

void adaptive_avg_pool2d_backward(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dys,
                                  void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "adaptive_avg_pool2d_backward", [&]<class T>() {
    const T* gp = static_cast<const T*>(dy);
    std::vector<double> acc(size_t(g.N * g.C * g.H * g.W), 0.0);
    for_each_plane(g, dys, [&](int64_t plane, int64_t db, int64_t) {
      double* a = acc.data() + plane * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        int64_t h0 = adaptive_start(oh, g.H, g.Ho), h1 = adaptive_end(oh, g.H, g.Ho);
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          int64_t w0 = adaptive_start(ow, g.W, g.Wo), w1 = adaptive_end(ow, g.W, g.Wo);
          double share = double(gp[db + oh * dys[2] + ow * dys[3]]) / double((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) a[h * g.W + w] += share;
        }
      }
    });
    store<T>(acc, dx);
  });
}

void upsample_nearest2d_forward(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* xs, void* y) {
  KILN_DISPATCH_FLOAT(dtype, "upsample_nearest2d", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    for_each_plane(g, xs, [&](int64_t, int64_t xb, int64_t ob) {
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        int64_t h = nearest_source_index(oh, g.H, g.Ho, g.nearest_step_h);
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          int64_t w = nearest_source_index(ow, g.W, g.Wo, g.nearest_step_w);
          yp[ob + oh * g.Wo + ow] = xp[xb + h * xs[2] + w * xs[3]];
        }
      }
    });
  });
}

void upsample_nearest2d_backward(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dys,
                                 void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "upsample_nearest2d_backward", [&]<class T>() {
    const T* gp = static_cast<const T*>(dy);
    std::vector<double> acc(size_t(g.N * g.C * g.H * g.W), 0.0);
    for_each_plane(g, dys, [&](int64_t plane, int64_t db, int64_t) {
      double* a = acc.data() + plane * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        int64_t h = nearest_source_index(oh, g.H, g.Ho, g.nearest_step_h);
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          int64_t w = nearest_source_index(ow, g.W, g.Wo, g.nearest_step_w);
          a[h * g.W + w] += double(gp[db + oh * dys[2] + ow * dys[3]]);
        }
      }
    });
    store<T>(acc, dx);
  });
}

}  // namespace kiln::cpu
