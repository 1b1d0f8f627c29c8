// Scaled dot-product attention on the GPU: the dispatch between the flash kernels (float32, head dims up
// to 128: flash_attention.cu) and the reference kernels here, written for clarity rather than speed:
// the forward and dQ run one block per query row, dK/dV one block per key row.
// Scores are recomputed where needed instead of stored; every sum is in double, and each output
// element is owned by one thread that accumulates in the CPU's order (keys, or queries, ascending),
// so there are no atomics and results are deterministic.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/tree_reduce.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 128;  // per block (a power of two); also the key/query tile length
// Dynamic shared memory a block may take without opting in: 48 KiB less the static reduction buffer.
constexpr size_t kMaxSmem = 48 * 1024 - kThreads * sizeof(double);

// scale·(a · b) over D elements, a cached in shared memory as double, b in global memory.
template <class T>
__device__ double scaled_dot(const double* a, const T* b, int64_t D, double scale) {
  double dot = 0;
  for (int64_t d = 0; d < D; ++d) dot += a[d] * double(b[d]);
  return scale * dot;
}

// a · b with a in global memory and b cached in shared memory (the same products as the CPU's).
template <class T>
__device__ double dot_global_cached(const T* a, const double* b, int64_t D) {
  double dot = 0;
  for (int64_t d = 0; d < D; ++d) dot += double(a[d]) * b[d];
  return dot;
}

__device__ int64_t visible_keys(int64_t i, int64_t Tk, bool causal) { return causal ? (i + 1 < Tk ? i + 1 : Tk) : Tk; }

// One block per query row (b, i), block-uniform grid-stride over rows. Shared: q_i [D], the output
// accumulator [Dv] (element e owned by thread e mod blockDim) and a tile of probabilities.
// Passes: row max of the scores, Σ exp(s − max), then O = Σ_j p_j·v_j over key tiles.
template <class T>
__global__ void attention_forward_kernel(AttentionShape sh, const T* q, const T* k, const T* v, double scale,
                                         bool causal, T* out, T* lse) {
  extern __shared__ double dyn[];
  __shared__ double red[kThreads];
  const int64_t D = sh.D, Dv = sh.Dv, Tq = sh.Tq, Tk = sh.Tk;
  double *q_row = dyn, *o_acc = dyn + D, *p_tile = dyn + D + Dv;
  const int tid = threadIdx.x;
  for (int64_t row = blockIdx.x; row < sh.B * Tq; row += gridDim.x) {
    const int64_t b = row / Tq, i = row - b * Tq, n = visible_keys(i, Tk, causal);
    const T *kb = k + b * Tk * D, *vb = v + b * Tk * Dv;
    for (int64_t d = tid; d < D; d += blockDim.x) q_row[d] = double(q[row * D + d]);
    for (int64_t e = tid; e < Dv; e += blockDim.x) o_acc[e] = 0.0;
    __syncthreads();
    double m_local = -INFINITY;
    for (int64_t j = tid; j < n; j += blockDim.x) m_local = MaxOp()(m_local, scaled_dot(q_row, kb + j * D, D, scale));
    const double m = block_reduce(m_local, red, MaxOp());
    double z_local = 0;
    for (int64_t j = tid; j < n; j += blockDim.x) z_local += ::exp(scaled_dot(q_row, kb + j * D, D, scale) - m);
    const double z = block_reduce(z_local, red, SumOp());
    for (int64_t j0 = 0; j0 < n; j0 += blockDim.x) {
      const int64_t j = j0 + tid;
      if (j < n) p_tile[tid] = ::exp(scaled_dot(q_row, kb + j * D, D, scale) - m) / z;
      __syncthreads();
      const int64_t len = n - j0 < int64_t(blockDim.x) ? n - j0 : int64_t(blockDim.x);
      for (int64_t e = tid; e < Dv; e += blockDim.x) {
        double acc = o_acc[e];
        for (int64_t t = 0; t < len; ++t) acc += p_tile[t] * double(vb[(j0 + t) * Dv + e]);
        o_acc[e] = acc;
      }
      __syncthreads();
    }
    for (int64_t e = tid; e < Dv; e += blockDim.x) out[row * Dv + e] = T(o_acc[e]);
    if (tid == 0) lse[row] = n > 0 ? T(m + ::log(z)) : T(-INFINITY);
    __syncthreads();  // before the next row overwrites q_row and o_acc
  }
}

