// Batch, layer and group normalization and dropout's mask on the GPU. Statistics are reduced by one
// block per channel (batch norm) or per row/group (layer/group norm) with a shared-memory tree in
// double, like the CPU's double sums; weight/bias gradients are owned by one block (or one column of
// threads) each, so there are no float atomics and results are deterministic.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/common/norm_math.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/tree_reduce.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;  // per block of the reduction kernels (a power of two)

template <class T>
__device__ double weight_at(const T* w, int64_t i) {
  return w ? double(w[i]) : 1.0;
}
template <class T>
__device__ double bias_at(const T* b, int64_t i) {
  return b ? double(b[i]) : 0.0;
}

// Mean and biased variance of the `size` contiguous values at p (two passes, as the CPU). All threads
// of the block call it.
template <class T>
__device__ void contiguous_stats(const T* p, int64_t size, double* smem, double& mu, double& var) {
  double s = 0;
  for (int64_t e = threadIdx.x; e < size; e += blockDim.x) s += double(p[e]);
  mu = block_reduce(s, smem, SumOp()) / double(size);
  double ss = 0;
  for (int64_t e = threadIdx.x; e < size; e += blockDim.x) {
    const double d = double(p[e]) - mu;
    ss += d * d;
  }
  var = block_reduce(ss, smem, SumOp()) / double(size);
}

// ---------------------------------------------------------------------------------- batch norm

// One block per channel c: mean and biased var over the N·S elements x[n, c, :].
template <class T>
__global__ void batch_norm_stats_kernel(int64_t N, int64_t C, int64_t S, const T* x, T* mean, T* var) {
  __shared__ double smem[kThreads];
  const int64_t count = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double s = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      const int64_t n = e / S, i = e - n * S;
      s += double(x[(n * C + c) * S + i]);
    }
    const double mu = block_reduce(s, smem, SumOp()) / double(count);
    double ss = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      const int64_t n = e / S, i = e - n * S;
      const double d = double(x[(n * C + c) * S + i]) - mu;
      ss += d * d;
    }
    const double v = block_reduce(ss, smem, SumOp()) / double(count);
    if (threadIdx.x == 0) {
      mean[c] = T(mu);
      var[c] = T(v);
    }
  }
}

// One thread per element of y (and per channel for rstd), grid-stride.
template <class T>
__global__ void batch_norm_forward_kernel(int64_t N, int64_t C, int64_t S, const T* x, const T* mean, const T* var,
                                          double eps, const T* w, const T* b, T* y, T* rstd) {
  const int64_t total = N * C * S, n_iter = total > C ? total : C;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_iter; i += int64_t(gridDim.x) * blockDim.x) {
    if (i < C) rstd[i] = T(norm_rstd(double(var[i]), eps));
    if (i < total) {
      const int64_t c = (i / S) % C;
      const double mu = double(mean[c]), r = norm_rstd(double(var[c]), eps);
      y[i] = T((double(x[i]) - mu) * r * weight_at(w, c) + bias_at(b, c));
    }
  }
}

// One block per channel c: Σdy and Σdy·x̂ over the channel, then dweight[c], dbias[c] and dx[n, c, :].
template <class T>
__global__ void batch_norm_backward_kernel(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, const T* mean,
                                           const T* rstd, const T* w, bool batch_stats, T* dx, T* dw, T* db) {
  __shared__ double smem[kThreads];
  const int64_t count = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    const double mu = double(mean[c]), r = double(rstd[c]), wc = weight_at(w, c);
    double s_dy = 0, s_dy_xhat = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      const int64_t n = e / S, i = e - n * S, at = (n * C + c) * S + i;
      const double g = double(dy[at]);
      s_dy += g;
      s_dy_xhat += g * (double(x[at]) - mu) * r;
    }
    const double sum_dy = block_reduce(s_dy, smem, SumOp());
    const double sum_dy_xhat = block_reduce(s_dy_xhat, smem, SumOp());
    if (threadIdx.x == 0) {
      if (dw) dw[c] = T(sum_dy_xhat);
      if (db) db[c] = T(sum_dy);
    }
    if (dx) {
      const double mean_g = batch_stats ? wc * sum_dy / double(count) : 0.0;
      const double mean_g_xhat = batch_stats ? wc * sum_dy_xhat / double(count) : 0.0;
      for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
        const int64_t n = e / S, i = e - n * S, at = (n * C + c) * S + i;
        const double xhat = (double(x[at]) - mu) * r;
        dx[at] = T(norm_input_grad(r, wc * double(dy[at]), mean_g, xhat, mean_g_xhat));
      }
    }
  }
}

