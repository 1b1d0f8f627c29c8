// Buffers of the kernel lab's problems: device memory from kiln's allocator (a Tensor owns it; kernels get its
// raw pointer), filled from host values, and read back to the host as double for the check. Deterministic
// random inputs, so that every version of a family sees the same numbers.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kiln::apps::bench {

// A contiguous float32 or int64 array on the lab's device.
struct LabBuffer {
  Tensor tensor;
  float* f() const { return tensor.data_ptr<float>(); }
  int64_t* i64() const { return tensor.data_ptr<int64_t>(); }
};

LabBuffer upload(const std::vector<float>& host, Device device);
LabBuffer upload(const std::vector<int64_t>& host, Device device);
LabBuffer zeros_f32(int64_t n, Device device);
std::vector<double> download(const LabBuffer& buffer);

// n values uniform in [lo, hi) from a fixed generator seeded with `seed`.
std::vector<float> random_floats(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f);
std::vector<int64_t> random_ints(int64_t n, uint64_t seed, int64_t lo, int64_t hi);
std::vector<double> to_double(const std::vector<float>& v);
// Appends b to a (for results made of several outputs).
void append(std::vector<double>& a, const std::vector<double>& b);
// Contiguous element strides of a shape.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);

}  // namespace kiln::apps::bench
