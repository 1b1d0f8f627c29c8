#include "core/serialization/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "core/allocator.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/serialization/atomic_file.h"
#include "core/utf8.h"
#include "kernels/cpu/strided_loop.h"

namespace kiln {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

// ---------------------------------------------------------------- dtypes
struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypes[] = {{DType::Float32, "F32"}, {DType::Float64, "F64"}, {DType::BFloat16, "BF16"},
                                 {DType::Float16, "F16"}, {DType::Int64, "I64"},   {DType::Int32, "I32"},
                                 {DType::UInt8, "U8"},    {DType::Bool, "BOOL"}};

bool parse_dtype(const std::string& name, DType& out) {
  for (const auto& d : kDTypes)
    if (name == d.name) {
      out = d.dtype;
      return true;
    }
  return false;
}

// ---------------------------------------------------------------- a JSON subset
// Objects (members kept in order, duplicates kept), arrays, strings with escapes and integers: what a
// safetensors header holds. true/false/null and non-integer numbers are rejected.
struct JsonMember;
struct Json {
  enum Kind { Object, Array, String, Integer } kind = Object;
  size_t pos = 0;  // byte offset in the header where the value starts
  std::string str;
  int64_t integer = 0;
  std::vector<Json> items;
  std::vector<JsonMember> members;  // not std::pair<std::string, Json>: a pair needs Json complete (clang)
};
struct JsonMember {
  JsonMember(std::string key, Json value) : first(std::move(key)), second(std::move(value)) {}
  std::string first;  // the key
  Json second;
};

const char* kind_name(Json::Kind k) {
  switch (k) {
    case Json::Object: return "an object";
    case Json::Array: return "an array";
    case Json::String: return "a string";
    case Json::Integer: return "an integer";
  }
  return "?";
}

class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  Json parse_document() {
    skip_ws();
    Json v = parse_value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected '", printable(s_[i_]), "' after the end of the header object");
    return v;
  }

 private:
  template <class... Args>
  [[noreturn]] void fail(const Args&... what) const {
    KILN_FAIL("load_safetensors: '", path_, "': invalid JSON header at byte ", i_, " of the header (file byte ",
              i_ + 8, "): ", detail::concat(what...));
  }
  // One byte of the header, quoted safely (core/printable.h).
  static std::string printable(char c) { return kiln::printable(std::string_view(&c, 1)); }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (i_ >= s_.size()) fail("expected '", c, "' but the header ended");
    if (s_[i_] != c) fail("expected '", c, "' but found '", printable(s_[i_]), "'");
    ++i_;
  }

  Json parse_value(int depth) {
    if (depth > 64) fail("nested too deeply");
    if (i_ >= s_.size()) fail("expected a value but the header ended");
    char c = s_[i_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') {
      Json v;
      v.kind = Json::String;
      v.pos = i_;
      v.str = parse_string();
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_integer();
    fail("unexpected '", printable(c), "' (expected an object, array, string or integer)");
  }

  Json parse_object(int depth) {
    Json v;
    v.kind = Json::Object;
    v.pos = i_;
    expect('{');
    skip_ws();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return v;
    }
    while (true) {
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != '"') {
        if (i_ >= s_.size()) fail("expected a key string but the header ended");
        fail("expected a key string but found '", printable(s_[i_]), "'");
      }
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      v.members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return v;
    }
  }

  Json parse_array(int depth) {
    Json v;
    v.kind = Json::Array;
    v.pos = i_;
    expect('[');
    skip_ws();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return v;
    }
    while (true) {
      skip_ws();
      v.items.push_back(parse_value(depth + 1));
      skip_ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return v;
    }
  }

  Json parse_integer() {
    Json v;
    v.kind = Json::Integer;
    v.pos = i_;
    bool negative = false;
    if (s_[i_] == '-') {
      negative = true;
      ++i_;
    }
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') fail("expected a digit");
    if (s_[i_] == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9') fail("leading zero in a number");
    uint64_t value = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      uint64_t digit = uint64_t(s_[i_] - '0');
      if (value > (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10) fail("integer too large");
      value = value * 10 + digit;
      ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'))
      fail("only integers are expected in a safetensors header");
    v.integer = negative ? -int64_t(value) : int64_t(value);
    return v;
  }

  unsigned parse_hex4() {
    if (i_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned code = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_];
      unsigned d;
      if (c >= '0' && c <= '9') d = unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
      else fail("bad hex digit '", printable(c), "' in a \\u escape");
      code = code * 16 + d;
      ++i_;
    }
    return code;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("unescaped control character in a string");
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      ++i_;
      if (i_ >= s_.size()) fail("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: a low one must follow
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("unpaired surrogate in a \\u escape");
            i_ += 2;
            unsigned lo = parse_hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("unpaired surrogate in a \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: --i_; fail("unknown escape '\\", printable(e), "'");
      }
    }
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

void write_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else out += c;
  }
  out += '"';
}