// One thread per channel.
template <class T, class R>
__global__ void batch_norm_running_kernel(int64_t C, const T* mean, const T* var, double momentum, double unbias,
                                          R* rm, int64_t rm_stride, R* rv, int64_t rv_stride) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    R* m = rm + c * rm_stride;
    R* v = rv + c * rv_stride;
    *m = R(double(*m) * (1.0 - momentum) + double(R(mean[c])) * momentum);
    *v = R(double(*v) * (1.0 - momentum) + double(R(var[c])) * (momentum * unbias));
  }
}

// ---------------------------------------------------------------------------------- layer norm

// One block per row m: mean, rstd and y[m, :].
template <class T>
__global__ void layer_norm_forward_kernel(int64_t M, int64_t K, const T* x, const T* w, const T* b, double eps, T* y,
                                          T* mean, T* rstd) {
  __shared__ double smem[kThreads];
  for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
    const T* row = x + m * K;
    double mu, var;
    contiguous_stats(row, K, smem, mu, var);
    const double r = norm_rstd(var, eps);
    if (threadIdx.x == 0) {
      mean[m] = T(mu);
      rstd[m] = T(r);
    }
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
      y[m * K + k] = T((double(row[k]) - mu) * r * weight_at(w, k) + bias_at(b, k));
  }
}

// One block per row m: the row sums of g = dy·γ and g·x̂, then dx[m, :].
template <class T>
__global__ void layer_norm_backward_dx_kernel(int64_t M, int64_t K, const T* x, const T* dy, const T* mean,
                                              const T* rstd, const T* w, T* dx) {
  __shared__ double smem[kThreads];
  for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
    const double mu = double(mean[m]), r = double(rstd[m]);
    const T *row = x + m * K, *drow = dy + m * K;
    double s_g = 0, s_g_xhat = 0;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
      const double xhat = (double(row[k]) - mu) * r, g = double(drow[k]) * weight_at(w, k);
      s_g += g;
      s_g_xhat += g * xhat;
    }
    const double mean_g = block_reduce(s_g, smem, SumOp()) / double(K);
    const double mean_g_xhat = block_reduce(s_g_xhat, smem, SumOp()) / double(K);
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
      const double xhat = (double(row[k]) - mu) * r;
      dx[m * K + k] = T(norm_input_grad(r, double(drow[k]) * weight_at(w, k), mean_g, xhat, mean_g_xhat));
    }
  }
}

constexpr int kColX = 32, kColY = 8;  // block of the per-column gradient kernel: 32 columns × 8 row strides

// Block (32, 8) per 32 columns: thread (tx, ty) sums rows m ≡ ty (mod 8) of column k = 32·bx + tx,
// then the 8 partial sums of a column are added in order by ty = 0. dweight[k] = Σ dy·x̂, dbias[k] = Σ dy.
template <class T>
__global__ void layer_norm_backward_params_kernel(int64_t M, int64_t K, const T* x, const T* dy, const T* mean,
                                                  const T* rstd, T* dw, T* db) {
  __shared__ double part_w[kColY][kColX], part_b[kColY][kColX];
  const int64_t k = int64_t(blockIdx.x) * kColX + threadIdx.x;
  double sw = 0, sb = 0;
  if (k < K)
    for (int64_t m = threadIdx.y; m < M; m += kColY) {
      const double d = double(dy[m * K + k]);
      sw += d * ((double(x[m * K + k]) - double(mean[m])) * double(rstd[m]));
      sb += d;
    }
  part_w[threadIdx.y][threadIdx.x] = sw;
  part_b[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y == 0 && k < K) {
    double tw = 0, tb = 0;
    for (int y = 0; y < kColY; ++y) {
      tw += part_w[y][threadIdx.x];
      tb += part_b[y][threadIdx.x];
    }
    if (dw) dw[k] = T(tw);
    if (db) db[k] = T(tb);
  }
}

// ---------------------------------------------------------------------------------- group norm
// Group (n, g) is the contiguous block x[n, g·C/G .. (g+1)·C/G − 1, :] of (C/G)·S elements.