// One block per query row (b, i): P from the saved lse, dP = dO·Vᵀ, row_dot = Σ_j dP·P (written to
// row_dot[row] for the dK kernel), then dq_i = scale·Σ_j dS_j·k_j over key tiles (element d owned by
// thread d mod blockDim). Shared: q_i [D], dO_i [Dv], the dq accumulator [D] and a tile of dS.
template <class T>
__global__ void attention_backward_dq_kernel(AttentionShape sh, const T* q, const T* k, const T* v, const T* lse,
                                             const T* dout, double scale, bool causal, T* dq, double* row_dot) {
  extern __shared__ double dyn[];
  __shared__ double red[kThreads];
  const int64_t D = sh.D, Dv = sh.Dv, Tq = sh.Tq, Tk = sh.Tk;
  double *q_row = dyn, *do_row = dyn + D, *dq_acc = dyn + D + Dv, *ds_tile = dyn + 2 * D + Dv;
  const int tid = threadIdx.x;
  for (int64_t row = blockIdx.x; row < sh.B * Tq; row += gridDim.x) {
    const int64_t b = row / Tq, i = row - b * Tq, n = visible_keys(i, Tk, causal);
    const T *kb = k + b * Tk * D, *vb = v + b * Tk * Dv;
    for (int64_t d = tid; d < D; d += blockDim.x) {
      q_row[d] = double(q[row * D + d]);
      dq_acc[d] = 0.0;
    }
    for (int64_t e = tid; e < Dv; e += blockDim.x) do_row[e] = double(dout[row * Dv + e]);
    __syncthreads();
    const double l = double(lse[row]);
    double rd_local = 0;
    for (int64_t j = tid; j < n; j += blockDim.x) {
      const double p = ::exp(scaled_dot(q_row, kb + j * D, D, scale) - l);
      rd_local += dot_global_cached(vb + j * Dv, do_row, Dv) * p;
    }
    const double rd = block_reduce(rd_local, red, SumOp());
    if (tid == 0) row_dot[row] = rd;
    if (dq) {
      for (int64_t j0 = 0; j0 < n; j0 += blockDim.x) {
        const int64_t j = j0 + tid;
        if (j < n) {
          const double p = ::exp(scaled_dot(q_row, kb + j * D, D, scale) - l);
          ds_tile[tid] = p * (dot_global_cached(vb + j * Dv, do_row, Dv) - rd);
        }
        __syncthreads();
        const int64_t len = n - j0 < int64_t(blockDim.x) ? n - j0 : int64_t(blockDim.x);
        for (int64_t d = tid; d < D; d += blockDim.x) {
          double acc = dq_acc[d];
          for (int64_t t = 0; t < len; ++t) acc += scale * ds_tile[t] * double(kb[(j0 + t) * D + d]);
          dq_acc[d] = acc;
        }
        __syncthreads();
      }
      for (int64_t d = tid; d < D; d += blockDim.x) dq[row * D + d] = T(dq_acc[d]);
    }
    __syncthreads();  // before the next row overwrites the shared rows
  }
}

// One block per key row (b, j): over the query rows i that see key j (all, or i ≥ j when causal) in
// tiles, thread t computes P_ij and dS_ij for query i0 + t; then dk_j = scale·Σ_i dS_ij·q_i and
// dv_j = Σ_i P_ij·dO_i (element owned by thread d mod blockDim). Shared: k_j [D], v_j [Dv], the dk and
// dv accumulators and the P and dS tiles. row_dot is read only when dk is wanted.
template <class T>
__global__ void attention_backward_dkv_kernel(AttentionShape sh, const T* q, const T* k, const T* v, const T* lse,
                                              const T* dout, const double* row_dot, double scale, bool causal, T* dk,
                                              T* dv) {
  extern __shared__ double dyn[];
  const int64_t D = sh.D, Dv = sh.Dv, Tq = sh.Tq, Tk = sh.Tk;
  double *k_row = dyn, *v_row = dyn + D, *dk_acc = dyn + D + Dv, *dv_acc = dyn + 2 * D + Dv;
  double *p_tile = dyn + 2 * D + 2 * Dv, *ds_tile = p_tile + kThreads;
  const int tid = threadIdx.x;
  for (int64_t key = blockIdx.x; key < sh.B * Tk; key += gridDim.x) {
    const int64_t b = key / Tk, j = key - b * Tk;
    const T *qb = q + b * Tq * D, *dob = dout + b * Tq * Dv;
    for (int64_t d = tid; d < D; d += blockDim.x) {
      k_row[d] = double(k[key * D + d]);
      dk_acc[d] = 0.0;
    }
    for (int64_t e = tid; e < Dv; e += blockDim.x) {
      v_row[e] = double(v[key * Dv + e]);
      dv_acc[e] = 0.0;
    }
    __syncthreads();
    for (int64_t i0 = causal ? j : 0; i0 < Tq; i0 += blockDim.x) {
      const int64_t i = i0 + tid;
      if (i < Tq) {
        const int64_t row = b * Tq + i;
        const double p = ::exp(scaled_dot(k_row, qb + i * D, D, scale) - double(lse[row]));
        p_tile[tid] = p;
        ds_tile[tid] = dk ? p * (dot_global_cached(dob + i * Dv, v_row, Dv) - row_dot[row]) : 0.0;
      }
      __syncthreads();
      const int64_t len = Tq - i0 < int64_t(blockDim.x) ? Tq - i0 : int64_t(blockDim.x);
      if (dk)
        for (int64_t d = tid; d < D; d += blockDim.x) {
          double acc = dk_acc[d];
          for (int64_t t = 0; t < len; ++t) acc += scale * ds_tile[t] * double(qb[(i0 + t) * D + d]);
          dk_acc[d] = acc;
        }
      if (dv)
        for (int64_t e = tid; e < Dv; e += blockDim.x) {
          double acc = dv_acc[e];
          for (int64_t t = 0; t < len; ++t) acc += p_tile[t] * double(dob[(i0 + t) * Dv + e]);
          dv_acc[e] = acc;
        }
      __syncthreads();
    }
    if (dk)
      for (int64_t d = tid; d < D; d += blockDim.x) dk[key * D + d] = T(dk_acc[d]);
    if (dv)
      for (int64_t e = tid; e < Dv; e += blockDim.x) dv[key * Dv + e] = T(dv_acc[e]);
    __syncthreads();  // before the next key overwrites the shared rows
  }
}

