// multi_tensor_apply: one kernel launch applies an elementwise op to a whole list of tensors of any sizes
// (the fused optimizer step, the weight EMA). The op's scalars and a table of the tensors travel by value
// in the kernel's parameters; nothing is copied to the device beforehand and nothing syncs.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/cuda/launch.cuh"

namespace kiln::cuda {

// Layout of one launch over `count` tensors: tensor k owns the blocks [block_end[k−1], block_end[k])
// (block_end[−1] = 0), and the j-th of them updates its elements [j·kElementsPerBlock, (j+1)·kElementsPerBlock)
// ∩ [0, numel). So each block works on a slice of exactly one tensor and finds which by a binary search
// of block_end (at most ~150 entries, the same for every thread of the block: broadcast reads).
// Slot: the tensor's pointers, `int64_t numel` and any per-tensor scalars. Op: the op's scalars and
// `__device__ void operator()(const Slot&, int64_t i) const` updating element i of the tensor.
constexpr int kMultiTensorThreads = 256;
constexpr int64_t kElementsPerBlock = 16 * kMultiTensorThreads;

// Kernel parameters are limited to 4096 bytes on every CUDA version (CUDA 12.1+ allows 32764 on Volta and
// newer; we stay portable). A launch takes as many tensors as fit: 58 for Adam in float64, 144 for the EMA.
constexpr size_t kKernelParamBytes = 4096;
template <class Op, class Slot>
constexpr int max_tensors_per_launch() {
  // op + count + per tensor (block_end entry + slot), with up to 32 bytes of alignment padding.
  return int((kKernelParamBytes - sizeof(Op) - sizeof(int) - 32) / (sizeof(uint32_t) + sizeof(Slot)));
}

template <class Op, class Slot, int kMaxTensors>
struct MultiTensorArgs {
  Op op;
  int count;                         // tensors in this launch, 1 ≤ count ≤ kMaxTensors
  uint32_t block_end[kMaxTensors];   // strictly increasing (every tensor has ≥ 1 element); last = gridDim.x
  Slot slots[kMaxTensors];
};

// The slot k with block_end[k−1] ≤ b < block_end[k]: the first k with b < block_end[k].
template <class Args>
__device__ __forceinline__ int slot_of_block(const Args& args, uint32_t b) {
  int lo = 0, hi = args.count - 1;  // the answer lies in [lo, hi]: b < block_end[count − 1] = gridDim.x
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (b < args.block_end[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// __grid_constant__: the arguments stay in the constant parameter bank (no per-thread copy of the table).
template <class Op, class Slot, int kMaxTensors>
__global__ void multi_tensor_kernel(const __grid_constant__ MultiTensorArgs<Op, Slot, kMaxTensors> args) {
  const uint32_t b = blockIdx.x;
  const int k = slot_of_block(args, b);
  const Slot slot = args.slots[k];
  const Op op = args.op;
  const uint32_t first_block = k == 0 ? 0u : args.block_end[k - 1];
  const int64_t begin = int64_t(b - first_block) * kElementsPerBlock;
  const int64_t end = begin + kElementsPerBlock < slot.numel ? begin + kElementsPerBlock : slot.numel;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) op(slot, i);
}

// Launches `op` over all `slots` (tensors with numel 0 are skipped): one launch per kMaxTensors tensors.
// Launches are asynchronous on the current stream; the arguments are copied at each launch.
template <class Op, class Slot>
void multi_tensor_apply(const char* name, const Op& op, const std::vector<Slot>& slots) {
  constexpr int kMaxTensors = max_tensors_per_launch<Op, Slot>();
  using Args = MultiTensorArgs<Op, Slot, kMaxTensors>;
  static_assert(kMaxTensors >= 8 && sizeof(Args) <= kKernelParamBytes, "multi_tensor_apply: arguments too large");
  constexpr int64_t kMaxBlocks = std::numeric_limits<int32_t>::max();  // gridDim.x limit (2³¹ − 1)

  Args args{};
  args.op = op;
  int64_t blocks = 0;
  auto launch = [&] {
    if (args.count == 0) return;
    multi_tensor_kernel<Op, Slot, kMaxTensors><<<unsigned(blocks), kMultiTensorThreads, 0, launch_stream()>>>(args);
    KILN_CUDA_CHECK_LAUNCH();
    args.count = 0;
    blocks = 0;
  };
  for (const Slot& slot : slots) {
    if (slot.numel == 0) continue;
    const int64_t need = (slot.numel + kElementsPerBlock - 1) / kElementsPerBlock;
    KILN_CHECK(need <= kMaxBlocks, name, ": a tensor of ", slot.numel, " elements is too large for one launch");
    if (args.count == kMaxTensors || blocks + need > kMaxBlocks) launch();
    blocks += need;
    args.slots[args.count] = slot;
    args.block_end[args.count] = uint32_t(blocks);
    ++args.count;
  }
  launch();
}

}  // namespace kiln::cuda