// One block per group (n, g): mean, rstd and y over the group.
template <class T>
__global__ void group_norm_forward_kernel(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w,
                                          const T* b, double eps, T* y, T* mean, T* rstd) {
  __shared__ double smem[kThreads];
  const int64_t cg = C / G, size = cg * S;
  for (int64_t ng = blockIdx.x; ng < N * G; ng += gridDim.x) {
    const T* block = x + ng * size;
    double mu, var;
    contiguous_stats(block, size, smem, mu, var);
    const double r = norm_rstd(var, eps);
    if (threadIdx.x == 0) {
      mean[ng] = T(mu);
      rstd[ng] = T(r);
    }
    for (int64_t e = threadIdx.x; e < size; e += blockDim.x) {
      const int64_t c = (ng % G) * cg + e / S;
      y[ng * size + e] = T((double(block[e]) - mu) * r * weight_at(w, c) + bias_at(b, c));
    }
  }
}

// One block per group (n, g): the group sums of g = dy·γ and g·x̂, then dx over the group.
template <class T>
__global__ void group_norm_backward_dx_kernel(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* dy,
                                              const T* mean, const T* rstd, const T* w, T* dx) {
  __shared__ double smem[kThreads];
  const int64_t cg = C / G, size = cg * S;
  for (int64_t ng = blockIdx.x; ng < N * G; ng += gridDim.x) {
    const double mu = double(mean[ng]), r = double(rstd[ng]);
    const T *block = x + ng * size, *dblock = dy + ng * size;
    double s_g = 0, s_g_xhat = 0;
    for (int64_t e = threadIdx.x; e < size; e += blockDim.x) {
      const int64_t c = (ng % G) * cg + e / S;
      const double xhat = (double(block[e]) - mu) * r, g = double(dblock[e]) * weight_at(w, c);
      s_g += g;
      s_g_xhat += g * xhat;
    }
    const double mean_g = block_reduce(s_g, smem, SumOp()) / double(size);
    const double mean_g_xhat = block_reduce(s_g_xhat, smem, SumOp()) / double(size);
    for (int64_t e = threadIdx.x; e < size; e += blockDim.x) {
      const int64_t c = (ng % G) * cg + e / S;
      const double xhat = (double(block[e]) - mu) * r;
      dx[ng * size + e] = T(norm_input_grad(r, double(dblock[e]) * weight_at(w, c), mean_g, xhat, mean_g_xhat));
    }
  }
}

// One block per channel c: dweight[c] = Σ_{n,s} dy·x̂ and dbias[c] = Σ dy, x̂ using the statistics of
// group (n, c / (C/G)).
template <class T>
__global__ void group_norm_backward_params_kernel(int64_t N, int64_t C, int64_t S, int64_t G, const T* x,
                                                  const T* dy, const T* mean, const T* rstd, T* dw, T* db) {
  __shared__ double smem[kThreads];
  const int64_t cg = C / G, count = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double sw = 0, sb = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      const int64_t n = e / S, i = e - n * S, at = (n * C + c) * S + i, ng = n * G + c / cg;
      const double d = double(dy[at]);
      sw += d * ((double(x[at]) - double(mean[ng])) * double(rstd[ng]));
      sb += d;
    }
    const double tw = block_reduce(sw, smem, SumOp());
    const double tb = block_reduce(sb, smem, SumOp());
    if (threadIdx.x == 0) {
      if (dw) dw[c] = T(tw);
      if (db) db[c] = T(tb);
    }
  }
}

// ---------------------------------------------------------------------------------- dropout

// One thread per element, grid-stride: the CPU's formula for element i.
template <class T>
__global__ void dropout_mask_kernel(int64_t n, double p, philox::Args philox_args, T* mask) {
  const philox::Args r = philox::resolve(philox_args);  // a captured graph's current state, or the draw's own
  const uint64_t seed = r.seed, offset = r.offset;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    mask[i] = dropout_mask_value<T>(seed, offset, i, p);
}

}  // namespace

// ------------------------------------------------------------------------------------ host side

