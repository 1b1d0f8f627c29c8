// Losses on the GPU. Pointwise losses: one thread per element (grid-stride), math from
// kernels/common/loss_math.h in double. Cross-entropy: one team (a thread, a warp or the block) per
// position, i.e. per line along the class dim 1: max, Σx and Σe^{x − m} all-reduced in the team;
// the backward has no reduction (it reads the saved lse), the team just writes its line.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "core/shape.h"
#include "kernels/common/loss_math.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/team_reduce.cuh"

namespace kiln::cuda {
namespace {

// Calls fn.template operator()<L>() with the loss kind as a compile-time constant.
template <class F>
void dispatch_loss(PointwiseLoss loss, F&& fn) {
  switch (loss) {
    case PointwiseLoss::BceWithLogits: return fn.template operator()<PointwiseLoss::BceWithLogits>();
    case PointwiseLoss::Mse: return fn.template operator()<PointwiseLoss::Mse>();
    case PointwiseLoss::GaussianKl: return fn.template operator()<PointwiseLoss::GaussianKl>();
  }
}

// One thread per element: out = ℓ(a, b). Operands: a, b, out.
template <PointwiseLoss L, class T>
__global__ void pointwise_loss_forward_kernel(const T* a, const T* b, T* out, MultiDesc<3> d, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t o[3];
    multi_offsets<3>(d, i, o);
    out[o[2]] = T(pointwise_loss<L>(double(a[o[0]]), double(b[o[1]])));
  }
}

// One thread per element: da = ∂ℓ/∂a·dy·scale, db = ∂ℓ/∂b·dy·scale. Operands: a, b, dy, da/db (contiguous).
template <PointwiseLoss L, class T>
__global__ void pointwise_loss_backward_kernel(const T* a, const T* b, const T* dy, double scale, T* da, T* db,
                                               MultiDesc<4> d, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t o[4];
    multi_offsets<4>(d, i, o);
    double ga = 0, gb = 0;
    const double g = double(dy[o[2]]) * scale;
    pointwise_loss_grad<L>(double(a[o[0]]), double(b[o[1]]), ga, gb);
    if (da) da[o[3]] = T(ga * g);
    if (db) db[o[3]] = T(gb * g);
  }
}

// The positions of logits [N, C, d...]: every index but the class dim 1, for N operands given
// full-rank strides (class-dim stride 0 for the per-position ones).
template <int N>
struct Positions {
  MultiDesc<N> outer{};
  int64_t count = 0;    // number of positions
  int64_t classes = 0;  // C
  int team = 1;
};

template <int N>
Positions<N> make_positions(const std::vector<int64_t>& shape, const std::array<const int64_t*, N>& strides) {
  Positions<N> p;
  int64_t count = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (d != 1) count *= shape[d];
  p.classes = shape[1];
  p.count = count;
  if (count == 0) return p;
  std::vector<int64_t> outer_shape;
  std::array<std::vector<int64_t>, N> outer_strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d == 1) continue;
    outer_shape.push_back(shape[d]);
    for (int k = 0; k < N; ++k) outer_strides[size_t(k)].push_back(strides[size_t(k)][d]);
  }
  std::array<const int64_t*, N> ptrs;
  for (int k = 0; k < N; ++k) ptrs[size_t(k)] = outer_strides[size_t(k)].data();
  p.outer = make_multi_desc<N>(outer_shape, ptrs);
  // "column": classes strided in the logits (operand 0), neighbouring positions adjacent in memory
  const bool column = strides[0][1] != 1 && p.outer.ndim > 0 && p.outer.strides[0][p.outer.ndim - 1] == 1;
  p.team = choose_team(p.classes, column, p.count, 1024);
  return p;
}

