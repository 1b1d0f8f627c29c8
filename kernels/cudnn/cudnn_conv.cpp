// cuDNN convolutions through its legacy API (still in cuDNN 9). Per (device, dtype, geometry, TF32 switch,
// deterministic switch) one plan holds the tensor/filter descriptors, one convolution descriptor per pass
// (each carries the math type of its chosen algorithm) and the algorithm chosen per pass. Algorithms come
// from cuDNN's heuristics (cudnnGet*Algorithm_v7: no benchmarking, no device sync, no allocation): the first
// ranked one that succeeded, is deterministic when kiln::deterministic() is on, keeps fp32 exact unless
// kiln::allow_tf32() (CUDNN_FMA_MATH: cuDNN's default math lets fp32 convolutions use TF32 tensor cores on
// Ampere and later, which is what allow_tf32 turns on), and needs at most 2 GiB of workspace. The workspace
// is a kiln tensor from the caching allocator. One mutex guards the plans and the per-device handles, whose
// stream is set to kiln's launch stream on every call.
#include "kernels/cudnn/cudnn_conv.h"

#include <atomic>

#if KILN_HAVE_CUDNN
#include <cudnn.h>

#include <array>
#include <climits>
#include <compare>
#include <map>
#include <memory>
#include <mutex>

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/tensor.h"
#include "kernels/cuda/launch.cuh"
#endif

namespace kiln::cuda {

namespace {
std::atomic<int64_t> g_passes_run{0};
}  // namespace

int64_t cudnn_conv_passes_run() { return g_passes_run.load(); }

#if KILN_HAVE_CUDNN
namespace {

enum Pass { kForward = 0, kBackwardData = 1, kBackwardFilter = 2, kPasses = 3 };

constexpr size_t kMaxWorkspaceBytes = size_t(1) << 31;

struct PlanKey {
  int device = 0;
  int dtype = 0;
  bool tf32 = false;
  bool deterministic = false;
  std::array<int64_t, 16> geometry{};
  auto operator<=>(const PlanKey&) const = default;
};

PlanKey make_key(int device, DType dtype, const cpu::Conv2dGeometry& g) {
  PlanKey k;
  k.device = device;
  k.dtype = int(dtype);
  k.tf32 = allow_tf32();
  k.deterministic = deterministic();
  k.geometry = {g.batch,    g.in_channels, g.out_channels, g.groups,   g.in_h,  g.in_w,  g.out_h,      g.out_w,
                g.kernel_h, g.kernel_w,    g.stride_h,     g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w};
  return k;
}

struct AlgoChoice {
  bool decided = false;  // the heuristic has been asked
  bool usable = false;   // it offered an acceptable algorithm (and cuDNN has not refused it since)
  int algo = 0;
  size_t workspace = 0;
};

struct ConvPlan {
  bool valid = false;  // descriptors built, and cuDNN's output size is the geometry's
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  std::array<cudnnConvolutionDescriptor_t, kPasses> conv{};
  std::array<AlgoChoice, kPasses> choice{};

  ConvPlan() = default;
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
  ~ConvPlan() {
    if (x) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyTensorDescriptor(x));
    if (y) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyTensorDescriptor(y));
    if (w) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyFilterDescriptor(w));
    for (cudnnConvolutionDescriptor_t c : conv)
      if (c) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyConvolutionDescriptor(c));
  }
};

struct CudnnState {
  std::mutex mutex;
  std::map<int, cudnnHandle_t> handles;
  std::map<PlanKey, std::unique_ptr<ConvPlan>> plans;
};

// Never destroyed: tensors in static storage may still run convolutions' frees after main returns.
CudnnState& cudnn_state() {
  static auto* s = new CudnnState();
  return *s;
}

cudnnHandle_t handle_for(CudnnState& s, int device) {
  auto it = s.handles.find(device);
  if (it != s.handles.end()) return it->second;
  cudnnHandle_t h = nullptr;
  KILN_CUDNN_CHECK(cudnnCreate(&h));
  s.handles.emplace(device, h);
  return h;
}

bool positive_int(int64_t v) { return v >= 1 && v <= INT_MAX; }
bool ok(cudnnStatus_t s) { return s == CUDNN_STATUS_SUCCESS; }

