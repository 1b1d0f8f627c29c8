// cuDNN LSTM/GRU through the v8 RNN API. Per (device, dtype, TF32 switch, shape) one plan holds the RNN
// descriptor (standard algorithm, both biases as PyTorch has them, no dropout inside: kiln applies dropout
// between layers itself), the sequence-major data descriptors of x and y (every sequence of full length),
// the [L, N, H] state descriptor, the sizes of the weight, work and reserve spaces, and where each PyTorch
// gate matrix and bias lies in the packed weight space (asked of cudnnGetRNNWeightParams once, on a probe
// buffer). Work spaces and the device array of sequence lengths the v8 calls read are kiln tensors from the
// caching allocator, filled on kiln's stream (no host sync). float32 keeps exact FMA math unless
// kiln::allow_tf32(). One mutex guards the plans and the per-device handles, as in cudnn_conv.cpp.
#include "kernels/cudnn/cudnn_rnn.h"

#include <atomic>

#include "core/error.h"

#if KILN_HAVE_CUDNN
#include <cudnn.h>

#include <algorithm>
#include <climits>
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
std::atomic<int64_t> g_calls_run{0};
}  // namespace

int64_t cudnn_rnn_calls_run() { return g_calls_run.load(); }

#if KILN_HAVE_CUDNN
namespace {

struct PlanKey {
  int device = 0;
  int dtype = 0;
  bool tf32 = false;
  CudnnRnnShape shape;
  auto operator<=>(const PlanKey&) const = default;
};

struct RnnPlan {
  bool valid = false;
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnDropoutDescriptor_t dropout = nullptr;
  cudnnRNNDataDescriptor_t x = nullptr, y = nullptr;
  cudnnTensorDescriptor_t h = nullptr;  // [L, N, H]: hx, hy, cx, cy alike
  size_t weight_bytes = 0, train_workspace = 0, reserve = 0, infer_workspace = 0;
  CudnnRnnPlanInfo info;

  RnnPlan() = default;
  RnnPlan(const RnnPlan&) = delete;
  RnnPlan& operator=(const RnnPlan&) = delete;
  ~RnnPlan() {
    if (rnn) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyRNNDescriptor(rnn));
    if (dropout) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyDropoutDescriptor(dropout));
    if (x) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyRNNDataDescriptor(x));
    if (y) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyRNNDataDescriptor(y));
    if (h) KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyTensorDescriptor(h));
  }
};

// A tensor descriptor that destroys itself (for the per-gate queries of the weight layout).
struct ScopedTensorDesc {
  cudnnTensorDescriptor_t desc = nullptr;
  ScopedTensorDesc() { KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc)); }
  ScopedTensorDesc(const ScopedTensorDesc&) = delete;
  ScopedTensorDesc& operator=(const ScopedTensorDesc&) = delete;
  ~ScopedTensorDesc() { KILN_CUDNN_CHECK_NOTHROW(cudnnDestroyTensorDescriptor(desc)); }
};

struct CudnnRnnState {
  std::mutex mutex;
  std::map<int, cudnnHandle_t> handles;
  std::map<PlanKey, std::unique_ptr<RnnPlan>> plans;
};

// Never destroyed: tensors in static storage may still free memory after main returns.
CudnnRnnState& rnn_state() {
  static auto* s = new CudnnRnnState();
  return *s;
}

cudnnHandle_t handle_for(CudnnRnnState& s, int device) {
  auto it = s.handles.find(device);
  if (it != s.handles.end()) return it->second;
  cudnnHandle_t h = nullptr;
  KILN_CUDNN_CHECK(cudnnCreate(&h));
  s.handles.emplace(device, h);
  return h;
}

bool ok(cudnnStatus_t s) { return s == CUDNN_STATUS_SUCCESS; }

// Whether the product of `values` (each ≥ 1) stays within cuDNN's int indexing.
bool product_fits_int(std::initializer_list<int64_t> values) {
  int64_t p = 1;
  for (int64_t v : values) {
    if (v < 1 || v > INT_MAX) return false;
    p *= v;  // both ≤ INT_MAX here, so no int64 overflow before the check below
    if (p > INT_MAX) return false;
  }
  return true;
}

// The number of elements a weight-parameter descriptor of cudnnGetRNNWeightParams describes.
bool descriptor_numel(cudnnTensorDescriptor_t desc, int64_t* numel) {
  cudnnDataType_t dt;
  int nb = 0, dims[8] = {}, strides[8] = {};
  if (!ok(cudnnGetTensorNdDescriptor(desc, 8, &dt, &nb, dims, strides)) || nb < 1 || nb > 8) return false;
  int64_t n = 1;
  for (int i = 0; i < nb; ++i) n *= dims[i];
  *numel = n;
  return true;
}

