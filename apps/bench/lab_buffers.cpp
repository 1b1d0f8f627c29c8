// The kernel lab's buffers (lab_buffers.h).
#include "apps/bench/lab_buffers.h"

#include <random>

namespace kiln::apps::bench {

LabBuffer upload(const std::vector<float>& host, Device device) {
  return {from_vector(host, {int64_t(host.size())}, TensorOptions{DType::Float32, device})};
}

LabBuffer upload(const std::vector<int64_t>& host, Device device) {
  return {from_vector(host, {int64_t(host.size())}, TensorOptions{DType::Int64, device})};
}

LabBuffer zeros_f32(int64_t n, Device device) { return {zeros({n}, TensorOptions{DType::Float32, device})}; }

std::vector<double> download(const LabBuffer& buffer) {
  const Tensor host = buffer.tensor.to(Device::cpu());
  const int64_t n = host.numel();
  std::vector<double> out(static_cast<size_t>(n));
  if (host.dtype() == DType::Int64) {
    const int64_t* p = host.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(p[i]);
  } else {
    const float* p = host.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(p[i]);
  }
  return out;
}

std::vector<float> random_floats(int64_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

std::vector<int64_t> random_ints(int64_t n, uint64_t seed, int64_t lo, int64_t hi) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

void append(std::vector<double>& a, const std::vector<double>& b) { a.insert(a.end(), b.begin(), b.end()); }

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t d = int64_t(shape.size()) - 2; d >= 0; --d) s[size_t(d)] = s[size_t(d + 1)] * shape[size_t(d + 1)];
  return s;
}

}  // namespace kiln::apps::bench
