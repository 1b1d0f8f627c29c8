// safetensors reading and writing (the real format), the half-precision conversions, and the atomic
// file writer under them.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>

#include "core/printable.h"
#include "core/serialization/atomic_file.h"
#include "core/serialization/finite_check.h"
#include "core/serialization/half.h"
#include "core/serialization/safetensors.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("kiln_test_safetensors_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}
std::string temp_path(const std::string& name) { return (temp_dir() / name).string(); }

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file as an independent writer makes it: u64 LE length, the header text, the data.
std::string st_file(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out += char((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

// Row-major bytes of a CPU tensor, walked with its strides (independent of the library's copy).
std::string rowmajor_bytes(const Tensor& t) {
  size_t es = dtype_size(t.dtype());
  std::string out;
  if (t.numel() == 0) return out;
  const char* base = static_cast<const char*>(t.data());
  std::vector<int64_t> idx(size_t(t.dim()), 0);
  while (true) {
    int64_t off = 0;
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[size_t(d)] * t.stride(d);
    out.append(base + off * int64_t(es), es);
    int64_t d = t.dim() - 1;
    for (; d >= 0; --d) {
      if (++idx[size_t(d)] < t.size(d)) break;
      idx[size_t(d)] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

// A contiguous CPU tensor of any dtype filled with the given element bytes (little-endian).
template <class T>
Tensor raw_tensor(DType dtype, const std::vector<T>& values, const Shape& shape) {
  Tensor t = empty(shape, {.dtype = dtype});
  REQUIRE(size_t(t.numel()) * dtype_size(dtype) == values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
  return t;
}

void check_same(const Tensor& loaded, const Tensor& original) {
  CHECK(loaded.dtype() == original.dtype());
  CHECK(loaded.shape() == original.shape());
  CHECK(loaded.device().is_cpu());
  CHECK(loaded.is_contiguous());
  CHECK(rowmajor_bytes(loaded) == rowmajor_bytes(original));
}

// load_safetensors must throw a kiln::Error naming the file and containing `text`.
void check_load_error(const std::string& path, const std::string& text) {
  bool threw = false;
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    threw = true;
    std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(text) != std::string::npos);
  }
  INFO("expected an error containing: " << text);
  CHECK(threw);
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype, views, 0-d and empty tensors", "[safetensors]") {
  std::vector<std::pair<std::string, Tensor>> tensors;
  Tensor f32 = from_vector<float>({1.5f, -2.f, 3.25f, 4.f, 5.f, -6.5f}, {2, 3});
  tensors.emplace_back("f32_transposed", f32.t());  // non-contiguous
  tensors.emplace_back("f64", from_vector<double>({1e-300, -0.1, 3.0}, {3}));
  tensors.emplace_back("f64_scalar", scalar_tensor(2.5, {.dtype = DType::Float64}));  // 0-d
  tensors.emplace_back("i64_sliced", from_vector<int64_t>({0, -1, 2, -3, 4, int64_t(1) << 40}, {6}).slice(0, 1, 6, 2));
  tensors.emplace_back("i32", from_vector<int32_t>({7, -8, 2147483647, -2147483647 - 1}, {2, 2}));
  tensors.emplace_back("u8", raw_tensor<uint8_t>(DType::UInt8, {0, 1, 200, 255}, {4}));
  tensors.emplace_back("bool", raw_tensor<uint8_t>(DType::Bool, {1, 0, 0, 1, 1, 0}, {3, 2}));
  Tensor bf16 = raw_tensor<uint16_t>(DType::BFloat16, {0x3F80, 0xC000, 0x7F80, 0x0001, 0x3FC0, 0x8000}, {2, 3});
  tensors.emplace_back("bf16_transposed", bf16.t());
  tensors.emplace_back("f16", raw_tensor<uint16_t>(DType::Float16, {0x3C00, 0x7BFF, 0x0001, 0xFC00}, {1, 4}));
  tensors.emplace_back("empty_f32", zeros({0, 3}));
  tensors.emplace_back("empty_i64", empty({2, 0}, {.dtype = DType::Int64}));
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "quote \" backslash \\ newline \n tab \t ctrl \x01 \xC3\xBC \xE2\x82\xAC"}};

  std::string path = temp_path("roundtrip.safetensors");
  save_safetensors(path, tensors, metadata);

  // The layout: the header length, a header padded with spaces to a multiple of 8, then the data.
  std::string bytes = read_all(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes[8] == '{');
  std::string header = bytes.substr(8, size_t(n));
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));
  size_t total = 0;
  for (const auto& [name, t] : tensors) total += size_t(t.numel()) * dtype_size(t.dtype());
  CHECK(bytes.size() == 8 + n + total);

  SafetensorsFile file = load_safetensors(path);
  CHECK(file.metadata == metadata);
  REQUIRE(file.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO("tensor " << tensors[i].first);
    CHECK(file.tensors[i].first == tensors[i].first);
    check_same(file.tensors[i].second, tensors[i].second);
  }
  CHECK(file.at("f64_scalar").dim() == 0);
  CHECK(file.at("f64_scalar").item() == 2.5);
  CHECK(file.at("f32_transposed").to_vector<float>() == std::vector<float>({1.5f, 4.f, -2.f, 5.f, 3.25f, -6.5f}));
  CHECK(file.contains("u8"));
  CHECK_FALSE(file.contains("nope"));
  CHECK_THROWS_WITH_TEXT(file.at("nope"), "no tensor named 'nope'");

  // Saving again over the file replaces it; no temporary files are left behind.
  save_safetensors(path, {{"only", from_vector<float>({1.f}, {1})}});
  SafetensorsFile again = load_safetensors(path);
  CHECK(again.tensors.size() == 1);
  CHECK(again.metadata.empty());
  for (const auto& entry : std::filesystem::directory_iterator(temp_dir()))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("safetensors: a file written byte by byte by another writer", "[safetensors]") {
  // Keys out of data order, whitespace, escapes and __metadata__ in the middle, as any JSON writer may do.
  std::string header =
      "{ \"b\\u00e9\" : {\"shape\": [2], \"dtype\": \"I32\", \"data_offsets\": [8, 16]},\n"
      "  \"__metadata__\": {\"k\\\"ey\": \"v\\n\\u20ac\\ud83d\\ude00\"},\n"
      "  \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},\n"
      "  \"h\": {\"dtype\": \"BF16\", \"shape\": [1, 2], \"data_offsets\": [16, 20]},\n"
      "  \"s\": {\"dtype\": \"F16\", \"shape\": [], \"data_offsets\": [20, 22]},\n"
      "  \"z\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [22, 22]} }";
  std::string data = std::string("\x00\x00\x80\x3F", 4) + std::string("\x00\x00\x00\xC0", 4)  // a: 1, -2
                     + std::string("\x07\x00\x00\x00", 4) + std::string("\xFF\xFF\xFF\xFF", 4)  // b: 7, -1
                     + std::string("\xC0\x3F", 2) + std::string("\x20\xC1", 2)  // h: bf16 1.5, -10
                     + std::string("\x00\x3E", 2);                                // s: f16 1.5
  std::string path = temp_path("handmade.safetensors");
  write_all(path, st_file(header, data));

  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == 5);
  CHECK(f.tensors[0].first == "a");
  CHECK(f.tensors[1].first == "b\xC3\xA9");
  CHECK(f.tensors[2].first == "h");
  CHECK(f.tensors[3].first == "s");
  CHECK(f.tensors[4].first == "z");
  CHECK(f.metadata.size() == 1);
  CHECK(f.metadata.at("k\"ey") == "v\n\xE2\x82\xAC\xF0\x9F\x98\x80");
  CHECK(f.at("a").dtype() == DType::Float32);
  CHECK(f.at("a").to_vector<float>() == std::vector<float>({1.f, -2.f}));
  const Tensor& b = f.at("b\xC3\xA9");
  CHECK(b.dtype() == DType::Int32);
  CHECK(b.data_ptr<int32_t>()[0] == 7);
  CHECK(b.data_ptr<int32_t>()[1] == -1);
  CHECK(f.at("h").dtype() == DType::BFloat16);
  CHECK(f.at("h").shape() == Shape({1, 2}));
  CHECK(to_float32_from_half(f.at("h")).to_vector<float>() == std::vector<float>({1.5f, -10.f}));
  CHECK(f.at("s").dtype() == DType::Float16);
  CHECK(f.at("s").dim() == 0);
  CHECK(to_float32_from_half(f.at("s")).item() == 1.5);
  CHECK(f.at("z").numel() == 0);
  CHECK(f.at("z").dtype() == DType::UInt8);
}

TEST_CASE("safetensors: every malformed file is reported with its name", "[safetensors]") {
  const std::string ok_entry = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
  const std::string eight(8, '\0');
  auto bad_file = [&](const std::string& name, const std::string& bytes) {
    std::string path = temp_path(name);
    write_all(path, bytes);
    return path;
  };

  check_load_error(temp_path("does_not_exist.safetensors"), "No such file or directory");
  check_load_error(bad_file("short", "abcd"), "shorter than the 8-byte header length");
  {
    std::string bytes = st_file("{}", "");
    bytes[0] = char(100);  // header length 100 in a 10-byte file
    check_load_error(bad_file("hdrlen", bytes), "header length 100 is larger than the file (10 bytes)");
  }
  {
    std::string header = "{\"a\":{\"dtype\":\"F32\",}}";
    size_t at = header.find(",}") + 1;
    check_load_error(bad_file("json1", st_file(header, eight)),
                     "invalid JSON header at byte " + std::to_string(at) + " of the header (file byte " +
                         std::to_string(at + 8) + ")");
  }
  check_load_error(bad_file("json2", st_file("{\"a\":" + ok_entry, eight)), "invalid JSON header at byte");
  check_load_error(bad_file("json3", st_file("{\"a\":tru}", eight)), "invalid JSON header at byte 5");
  check_load_error(bad_file("json4", st_file("{\"a\":1.5}", eight)), "only integers");
  check_load_error(bad_file("json5", st_file("{\"a\\q\":1}", eight)), "unknown escape");
  check_load_error(bad_file("json6", st_file("{\"a\":" + ok_entry + "} x", eight)), "after the end");
  check_load_error(bad_file("notobj", st_file("[1,2]", eight)), "expected an object");
  check_load_error(bad_file("dtype", st_file("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", eight)),
                   "tensor 'a': unknown dtype 'F8'");
  check_load_error(bad_file("nodtype", st_file("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight)),
                   "tensor 'a' lacks 'dtype'");
  check_load_error(bad_file("badshape", st_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight)),
                   "non-negative integers");
  check_load_error(bad_file("numel", st_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight)),
                   "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8");
  check_load_error(bad_file("range", st_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", eight)),
                   "out of range (begin after end)");
  check_load_error(bad_file("offs", st_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", eight)),
                   "'data_offsets' must be [begin, end]");
  check_load_error(
      bad_file("overlap", st_file("{\"a\":" + ok_entry + ",\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                                  std::string(12, '\0'))),
      "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
  check_load_error(bad_file("dup", st_file("{\"a\":" + ok_entry + ",\"a\":" + ok_entry + "}", eight)),
                   "duplicate tensor name 'a'");
  check_load_error(bad_file("truncated", st_file("{\"a\":" + ok_entry + "}", std::string(4, '\0'))),
                   "data is truncated");
  check_load_error(bad_file("far", st_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[100,102]}}", eight)),
                   "run past the end of the data (8 bytes");
  check_load_error(bad_file("meta", st_file("{\"__metadata__\":{\"k\":1}}", "")), "'__metadata__' entry 'k' is an integer");

  // Bytes from the file reach messages quoted printably (an ESC could clear the user's terminal).
  check_load_error(bad_file("esc", st_file("{\"a\\u001b[2J\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", eight)),
                   "tensor 'a\\x1b[2J': unknown dtype 'F8'");
  check_load_error(bad_file("esc_json", st_file("{\"a\":\x1b}", eight)), "unexpected '\\x1b'");

  // Saving refuses ambiguous names.
  std::string path = temp_path("save_errors.safetensors");
  Tensor x = zeros({2});
  CHECK_THROWS_WITH_TEXT(save_safetensors(path, {{"a", x}, {"a", x}}), "the tensor name 'a' appears twice");
  CHECK_THROWS_WITH_TEXT(save_safetensors(path, {{"__metadata__", x}}), "reserved");
  CHECK_THROWS_WITH_TEXT(save_safetensors(path, {{"u", Tensor()}}), "tensor 'u' is undefined");
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("safetensors: the tensors must cover the data section exactly", "[safetensors]") {
  // The format's rule: in the order of their offsets, the tensors' ranges follow each other from byte 0
  // without a gap or an overlap, and the last one ends where the file ends.
  auto entry = [](const std::string& name, int begin, int end) {
    return "\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(end - begin) + "],\"data_offsets\":[" +
           std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  auto file_with = [&](const std::string& name, const std::string& entries, size_t data_bytes) {
    std::string path = temp_path(name);
    write_all(path, st_file("{" + entries + "}", std::string(data_bytes, 'x')));
    return path;
  };
  // Exactly covered (keys in any order, an empty tensor where its offsets put it): loads.
  CHECK(load_safetensors(file_with("exact", entry("b", 4, 6) + "," + entry("a", 0, 4) + "," + entry("z", 6, 6), 6))
            .tensors.size() == 3);
  CHECK(load_safetensors(file_with("none", "", 0)).tensors.empty());
  // Bytes after the last tensor: appended, or inserted anywhere (every later tensor then reads shifted bytes).
  check_load_error(file_with("trailing", entry("a", 0, 4) + "," + entry("b", 4, 6), 9),
                   "the data section holds 9 bytes but the tensors cover 6: the 3 bytes after tensor 'b' [4, 6) "
                   "belong to no tensor (bytes were inserted or appended)");
  check_load_error(file_with("no_tensors", "", 5), "the 5 bytes after the header belong to no tensor");
  // A gap between two tensors, or before the first.
  check_load_error(file_with("gap", entry("a", 0, 4) + "," + entry("b", 5, 7), 7),
                   "the 1 data bytes [4, 5) between tensors 'a' [0, 4) and 'b' [5, 7) belong to no tensor");
  check_load_error(file_with("lead", entry("a", 2, 6), 6), "the 2 data bytes [0, 2) before tensor 'a' [2, 6)");
  // Overlaps, an empty tensor inside another's range included.
  check_load_error(file_with("overlap", entry("a", 0, 4) + "," + entry("b", 2, 6), 6),
                   "tensors 'a' [0, 4) and 'b' [2, 6) overlap");
  check_load_error(file_with("empty_inside", entry("a", 0, 4) + "," + entry("z", 2, 2), 4),
                   "tensors 'a' [0, 4) and 'z' [2, 2) overlap");
  check_load_error(file_with("empty_beyond", entry("a", 0, 4) + "," + entry("z", 5, 5), 5), "[4, 5) between tensors");

  // A file kiln wrote, with 3 bytes inserted in the middle of its data: refused, naming the file.
  const std::string path = temp_path("inserted.safetensors");
  save_safetensors(path, {{"w", from_vector<float>({1.f, 2.f, 3.f}, {3})}, {"b", from_vector<float>({4.f}, {1})}});
  const std::string bytes = read_all(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(encode_safetensors_header(path, {{"w", zeros({3})}, {"b", zeros({1})}}, {}) == bytes.substr(0, 8 + n));
  write_all(path, bytes.substr(0, 8 + n + 6) + "abc" + bytes.substr(8 + n + 6));
  check_load_error(path, "the 3 bytes after tensor 'b' [12, 16) belong to no tensor");
}

TEST_CASE("safetensors: NaN and Inf in weights are found, naming the tensor", "[safetensors]") {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, Tensor>> finite = {
      {"f32", from_vector<float>({1.f, -2.f}, {2})},
      {"f64", from_vector<double>({1e308, -1e-308}, {2}, {.dtype = DType::Float64})},
      {"bf16", raw_tensor<uint16_t>(DType::BFloat16, {0x7F7F, 0xFF7F}, {2})},  // the largest finite values
      {"f16", raw_tensor<uint16_t>(DType::Float16, {0x7BFF, 0x0001}, {2})},
      {"i64", from_vector<int64_t>({-1, 2}, {2})}};
  check_finite_tensors(finite, "here");
  auto refused = [&](const std::string& name, Tensor t, const std::string& text) {
    auto tensors = finite;
    tensors.emplace_back(name, std::move(t));
    CHECK_THROWS_WITH_TEXT(check_finite_tensors(tensors, "weights in 'x.safetensors'"),
                           "weights in 'x.safetensors': tensor '" + printable(name) + "' holds " + text);
  };
  refused("w", from_vector<float>({1.f, std::nanf(""), 3.f}, {3}), "nan at element 1 of 3: ");
  refused("w", from_vector<double>({inf, 0.0, -inf}, {3}, {.dtype = DType::Float64}),
          "inf at element 0 of 3 (and 1 more values that are not finite)");
  refused("w", raw_tensor<uint16_t>(DType::BFloat16, {0x3F80, 0xFF80}, {2}), "inf at element 1 of 2");
  refused("w", raw_tensor<uint16_t>(DType::BFloat16, {0x7FC0}, {1}), "nan at element 0 of 1");
  refused("w", raw_tensor<uint16_t>(DType::Float16, {0x7C00}, {1}), "inf at element 0 of 1");
  refused("w", raw_tensor<uint16_t>(DType::Float16, {0x0000, 0xFE00}, {2}), "nan at element 1 of 2");
  refused("esc\x1b[2J", from_vector<float>({std::nanf("")}, {1}), "nan");  // names quoted printably
  CHECK(printable("esc\x1b[2J") == "esc\\x1b[2J");
}

TEST_CASE("safetensors: half-precision conversions", "[safetensors]") {
  CHECK(float_to_bfloat16(1.0f) == 0x3F80);
  CHECK(float_to_bfloat16(0.1f) == 0x3DCD);  // 0x3DCCCCCD rounds up
  CHECK(float_to_bfloat16(-2.0f) == 0xC000);
  CHECK(bfloat16_to_float(0x3FC0) == 1.5f);
  CHECK(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
  CHECK(float_to_float16(1.0f) == 0x3C00);
  CHECK(float_to_float16(0.1f) == 0x2E66);
  CHECK(float_to_float16(65504.f) == 0x7BFF);
  CHECK(float_to_float16(65520.f) == 0x7C00);  // rounds to inf
  CHECK(float_to_float16(1e6f) == 0x7C00);
  CHECK(float_to_float16(-INFINITY) == 0xFC00);
  CHECK(float_to_float16(std::ldexp(1.f, -24)) == 0x0001);  // smallest subnormal
  CHECK(float_to_float16(std::ldexp(1.f, -26)) == 0x0000);  // underflows to zero
  CHECK(float_to_float16(-0.f) == 0x8000);
  CHECK(float16_to_float(0x0001) == std::ldexp(1.f, -24));
  CHECK(float16_to_float(0xC500) == -5.f);
  CHECK(std::isnan(float16_to_float(float_to_float16(std::nanf("")))));
  // Every non-NaN pattern survives half → float → half.
  int bad_bf16 = 0, bad_f16 = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    uint16_t h = uint16_t(b);
    float fb = bfloat16_to_float(h), ff = float16_to_float(h);
    if (!std::isnan(fb) && float_to_bfloat16(fb) != h) ++bad_bf16;
    if (!std::isnan(ff) && float_to_float16(ff) != h) ++bad_f16;
  }
  CHECK(bad_bf16 == 0);
  CHECK(bad_f16 == 0);
  // Ties round to even: 1 + 2⁻¹¹ lies halfway between float16 1 and 1 + 2⁻¹⁰.
  CHECK(float_to_float16(1.f + std::ldexp(1.f, -11)) == 0x3C00);
  CHECK(float_to_float16(1.f + 3 * std::ldexp(1.f, -11)) == 0x3C02);

  // Tensors: any layout in, contiguous out.
  Tensor x = from_vector<float>({1.f, -2.5f, 0.15625f, 1024.f, 3.f, -0.f}, {2, 3});
  for (DType d : {DType::BFloat16, DType::Float16}) {
    Tensor h = to_half_from_float32(x.t(), d);
    CHECK(h.dtype() == d);
    CHECK(h.shape() == Shape({3, 2}));
    CHECK(to_float32_from_half(h).to_vector<float>() == x.t().contiguous().to_vector<float>());
    CHECK(to_float32_from_half(h.t()).to_vector<float>() == x.to_vector<float>());
  }
  CHECK_THROWS_WITH_TEXT(to_float32_from_half(x), "is not bfloat16 or float16");
  CHECK_THROWS_WITH_TEXT(to_half_from_float32(x, DType::Float64), "is not bfloat16 or float16");
  CHECK_THROWS_WITH_TEXT(to_half_from_float32(zeros({2}, {.dtype = DType::Float64}), DType::Float16), "is not float32");
}

TEST_CASE("safetensors: atomic writes keep the old file on failure", "[safetensors]") {
  std::string path = temp_path("atomic.bin");
  write_file_atomically(path, std::string("old contents").data(), 12);
  CHECK(read_all(path) == "old contents");

  // The callback throws half way: its exception comes through, the old file stays, no temp file is left.
  CHECK_THROWS_AS(write_file_atomically(path,
                                        [](std::ostream& os) {
                                          os << "new partial contents";
                                          throw std::runtime_error("boom");
                                        }),
                  std::runtime_error);
  CHECK(read_all(path) == "old contents");
  for (const auto& entry : std::filesystem::directory_iterator(temp_dir()))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);

  write_file_atomically(path, [](std::ostream& os) { os << "new contents"; });
  CHECK(read_all(path) == "new contents");

  // A save_safetensors refused before writing keeps the old file.
  CHECK_THROWS_WITH_TEXT(save_safetensors(path, {{"a", zeros({1})}, {"a", zeros({1})}}), "appears twice");
  CHECK(read_all(path) == "new contents");
}

TEST_CASE("safetensors: unwritable directories give the OS error", "[safetensors]") {
  std::string missing = temp_path("no_such_dir/x.safetensors");
  CHECK_THROWS_WITH_TEXT(save_safetensors(missing, {{"a", zeros({1})}}), "No such file or directory");
  CHECK_THROWS_WITH_TEXT(save_safetensors(missing, {{"a", zeros({1})}}), missing);

  std::string file = temp_path("plain_file");
  write_all(file, "x");
  CHECK_THROWS_WITH_TEXT(write_file_atomically(file + "/y.bin", "z", 1), "Not a directory");

  // A target that is a directory cannot be replaced by a file.
  std::filesystem::create_directories(temp_path("a_dir"));
  CHECK_THROWS_WITH_TEXT(write_file_atomically(temp_path("a_dir"), "z", 1), "Is a directory");
  for (const auto& entry : std::filesystem::directory_iterator(temp_dir()))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);

  if (::geteuid() != 0) {  // root ignores directory permissions
    std::string ro = temp_path("read_only");
    std::filesystem::create_directories(ro);
    ::chmod(ro.c_str(), 0555);
    CHECK_THROWS_WITH_TEXT(write_file_atomically(ro + "/x.bin", "z", 1), "Permission denied");
    ::chmod(ro.c_str(), 0755);
  }
}
