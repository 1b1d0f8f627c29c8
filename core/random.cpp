#include "core/random.h"

#include "core/error.h"
#include "core/graph_capture.h"
#include "core/tensor_data.h"
#include "kernels/cpu/random.h"
#if KILN_HAVE_CUDA
#include "kernels/cuda/cuda_kernels.h"
#endif

namespace kiln {

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

philox::Args Generator::draw(int64_t numel, Device device) {
  GraphCapture* capture = GraphCapture::current();
  if (capture != nullptr && !device.is_cpu() && capture->device() == device) return capture->philox(*this, numel);
  return {seed_, advance(numel), nullptr};
}

namespace {

Tensor random_float(const Shape& shape, TensorOptions options, Generator& gen, cpu::RandomKind kind, double a,
                    double b, const char* op) {
  KILN_CHECK(is_computable_float(options.dtype), op, ": dtype must be float32 or float64, got ",
             dtype_name(options.dtype));
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  const philox::Args philox = gen.draw(t.numel(), t.device());
  if (t.device().is_cpu()) {
    cpu::random_fill(t.data(), t.dtype(), t.numel(), kind, a, b, philox.seed, philox.offset);
  } else {
#if KILN_HAVE_CUDA
    cuda::use_device(t.device().index);
    cuda::random_fill(t.data(), t.dtype(), t.numel(), int(kind), a, b, philox);
#else
    throw_no_kernel(op, t.device());
#endif
  }
  if (rg) t.requires_grad_(true);
  return t;
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, Generator& gen) {
  return random_float(shape, options, gen, cpu::RandomKind::Uniform, 0.0, 1.0, "rand");
}

Tensor uniform(const Shape& shape, double low, double high, TensorOptions options, Generator& gen) {
  KILN_CHECK(low <= high, "uniform: low ", low, " is greater than high ", high);
  return random_float(shape, options, gen, cpu::RandomKind::Uniform, low, high, "uniform");
}

Tensor randn(const Shape& shape, TensorOptions options, Generator& gen) {
  return random_float(shape, options, gen, cpu::RandomKind::Normal, 0.0, 1.0, "randn");
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator& gen) {
  KILN_CHECK(low < high, "randint: low ", low, " must be less than high ", high);
  Tensor t = empty(shape, {.dtype = DType::Int64, .device = options.device});
  const philox::Args philox = gen.draw(t.numel(), t.device());
  if (t.device().is_cpu()) {
    cpu::random_integers(t.data_ptr<int64_t>(), t.numel(), low, high, philox.seed, philox.offset);
  } else {
#if KILN_HAVE_CUDA
    cuda::use_device(t.device().index);
    cuda::random_integers(t.data_ptr<int64_t>(), t.numel(), low, high, philox);
#else
    throw_no_kernel("randint", t.device());
#endif
  }
  if (options.dtype == DType::Int64) return t;
  Tensor out = empty(shape, {.dtype = options.dtype, .device = options.device});
  copy_data(out, t);
  return out;
}

Tensor randperm(int64_t n, Generator& gen) {
  KILN_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  // Fisher–Yates on the host, driven by the Philox stream: reproducible from the seed.
  Tensor keys = randint(0, int64_t(1) << 31, {n}, {.dtype = DType::Int64}, gen);
  const int64_t* k = keys.data_ptr<int64_t>();
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[k[i] % (i + 1)]);
  return from_vector(perm, {n}, {.dtype = DType::Int64});
}

}  // namespace kiln