// Asks cuDNN where each gate's matrix and bias lies (offsets relative to a probe buffer of the weight space's
// size: cudnnGetRNNWeightParams only does address arithmetic on it) and records PyTorch's parameters as runs.
// cuDNN's gate ids match PyTorch's order: LSTM 0–3 input (i, f, g, o), 4–7 recurrent; GRU 0–2 input
// (r, z, n), 3–5 recurrent. Each matrix is row-major [H, in] as PyTorch's gate block.
bool build_weight_runs(RnnPlan& p, cudnnHandle_t h, const CudnnRnnShape& s, DType dtype, int device) {
  const int64_t G = s.lstm ? 4 : 3, H = s.hidden_size, elem = int64_t(dtype_size(dtype));
  Tensor probe = empty({int64_t(p.weight_bytes)}, {.dtype = DType::UInt8, .device = Device::cuda(device)});
  const char* base = static_cast<const char*>(probe.data());
  ScopedTensorDesc m_desc, b_desc;
  std::vector<CudnnRnnWeightRun> pieces;
  auto add = [&](int64_t layer, int which, int64_t param_offset, const void* addr, int64_t numel) {
    if (!addr) return false;
    const int64_t bytes = static_cast<const char*>(addr) - base;
    if (bytes < 0 || bytes % elem != 0) return false;
    const int64_t at = bytes / elem;
    if (at + numel > p.info.weight_space_numel) return false;
    pieces.push_back({layer, which, param_offset, at, numel});
    return true;
  };
  for (int64_t layer = 0; layer < s.num_layers; ++layer) {
    const int64_t in = layer == 0 ? s.input_size : H;
    for (int64_t id = 0; id < 2 * G; ++id) {
      const bool recurrent = id >= G;
      const int64_t gate = id % G, cols = recurrent ? H : in;
      void* m_addr = nullptr;
      void* b_addr = nullptr;
      if (!ok(cudnnGetRNNWeightParams(h, p.rnn, int32_t(layer), p.weight_bytes, probe.data(), int32_t(id),
                                      m_desc.desc, &m_addr, nullptr, nullptr)))
        return false;
      if (!ok(cudnnGetRNNWeightParams(h, p.rnn, int32_t(layer), p.weight_bytes, probe.data(), int32_t(id), nullptr,
                                      nullptr, b_desc.desc, &b_addr)))
        return false;
      int64_t m_numel = 0, b_numel = 0;
      if (!descriptor_numel(m_desc.desc, &m_numel) || m_numel != H * cols) return false;
      if (!descriptor_numel(b_desc.desc, &b_numel) || b_numel != H) return false;
      if (!add(layer, recurrent ? 1 : 0, gate * H * cols, m_addr, m_numel)) return false;
      if (!add(layer, recurrent ? 3 : 2, gate * H, b_addr, b_numel)) return false;
    }
  }
  // Merge the gates of a parameter that cuDNN stores back to back (the usual case: one copy per parameter).
  std::sort(pieces.begin(), pieces.end(), [](const CudnnRnnWeightRun& a, const CudnnRnnWeightRun& b) {
    if (a.layer != b.layer) return a.layer < b.layer;
    if (a.which != b.which) return a.which < b.which;
    return a.param_offset < b.param_offset;
  });
  p.info.runs.clear();
  for (const CudnnRnnWeightRun& piece : pieces) {
    if (!p.info.runs.empty()) {
      CudnnRnnWeightRun& last = p.info.runs.back();
      if (last.layer == piece.layer && last.which == piece.which &&
          last.param_offset + last.numel == piece.param_offset &&
          last.space_offset + last.numel == piece.space_offset) {
        last.numel += piece.numel;
        continue;
      }
    }
    p.info.runs.push_back(piece);
  }
  return true;
}

