// Indexing and joining: embedding, index_select, gather, one_hot, cat, stack, split, chunk.
// Values against hand-written numbers or naive loops, float64 gradient checks (repeated indices,
// padding_idx, several dims, non-contiguous inputs), and the error messages.
#include <functional>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

Tensor i64(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape, {.dtype = DType::Int64});
}

// The values of x in row-major order.
std::vector<double> values_of(const Tensor& x) { return x.contiguous().to_vector<double>(); }

}  // namespace

TEST_CASE("embedding picks rows of the weight for indices of any shape", "[index]") {
  Tensor w = arange(0.0, 15.0, 1.0, {.dtype = DType::Float64}).reshape({5, 3});
  Tensor idx = i64({1, 4, 0, 1}, {2, 2});
  Tensor y = embedding(w, idx);
  CHECK(y.shape() == Shape{2, 2, 3});
  CHECK_CLOSE(y, {3, 4, 5, 12, 13, 14, 0, 1, 2, 3, 4, 5}, 0, 0);
  // padding_idx changes only the gradient; float32 and a non-contiguous weight work too
  CHECK_CLOSE(embedding(w.to(DType::Float32), idx, 4), y.to_vector<double>(), 0, 0);
  Tensor wt = arange(0.0, 15.0, 1.0, {.dtype = DType::Float64}).reshape({3, 5}).t();  // [5, 3], strided
  CHECK_CLOSE(embedding(wt, i64({2}, {1})), {2, 7, 12}, 0, 0);
  CHECK(embedding(w, i64({3}, {})).shape() == Shape{3});  // 0-d indices → [D]
}

TEST_CASE("embedding backward sums repeated rows in order and leaves padding_idx at zero", "[index]") {
  Tensor w = random_input({6, 4}, 1);
  Tensor idx = i64({1, 3, 1, 5, 3, 1}, {2, 3});
  Tensor dy = random_input({2, 3, 4}, 2).detach();
  embedding(w, idx, 3).backward(dy);
  std::vector<double> g = w.grad().to_vector<double>(), d = dy.to_vector<double>();
  std::vector<double> expected(24, 0.0);
  const int64_t rows[] = {1, 3, 1, 5, 3, 1};
  for (int i = 0; i < 6; ++i)
    if (rows[i] != 3)
      for (int k = 0; k < 4; ++k) expected[size_t(rows[i] * 4 + k)] += d[size_t(i * 4 + k)];
  CHECK_CLOSE(w.grad(), expected, 1e-15, 0);
  for (int k = 0; k < 4; ++k) CHECK(g[size_t(3 * 4 + k)] == 0.0);
}

TEST_CASE("embedding: gradient checks with repeated indices and padding_idx", "[index][gradcheck]") {
  Tensor idx = i64({1, 3, 1, 5, 3, 1, 0, 2}, {2, 4});
  Tensor w = random_input({6, 4}, 3);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(in[0], idx); }, {w});
  Tensor wt = random_input({4, 6}, 4);  // weight given as a transposed view
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(in[0].t(), idx); }, {wt});
  // The padding row is used in the forward but gets no gradient (by definition, as in PyTorch), so
  // it is held fixed here: the weight is [rows above | fixed padding row | rows below].
  for (int64_t pad : {int64_t(1), int64_t(3)}) {
    INFO("padding_idx " << pad);
    Tensor above = random_input({pad, 4}, 5), below = random_input({5 - pad, 4}, 6);
    Tensor pad_row = f64({0.5, -1.0, 1.5, 2.0}, {1, 4});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(cat({in[0], pad_row, in[1]}), idx, pad); },
                    {above, below});
  }
}

TEST_CASE("index_select matches a naive loop along every dim", "[index]") {
  Tensor x = random_input({3, 4, 5}, 5).detach();
  std::vector<double> xv = values_of(x);
  Tensor idx = i64({2, 0, 2}, {3});
  for (int64_t dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    Shape s = {3, 4, 5};
    Shape ys = s;
    ys[dim] = 3;
    std::vector<double> expected;
    for (int64_t a = 0; a < ys[0]; ++a)
      for (int64_t b = 0; b < ys[1]; ++b)
        for (int64_t c = 0; c < ys[2]; ++c) {
          int64_t p[3] = {a, b, c};
          p[dim] = std::vector<int64_t>{2, 0, 2}[size_t(p[dim])];
          expected.push_back(xv[size_t((p[0] * 4 + p[1]) * 5 + p[2])]);
        }
    Tensor y = index_select(x, dim, idx);
    CHECK(y.shape() == ys);
    CHECK_CLOSE(y, expected, 0, 0);
    CHECK_CLOSE(index_select(x, dim - 3, idx), expected, 0, 0);
  }
  // int64 data, a 0-d index and a 0-d x
  CHECK(index_select(i64({7, 8, 9}, {3}), 0, i64({2, 2}, {2})).to_vector<int64_t>() == std::vector<int64_t>{9, 9});
  CHECK(index_select(x, 1, i64({3}, {})).shape() == Shape{3, 1, 5});
  CHECK_CLOSE(index_select(f64({4.5}, {}), 0, i64({0}, {1})), {4.5}, 0, 0);
}

