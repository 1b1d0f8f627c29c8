// The launcher under every CUDA elementwise kernel (elementwise ops, copy, fill): out_k[i] = f(in_1[i], …)_k
// over a shape, where the outputs share one layout and each input has its own strides (0 on broadcast dims).
// Dims are coalesced on the host; all-contiguous operands take an index-free, 128-bit vectorized path.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.cuh"

// #pragma unroll for the device pass only (the bodies below are also compiled for the host).
#if defined(__CUDA_ARCH__)
#define KILN_EW_UNROLL _Pragma("unroll")
#else
#define KILN_EW_UNROLL
#endif

namespace kiln::cuda::ew {

// What a functor returns: one value per output.
template <class Out, int NOUT>
struct Res {
  Out v[NOUT];
};

// A one-output result. (Functors return this rather than `{value}`: cudafe++ regenerates
// `return {a < b};` for the host compiler without the braces.)
template <class Out>
__host__ __device__ __forceinline__ Res<Out, 1> result(Out value) {
  Res<Out, 1> r;
  r.v[0] = value;
  return r;
}

// The output pointers; all outputs share one layout. A null pointer is an output nobody wants.
template <class Out, int NOUT>
struct OutPtrs {
  Out* p[NOUT];
};

// VEC consecutive elements moved as one access (VEC·sizeof(T) ≤ 16 bytes: up to 128 bits).
template <int VEC, class T>
struct alignas(VEC * sizeof(T)) Pack {
  T v[VEC];
};

// M operands (the outputs' layout first, then each input) after coalescing, passed by value.
// Dims are stored innermost first so the unrolled index loop reads them at constant indices.
template <int M>
struct Desc {
  int ndim;
  int64_t shape[kMaxDims];       // shape[0]: innermost dim
  int64_t strides[M][kMaxDims];  // strides[j][k]: operand j, dim k (innermost first), in elements
};

// ---------------------------------------------------------------- host: layout

// Shape and strides with size-1 dims dropped and neighbouring dims merged where every operand
// steps through them as one dim (outer stride == inner stride · inner size). Order is unchanged
// (outermost first), so linear element i means the same element before and after.
template <int M>
struct Layout {
  std::vector<int64_t> shape;
  std::array<std::vector<int64_t>, M> strides;
};

template <int M>
Layout<M> coalesce(const std::vector<int64_t>& shape, const std::array<const int64_t*, M>& strides) {
  Layout<M> l;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // a size-1 dim moves no operand
    bool merge = !l.shape.empty();
    for (int j = 0; j < M && merge; ++j) merge = l.strides[j].back() == strides[j][d] * shape[d];
    if (merge) {
      l.shape.back() *= shape[d];
      for (int j = 0; j < M; ++j) l.strides[j].back() = strides[j][d];
    } else {
      l.shape.push_back(shape[d]);
      for (int j = 0; j < M; ++j) l.strides[j].push_back(strides[j][d]);
    }
  }
  return l;
}

// Every operand walks memory contiguously in element order (one dim of stride 1, or a single element).
template <int M>
bool all_contiguous(const Layout<M>& l) {
  if (l.shape.empty()) return true;
  if (l.shape.size() != 1) return false;
  for (int j = 0; j < M; ++j)
    if (l.strides[j][0] != 1) return false;
  return true;
}

template <int M>
Desc<M> make_ew_desc(const Layout<M>& l) {
  KILN_CHECK(l.shape.size() <= size_t(kMaxDims), "CUDA elementwise kernels take at most ", kMaxDims,
             " dims after merging contiguous ones, got ", l.shape.size());
  Desc<M> d{};
  d.ndim = int(l.shape.size());
  for (int k = 0; k < d.ndim; ++k) {
    int src = d.ndim - 1 - k;  // innermost first
    d.shape[k] = l.shape[src];
    for (int j = 0; j < M; ++j) d.strides[j][k] = l.strides[j][src];
  }
  return d;
}

inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t st = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = st;
    st *= shape[i];
  }
  return s;
}

inline bool is_aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// ---------------------------------------------------------------- device

// The device code is __host__ __device__ (the per-thread bodies are plain functions of the thread's
// index) so that the indexing can also be run and checked on the host.

// The element offsets of linear index i in each of the M operands (one split of i for all of them).
template <int M>
__host__ __device__ __forceinline__ void operand_offsets(const Desc<M>& d, int64_t i, int64_t (&off)[M]) {
  KILN_EW_UNROLL
  for (int j = 0; j < M; ++j) off[j] = 0;
  KILN_EW_UNROLL
  for (int k = 0; k < kMaxDims; ++k) {
    if (k == d.ndim) break;
    int64_t idx;
    if (k == d.ndim - 1) {
      idx = i;  // outermost dim: what is left of i is already below its size
    } else {
      int64_t q = i / d.shape[k];
      idx = i - q * d.shape[k];
      i = q;
    }
    KILN_EW_UNROLL
    for (int j = 0; j < M; ++j) off[j] += idx * d.strides[j][k];
  }
}

// One element: out_k[o] = f(xv…)_k for the outputs that are wanted.
template <int NOUT, class Out, class F, class... In>
__host__ __device__ __forceinline__ void apply_one(const F& f, const OutPtrs<Out, NOUT>& y, int64_t o, In... xv) {
  Res<Out, NOUT> r = f(xv...);
  KILN_EW_UNROLL
  for (int j = 0; j < NOUT; ++j)
    if (y.p[j]) y.p[j][o] = r.v[j];
}

