// Data movement under the ops, without autograd: copy and fill into existing tensors on any device.
// Ops use these to build outputs; users use Tensor::copy_ / fill_, which also check autograd rules.
#pragma once
#include "core/cuda_context.h"
#include "core/tensor.h"

namespace kiln {

// Writes src (broadcast to dst's shape, converted to dst's dtype) into dst's memory; any devices.
void copy_data(const Tensor& dst, const Tensor& src);
// Writes value into every element of dst.
void fill_data(const Tensor& dst, double value);
// Throws the error ops raise when they have no kernel for a device yet.
[[noreturn]] void throw_no_kernel(const char* op, Device device);
// Checks that all defined tensors are on one device and returns it; names the op and the devices otherwise.
Device common_device(const char* op, std::initializer_list<const Tensor*> tensors);
// Checks that a tensor is floating point (float32/float64), naming the op and the argument.
void check_float(const char* op, const char* arg, const Tensor& t);

}  // namespace kiln

// KILN_DEVICE_CALL(device, "op", kernel, args...): calls kiln::cpu::kernel(args...) for a CPU device
// and kiln::cuda::kernel(args...) for a CUDA device (the two kernels share one signature), after making
// that device current (kernels launch on the current device's stream). In a build
// without CUDA the CUDA branch throws the "no kernel" error, so op code needs no #if.
#if KILN_HAVE_CUDA
#define KILN_DEVICE_CALL(DEVICE, OPNAME, KERNEL, ...)        \
  ((DEVICE).is_cpu() ? ::kiln::cpu::KERNEL(__VA_ARGS__)      \
                     : (::kiln::cuda::use_device((DEVICE).index), ::kiln::cuda::KERNEL(__VA_ARGS__)))
#else
#define KILN_DEVICE_CALL(DEVICE, OPNAME, KERNEL, ...) \
  ((DEVICE).is_cpu() ? ::kiln::cpu::KERNEL(__VA_ARGS__) : ::kiln::throw_no_kernel(OPNAME, DEVICE))
#endif