TEST_CASE("index_select: gradient checks along several dims, repeated indices, strided x", "[index][gradcheck]") {
  Tensor idx = i64({1, 0, 1, 3}, {4});
  for (int64_t dim : {0, 1, -1}) {
    INFO("dim " << dim);
    Tensor x = random_input({4, 4, 4}, 6);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return index_select(in[0], dim, idx); }, {x});
    Tensor base = random_input({4, 4, 4}, 7);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return index_select(in[0].permute({2, 0, 1}), dim, idx); },
                    {base});
  }
}

TEST_CASE("gather matches a naive loop, with an index smaller than x", "[index]") {
  Tensor x = random_input({3, 4, 5}, 8).detach();
  std::vector<double> xv = values_of(x);
  for (int64_t dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    Shape s = {3, 4, 5};
    Shape is = {2, 3, 4};
    is[dim] = 6;  // may exceed x along dim
    std::vector<int64_t> iv;
    for (int64_t k = 0; k < shape_numel(is); ++k) iv.push_back((k * 7 + 3) % s[dim]);
    std::vector<double> expected;
    int64_t k = 0;
    for (int64_t a = 0; a < is[0]; ++a)
      for (int64_t b = 0; b < is[1]; ++b)
        for (int64_t c = 0; c < is[2]; ++c, ++k) {
          int64_t p[3] = {a, b, c};
          p[dim] = iv[size_t(k)];
          expected.push_back(xv[size_t((p[0] * 4 + p[1]) * 5 + p[2])]);
        }
    Tensor y = gather(x, dim, i64(iv, is));
    CHECK(y.shape() == is);
    CHECK_CLOSE(y, expected, 0, 0);
    // a non-contiguous index (transposed) gives the transposed result
    Tensor it = i64(iv, is).transpose(0, 2).contiguous().transpose(0, 2);
    CHECK_CLOSE(gather(x, dim, it), expected, 0, 0);
  }
  // the classic use: pick one class per row
  Tensor logits = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_CLOSE(gather(logits, 1, i64({2, 0}, {2, 1})), {3, 4}, 0, 0);
}

TEST_CASE("gather: gradient checks along several dims, repeated indices, strided x", "[index][gradcheck]") {
  for (int64_t dim : {0, 1, 2, -2}) {
    INFO("dim " << dim);
    int64_t d = dim < 0 ? dim + 3 : dim;
    Shape is = {3, 2, 3};
    is[size_t(d)] = 5;
    std::vector<int64_t> iv;
    for (int64_t k = 0; k < shape_numel(is); ++k) iv.push_back((k * 5 + 1) % 4);  // repeats
    Tensor idx = i64(iv, is);
    Tensor x = random_input({4, 4, 4}, 9);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return gather(in[0], dim, idx); }, {x});
    Tensor base = random_input({4, 4, 4}, 10);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return gather(in[0].transpose(0, 2), dim, idx); }, {base});
  }
}

TEST_CASE("one_hot encodes int64 classes, and -1 infers max + 1", "[index]") {
  Tensor y = one_hot(i64({0, 2, 1, 2}, {2, 2}), 4);
  CHECK(y.dtype() == DType::Int64);
  CHECK(y.shape() == Shape{2, 2, 4});
  CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0});
  CHECK(one_hot(i64({3, 1}, {2}), -1).shape() == Shape{2, 4});
  CHECK_THROWS_WITH_TEXT(one_hot(i64({0, 5}, {2}), 3), "class value 5 is out of range for num_classes 3");
  CHECK_THROWS_WITH_TEXT(one_hot(i64({-1}, {1}), 3), "must be non-negative");
  CHECK_THROWS_WITH_TEXT(one_hot(i64({}, {0}), -1), "cannot infer num_classes");
  CHECK_THROWS_WITH_TEXT(one_hot(f64({1}, {1}), 2), "must be int64");
}