void batch_norm_stats(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var) {
  if (C == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    batch_norm_stats_kernel<T><<<blocks_for_rows(C), kThreads, 0, launch_stream()>>>(
        N, C, S, static_cast<const T*>(x), static_cast<T*>(mean), static_cast<T*>(var));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void batch_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                        const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd) {
  const int64_t total = N * C * S, n_iter = total > C ? total : C;
  if (n_iter == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    batch_norm_forward_kernel<T><<<grid_for(n_iter), kBlock, 0, launch_stream()>>>(
        N, C, S, static_cast<const T*>(x), static_cast<const T*>(mean), static_cast<const T*>(var), eps,
        static_cast<const T*>(weight), static_cast<const T*>(bias), static_cast<T*>(y), static_cast<T*>(rstd));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void batch_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                         void* dweight, void* dbias) {
  if (C == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm backward", [&]<class T>() {
    batch_norm_backward_kernel<T><<<blocks_for_rows(C), kThreads, 0, launch_stream()>>>(
        N, C, S, static_cast<const T*>(x), static_cast<const T*>(dy), static_cast<const T*>(mean),
        static_cast<const T*>(rstd), static_cast<const T*>(weight), batch_stats, static_cast<T*>(dx),
        static_cast<T*>(dweight), static_cast<T*>(dbias));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void batch_norm_update_running_stats(DType dtype, int64_t C, const void* mean, const void* var, double momentum,
                                     double unbias, DType running_dtype, void* running_mean, int64_t mean_stride,
                                     void* running_var, int64_t var_stride) {
  if (C == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    KILN_DISPATCH_FLOAT(running_dtype, "batch_norm running statistics", [&]<class R>() {
      batch_norm_running_kernel<T, R><<<grid_for(C), kBlock, 0, launch_stream()>>>(
          C, static_cast<const T*>(mean), static_cast<const T*>(var), momentum, unbias, static_cast<R*>(running_mean),
          mean_stride, static_cast<R*>(running_var), var_stride);
    });
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void layer_norm_forward(DType dtype, int64_t M, int64_t K, const void* x, const void* weight, const void* bias,
                        double eps, void* y, void* mean, void* rstd) {
  if (M == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "layer_norm", [&]<class T>() {
    layer_norm_forward_kernel<T><<<blocks_for_rows(M), kThreads, 0, launch_stream()>>>(
        M, K, static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<const T*>(bias), eps,
        static_cast<T*>(y), static_cast<T*>(mean), static_cast<T*>(rstd));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void layer_norm_backward(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                         const void* rstd, const void* weight, void* dx, void* dweight, void* dbias) {
  KILN_DISPATCH_FLOAT(dtype, "layer_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy), *mp = static_cast<const T*>(mean),
            *rp = static_cast<const T*>(rstd);
    if (dx && M > 0) {
      layer_norm_backward_dx_kernel<T><<<blocks_for_rows(M), kThreads, 0, launch_stream()>>>(
          M, K, xp, dyp, mp, rp, static_cast<const T*>(weight), static_cast<T*>(dx));
      KILN_CUDA_CHECK_LAUNCH();
    }
    if ((dweight || dbias) && K > 0) {
      // K columns of 32 per block (a grid.x of up to 2³¹ − 1 blocks); M = 0 gives zeros.
      layer_norm_backward_params_kernel<T><<<unsigned((K + kColX - 1) / kColX), dim3(kColX, kColY), 0,
                                             launch_stream()>>>(M, K, xp, dyp, mp, rp, static_cast<T*>(dweight),
                                                                static_cast<T*>(dbias));
      KILN_CUDA_CHECK_LAUNCH();
    }
  });
}

void group_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* weight,
                        const void* bias, double eps, void* y, void* mean, void* rstd) {
  if (N * G == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "group_norm", [&]<class T>() {
    group_norm_forward_kernel<T><<<blocks_for_rows(N * G), kThreads, 0, launch_stream()>>>(
        N, C, S, G, static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<const T*>(bias), eps,
        static_cast<T*>(y), static_cast<T*>(mean), static_cast<T*>(rstd));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void group_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, void* dx, void* dweight,
                         void* dbias) {
  KILN_DISPATCH_FLOAT(dtype, "group_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy), *mp = static_cast<const T*>(mean),
            *rp = static_cast<const T*>(rstd);
    if (dx && N * G > 0) {
      group_norm_backward_dx_kernel<T><<<blocks_for_rows(N * G), kThreads, 0, launch_stream()>>>(
          N, C, S, G, xp, dyp, mp, rp, static_cast<const T*>(weight), static_cast<T*>(dx));
      KILN_CUDA_CHECK_LAUNCH();
    }
    if ((dweight || dbias) && C > 0) {
      group_norm_backward_params_kernel<T><<<blocks_for_rows(C), kThreads, 0, launch_stream()>>>(
          N, C, S, G, xp, dyp, mp, rp, static_cast<T*>(dweight), static_cast<T*>(dbias));
      KILN_CUDA_CHECK_LAUNCH();
    }
  });
}

void dropout_mask(DType dtype, int64_t n, double p, philox::Args philox, void* mask) {
  if (n == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "dropout", [&]<class T>() {
    dropout_mask_kernel<T><<<grid_for(n), kBlock, 0, launch_stream()>>>(n, p, philox, static_cast<T*>(mask));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
