// Reductions on the GPU: sum/max/min over any sorted set of dims, max/min with index along one dim,
// variance and logsumexp (two passes each). One engine runs them all: the input is seen as
// [kept dims..., reduced dims...] (like cpu::for_each_reduced); a team of threads (1, a warp or the
// block) owns one output, or one chunk of it when there are too few outputs to fill the GPU — then a
// second launch combines the chunks' partial results in a fixed order. No atomics: deterministic.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/cuda_check.h"
#include "core/tensor.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/team_reduce.cuh"

namespace kiln::cuda {
namespace {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------- the engine
// An Op says how to reduce: Acc (the accumulator type), identity(), load(k, offset, j) (the input
// element at `offset`, the j-th of output k's group, as an Acc), combine(a, b) (commutative and
// associative), finish(k, acc) (writes output k).

// The input split into kept and reduced dims, each simplified (size-1 dims dropped, contiguous
// neighbours merged; row-major order kept, so j still counts the group in row-major order).
struct ReduceGeom {
  MultiDesc<1> kept{}, red{};
  int64_t out_n = 1, group = 1;
  bool column = false;  // reduced dims strided, kept innermost contiguous: neighbouring outputs are adjacent
};

ReduceGeom make_geom(const std::vector<int64_t>& shape, const int64_t* strides, const std::vector<int64_t>& dims) {
  std::vector<int64_t> kept_shape, kept_strides, red_shape, red_strides;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (std::binary_search(dims.begin(), dims.end(), d)) continue;
    kept_shape.push_back(shape[size_t(d)]);
    kept_strides.push_back(strides[d]);
  }
  for (int64_t d : dims) {
    red_shape.push_back(shape[size_t(d)]);
    red_strides.push_back(strides[d]);
  }
  ReduceGeom g;
  for (int64_t s : kept_shape) g.out_n *= s;
  for (int64_t s : red_shape) g.group *= s;
  if (g.out_n == 0) return g;  // nothing to compute; callers return
  g.kept = make_multi_desc<1>(kept_shape, {kept_strides.data()});
  g.red = make_multi_desc<1>(red_shape, {red_strides.data()});
  g.column = g.red.ndim > 0 && g.red.strides[0][g.red.ndim - 1] != 1 && g.kept.ndim > 0 &&
             g.kept.strides[0][g.kept.ndim - 1] == 1;
  return g;
}

// One team per work item = (output k, chunk s), items numbered s·out_n + k (neighbouring teams get
// neighbouring outputs). The team's threads stride over the chunk's elements, then all-reduce; its
// lane 0 writes the output (one chunk) or the partial result partial[s·out_n + k].
template <int TEAM, class Op>
__global__ void __launch_bounds__(kBlock)
reduce_kernel(Op op, MultiDesc<1> kept, MultiDesc<1> red, int64_t out_n, int64_t group, int64_t chunks,
              int64_t chunk_len, typename Op::Acc* partial) {
  using Acc = typename Op::Acc;
  __shared__ Acc smem[kBlock / 32];
  constexpr int kTeams = kBlock / TEAM;
  const int lane = int(threadIdx.x) % TEAM;
  const int64_t items = out_n * chunks;
  const auto comb = [&op](const Acc& a, const Acc& b) { return op.combine(a, b); };
  // the loop is uniform over a team (items are per team), as team_allreduce requires
  for (int64_t item = int64_t(blockIdx.x) * kTeams + int64_t(threadIdx.x) / TEAM; item < items;
       item += int64_t(gridDim.x) * kTeams) {
    const int64_t k = item % out_n, s = item / out_n;
    const int64_t base = single_offset(kept, k);
    const int64_t begin = s * chunk_len, end = begin + chunk_len < group ? begin + chunk_len : group;
    Acc acc = op.identity();
    for (int64_t j = begin + lane; j < end; j += TEAM) acc = op.combine(acc, op.load(k, base + single_offset(red, j), j));
    acc = team_allreduce<TEAM>(acc, comb, smem);
    if (lane == 0) {
      if (chunks == 1) op.finish(k, acc);
      else partial[item] = acc;
    }
  }
}

// The second launch: output k combines partial[s·out_n + k] over the chunks s.
template <class Op>
struct PartialOp {
  using Acc = typename Op::Acc;
  Op op;
  const Acc* p;
  __device__ Acc identity() const { return op.identity(); }
  __device__ Acc load(int64_t, int64_t off, int64_t) const { return p[off]; }
  __device__ Acc combine(const Acc& a, const Acc& b) const { return op.combine(a, b); }
  __device__ void finish(int64_t k, const Acc& a) const { op.finish(k, a); }
};

template <class Op>
void launch_pass(int team, const Op& op, const MultiDesc<1>& kept, const MultiDesc<1>& red, int64_t out_n,
                 int64_t group, int64_t chunks, int64_t chunk_len, typename Op::Acc* partial) {
  const unsigned blocks = blocks_for_teams(out_n * chunks, team);
  if (team == 1)
    reduce_kernel<1><<<blocks, kBlock, 0, launch_stream()>>>(op, kept, red, out_n, group, chunks, chunk_len, partial);
  else if (team == 32)
    reduce_kernel<32><<<blocks, kBlock, 0, launch_stream()>>>(op, kept, red, out_n, group, chunks, chunk_len, partial);
  else
    reduce_kernel<kBlock><<<blocks, kBlock, 0, launch_stream()>>>(op, kept, red, out_n, group, chunks, chunk_len, partial);
  KILN_CUDA_CHECK_LAUNCH();
}

// How a reduction runs: team size, and the split of each group into `chunks` of chunk_len elements
// (the last one shorter); with chunks > 1 a second launch with team2 combines the partial results.
struct ReducePlan {
  int team = 1, team2 = 1;
  int64_t chunks = 1, chunk_len = 0;
};

// The plan depends only on the shape, so results are reproducible run to run.
ReducePlan plan_reduce(const ReduceGeom& g) {
  ReducePlan p;
  p.team = choose_team(g.group, g.column, g.out_n, 32);
  p.chunk_len = g.group;
  // Few outputs with long groups would leave most of the GPU idle: split each group into chunks so
  // that about 2^17 threads work, each chunk still long enough to amortize the second launch.
  if (g.group > 0 && g.out_n > 0) {
    const int64_t min_per_item = p.team == 1 ? 64 : int64_t(p.team) * 16;
    const int64_t target_items = (int64_t(1) << 17) / p.team;
    int64_t want = std::min(ceil_div(target_items, g.out_n), ceil_div(g.group, min_per_item));
    want = std::clamp<int64_t>(want, 1, 4096);
    p.chunk_len = ceil_div(g.group, want);
    p.chunks = ceil_div(g.group, p.chunk_len);  // no empty chunk
  }
  // partials laid out [chunks, out_n]: a column reduction when there are several outputs
  p.team2 = choose_team(p.chunks, g.out_n > 1, g.out_n, 32);
  return p;
}

// Runs a reduction (one or two launches).
template <class Op>
void run_reduce(const Op& op, const ReduceGeom& g) {
  using Acc = typename Op::Acc;
  if (g.out_n == 0) return;
  const ReducePlan plan = plan_reduce(g);
  const int team = plan.team;
  const int64_t chunks = plan.chunks, chunk_len = plan.chunk_len;
  if (chunks == 1) {
    launch_pass(team, op, g.kept, g.red, g.out_n, g.group, 1, g.group, static_cast<Acc*>(nullptr));
    return;
  }
  // scratch from the caching allocator (stream-ordered: freed on return, reused only by later work)
  const int64_t words = ceil_div(chunks * g.out_n * int64_t(sizeof(Acc)), 8);
  Tensor scratch = empty({words}, {.dtype = DType::Float64, .device = Device::cuda(current_device())});
  Acc* partial = reinterpret_cast<Acc*>(scratch.data());
  launch_pass(team, op, g.kept, g.red, g.out_n, g.group, chunks, chunk_len, partial);
  MultiDesc<1> kept2{}, red2{};
  kept2.ndim = 1;
  kept2.shape[0] = g.out_n;
  kept2.strides[0][0] = 1;
  red2.ndim = 1;
  red2.shape[0] = chunks;
  red2.strides[0][0] = g.out_n;
  launch_pass(plan.team2, PartialOp<Op>{op, partial}, kept2, red2, g.out_n, chunks, 1, chunks,
              static_cast<Acc*>(nullptr));
}

// ---------------------------------------------------------------- ops on doubles
// Reduces Map(k, double(x)) with Comb from `init`, then Fin(k, acc) writes the result.
template <class T, class Comb, class Map, class Fin>
struct DoubleOp {
  using Acc = double;
  const T* x;
  double init;
  Comb comb;
  Map map;
  Fin fin;
  __device__ double identity() const { return init; }
  __device__ double load(int64_t k, int64_t off, int64_t) const { return map(k, double(x[off])); }
  __device__ double combine(double a, double b) const { return comb(a, b); }
  __device__ void finish(int64_t k, double a) const { fin(k, a); }
};
template <class T, class Comb, class Map, class Fin>
DoubleOp<T, Comb, Map, Fin> double_op(const void* x, double init, Comb comb, Map map, Fin fin) {
  return {static_cast<const T*>(x), init, comb, map, fin};
}

struct Plain {
  __device__ double operator()(int64_t, double v) const { return v; }
};
struct CenteredSquare {  // (x − mean_k)²
  const double* mean;
  __device__ double operator()(int64_t k, double v) const {
    const double d = v - mean[k];
    return d * d;
  }
};
struct ExpShifted {  // e^{x − shift_k}
  const double* shift;
  __device__ double operator()(int64_t k, double v) const { return ::exp(v - shift[k]); }
};

template <class T>
struct Store {
  T* out;
  __device__ void operator()(int64_t k, double a) const { out[k] = T(a); }
};
struct StoreMean {
  double* mean;
  double n;
  __device__ void operator()(int64_t k, double a) const { mean[k] = a / n; }
};
template <class T>
struct StoreVariance {
  T* out;
  double divisor;
  bool take_sqrt;
  __device__ void operator()(int64_t k, double a) const {
    const double v = a / divisor;
    out[k] = T(take_sqrt ? ::sqrt(v) : v);
  }
};
struct StoreShift {  // the max, or 0 where it is ±∞ (as the CPU kernel)
  double* shift;
  __device__ void operator()(int64_t k, double m) const { shift[k] = isinf(m) ? 0.0 : m; }
};
template <class T>
struct StoreLogSumExp {
  T* out;
  const double* shift;
  __device__ void operator()(int64_t k, double total) const { out[k] = T(shift[k] + ::log(total)); }
};

// ---------------------------------------------------------------- max/min with index
template <class T>
struct ArgAcc {  // i < 0: no element yet
  T v;
  int64_t i;
};
template <class T>
__device__ __forceinline__ ArgAcc<T> shfl_xor_full(ArgAcc<T> a, int mask) {
  return {__shfl_xor_sync(0xffffffffu, a.v, mask), __shfl_xor_sync(0xffffffffu, a.i, mask)};
}

// The first NaN if there is one, else the max (min) with the lowest index: what the CPU's sequential
// scan keeps, written as an order-free choice so that any tree order gives the same answer.
template <class T>
struct ArgOp {
  using Acc = ArgAcc<T>;
  const T* x;
  T* values;  // may be null
  int64_t* indices;
  bool is_max;
  __device__ Acc identity() const { return {T(0), -1}; }
  __device__ Acc load(int64_t, int64_t off, int64_t j) const { return {x[off], j}; }
  __device__ Acc combine(const Acc& a, const Acc& b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.i < b.i ? a : b;
      return a_nan ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    return (is_max ? a.v > b.v : a.v < b.v) ? a : b;
  }
  __device__ void finish(int64_t k, const Acc& a) const {
    if (values) values[k] = a.v;
    indices[k] = a.i;
  }
};

// One thread per element of dx: dx[o, j, i] = dy[o, i] where j = indices[o, i], else 0.
template <class T>
__global__ void arg_reduce_backward_kernel(const int64_t* indices, const T* dy, T* dx, int64_t n, int64_t size,
                                           int64_t inner) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, r = e / inner;
    const int64_t j = r % size, o = r / size;
    const int64_t k = o * inner + i;
    dx[e] = indices[k] == j ? dy[k] : T(0);
  }
}