cudnnMathType_t wanted_math(DType dtype, bool tf32) {
  return dtype == DType::Float32 && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// Whether a heuristic's result may be used: it succeeded, is deterministic when asked, keeps exact fp32.
bool acceptable(cudnnStatus_t status, cudnnDeterminism_t determinism, cudnnMathType_t math, DType dtype, bool tf32,
                bool want_deterministic) {
  if (status != CUDNN_STATUS_SUCCESS) return false;
  if (want_deterministic && determinism != CUDNN_DETERMINISTIC) return false;
  if (dtype == DType::Float32 && !tf32 && math != CUDNN_FMA_MATH) return false;
  return true;
}

// Fills the plan's descriptors; false where cuDNN cannot describe the case (then kiln's kernels run it).
bool build_plan(ConvPlan& p, const cpu::Conv2dGeometry& g, DType dtype, bool tf32) {
  for (int64_t v : {g.batch, g.in_channels, g.out_channels, g.groups, g.in_h, g.in_w, g.out_h, g.out_w, g.kernel_h,
                    g.kernel_w, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w})
    if (!positive_int(v)) return false;
  if (g.pad_h < 0 || g.pad_h > INT_MAX || g.pad_w < 0 || g.pad_w > INT_MAX) return false;
  if (g.in_channels % g.groups != 0 || g.out_channels % g.groups != 0) return false;
  // cuDNN's legacy descriptors index with int: keep every tensor under 2³¹ elements.
  const int64_t x_numel = g.batch * g.in_channels * g.in_h * g.in_w;
  const int64_t y_numel = g.batch * g.out_channels * g.out_h * g.out_w;
  const int64_t w_numel = g.out_channels * (g.in_channels / g.groups) * g.kernel_h * g.kernel_w;
  if (x_numel > INT_MAX || y_numel > INT_MAX || w_numel > INT_MAX) return false;

  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  for (auto& c : p.conv) KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c));
  const cudnnDataType_t dt = dtype == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  if (!ok(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, dt, int(g.batch), int(g.in_channels), int(g.in_h),
                                     int(g.in_w))))
    return false;
  if (!ok(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, dt, int(g.batch), int(g.out_channels), int(g.out_h),
                                     int(g.out_w))))
    return false;
  if (!ok(cudnnSetFilter4dDescriptor(p.w, dt, CUDNN_TENSOR_NCHW, int(g.out_channels), int(g.in_channels / g.groups),
                                     int(g.kernel_h), int(g.kernel_w))))
    return false;
  for (auto& c : p.conv) {
    if (!ok(cudnnSetConvolution2dDescriptor(c, int(g.pad_h), int(g.pad_w), int(g.stride_h), int(g.stride_w),
                                            int(g.dilation_h), int(g.dilation_w), CUDNN_CROSS_CORRELATION, dt)))
      return false;
    if (!ok(cudnnSetConvolutionGroupCount(c, int(g.groups)))) return false;
    if (!ok(cudnnSetConvolutionMathType(c, wanted_math(dtype, tf32)))) return false;
  }
  // A transposed convolution with output_padding ≥ stride has an image taller than cuDNN's forward would
  // derive from the columns: cuDNN cannot describe it.
  int n = 0, c = 0, h = 0, w = 0;
  if (!ok(cudnnGetConvolution2dForwardOutputDim(p.conv[kForward], p.x, p.w, &n, &c, &h, &w))) return false;
  return n == g.batch && c == g.out_channels && h == g.out_h && w == g.out_w;
}

// The first acceptable entry of a heuristic's ranked list whose workspace fits; sets the pass's math type.
template <class Perf, class WorkspaceFn>
AlgoChoice pick(const Perf* perf, int returned, cudnnConvolutionDescriptor_t conv, DType dtype, bool tf32, bool det,
                WorkspaceFn&& workspace_of) {
  AlgoChoice c;
  c.decided = true;
  for (int i = 0; i < returned; ++i) {
    const Perf& r = perf[i];
    if (!acceptable(r.status, r.determinism, r.mathType, dtype, tf32, det)) continue;
    if (!ok(cudnnSetConvolutionMathType(conv, r.mathType))) continue;
    size_t bytes = 0;
    if (!ok(workspace_of(r.algo, &bytes)) || bytes > kMaxWorkspaceBytes) continue;
    c.usable = true;
    c.algo = int(r.algo);
    c.workspace = bytes;
    return c;
  }
  return c;
}

AlgoChoice choose(Pass pass, cudnnHandle_t h, ConvPlan& p, DType dtype, bool tf32, bool det) {
  cudnnConvolutionDescriptor_t conv = p.conv[pass];
  int returned = 0;
  if (pass == kForward) {
    std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
    if (!ok(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, conv, p.y, int(perf.size()), &returned, perf.data())))
      return AlgoChoice{true, false, 0, 0};
    return pick(perf.data(), returned, conv, dtype, tf32, det, [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
      return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, conv, p.y, a, bytes);
    });
  }
  if (pass == kBackwardData) {
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
    if (!ok(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, conv, p.x, int(perf.size()), &returned,
                                                        perf.data())))
      return AlgoChoice{true, false, 0, 0};
    return pick(perf.data(), returned, conv, dtype, tf32, det, [&](cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
      return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, conv, p.x, a, bytes);
    });
  }
  std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
  if (!ok(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, conv, p.w, int(perf.size()), &returned,
                                                        perf.data())))
    return AlgoChoice{true, false, 0, 0};
  return pick(perf.data(), returned, conv, dtype, tf32, det, [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, conv, p.w, a, bytes);
  });
}