TEST_CASE("cat joins along dims 0, 1 and -1, with non-contiguous inputs", "[index]") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64({7, 8, 9}, {1, 3});
  CHECK_CLOSE(cat({a, b}, 0), {1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 0);
  Tensor c = f64({10, 11, 12, 13}, {2, 2}).t();  // [[10, 12], [11, 13]]
  Tensor y = cat({a, c}, 1);
  CHECK(y.shape() == Shape{2, 5});
  CHECK_CLOSE(y, {1, 2, 3, 10, 12, 4, 5, 6, 11, 13}, 0, 0);
  CHECK_CLOSE(cat({c, a, c}, -1), {10, 12, 1, 2, 3, 10, 12, 11, 13, 4, 5, 6, 11, 13}, 0, 0);
  // int64 tensors, empty pieces, and PyTorch's legacy skipping of 1-D empty tensors
  CHECK(cat({i64({1, 2}, {2}), i64({3}, {1})}).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});
  CHECK(cat({a, zeros({0, 3}, {.dtype = DType::Float64}), b}).shape() == Shape{3, 3});
  CHECK(cat({zeros({0}, {.dtype = DType::Float64}), a}, 1).shape() == Shape{2, 3});
  // a skipped empty input still gets a (zero-size) gradient, as in PyTorch
  Tensor empty_leaf = zeros({0}, {.dtype = DType::Float64, .requires_grad = true});
  Tensor a_leaf = f64({1, 2}, {1, 2}).requires_grad_();
  sum(cat({empty_leaf, a_leaf}, 1)).backward();
  REQUIRE(empty_leaf.grad().defined());
  CHECK(empty_leaf.grad().shape() == Shape{0});
}

TEST_CASE("cat: gradient checks along dims 0, 1, -1 with non-contiguous inputs", "[index][gradcheck]") {
  Tensor a = random_input({3, 4}, 11), b = random_input({2, 4}, 12), ct = random_input({4, 3}, 13);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2].t()}, 0); }, {a, b, ct});
  Tensor d = random_input({3, 2}, 14), e = random_input({3, 5}, 15);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1].t(), in[2]}, 1); },
                  {d, random_input({4, 3}, 16), e});
  Tensor p = random_input({2, 3, 4}, 17);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1].permute({2, 0, 1}), in[0]}, -1); },
                  {p, random_input({3, 2, 2}, 19)});
  // only some inputs require grad
  Tensor fixed = f64({1, 2, 3, 4}, {1, 4});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return cat({fixed, in[0]}, 0); }, {b});
}

TEST_CASE("stack, split and chunk", "[index]") {
  Tensor a = f64({1, 2, 3}, {3}), b = f64({4, 5, 6}, {3});
  CHECK(stack({a, b}).shape() == Shape{2, 3});
  CHECK_CLOSE(stack({a, b}), {1, 2, 3, 4, 5, 6}, 0, 0);
  CHECK(stack({a, b}, 1).shape() == Shape{3, 2});
  CHECK_CLOSE(stack({a, b}, -1), {1, 4, 2, 5, 3, 6}, 0, 0);

  Tensor x = arange(0.0, 14.0, 1.0, {.dtype = DType::Float64}).reshape({2, 7});
  std::vector<Tensor> parts = split(x, 3, 1);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].shape() == Shape{2, 3});
  CHECK(parts[2].shape() == Shape{2, 1});
  CHECK_CLOSE(parts[1], {3, 4, 5, 10, 11, 12}, 0, 0);
  CHECK(parts[1].storage() == x.storage());  // views
  CHECK(split(x, 10, 1).size() == 1);
  std::vector<Tensor> sized = split(x, {2, 0, 5}, -1);
  REQUIRE(sized.size() == 3);
  CHECK(sized[1].shape() == Shape{2, 0});
  CHECK_CLOSE(sized[2], {2, 3, 4, 5, 6, 9, 10, 11, 12, 13}, 0, 0);

  // PyTorch's chunk sizing: ⌈n/chunks⌉ each, so possibly fewer chunks than asked
  auto sizes = [](const std::vector<Tensor>& ts) {
    std::vector<int64_t> s;
    for (const Tensor& t : ts) s.push_back(t.size(0));
    return s;
  };
  Tensor v = arange(0.0, 6.0, 1.0, {.dtype = DType::Float64});
  CHECK(sizes(chunk(v, 4)) == std::vector<int64_t>{2, 2, 2});
  CHECK(sizes(chunk(v, 5)) == std::vector<int64_t>{2, 2, 2});
  CHECK(sizes(chunk(v, 6)) == std::vector<int64_t>{1, 1, 1, 1, 1, 1});
  CHECK(sizes(chunk(arange(0.0, 5.0, 1.0, {.dtype = DType::Float64}), 2)) == std::vector<int64_t>{3, 2});
  CHECK(sizes(chunk(v, 10)) == std::vector<int64_t>{1, 1, 1, 1, 1, 1});
  CHECK(sizes(chunk(zeros({0}), 3)) == std::vector<int64_t>{0, 0, 0});
}