// The dynamic shared memory a kernel needs, checked against what a block gets without opting in.
size_t checked_smem(int64_t doubles, const AttentionShape& s) {
  const size_t bytes = size_t(doubles) * sizeof(double);
  KILN_CHECK(bytes <= kMaxSmem, "scaled_dot_product_attention on CUDA: head dims D = ", s.D, " and Dv = ", s.Dv,
             " are too large for this kernel (it keeps rows of q, k, v in shared memory; D + Dv up to about 2800)");
  return bytes;
}

}  // namespace

void attention_forward_reference(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                                 double scale, bool causal, void* out, void* lse) {
  const int64_t rows = s.B * s.Tq;
  if (rows == 0) return;
  const size_t smem = checked_smem(s.D + s.Dv + kThreads, s);
  KILN_DISPATCH_FLOAT(dtype, "scaled_dot_product_attention", [&]<class T>() {
    attention_forward_kernel<T><<<blocks_for_rows(rows), kThreads, smem, launch_stream()>>>(
        s, static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), scale, causal,
        static_cast<T*>(out), static_cast<T*>(lse));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void attention_backward_reference(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                                  const void* lse, const void* dout, double scale, bool causal, void* dq, void* dk,
                                  void* dv) {
  const int64_t rows = s.B * s.Tq, keys = s.B * s.Tk;
  // rowsum(dP∘P) per query row: computed by the dQ kernel, read by the dK/dV kernel.
  DeviceScratch row_dot(size_t(rows) * sizeof(double));
  KILN_DISPATCH_FLOAT(dtype, "scaled_dot_product_attention backward", [&]<class T>() {
    const T *qp = static_cast<const T*>(q), *kp = static_cast<const T*>(k), *vp = static_cast<const T*>(v);
    const T *lp = static_cast<const T*>(lse), *dop = static_cast<const T*>(dout);
    if (rows > 0 && (dq || (dk && keys > 0))) {
      const size_t smem = checked_smem(2 * s.D + s.Dv + kThreads, s);
      attention_backward_dq_kernel<T><<<blocks_for_rows(rows), kThreads, smem, launch_stream()>>>(
          s, qp, kp, vp, lp, dop, scale, causal, static_cast<T*>(dq), row_dot.as<double>());
      KILN_CUDA_CHECK_LAUNCH();
    }
    if (keys > 0 && (dk || dv)) {
      const size_t smem = checked_smem(2 * s.D + 2 * s.Dv + 2 * kThreads, s);
      attention_backward_dkv_kernel<T><<<blocks_for_rows(keys), kThreads, smem, launch_stream()>>>(
          s, qp, kp, vp, lp, dop, row_dot.as<double>(), scale, causal, static_cast<T*>(dk), static_cast<T*>(dv));
      KILN_CUDA_CHECK_LAUNCH();
    }
  });
}

namespace {
bool use_flash(DType dtype, const AttentionShape& s) {
  return dtype == DType::Float32 && flash_attention_supported(s);
}
}  // namespace

void attention_forward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v, double scale,
                       bool causal, void* out, void* lse) {
  if (use_flash(dtype, s))
    flash_attention_forward(s, static_cast<const float*>(q), static_cast<const float*>(k), static_cast<const float*>(v),
                            float(scale), causal, static_cast<float*>(out), static_cast<float*>(lse));
  else
    attention_forward_reference(dtype, s, q, k, v, scale, causal, out, lse);
}

void attention_backward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                        const void* out, const void* lse, const void* dout, double scale, bool causal, void* dq,
                        void* dk, void* dv) {
  if (use_flash(dtype, s))
    flash_attention_backward(s, static_cast<const float*>(q), static_cast<const float*>(k),
                             static_cast<const float*>(v), static_cast<const float*>(out),
                             static_cast<const float*>(lse), static_cast<const float*>(dout), float(scale), causal,
                             static_cast<float*>(dq), static_cast<float*>(dk), static_cast<float*>(dv));
  else
    attention_backward_reference(dtype, s, q, k, v, lse, dout, scale, causal, dq, dk, dv);
}

}  // namespace kiln::cuda