// Finds or builds the plan, picks the pass's algorithm, allocates the workspace and runs
// run(handle, plan, algo, workspace, bytes, one, zero) under the lock. False where cuDNN cannot run it.
template <class Run>
bool run_pass(Pass pass, const cpu::Conv2dGeometry& g, DType dtype, Run&& run) {
  if (dtype != DType::Float32 && dtype != DType::Float64) return false;
  static const float kOneF = 1.f, kZeroF = 0.f;
  static const double kOneD = 1.0, kZeroD = 0.0;
  const void* one = dtype == DType::Float64 ? static_cast<const void*>(&kOneD) : static_cast<const void*>(&kOneF);
  const void* zero = dtype == DType::Float64 ? static_cast<const void*>(&kZeroD) : static_cast<const void*>(&kZeroF);

  const int device = current_device();
  const PlanKey key = make_key(device, dtype, g);
  CudnnState& s = cudnn_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  std::unique_ptr<ConvPlan>& slot = s.plans[key];
  if (!slot) {
    auto plan = std::make_unique<ConvPlan>();
    plan->valid = build_plan(*plan, g, dtype, key.tf32);
    slot = std::move(plan);
  }
  ConvPlan& p = *slot;
  if (!p.valid) return false;
  cudnnHandle_t h = handle_for(s, device);
  KILN_CUDNN_CHECK(cudnnSetStream(h, launch_stream()));
  AlgoChoice& c = p.choice[pass];
  if (!c.decided) c = choose(pass, h, p, dtype, key.tf32, key.deterministic);
  if (!c.usable) return false;
  Tensor workspace;  // stream-ordered: returned to the cache after the call is queued, reused only on this stream
  void* ws = nullptr;
  if (c.workspace > 0) {
    workspace = empty({int64_t(c.workspace)}, {.dtype = DType::UInt8, .device = Device::cuda(device)});
    ws = workspace.data();
  }
  const cudnnStatus_t status = run(h, p, c.algo, ws, c.workspace, one, zero);
  if (status == CUDNN_STATUS_NOT_SUPPORTED) {
    c.usable = false;  // from now on this case goes straight to kiln's kernels
    return false;
  }
  KILN_CUDNN_CHECK(status);
  ++g_passes_run;
  return true;
}

}  // namespace

bool cudnn_conv2d_forward(const cpu::Conv2dGeometry& g, DType dtype, const void* x, const void* w, void* y) {
  return run_pass(
      kForward, g, dtype,
      [&](cudnnHandle_t h, ConvPlan& p, int algo, void* ws, size_t bytes, const void* one, const void* zero) {
        return cudnnConvolutionForward(h, one, p.x, x, p.w, w, p.conv[kForward], cudnnConvolutionFwdAlgo_t(algo), ws,
                                       bytes, zero, p.y, y);
      });
}

bool cudnn_conv2d_backward_data(const cpu::Conv2dGeometry& g, DType dtype, const void* dy, const void* w, void* dx) {
  return run_pass(
      kBackwardData, g, dtype,
      [&](cudnnHandle_t h, ConvPlan& p, int algo, void* ws, size_t bytes, const void* one, const void* zero) {
        return cudnnConvolutionBackwardData(h, one, p.w, w, p.y, dy, p.conv[kBackwardData],
                                            cudnnConvolutionBwdDataAlgo_t(algo), ws, bytes, zero, p.x, dx);
      });
}

bool cudnn_conv2d_backward_filter(const cpu::Conv2dGeometry& g, DType dtype, const void* x, const void* dy, void* dw) {
  return run_pass(
      kBackwardFilter, g, dtype,
      [&](cudnnHandle_t h, ConvPlan& p, int algo, void* ws, size_t bytes, const void* one, const void* zero) {
        return cudnnConvolutionBackwardFilter(h, one, p.x, x, p.y, dy, p.conv[kBackwardFilter],
                                              cudnnConvolutionBwdFilterAlgo_t(algo), ws, bytes, zero, p.w, dw);
      });
}

#else  // built without cuDNN: kiln's own kernels run every convolution

bool cudnn_conv2d_forward(const cpu::Conv2dGeometry&, DType, const void*, const void*, void*) { return false; }
bool cudnn_conv2d_backward_data(const cpu::Conv2dGeometry&, DType, const void*, const void*, void*) { return false; }
bool cudnn_conv2d_backward_filter(const cpu::Conv2dGeometry&, DType, const void*, const void*, void*) { return false; }

#endif

}  // namespace kiln::cuda
