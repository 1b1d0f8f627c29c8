// safetensors files and other writers: tests/golden/numpy_written.safetensors (written by
// make_numpy_safetensors.py with numpy and the independent st_write.py) holds every dtype kiln reads,
// with values given by formulas recomputed here and compared bit for bit; and kiln's own writer's output
// is read back by that script's numpy reader when /usr/bin/python3 has numpy.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/serialization/half.h"
#include "core/serialization/safetensors.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

// The raw elements of a CPU tensor as T (T of the dtype's width).
template <class T>
std::vector<T> raw(const Tensor& t) {
  REQUIRE(dtype_size(t.dtype()) == sizeof(T));
  Tensor c = t.contiguous();
  std::vector<T> out(size_t(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.data(), out.size() * sizeof(T));
  return out;
}
template <class To, class From>
To bit_cast_to(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
template <class U, class F>
std::vector<U> bits_of(const std::vector<F>& values) {
  std::vector<U> out;
  for (F v : values) out.push_back(bit_cast_to<U>(v));
  return out;
}

void check_tensor(const SafetensorsFile& f, const std::string& name, DType dtype, const Shape& shape) {
  INFO(name);
  REQUIRE(f.contains(name));
  CHECK(f.at(name).dtype() == dtype);
  CHECK(f.at(name).shape() == shape);
}

// The same formulas as make_numpy_safetensors.py's tensors(), element i being the row-major index.
std::vector<std::pair<std::string, Tensor>> expected_tensors() {
  std::vector<std::pair<std::string, Tensor>> t;
  std::vector<float> f32;
  for (int i = 0; i < 24; ++i) f32.push_back(float((double(i) - 7) / 3));
  t.emplace_back("f32", from_vector(f32, {2, 3, 4}));
  std::vector<uint32_t> f32s = {0x00000000, 0x80000000, 0x7F800000, 0xFF800000,
                                0x7FC00001, 0x00000001, 0x7F7FFFFF, 0x00800000};
  Tensor special = empty({8}, {.dtype = DType::Float32});
  std::memcpy(special.data(), f32s.data(), 32);
  t.emplace_back("f32_special", special);
  std::vector<float> tr;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 2; ++c) tr.push_back(float(3 * c + r));
  t.emplace_back("f32_transposed", from_vector(tr, {3, 2}));
  std::vector<double> f64;
  for (int i = 0; i < 15; ++i) f64.push_back((double(i) - 4) / 7);
  t.emplace_back("f64", from_vector(f64, {3, 5}, {.dtype = DType::Float64}));
  std::vector<uint64_t> f64s = {0x8000000000000000ull, 0x7FF0000000000000ull, 0x7FF8000000000123ull,
                                0x0000000000000001ull, 0x7FEFFFFFFFFFFFFFull, 0x3FB999999999999Aull};
  Tensor special64 = empty({6}, {.dtype = DType::Float64});
  std::memcpy(special64.data(), f64s.data(), 48);
  t.emplace_back("f64_special", special64);
  std::vector<float> f16;
  for (int i = 0; i < 8; ++i) f16.push_back(float(i) / 4 - 1);
  t.emplace_back("f16", to_half_from_float32(from_vector(f16, {2, 4}), DType::Float16));
  auto half_bits = [](DType dtype, const std::vector<uint16_t>& bits) {
    Tensor h = empty({int64_t(bits.size())}, {.dtype = dtype});
    std::memcpy(h.data(), bits.data(), bits.size() * 2);
    return h;
  };
  t.emplace_back("f16_special", half_bits(DType::Float16, {0x7BFF, 0xFBFF, 0x0001, 0x8000, 0x7C00, 0x7E01}));
  std::vector<float> bf16;
  for (int i = 0; i < 6; ++i) bf16.push_back(float((i - 2.5) * std::ldexp(1.0, i)));
  t.emplace_back("bf16", to_half_from_float32(from_vector(bf16, {3, 2}), DType::BFloat16));
  t.emplace_back("bf16_special", half_bits(DType::BFloat16, {0x7F80, 0x8000, 0x7FC1, 0x7F7F, 0x0001}));
  std::vector<int64_t> i64;
  for (int64_t i = 0; i < 8; ++i) i64.push_back(i * 1000000007 - 3000000000000);
  t.emplace_back("i64", from_vector(i64, {2, 2, 2}, {.dtype = DType::Int64}));
  t.emplace_back("i64_special", from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(),
                                                                 std::numeric_limits<int64_t>::max(), -1, 0},
                                            {4}, {.dtype = DType::Int64}));
  std::vector<int32_t> i32;
  for (int32_t i = 0; i < 7; ++i) i32.push_back((i * i - 10) * 12345);
  i32.push_back(std::numeric_limits<int32_t>::min());
  i32.push_back(std::numeric_limits<int32_t>::max());
  Tensor ti32 = empty({9}, {.dtype = DType::Int32});
  std::memcpy(ti32.data(), i32.data(), 36);
  t.emplace_back("i32", ti32);
  Tensor u8 = empty({4, 4}, {.dtype = DType::UInt8});
  for (int i = 0; i < 16; ++i) static_cast<uint8_t*>(u8.data())[i] = uint8_t((i * 37) % 256);
  t.emplace_back("u8", u8);
  Tensor b = empty({3, 3}, {.dtype = DType::Bool});
  for (int i = 0; i < 9; ++i) static_cast<bool*>(b.data())[i] = i % 3 == 0;
  t.emplace_back("bool", b);
  t.emplace_back("scalar_f64", from_vector(std::vector<double>{-1.0 / 3.0}, Shape{}, {.dtype = DType::Float64}));
  t.emplace_back("scalar_i64", from_vector(std::vector<int64_t>{42}, Shape{}, {.dtype = DType::Int64}));
  t.emplace_back("empty_f32", zeros({0}));
  t.emplace_back("empty_i64", zeros({2, 0, 3}, {.dtype = DType::Int64}));
  return t;
}