// One team per position p: lse_p = m + ln Σ_c e^{x_c − m}; loss_p and valid_p by the team's lane 0.
// Operands of `outer`: logits, target, loss, lse, valid.
template <int TEAM, class T>
__global__ void __launch_bounds__(kBlock)
cross_entropy_forward_kernel(const T* x, const int64_t* target, T* loss, T* lse, T* valid, MultiDesc<5> outer,
                             int64_t positions, int64_t classes, int64_t xs, int64_t ignore_index, double smoothing) {
  __shared__ double smem[kBlock / 32];
  constexpr int kTeams = kBlock / TEAM;
  const int lane = int(threadIdx.x) % TEAM;
  for (int64_t p = int64_t(blockIdx.x) * kTeams + int64_t(threadIdx.x) / TEAM; p < positions;
       p += int64_t(gridDim.x) * kTeams) {
    int64_t o[5];
    multi_offsets<5>(outer, p, o);
    const T* xl = x + o[0];
    double m = -kInf, x_sum = 0;
    for (int64_t c = lane; c < classes; c += TEAM) {
      const double v = double(xl[c * xs]);
      m = MaxNan{}(m, v);
      x_sum += v;
    }
    m = team_allreduce<TEAM>(m, MaxNan{}, smem);
    x_sum = team_allreduce<TEAM>(x_sum, AddD{}, smem);
    if (m == -kInf) m = 0;
    double total = 0;
    for (int64_t c = lane; c < classes; c += TEAM) total += ::exp(double(xl[c * xs]) - m);
    total = team_allreduce<TEAM>(total, AddD{}, smem);
    if (lane == 0) {
      const double lse_p = m + ::log(total);
      lse[o[3]] = T(lse_p);
      const int64_t t = target[o[1]];
      if (t == ignore_index) {
        loss[o[2]] = T(0);
        valid[o[4]] = T(0);
      } else {
        valid[o[4]] = T(1);
        loss[o[2]] = (t >= 0 && t < classes)
                         ? T(cross_entropy_position<double>(lse_p, double(xl[t * xs]), x_sum, classes, smoothing))
                         : T(kNaN);  // out of range: cannot throw here
      }
    }
  }
}

// One team per position p: its line of dlogits, (softmax − (1 − ε)·onehot(t) − ε/C)·dy_p·scale, or 0
// where t = ignore_index. No reduction. Operands of `outer`: logits, target, lse, dy, dlogits.
template <int TEAM, class T>
__global__ void __launch_bounds__(kBlock)
cross_entropy_backward_kernel(const T* x, const int64_t* target, const T* lse, const T* dy, T* dx,
                              MultiDesc<5> outer, int64_t positions, int64_t classes, int64_t xs, int64_t ds,
                              int64_t ignore_index, double smoothing, double scale) {
  constexpr int kTeams = kBlock / TEAM;
  const int lane = int(threadIdx.x) % TEAM;
  for (int64_t p = int64_t(blockIdx.x) * kTeams + int64_t(threadIdx.x) / TEAM; p < positions;
       p += int64_t(gridDim.x) * kTeams) {
    int64_t o[5];
    multi_offsets<5>(outer, p, o);
    const T* xl = x + o[0];
    T* dl = dx + o[4];
    const int64_t t = target[o[1]];
    if (t == ignore_index) {
      for (int64_t c = lane; c < classes; c += TEAM) dl[c * ds] = T(0);
      continue;
    }
    const bool in_range = t >= 0 && t < classes;
    const double g = double(dy[o[3]]) * scale, lse_p = double(lse[o[2]]);
    for (int64_t c = lane; c < classes; c += TEAM)
      dl[c * ds] = in_range ? T(g * cross_entropy_grad<double>(double(xl[c * xs]), lse_p, c == t, classes, smoothing))
                            : T(kNaN);
  }
}

}  // namespace

void pointwise_loss_forward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "loss", [&]<class T>() {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    if (n == 0) return;
    const Strides out_strides = contiguous_strides(shape);
    const MultiDesc<3> d = make_multi_desc<3>(shape, {a_strides, b_strides, out_strides.data()});
    dispatch_loss(loss, [&]<PointwiseLoss L>() {
      pointwise_loss_forward_kernel<L, T><<<grid_for(n), kBlock, 0, launch_stream()>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), d, n);
      KILN_CUDA_CHECK_LAUNCH();
    });
  });
}

