#include "core/tensor_data.h"

#include "core/allocator.h"
#include "core/error.h"
#include "kernels/cpu/copy.h"
#if KILN_HAVE_CUDA
#include "kernels/cuda/cuda_kernels.h"
#endif

namespace kiln {

void copy_data(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  Strides src_strides = broadcast_strides(src.shape(), src.strides(), dst.shape());
  if (dst.device() == src.device()) {
    if (dst.device().is_cpu()) {
      cpu::copy_strided(dst.shape(), dst.data(), dst.dtype(), dst.strides().data(), src.data(), src.dtype(),
                        src_strides.data());
      return;
    }
#if KILN_HAVE_CUDA
    cuda::use_device(dst.device().index);
    cuda::copy_strided(dst.shape(), dst.data(), dst.dtype(), dst.strides().data(), src.data(), src.dtype(),
                       src_strides.data());
    return;
#else
    throw_no_kernel("copy", dst.device());
#endif
  }
  // Across devices: stage through a contiguous buffer of dst's dtype on src's device, then one memcpy.
  Tensor staged = empty(dst.shape(), {.dtype = dst.dtype(), .device = src.device()});
  copy_data(staged, src);
  if (dst.is_contiguous()) {
    copy_bytes(dst.data(), dst.device(), staged.data(), staged.device(), size_t(staged.numel()) * dtype_size(dst.dtype()));
    return;
  }
  Tensor landed = empty(dst.shape(), {.dtype = dst.dtype(), .device = dst.device()});
  copy_bytes(landed.data(), landed.device(), staged.data(), staged.device(), size_t(staged.numel()) * dtype_size(dst.dtype()));
  copy_data(dst, landed);
}

void fill_data(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  if (dst.device().is_cpu()) {
    cpu::fill_strided(dst.shape(), dst.data(), dst.dtype(), dst.strides().data(), value);
    return;
  }
#if KILN_HAVE_CUDA
  cuda::use_device(dst.device().index);
  cuda::fill_strided(dst.shape(), dst.data(), dst.dtype(), dst.strides().data(), value);
#else
  throw_no_kernel("fill", dst.device());
#endif
}

void throw_no_kernel(const char* op, Device device) {
  KILN_FAIL(op, ": no kernel for device ", device.str(), " yet",
            device.is_cuda() ? " (the CUDA kernels of this op are not written yet; use the CPU)" : "");
}

Device common_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    if (!first) first = t;
    KILN_CHECK(t->device() == first->device(), op, ": expected all tensors on one device, got ", first->device().str(),
               " and ", t->device().str());
  }
  return first ? first->device() : Device::cpu();
}

void check_float(const char* op, const char* arg, const Tensor& t) {
  KILN_CHECK(t.defined(), op, ": '", arg, "' is an undefined tensor");
  KILN_CHECK(is_computable_float(t.dtype()), op, ": '", arg, "' must be float32 or float64, got ", dtype_name(t.dtype()));
}

}  // namespace kiln