// Fills the plan's descriptors and sizes; false where cuDNN cannot describe the case.
bool build_plan(RnnPlan& p, cudnnHandle_t h, const CudnnRnnShape& s, DType dtype, bool tf32, int device) {
  if (dtype != DType::Float32 && dtype != DType::Float64) return false;
  const int64_t T = s.seq_length, N = s.batch, in = s.input_size, H = s.hidden_size, L = s.num_layers;
  const int64_t G = s.lstm ? 4 : 3;
  if (!product_fits_int({T, N, std::max(in, H)}) || !product_fits_int({L, N, H}) ||
      !product_fits_int({L, G, H, in + H + 2}))
    return false;

  KILN_CUDNN_CHECK(cudnnCreateRNNDescriptor(&p.rnn));
  KILN_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&p.dropout));
  KILN_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&p.x));
  KILN_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&p.y));
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.h));
  const cudnnDataType_t dt = dtype == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  // cuDNN's default math lets float32 use TF32 tensor cores; FMA math keeps it exact (as PyTorch does).
  const cudnnMathType_t math = dtype == DType::Float32 && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
  // A dropout descriptor with p = 0 and no state: no dropout inside cuDNN (kiln's dropout op runs between
  // layers instead, so CPU and GPU draw the same masks).
  if (!ok(cudnnSetDropoutDescriptor(p.dropout, h, 0.0f, nullptr, 0, 0))) return false;
  if (!ok(cudnnSetRNNDescriptor_v8(p.rnn, CUDNN_RNN_ALGO_STANDARD, s.lstm ? CUDNN_LSTM : CUDNN_GRU,
                                   CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, dt, dt, math,
                                   int32_t(in), int32_t(H), int32_t(H), int32_t(L), p.dropout,
                                   CUDNN_RNN_PADDED_IO_ENABLED)))
    return false;
  const std::vector<int> lengths(static_cast<size_t>(N), static_cast<int>(T));
  if (!ok(cudnnSetRNNDataDescriptor(p.x, dt, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, int(T), int(N), int(in),
                                    lengths.data(), nullptr)))
    return false;
  if (!ok(cudnnSetRNNDataDescriptor(p.y, dt, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, int(T), int(N), int(H),
                                    lengths.data(), nullptr)))
    return false;
  const int dims[3] = {int(L), int(N), int(H)}, strides[3] = {int(N * H), int(H), 1};
  if (!ok(cudnnSetTensorNdDescriptor(p.h, dt, 3, dims, strides))) return false;

  if (!ok(cudnnGetRNNWeightSpaceSize(h, p.rnn, &p.weight_bytes))) return false;
  if (!ok(cudnnGetRNNTempSpaceSizes(h, p.rnn, CUDNN_FWD_MODE_TRAINING, p.x, &p.train_workspace, &p.reserve)))
    return false;
  size_t unused_reserve = 0;
  if (!ok(cudnnGetRNNTempSpaceSizes(h, p.rnn, CUDNN_FWD_MODE_INFERENCE, p.x, &p.infer_workspace, &unused_reserve)))
    return false;
  const size_t elem = dtype_size(dtype);
  if (p.weight_bytes == 0 || p.weight_bytes % elem != 0) return false;
  p.info.weight_space_numel = int64_t(p.weight_bytes / elem);
  p.info.reserve_bytes = int64_t(p.reserve);
  return build_weight_runs(p, h, s, dtype, device);
}

// The plan of the current device for (dtype, shape), built on first use; null when cuDNN cannot run it.
// Call with the state's mutex held.
RnnPlan* find_plan(CudnnRnnState& s, cudnnHandle_t h, const CudnnRnnShape& shape, DType dtype, int device) {
  PlanKey key{device, int(dtype), dtype == DType::Float32 && allow_tf32(), shape};
  std::unique_ptr<RnnPlan>& slot = s.plans[key];
  if (!slot) {
    auto plan = std::make_unique<RnnPlan>();
    plan->valid = build_plan(*plan, h, shape, dtype, key.tf32, device);
    slot = std::move(plan);
  }
  return slot->valid ? slot.get() : nullptr;
}

// Scratch bytes on the device (undefined when none are needed).
Tensor scratch(size_t bytes, int device) {
  if (bytes == 0) return Tensor();
  return empty({int64_t(bytes)}, {.dtype = DType::UInt8, .device = Device::cuda(device)});
}
void* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// The per-sequence lengths the v8 calls read on the device: N × T as int32, filled by a kernel on kiln's
// stream (no host copy). Freed after the calls are queued: the caching allocator reuses it only for work
// queued later on the same stream.
Tensor device_seq_lengths(const CudnnRnnShape& s, int device) {
  return full({s.batch}, double(s.seq_length), {.dtype = DType::Int32, .device = Device::cuda(device)});
}

