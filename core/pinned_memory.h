// Page-locked ("pinned") host memory, the staging area of host→GPU transfers: a copy from pinned
// memory can run asynchronously on a stream and overlap with compute (the data loader uses it).
// Pinned blocks are cached; a freed block is reused only after the work queued on the stream at the
// time it was freed has finished (a CUDA event), so an in-flight copy never reads a reused buffer.
#pragma once
#include "core/tensor.h"

namespace kiln {

// A CPU copy of t (contiguous) in pinned memory. Throws in a build without CUDA or without a GPU.
Tensor pin_memory(const Tensor& t);
bool is_pinned(const Tensor& t);
// Starts copying a pinned, contiguous CPU tensor to a CUDA device on that device's current stream
// and returns at once: kernels launched later on that stream see the data. No autograd.
Tensor to_device_async(const Tensor& pinned, Device device);
// A CPU tensor onto `device` for a training step: staged through pinned memory and copied asynchronously
// on a GPU; returned as it is for the CPU. (What the data loaders use.)
Tensor upload(const Tensor& t, Device device);

}  // namespace kiln