void pointwise_loss_backward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                             const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                             const int64_t* dy_strides, double scale, void* da, void* db) {
  KILN_DISPATCH_FLOAT(dtype, "loss backward", [&]<class T>() {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    if (n == 0 || (!da && !db)) return;
    const Strides d_strides = contiguous_strides(shape);
    const MultiDesc<4> d = make_multi_desc<4>(shape, {a_strides, b_strides, dy_strides, d_strides.data()});
    dispatch_loss(loss, [&]<PointwiseLoss L>() {
      pointwise_loss_backward_kernel<L, T><<<grid_for(n), kBlock, 0, launch_stream()>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<const T*>(dy), scale, static_cast<T*>(da),
          static_cast<T*>(db), d, n);
      KILN_CUDA_CHECK_LAUNCH();
    });
  });
}

void cross_entropy_forward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                           const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                           int64_t ignore_index, double label_smoothing, void* loss, const int64_t* loss_strides,
                           void* lse, const int64_t* lse_strides, void* valid, const int64_t* valid_strides) {
  KILN_DISPATCH_FLOAT(dtype, "cross_entropy", [&]<class T>() {
    const Positions<5> p =
        make_positions<5>(shape, {logit_strides, target_strides, loss_strides, lse_strides, valid_strides});
    if (p.count == 0) return;
    const unsigned blocks = blocks_for_teams(p.count, p.team);
    const T* xp = static_cast<const T*>(logits);
    T* lp = static_cast<T*>(loss);
    T* sp = static_cast<T*>(lse);
    T* vp = static_cast<T*>(valid);
    const int64_t xs = logit_strides[1];
    if (p.team == 1)
      cross_entropy_forward_kernel<1, T><<<blocks, kBlock, 0, launch_stream()>>>(
          xp, target, lp, sp, vp, p.outer, p.count, p.classes, xs, ignore_index, label_smoothing);
    else if (p.team == 32)
      cross_entropy_forward_kernel<32, T><<<blocks, kBlock, 0, launch_stream()>>>(
          xp, target, lp, sp, vp, p.outer, p.count, p.classes, xs, ignore_index, label_smoothing);
    else
      cross_entropy_forward_kernel<kBlock, T><<<blocks, kBlock, 0, launch_stream()>>>(
          xp, target, lp, sp, vp, p.outer, p.count, p.classes, xs, ignore_index, label_smoothing);
    KILN_CUDA_CHECK_LAUNCH();
  });
}

void cross_entropy_backward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                            const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                            int64_t ignore_index, double label_smoothing, const void* lse, const int64_t* lse_strides,
                            const void* dy, const int64_t* dy_strides, double scale, void* dlogits) {
  KILN_DISPATCH_FLOAT(dtype, "cross_entropy backward", [&]<class T>() {
    const Strides d_strides = contiguous_strides(shape);
    const Positions<5> p =
        make_positions<5>(shape, {logit_strides, target_strides, lse_strides, dy_strides, d_strides.data()});
    if (p.count == 0) return;
    const unsigned blocks = blocks_for_teams(p.count, p.team);
    const T* xp = static_cast<const T*>(logits);
    const T* sp = static_cast<const T*>(lse);
    const T* gp = static_cast<const T*>(dy);
    T* dp = static_cast<T*>(dlogits);
    const int64_t xs = logit_strides[1], ds = d_strides[1];
    if (p.team == 1)
      cross_entropy_backward_kernel<1, T><<<blocks, kBlock, 0, launch_stream()>>>(
          xp, target, sp, gp, dp, p.outer, p.count, p.classes, xs, ds, ignore_index, label_smoothing, scale);
    else if (p.team == 32)
      cross_entropy_backward_kernel<32, T><<<blocks, kBlock, 0, launch_stream()>>>(
          xp, target, sp, gp, dp, p.outer, p.count, p.classes, xs, ds, ignore_index, label_smoothing, scale);
    else
      cross_entropy_backward_kernel<kBlock, T><<<blocks, kBlock, 0, launch_stream()>>>(
          xp, target, sp, gp, dp, p.outer, p.count, p.classes, xs, ds, ignore_index, label_smoothing, scale);
    KILN_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kiln::cuda