Tensor double_scratch(int64_t n) {
  return empty({n}, {.dtype = DType::Float64, .device = Device::cuda(current_device())});
}

}  // namespace

void reduce(cpu::ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "reduce", [&]<class T>() {
    const ReduceGeom g = make_geom(shape, strides, dims);
    Store<T> store{static_cast<T*>(out)};
    constexpr double inf = std::numeric_limits<double>::infinity();
    if (kind == cpu::ReduceKind::Sum) run_reduce(double_op<T>(x, 0.0, AddD{}, Plain{}, store), g);
    else if (kind == cpu::ReduceKind::Max) run_reduce(double_op<T>(x, -inf, MaxNan{}, Plain{}, store), g);
    else run_reduce(double_op<T>(x, inf, MinNan{}, Plain{}, store), g);
  });
}

void arg_reduce(bool is_max, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
                int64_t dim, void* values, int64_t* indices) {
  KILN_DISPATCH_FLOAT(dtype, is_max ? "max" : "min", [&]<class T>() {
    const ReduceGeom g = make_geom(shape, strides, {dim});
    run_reduce(ArgOp<T>{static_cast<const T*>(x), static_cast<T*>(values), indices, is_max}, g);
  });
}

void arg_reduce_backward(DType dtype, const std::vector<int64_t>& shape, int64_t dim, const int64_t* indices,
                         const void* dy, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "max/min backward", [&]<class T>() {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= shape[size_t(d)];
    for (size_t d = size_t(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
    const int64_t size = shape[size_t(dim)], n = outer * size * inner;
    if (n == 0) return;
    arg_reduce_backward_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(indices, static_cast<const T*>(dy),
                                                                            static_cast<T*>(dx), n, size, inner);
    KILN_CUDA_CHECK_LAUNCH();
  });
}

void variance(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
              const std::vector<int64_t>& dims, double correction, bool take_sqrt, void* out) {
  KILN_DISPATCH_FLOAT(dtype, take_sqrt ? "stddev" : "var", [&]<class T>() {
    const ReduceGeom g = make_geom(shape, strides, dims);
    if (g.out_n == 0) return;
    double n = 1;  // as the CPU: the product of the reduced sizes, in double
    for (int64_t d : dims) n *= double(shape[size_t(d)]);
    const double divisor = std::max(0.0, n - correction);  // 0 gives inf or NaN, as in PyTorch
    Tensor mean = double_scratch(g.out_n);
    double* mp = mean.data_ptr<double>();
    run_reduce(double_op<T>(x, 0.0, AddD{}, Plain{}, StoreMean{mp, n}), g);
    run_reduce(double_op<T>(x, 0.0, AddD{}, CenteredSquare{mp}, StoreVariance<T>{static_cast<T*>(out), divisor, take_sqrt}),
               g);
  });
}

void logsumexp(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
               const std::vector<int64_t>& dims, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "logsumexp", [&]<class T>() {
    const ReduceGeom g = make_geom(shape, strides, dims);
    if (g.out_n == 0) return;
    Tensor shift = double_scratch(g.out_n);
    double* sp = shift.data_ptr<double>();
    run_reduce(double_op<T>(x, -std::numeric_limits<double>::infinity(), MaxNan{}, Plain{}, StoreShift{sp}), g);
    run_reduce(double_op<T>(x, 0.0, AddD{}, ExpShifted{sp}, StoreLogSumExp<T>{static_cast<T*>(out), sp}), g);
  });
}

}  // namespace kiln::cuda
