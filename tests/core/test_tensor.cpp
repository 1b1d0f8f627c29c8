// Tensor basics: creation, metadata, views and their strides, copies, dtype/device conversion, printing.
#include "core/allocator.h"
#include "core/pinned_memory.h"
#include "core/random.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;

TEST_CASE("creation ops fill shapes with the right values and dtypes", "[tensor]") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == DType::Float32);
  CHECK(z.numel() == 6);
  CHECK(z.is_contiguous());
  CHECK(z.strides() == Strides{3, 1});
  CHECK_CLOSE(z, std::vector<double>(6, 0.0));
  CHECK_CLOSE(ones({4}, {.dtype = DType::Float64}), std::vector<double>(4, 1.0));
  CHECK_CLOSE(full({2, 2}, 2.5), std::vector<double>(4, 2.5));
  CHECK_CLOSE(arange(0.0, 1.0, 0.25), {0, 0.25, 0.5, 0.75});
  Tensor idx = arange(5, {.dtype = DType::Int64});
  CHECK(idx.dtype() == DType::Int64);
  CHECK(idx.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(3.0, 0.0, -1.0).to_vector<double>() == std::vector<double>{3, 2, 1});
  Tensor s = scalar_tensor(4.0);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 4.0);
  CHECK(dtype_size(DType::BFloat16) == 2);
  CHECK(std::string(dtype_name(DType::Float16)) == "float16");
}

TEST_CASE("creation ops reject bad arguments", "[tensor]") {
  CHECK_THROWS_WITH_TEXT(from_vector(std::vector<double>{1, 2, 3}, {2, 2}), "do not fill shape [2, 2]");
  CHECK_THROWS_WITH_TEXT(zeros({2, -1}), "negative size");
  CHECK_THROWS_WITH_TEXT(arange(0.0, 1.0, 0.0), "step non-zero");
  CHECK_THROWS_WITH_TEXT(ones({2}).item(), "exactly one");
  CHECK_THROWS_WITH_TEXT(Tensor().shape(), "undefined tensor");
  CHECK_THROWS_WITH_TEXT(ones({2}).data_ptr<double>(), "dtype float32");
  CHECK_THROWS_WITH_TEXT(zeros({int64_t(1) << 32, int64_t(1) << 32}), "more elements than fit in int64");
  CHECK_THROWS_WITH_TEXT(zeros({int64_t(1) << 31, int64_t(1) << 31}, {.dtype = DType::Float64}), "more bytes");
}

TEST_CASE("views share storage and compute strides like PyTorch", "[tensor]") {
  Tensor x = arange(0.0, 24.0, 1.0, {.dtype = DType::Float64}).view({2, 3, 4});
  Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.strides() == Strides{1, 4, 12});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.storage() == x.storage());
  CHECK(x[1].shape() == Shape{3, 4});
  CHECK(x[1][2][3].item() == 23);
  CHECK(x.select(2, -1).to_vector<double>() == std::vector<double>{3, 7, 11, 15, 19, 23});
  CHECK(x.slice(2, 1, 4, 2).to_vector<double>() == std::vector<double>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
  CHECK(x.narrow(1, 1, 1).shape() == Shape{2, 1, 4});
  CHECK(x.view({6, -1}).shape() == Shape{6, 4});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(x.unsqueeze(1).squeeze(1).shape() == Shape{2, 3, 4});
  CHECK(x.flatten(1).shape() == Shape{2, 12});
  CHECK(ones({1, 3, 1}).squeeze().shape() == Shape{3});
  // a transposed view cannot be viewed flat, but it can be reshaped (a copy)
  CHECK_THROWS_WITH_TEXT(t.view({24}), "use reshape()");
  Tensor flat = t.reshape({24});
  CHECK(flat.is_contiguous());
  CHECK(flat.to_vector<double>()[1] == 12);
  // splitting a dim of a permuted tensor is still a view
  CHECK(t.view({2, 2, 3, 2}).storage() == x.storage());
  Tensor e = f64({1, 2, 3}, {3, 1}).expand({3, 4});
  CHECK(e.strides() == Strides{1, 0});
  CHECK(e.to_vector<double>() == std::vector<double>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  CHECK(f64({5}, {1}).expand({2, -1}).shape() == Shape{2, 1});
}

TEST_CASE("view ops reject bad dims and shapes with clear messages", "[tensor]") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_TEXT(x.view({4, 2}), "invalid for input of 6 elements");
  CHECK_THROWS_WITH_TEXT(x.view({-1, -1}), "only one dimension can be -1");
  CHECK_THROWS_WITH_TEXT(x.transpose(0, 2), "dim 2 is out of range");
  CHECK_THROWS_WITH_TEXT(x.permute({0, 0}), "appears twice");
  CHECK_THROWS_WITH_TEXT(x.expand({3, 3}), "cannot expand shape [2, 3]");
  CHECK_THROWS_WITH_TEXT(x[5], "index 5 is out of range");
  CHECK_THROWS_WITH_TEXT(x.narrow(1, 2, 2), "exceed dim of size 3");
  CHECK_THROWS_WITH_TEXT(x.slice(0, 0, 1, 0), "step must be positive");
  CHECK(x.slice(1, 0, 3, INT64_MAX).shape() == Shape{2, 1});
  CHECK_THROWS_WITH_TEXT(x.narrow(1, 1, INT64_MAX), "exceed dim of size 3");
  CHECK_THROWS_WITH_TEXT(ones({1}).expand({-3}), "invalid size -3");
  CHECK_THROWS_WITH_TEXT(ones({1}).expand({3}).fill_(1.0), "expanded view");
  CHECK_THROWS_WITH_TEXT(x.view({int64_t(1) << 62, 4, -1}), "more elements than fit in int64");
}

