// Softmax and log-softmax on the GPU: one team (a thread, a warp or the block, by line length and
// layout) per line along `dim`. Forward: max pass, Σ e^{x − m} pass, write pass; backward: one Σ
// pass, then the write pass. All in double, like the CPU kernels; no atomics.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "core/shape.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/softmax.h"
#include "kernels/cuda/team_reduce.cuh"

namespace kiln::cuda {
namespace {

// The lines along `dim` of N operands: the other dims (simplified) and each operand's stride along dim.
template <int N>
struct Lines {
  MultiDesc<N> outer{};
  int64_t count = 0;  // number of lines
  int64_t n = 0;      // elements per line
  int64_t stride[N] = {};
  int team = 1;
};

template <int N>
Lines<N> make_lines(const std::vector<int64_t>& shape, int64_t dim, const std::array<const int64_t*, N>& strides) {
  Lines<N> l;
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  l.n = shape[size_t(dim)];
  if (numel == 0) return l;  // count 0: nothing to do
  l.count = numel / l.n;
  std::vector<int64_t> outer_shape;
  std::array<std::vector<int64_t>, N> outer_strides;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (d == dim) continue;
    outer_shape.push_back(shape[size_t(d)]);
    for (int k = 0; k < N; ++k) outer_strides[size_t(k)].push_back(strides[size_t(k)][d]);
  }
  std::array<const int64_t*, N> ptrs;
  for (int k = 0; k < N; ++k) {
    ptrs[size_t(k)] = outer_strides[size_t(k)].data();
    l.stride[k] = strides[size_t(k)][dim];
  }
  l.outer = make_multi_desc<N>(outer_shape, ptrs);
  // "column": lines strided in the input (operand 0), neighbouring lines adjacent in memory
  const bool column = l.stride[0] != 1 && l.outer.ndim > 0 && l.outer.strides[0][l.outer.ndim - 1] == 1;
  l.team = choose_team(l.n, column, l.count, 1024);
  return l;
}

// One team per line: y = e^{x − m}/Σ or x − m − ln Σ (m = the line's max, NaN-propagating; 0 for −∞).
template <int TEAM, class T>
__global__ void __launch_bounds__(kBlock)
softmax_forward_kernel(bool log, const T* x, T* y, MultiDesc<2> outer, int64_t lines, int64_t n, int64_t xs,
                       int64_t ys) {
  __shared__ double smem[kBlock / 32];
  constexpr int kTeams = kBlock / TEAM;
  const int lane = int(threadIdx.x) % TEAM;
  for (int64_t line = int64_t(blockIdx.x) * kTeams + int64_t(threadIdx.x) / TEAM; line < lines;
       line += int64_t(gridDim.x) * kTeams) {
    int64_t o[2];
    multi_offsets<2>(outer, line, o);
    const T* xl = x + o[0];
    T* yl = y + o[1];
    double m = -kInf;
    for (int64_t j = lane; j < n; j += TEAM) m = MaxNan{}(m, double(xl[j * xs]));
    m = team_allreduce<TEAM>(m, MaxNan{}, smem);
    if (m == -kInf) m = 0;  // a line of −∞ gives NaN, as in PyTorch
    double total = 0;
    for (int64_t j = lane; j < n; j += TEAM) total += ::exp(double(xl[j * xs]) - m);
    total = team_allreduce<TEAM>(total, AddD{}, smem);
    const double log_total = ::log(total);
    for (int64_t j = lane; j < n; j += TEAM) {
      const double shifted = double(xl[j * xs]) - m;
      yl[j * ys] = T(log ? shifted - log_total : ::exp(shifted) / total);
    }
  }
}

// One team per line: softmax dx = y·(dy − Σ dy·y) ; log-softmax dx = dy − eʸ·Σ dy.
template <int TEAM, class T>
__global__ void __launch_bounds__(kBlock)
softmax_backward_kernel(bool log, const T* y, const T* dy, T* dx, MultiDesc<3> outer, int64_t lines, int64_t n,
                        int64_t ys, int64_t gs, int64_t xs) {
  __shared__ double smem[kBlock / 32];
  constexpr int kTeams = kBlock / TEAM;
  const int lane = int(threadIdx.x) % TEAM;
  for (int64_t line = int64_t(blockIdx.x) * kTeams + int64_t(threadIdx.x) / TEAM; line < lines;
       line += int64_t(gridDim.x) * kTeams) {
    int64_t o[3];
    multi_offsets<3>(outer, line, o);
    const T* yl = y + o[0];
    const T* gl = dy + o[1];
    T* dl = dx + o[2];
    double dot = 0;
    for (int64_t j = lane; j < n; j += TEAM) {
      const double g = double(gl[j * gs]);
      dot += log ? g : g * double(yl[j * ys]);
    }
    dot = team_allreduce<TEAM>(dot, AddD{}, smem);
    for (int64_t j = lane; j < n; j += TEAM) {
      const double g = double(gl[j * gs]), v = double(yl[j * ys]);
      dl[j * xs] = T(log ? g - ::exp(v) * dot : v * (g - dot));
    }
  }
}

}  // namespace