TEST_CASE("stack, split and chunk: gradient checks through combined pieces", "[index][gradcheck]") {
  Tensor a = random_input({2, 3}, 20), b = random_input({3, 2}, 21);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return stack({in[0], in[1].t(), in[0]}, 1); }, {a, b});
  Tensor x = random_input({3, 7}, 22);
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> p = split(in[0], 3, 1);  // [3,3], [3,3], [3,1]
        return p[0] * p[1] + p[2];
      },
      {x});
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> p = split(in[0].t(), {2, 4, 1}, 0);  // [2,3], [4,3], [1,3]
        return cat({p[2] * p[0], p[1]}, 0);
      },
      {x});
  Tensor y = random_input({6, 4}, 23);
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> c = chunk(in[0], 3, 0);  // three [2, 4]
        return stack({c[0] - c[2], c[1] * c[1]}, -1);
      },
      {y});
}

TEST_CASE("indexing ops report bad indices and shapes clearly", "[index]") {
  Tensor w = zeros({10, 3}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH_TEXT(embedding(w, i64({1, 12}, {2})), "embedding: index 12 is out of range for 10 rows");
  CHECK_THROWS_WITH_TEXT(embedding(w, i64({-1}, {1})), "embedding: index -1 is out of range for 10 rows");
  CHECK_THROWS_WITH_TEXT(embedding(w, f64({1}, {1})), "embedding: 'indices' must be int64");
  CHECK_THROWS_WITH_TEXT(embedding(zeros({10}), i64({1}, {1})), "weight has 1 dims");
  CHECK_THROWS_WITH_TEXT(embedding(w, i64({1}, {1}), 10), "padding_idx 10");
  Tensor x = zeros({3, 4}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH_TEXT(index_select(x, 1, i64({0, 4}, {2})),
                         "index_select: index 4 is out of range for dim 1 of size 4");
  CHECK_THROWS_WITH_TEXT(index_select(x, 2, i64({0}, {1})), "dim 2 is out of range");
  CHECK_THROWS_WITH_TEXT(index_select(x, 0, i64({0, 1}, {1, 2})), "index must be 1-D");
  CHECK_THROWS_WITH_TEXT(gather(x, 0, i64({3}, {1, 1})), "gather: index 3 is out of range for dim 0 of size 3");
  CHECK_THROWS_WITH_TEXT(gather(x, 0, i64({0}, {1})), "same number of dims");
  CHECK_THROWS_WITH_TEXT(gather(x, 0, i64({0, 0, 0, 0, 0}, {1, 5})), "larger than x of shape [3, 4] in dim 1");
  CHECK_THROWS_WITH_TEXT(cat({}, 0), "non-empty list");
  CHECK_THROWS_WITH_TEXT(cat({x, zeros({3, 5}, {.dtype = DType::Float64})}, 0),
                         "sizes of tensors must match except in dim 0");
  CHECK_THROWS_WITH_TEXT(cat({x, zeros({3, 4})}, 0), "same dtype");
  CHECK_THROWS_WITH_TEXT(cat({x, zeros({3, 4, 1}, {.dtype = DType::Float64})}, 0), "same number of dims");
  CHECK_THROWS_WITH_TEXT(cat({x, scalar_tensor(1.0, {.dtype = DType::Float64})}, 0), "zero-dimensional tensor");
  CHECK_THROWS_WITH_TEXT(stack({x, zeros({4, 3}, {.dtype = DType::Float64})}), "equal size");
  CHECK_THROWS_WITH_TEXT(split(x, {1, 1}, 0), "sum exactly to 3");
  CHECK_THROWS_WITH_TEXT(split(x, 0, 0), "split_size can only be 0");
  CHECK_THROWS_WITH_TEXT(chunk(x, 0, 0), "chunks must be greater than 0");
}