// ---------------------------------------------------------------- tensor bytes
// Row-major bytes of any tensor (any layout, any device) as one contiguous host buffer.
std::vector<char> host_bytes(const Tensor& t) {
  const size_t esize = dtype_size(t.dtype());
  const int64_t n = t.numel();
  std::vector<char> out(size_t(n) * esize);
  if (n == 0) return out;
  // The element span the view covers, relative to its first element.
  int64_t lo = 0, hi = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t reach = (t.size(d) - 1) * t.stride(d);
    (reach < 0 ? lo : hi) += reach;
  }
  const char* base = static_cast<const char*>(t.data());
  std::vector<char> staged;
  if (!t.device().is_cpu()) {
    staged.resize(size_t(hi - lo + 1) * esize);
    copy_bytes(staged.data(), Device::cpu(), base + lo * int64_t(esize), t.device(), staged.size());
    base = staged.data() - lo * int64_t(esize);
  }
  if (t.is_contiguous()) {
    std::memcpy(out.data(), base, out.size());
    return out;
  }
  char* dst = out.data();
  cpu::for_each_strided<1>(t.shape(), {t.strides().data()}, [&](const std::array<int64_t, 1>& o) {
    std::memcpy(dst, base + o[0] * int64_t(esize), esize);
    dst += esize;
  });
  return out;
}

// ---------------------------------------------------------------- reading helpers
[[noreturn]] void fail_file(const std::string& path, const std::string& what) {
  KILN_FAIL("load_safetensors: '", path, "': ", what);
}
[[noreturn]] void fail_errno(const std::string& path, const std::string& what, int err) {
  KILN_FAIL("load_safetensors: '", path, "': ", what, ": ", std::strerror(err));
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  int64_t begin, end;
};

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  KILN_FAIL("safetensors: dtype ", dtype_name(dtype), " has no safetensors name");
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  std::string names;
  for (const auto& [n, t] : tensors) names += (names.empty() ? "'" : ", '") + printable(n) + "'";
  KILN_FAIL("safetensors: no tensor named '", printable(name), "' (the file holds ", names.empty() ? "none" : names, ")");
}

bool SafetensorsFile::contains(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

std::string encode_safetensors_header(const std::string& path,
                                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    KILN_CHECK(!name.empty(), "save_safetensors: '", path, "': a tensor has an empty name");
    KILN_CHECK(name != "__metadata__", "save_safetensors: '", path, "': '__metadata__' is reserved, not a tensor name");
    KILN_CHECK(seen.insert(name).second, "save_safetensors: '", path, "': the tensor name '", name, "' appears twice");
    KILN_CHECK(t.defined(), "save_safetensors: '", path, "': tensor '", name, "' is undefined");
  }
  // The header: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) header += ',';
      first = false;
      write_json_string(header, k);
      header += ':';
      write_json_string(header, v);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (header.size() > 1) header += ',';
    write_json_string(header, name);
    header += ":{\"dtype\":\"";
    header += safetensors_dtype_name(t.dtype());
    header += "\",\"shape\":[";
    for (int64_t d = 0; d < t.dim(); ++d) {
      if (d) header += ',';
      header += std::to_string(t.size(d));
    }
    uint64_t bytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    header += "],\"data_offsets\":[";
    header += std::to_string(offset);
    header += ',';
    header += std::to_string(offset + bytes);
    header += "]}";
    offset += bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');  // as the reference writer does: data starts 8-aligned
  const uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = encode_safetensors_header(path, tensors, metadata);
  write_file_atomically(path, [&](std::ostream& os) {
    os.write(header.data(), std::streamsize(header.size()));
    for (const auto& [name, t] : tensors) {
      std::vector<char> bytes = host_bytes(t);
      os.write(bytes.data(), std::streamsize(bytes.size()));
    }
  });
}