// One pack of VEC elements: out pack v of each output from input packs p….
template <int VEC, int NOUT, class Out, class F, class... In>
__host__ __device__ __forceinline__ void apply_pack(const F& f, const OutPtrs<Out, NOUT>& y, int64_t v,
                                                    const Pack<VEC, In>&... p) {
  Pack<VEC, Out> o[NOUT];
  KILN_EW_UNROLL
  for (int k = 0; k < VEC; ++k) {
    Res<Out, NOUT> r = f(p.v[k]...);
    KILN_EW_UNROLL
    for (int j = 0; j < NOUT; ++j) o[j].v[k] = r.v[j];
  }
  KILN_EW_UNROLL
  for (int j = 0; j < NOUT; ++j)
    if (y.p[j]) reinterpret_cast<Pack<VEC, Out>*>(y.p[j])[v] = o[j];
}

template <int NOUT, class Out, class F, size_t... I, class... In>
__host__ __device__ __forceinline__ void apply_strided(const F& f, const OutPtrs<Out, NOUT>& y, const int64_t* off,
                                                       std::index_sequence<I...>, const In*... x) {
  apply_one(f, y, off[0], x[off[I + 1]]...);
}

// All operands contiguous: thread t of T handles packs t, t + T, … of VEC elements each, as 128-bit
// loads/stores when VEC > 1; then the n % VEC tail elements one by one (threads 0 … n % VEC − 1).
template <int VEC, int NOUT, class Out, class F, class... In>
__host__ __device__ __forceinline__ void contiguous_thread(const F& f, int64_t n, const OutPtrs<Out, NOUT>& y,
                                                           int64_t t, int64_t T, const In*... x) {
  const int64_t nvec = n / VEC;
  for (int64_t v = t; v < nvec; v += T) apply_pack<VEC>(f, y, v, reinterpret_cast<const Pack<VEC, In>*>(x)[v]...);
  if constexpr (VEC > 1)
    for (int64_t i = nvec * VEC + t; i < n; i += T) apply_one(f, y, i, x[i]...);
}

// Any layout: thread t of T handles elements t, t + T, …; each element's operand offsets come from
// one split of its linear index over the coalesced shape.
template <int NOUT, class Out, class F, class... In>
__host__ __device__ __forceinline__ void strided_thread(const F& f, int64_t n, const OutPtrs<Out, NOUT>& y,
                                                        const Desc<int(sizeof...(In)) + 1>& d, int64_t t, int64_t T,
                                                        const In*... x) {
  constexpr int M = int(sizeof...(In)) + 1;
  for (int64_t i = t; i < n; i += T) {
    int64_t off[M];
    operand_offsets<M>(d, i, off);
    apply_strided(f, y, off, std::make_index_sequence<sizeof...(In)>{}, x...);
  }
}

// Grid-stride kernels: thread t = blockIdx.x·blockDim.x + threadIdx.x of T = gridDim.x·blockDim.x runs
// the *_thread body above.
template <int VEC, int NOUT, class Out, class F, class... In>
__global__ void contiguous_kernel(F f, int64_t n, OutPtrs<Out, NOUT> y, const In*... x) {
  contiguous_thread<VEC>(f, n, y, blockIdx.x * int64_t(blockDim.x) + threadIdx.x, int64_t(gridDim.x) * blockDim.x,
                         x...);
}

template <int NOUT, class Out, class F, class... In>
__global__ void strided_kernel(F f, int64_t n, OutPtrs<Out, NOUT> y, Desc<int(sizeof...(In)) + 1> d, const In*... x) {
  strided_thread(f, n, y, d, blockIdx.x * int64_t(blockDim.x) + threadIdx.x, int64_t(gridDim.x) * blockDim.x, x...);
}

// ---------------------------------------------------------------- host: launch

// out_k = f(x…)_k over `shape`. y_strides: the outputs' element strides (nullptr: contiguous);
// x_strides: each input's element strides (host arrays). All pointers are device pointers.
// F is a functor with `__host__ __device__ Res<Out, NOUT> operator()(In…) const`.
template <int NOUT, class Out, class F, class... In>
void launch(const F& f, const std::vector<int64_t>& shape, OutPtrs<Out, NOUT> y, const int64_t* y_strides,
            const std::array<const int64_t*, sizeof...(In)>& x_strides, const In*... x) {
  constexpr int N = int(sizeof...(In)), M = N + 1;
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  if (n == 0) return;
  std::vector<int64_t> own;
  if (!y_strides) {
    own = contiguous_strides(shape);
    y_strides = own.data();
  }
  std::array<const int64_t*, M> strides;
  strides[0] = y_strides;
  for (int j = 0; j < N; ++j) strides[j + 1] = x_strides[j];
  Layout<M> l = coalesce<M>(shape, strides);
  cudaStream_t stream = launch_stream();
  if (all_contiguous(l)) {
    constexpr int VEC = int(16 / std::max({sizeof(Out), sizeof(In)...}));
    static_assert(VEC >= 1, "elementwise operands are at most 16 bytes");
    bool aligned = true;
    for (int j = 0; j < NOUT; ++j) aligned = aligned && (!y.p[j] || is_aligned(y.p[j], VEC * sizeof(Out)));
    ((aligned = aligned && is_aligned(x, VEC * sizeof(In))), ...);
    if (VEC > 1 && aligned)
      contiguous_kernel<VEC, NOUT, Out, F, In...><<<grid_for(n / VEC), kBlock, 0, stream>>>(f, n, y, x...);
    else
      contiguous_kernel<1, NOUT, Out, F, In...><<<grid_for(n), kBlock, 0, stream>>>(f, n, y, x...);
  } else {
    Desc<M> d = make_ew_desc(l);
    strided_kernel<NOUT, Out, F, In...><<<grid_for(n), kBlock, 0, stream>>>(f, n, y, d, x...);
  }
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda::ew