void softmax_forward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* x,
                     const int64_t* x_strides, void* y) {
  KILN_DISPATCH_FLOAT(dtype, log ? "log_softmax" : "softmax", [&]<class T>() {
    const Strides y_strides = contiguous_strides(shape);
    const Lines<2> l = make_lines<2>(shape, dim, {x_strides, y_strides.data()});
    if (l.count == 0) return;
    const unsigned blocks = blocks_for_teams(l.count, l.team);
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    if (l.team == 1)
      softmax_forward_kernel<1, T><<<blocks, kBlock, 0, launch_stream()>>>(log, xp, yp, l.outer, l.count, l.n,
                                                                           l.stride[0], l.stride[1]);
    else if (l.team == 32)
      softmax_forward_kernel<32, T><<<blocks, kBlock, 0, launch_stream()>>>(log, xp, yp, l.outer, l.count, l.n,
                                                                            l.stride[0], l.stride[1]);
    else
      softmax_forward_kernel<kBlock, T><<<blocks, kBlock, 0, launch_stream()>>>(log, xp, yp, l.outer, l.count, l.n,
                                                                                l.stride[0], l.stride[1]);
    KILN_CUDA_CHECK_LAUNCH();
  });
}

void softmax_backward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* y,
                      const int64_t* y_strides, const void* dy, const int64_t* dy_strides, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, log ? "log_softmax backward" : "softmax backward", [&]<class T>() {
    const Strides dx_strides = contiguous_strides(shape);
    const Lines<3> l = make_lines<3>(shape, dim, {y_strides, dy_strides, dx_strides.data()});
    if (l.count == 0) return;
    const unsigned blocks = blocks_for_teams(l.count, l.team);
    const T* yp = static_cast<const T*>(y);
    const T* gp = static_cast<const T*>(dy);
    T* dp = static_cast<T*>(dx);
    if (l.team == 1)
      softmax_backward_kernel<1, T><<<blocks, kBlock, 0, launch_stream()>>>(log, yp, gp, dp, l.outer, l.count, l.n,
                                                                            l.stride[0], l.stride[1], l.stride[2]);
    else if (l.team == 32)
      softmax_backward_kernel<32, T><<<blocks, kBlock, 0, launch_stream()>>>(log, yp, gp, dp, l.outer, l.count, l.n,
                                                                             l.stride[0], l.stride[1], l.stride[2]);
    else
      softmax_backward_kernel<kBlock, T><<<blocks, kBlock, 0, launch_stream()>>>(
          log, yp, gp, dp, l.outer, l.count, l.n, l.stride[0], l.stride[1], l.stride[2]);
    KILN_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kiln::cuda