TEST_CASE("contiguous, clone, copy_ and dtype conversion", "[tensor]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = x.t().contiguous();
  CHECK(t.is_contiguous());
  CHECK(t.to_vector<double>() == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(x.contiguous().is_same(x));
  Tensor c = x.clone();
  CHECK(c.storage() != x.storage());
  Tensor f = x.to(DType::Float32);
  CHECK(f.dtype() == DType::Float32);
  CHECK(f.to_vector<float>()[5] == 6.0f);
  CHECK(f64({1.7, -2.2}, {2}).to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{1, -2});
  Tensor dst = zeros({2, 3}, {.dtype = DType::Float64});
  dst.copy_(f64({7, 8, 9}, {3}));  // broadcast
  CHECK(dst.to_vector<double>() == std::vector<double>{7, 8, 9, 7, 8, 9});
  dst.t().copy_(x.t());
  CHECK(dst.to_vector<double>() == x.to_vector<double>());
  // overlapping copy: shift a row into itself through a temporary
  Tensor row = f64({1, 2, 3, 4}, {4});
  row.slice(0, 1, 4).copy_(row.slice(0, 0, 3));
  CHECK(row.to_vector<double>() == std::vector<double>{1, 1, 2, 3});
  CHECK_THROWS_WITH_TEXT(dst.copy_(ones({4})), "cannot broadcast");
}

TEST_CASE("printing shows values, shape and dtype", "[tensor]") {
  std::string s = f64({1, 2.5, -3, 4}, {2, 2}).str();
  CHECK(s.find("[[1.0000, 2.5000],") != std::string::npos);
  CHECK(s.find("shape=[2, 2], dtype=float64") != std::string::npos);
  std::string big = zeros({100, 100}).str();
  CHECK(big.find("...") != std::string::npos);
  Tensor r = f64({1}, {1}, true);
  CHECK(r.str().find("requires_grad=True") != std::string::npos);
  CHECK((r * 2.0).str().find("grad_fn=<mul_scalar>") != std::string::npos);
  CHECK(arange(3, {.dtype = DType::Int64}).str().find("[0, 1, 2]") != std::string::npos);
}

TEST_CASE("devices parse and CPU-only builds refuse CUDA tensors clearly", "[tensor]") {
  CHECK(parse_device("cpu") == Device::cpu());
  CHECK(parse_device("cuda:1") == Device::cuda(1));
  CHECK_THROWS_WITH_TEXT(parse_device("gpu"), "bad device 'gpu'");
  if (!cuda_is_available()) {
    CHECK_THROWS_AS(zeros({2}, {.device = Device::cuda()}), Error);
    CHECK_THROWS_AS(pin_memory(ones({2})), Error);
    CHECK_FALSE(is_pinned(ones({2})));
  }
}