// Runs fn(handle, plan, device) under the lock with the handle on kiln's stream.
template <class Fn>
void with_plan(const char* what, const CudnnRnnShape& shape, DType dtype, Fn&& fn) {
  const int device = current_device();
  CudnnRnnState& s = rnn_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  cudnnHandle_t h = handle_for(s, device);
  RnnPlan* p = find_plan(s, h, shape, dtype, device);
  KILN_CHECK(p != nullptr, what, ": cuDNN cannot run this RNN (", shape.lstm ? "LSTM" : "GRU", ", input_size ",
             shape.input_size, ", hidden_size ", shape.hidden_size, ", num_layers ", shape.num_layers, ", T ",
             shape.seq_length, ", N ", shape.batch, ", ", dtype_name(dtype), "); check cudnn_rnn_prepare first");
  KILN_CUDNN_CHECK(cudnnSetStream(h, launch_stream()));
  fn(h, *p, device);
  ++g_calls_run;
}

}  // namespace

bool cudnn_rnn_prepare(const CudnnRnnShape& shape, DType dtype, CudnnRnnPlanInfo* info) {
  const int device = current_device();
  CudnnRnnState& s = rnn_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  RnnPlan* p = find_plan(s, handle_for(s, device), shape, dtype, device);
  if (!p) return false;
  if (info) *info = p->info;
  return true;
}

void cudnn_rnn_forward(const CudnnRnnShape& shape, DType dtype, const void* weight_space, const void* x,
                       const void* hx, const void* cx, void* y, void* hy, void* cy, bool training, void* reserve) {
  with_plan("cudnn_rnn_forward", shape, dtype, [&](cudnnHandle_t h, RnnPlan& p, int device) {
    const size_t ws_bytes = training ? p.train_workspace : p.infer_workspace;
    Tensor workspace = scratch(ws_bytes, device);
    Tensor lengths = device_seq_lengths(shape, device);
    KILN_CUDNN_CHECK(cudnnRNNForward(h, p.rnn, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                                     static_cast<const int32_t*>(lengths.data()), p.x, x, p.y, y, p.h, hx, hy, p.h,
                                     cx, cy, p.weight_bytes, weight_space, ws_bytes, data_or_null(workspace),
                                     training ? p.reserve : 0, training ? reserve : nullptr));
  });
}

void cudnn_rnn_backward(const CudnnRnnShape& shape, DType dtype, const void* weight_space, const void* x,
                        const void* hx, const void* cx, const void* y, const void* dy, const void* dhy,
                        const void* dcy, void* dx, void* dhx, void* dcx, void* dweight_space, void* reserve) {
  with_plan("cudnn_rnn_backward", shape, dtype, [&](cudnnHandle_t h, RnnPlan& p, int device) {
    // One work space for both calls: cudnnRNNBackwardWeights_v8 must follow cudnnRNNBackwardData_v8, which
    // leaves in the reserve space what the weight gradients need.
    Tensor workspace = scratch(p.train_workspace, device);
    Tensor lengths = device_seq_lengths(shape, device);
    const int32_t* seq = static_cast<const int32_t*>(lengths.data());
    KILN_CUDNN_CHECK(cudnnRNNBackwardData_v8(h, p.rnn, seq, p.y, y, dy, p.x, dx, p.h, hx, dhy, dhx, p.h, cx, dcy, dcx,
                                             p.weight_bytes, weight_space, p.train_workspace,
                                             data_or_null(workspace), p.reserve, reserve));
    if (dweight_space) {
      // cuDNN only adds weight gradients (CUDNN_WGRAD_MODE_ADD): start from zeros.
      KILN_CUDA_CHECK(cudaMemsetAsync(dweight_space, 0, p.weight_bytes, launch_stream()));
      KILN_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(h, p.rnn, CUDNN_WGRAD_MODE_ADD, seq, p.x, x, p.h, hx, p.y, y,
                                                  p.weight_bytes, dweight_space, p.train_workspace,
                                                  data_or_null(workspace), p.reserve, reserve));
    }
  });
}

#else  // built without cuDNN: the cell loop of core/ops/rnn.cpp runs every RNN

bool cudnn_rnn_prepare(const CudnnRnnShape&, DType, CudnnRnnPlanInfo*) { return false; }
void cudnn_rnn_forward(const CudnnRnnShape&, DType, const void*, const void*, const void*, const void*, void*, void*,
                       void*, bool, void*) {
  KILN_FAIL("cudnn_rnn_forward: kiln was built without cuDNN");
}
void cudnn_rnn_backward(const CudnnRnnShape&, DType, const void*, const void*, const void*, const void*, const void*,
                        const void*, const void*, const void*, void*, void*, void*, void*, void*) {
  KILN_FAIL("cudnn_rnn_backward: kiln was built without cuDNN");
}

#endif

}  // namespace kiln::cuda