SafetensorsFile load_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "cannot open the file", errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) fail_errno(path, "cannot stat the file", errno);
  KILN_CHECK(S_ISREG(st.st_mode), "load_safetensors: '", path, "': not a regular file");
  const uint64_t file_size = uint64_t(st.st_size);

  // Reads exactly `size` bytes at `offset`; a short read means the file changed or is truncated.
  auto read_at = [&](void* dst, size_t size, uint64_t offset, const char* what) {
    char* p = static_cast<char*>(dst);
    while (size > 0) {
      ssize_t got = ::pread(fd, p, size, off_t(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        fail_errno(path, what, errno);
      }
      if (got == 0) KILN_FAIL("load_safetensors: '", path, "': unexpected end of file while reading ", what);
      p += got;
      size -= size_t(got);
      offset += uint64_t(got);
    }
  };

  KILN_CHECK(file_size >= 8, "load_safetensors: '", path, "': the file is ", file_size,
             " bytes, shorter than the 8-byte header length: not a safetensors file");
  uint64_t header_len = 0;
  read_at(&header_len, 8, 0, "the header length");
  KILN_CHECK(header_len <= file_size - 8, "load_safetensors: '", path, "': the header length ", header_len,
             " is larger than the file (", file_size, " bytes): not a safetensors file, or truncated");
  SafetensorsFile result;
  std::string header(size_t(header_len), '\0');
  read_at(header.data(), header.size(), 8, "the header");
  const uint64_t data_size = file_size - 8 - header_len;
  result.header.assign(reinterpret_cast<const char*>(&header_len), 8);
  result.header += header;

  Json root = JsonParser(header, path).parse_document();
  if (root.kind != Json::Object) fail_file(path, std::string("the header is ") + kind_name(root.kind) + ", expected an object");

  std::vector<Entry> entries;
  std::set<std::string> names;
  bool have_metadata = false;
  for (const auto& [name, value] : root.members) {
    if (name == "__metadata__") {
      if (have_metadata) fail_file(path, "'__metadata__' appears twice");
      have_metadata = true;
      if (value.kind != Json::Object) fail_file(path, std::string("'__metadata__' is ") + kind_name(value.kind) + ", expected an object");
      for (const auto& [k, v] : value.members) {
        if (v.kind != Json::String)
          fail_file(path, "'__metadata__' entry '" + printable(k) + "' is " + kind_name(v.kind) + ", expected a string");
        if (!result.metadata.emplace(k, v.str).second)
          fail_file(path, "'__metadata__' key '" + printable(k) + "' appears twice");
      }
      continue;
    }
    if (!names.insert(name).second) fail_file(path, "duplicate tensor name '" + printable(name) + "'");
    const std::string tn = "tensor '" + printable(name) + "'";
    if (value.kind != Json::Object) fail_file(path, tn + " is " + kind_name(value.kind) + ", expected an object");
    const Json* dtype = nullptr;
    const Json* shape = nullptr;
    const Json* offsets = nullptr;
    for (const auto& [k, v] : value.members) {
      const Json** slot = k == "dtype" ? &dtype : k == "shape" ? &shape : k == "data_offsets" ? &offsets : nullptr;
      if (!slot) continue;  // unknown fields are ignored
      if (*slot) fail_file(path, tn + ": field '" + printable(k) + "' appears twice");
      *slot = &v;
    }
    if (!dtype || !shape || !offsets) fail_file(path, tn + " lacks " + (!dtype ? "'dtype'" : !shape ? "'shape'" : "'data_offsets'"));
    Entry e;
    e.name = name;
    if (dtype->kind != Json::String) fail_file(path, tn + ": 'dtype' is " + kind_name(dtype->kind) + ", expected a string");
    if (!parse_dtype(dtype->str, e.dtype))
      fail_file(path, tn + ": unknown dtype '" + printable(dtype->str) + "' (kiln reads F32, F64, BF16, F16, I64, I32, U8, BOOL)");
    if (shape->kind != Json::Array) fail_file(path, tn + ": 'shape' is " + kind_name(shape->kind) + ", expected an array");
    uint64_t numel = 1;
    bool overflow = false;
    for (const Json& d : shape->items) {
      if (d.kind != Json::Integer || d.integer < 0) fail_file(path, tn + ": 'shape' holds something other than non-negative integers");
      e.shape.push_back(d.integer);
      if (d.integer != 0 && numel > uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(d.integer)) overflow = true;
      numel *= uint64_t(d.integer);
    }
    if (offsets->kind != Json::Array || offsets->items.size() != 2 || offsets->items[0].kind != Json::Integer ||
        offsets->items[1].kind != Json::Integer || offsets->items[0].integer < 0 || offsets->items[1].integer < 0)
      fail_file(path, tn + ": 'data_offsets' must be [begin, end] with non-negative integers");
    e.begin = offsets->items[0].integer;
    e.end = offsets->items[1].integer;
    const std::string range = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.begin > e.end) fail_file(path, tn + ": " + range + " are out of range (begin after end)");
    const uint64_t esize = dtype_size(e.dtype);
    if (overflow || numel > uint64_t(std::numeric_limits<int64_t>::max()) / esize ||
        uint64_t(e.end - e.begin) != numel * esize)
      fail_file(path, tn + ": shape " + shape_str(e.shape) + " of " + dtype->str + " needs " +
          (overflow ? std::string("too many") : std::to_string(numel * esize)) + " bytes but " + range + " span " +
          std::to_string(e.end - e.begin));
    if (uint64_t(e.end) > data_size)
      fail_file(path, tn + ": " + range + " run past the end of the data (" + std::to_string(data_size) +
          " bytes after the header): the data is truncated or the offsets are out of range");
    entries.push_back(std::move(e));
  }

  // The format's rule (the reference reader's validate()): taken in the order of their offsets, the
  // tensors' byte ranges [begin, end) follow each other from 0 without a gap or an overlap and end where
  // the file ends. A gap or bytes after the last tensor mean bytes were inserted or the offsets were
  // edited: every weight after them would be read from the wrong place.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  auto range_of = [](const Entry& e) {
    return "'" + printable(e.name) + "' [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
  };
  const Entry* prev = nullptr;
  int64_t covered = 0;  // the data bytes the tensors so far cover, from 0
  for (const Entry& e : entries) {
    if (e.begin < covered)
      fail_file(path, "tensors " + range_of(*prev) + " and " + range_of(e) + " overlap");
    if (e.begin > covered)
      fail_file(path, "the " + std::to_string(e.begin - covered) + " data bytes [" + std::to_string(covered) + ", " +
                          std::to_string(e.begin) + ") " + (prev ? "between tensors " + range_of(*prev) + " and " + range_of(e)
                                                                 : "before tensor " + range_of(e)) +
                          " belong to no tensor: bytes were inserted or the offsets were edited");
    covered = e.end;
    prev = &e;
  }
  if (uint64_t(covered) != data_size)
    fail_file(path, "the data section holds " + std::to_string(data_size) + " bytes but the tensors cover " +
                        std::to_string(covered) + ": the " + std::to_string(data_size - uint64_t(covered)) +
                        " bytes after " + (prev ? "tensor " + range_of(*prev) : std::string("the header")) +
                        " belong to no tensor (bytes were inserted or appended)");

  const uint64_t data_start = 8 + header_len;
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype});
    if (e.end > e.begin) {
      read_at(t.data(), size_t(e.end - e.begin), data_start + uint64_t(e.begin),
              ("the data of tensor '" + printable(e.name) + "'").c_str());
      if (e.dtype == DType::Bool) {  // any non-zero byte is true; kiln's bools are 0 or 1
        uint8_t* p = static_cast<uint8_t*>(t.data());
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
      }
    }
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

}  // namespace kiln