const std::map<std::string, std::string> kMetadata = {
    {"writer", "numpy + st_write.py"},
    {"text", "quote \" backslash \\ newline \n tab \t \xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80"}};

std::vector<unsigned char> bytes(const Tensor& t) {
  std::vector<unsigned char> out(size_t(t.numel()) * dtype_size(t.dtype()));
  Tensor c = t.contiguous();
  if (!out.empty()) std::memcpy(out.data(), c.data(), out.size());
  return out;
}

}  // namespace

TEST_CASE("safetensors: every dtype written by numpy reads back exactly", "[checkpoint][safetensors]") {
  SafetensorsFile f = load_safetensors(test::golden_path("numpy_written.safetensors"));
  CHECK(f.metadata == kMetadata);
  const auto expected = expected_tensors();
  REQUIRE(f.tensors.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, want] = expected[i];
    INFO(name);
    CHECK(f.tensors[i].first == name);  // in the order numpy wrote them
    check_tensor(f, name, want.dtype(), want.shape());
    CHECK(bytes(f.at(name)) == bytes(want));
  }

  // Spelled out for a few, so the comparison above cannot pass by computing both sides the same wrong way.
  CHECK(f.at("f32").to_vector<float>()[0] == float(-7.0 / 3));
  CHECK(f.at("f32").to_vector<float>()[23] == float(16.0 / 3));
  CHECK(f.at("f32_transposed").to_vector<float>() == std::vector<float>({0, 3, 1, 4, 2, 5}));
  CHECK(f.at("f64").to_vector<double>()[14] == 10.0 / 7);
  const auto f32s = raw<uint32_t>(f.at("f32_special"));
  CHECK(f32s[4] == 0x7FC00001u);  // a NaN keeps its payload
  CHECK(std::isinf(bit_cast_to<float>(f32s[2])));
  CHECK(raw<uint64_t>(f.at("f64_special"))[5] == bit_cast_to<uint64_t>(0.1));
  CHECK(to_float32_from_half(f.at("f16")).to_vector<float>() ==
        std::vector<float>({-1.f, -0.75f, -0.5f, -0.25f, 0.f, 0.25f, 0.5f, 0.75f}));
  CHECK(raw<uint16_t>(f.at("f16"))[0] == 0xBC00);  // −1 in binary16
  CHECK(to_float32_from_half(f.at("f16_special")).to_vector<float>()[0] == 65504.f);
  CHECK(to_float32_from_half(f.at("f16_special")).to_vector<float>()[2] == std::ldexp(1.f, -24));
  CHECK(to_float32_from_half(f.at("bf16")).to_vector<float>() ==
        std::vector<float>({-2.5f, -3.f, -2.f, 4.f, 24.f, 80.f}));
  CHECK(raw<uint16_t>(f.at("bf16"))[0] == 0xC020);  // −2.5 in bfloat16
  CHECK(raw<uint16_t>(f.at("bf16_special"))[2] == 0x7FC1);
  CHECK(raw<int64_t>(f.at("i64_special"))[0] == std::numeric_limits<int64_t>::min());
  CHECK(raw<int64_t>(f.at("i64"))[7] == 7 * int64_t(1000000007) - 3000000000000);
  CHECK(raw<int32_t>(f.at("i32"))[6] == (36 - 10) * 12345);
  CHECK(raw<uint8_t>(f.at("u8"))[15] == (15 * 37) % 256);
  CHECK(f.at("bool").dtype() == DType::Bool);
  CHECK(raw<uint8_t>(f.at("bool")) == std::vector<uint8_t>({1, 0, 0, 1, 0, 0, 1, 0, 0}));
  CHECK(f.at("scalar_f64").dim() == 0);
  CHECK(f.at("scalar_f64").item() == -1.0 / 3.0);
  CHECK(f.at("scalar_i64").item() == 42);
  CHECK(f.at("empty_i64").shape() == Shape({2, 0, 3}));
}

TEST_CASE("safetensors: kiln's own files read back by kiln and by numpy", "[checkpoint][safetensors]") {
  const auto expected = expected_tensors();
  auto dir = std::filesystem::temp_directory_path() / ("kiln_test_st_numpy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "kiln_written.safetensors").string();
  // A non-contiguous view goes in for "f32_transposed", as numpy's writer was given one.
  auto tensors = expected;
  tensors[2].second = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}).t();
  save_safetensors(path, tensors, kMetadata);

  SafetensorsFile back = load_safetensors(path);
  CHECK(back.metadata == kMetadata);
  REQUIRE(back.tensors.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(expected[i].first);
    CHECK(back.tensors[i].first == expected[i].first);
    CHECK(back.tensors[i].second.shape() == expected[i].second.shape());
    CHECK(bytes(back.tensors[i].second) == bytes(expected[i].second));
  }

  // The independent numpy reader, where Debian's python3-numpy is installed (CI machines may lack it).
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) {
    WARN("no /usr/bin/python3 with numpy: the numpy reader check is skipped");
    return;
  }
  const std::string script = test::golden_path("make_numpy_safetensors.py");
  const std::string command = "/usr/bin/python3 '" + script + "' --check '" + path + "'";
  INFO(command);
  CHECK(std::system(command.c_str()) == 0);
}
