#include "core/printable.h"

#include <cstdint>
#include <cstdio>

#include "core/utf8.h"

namespace kiln {

namespace {

void append_hex_escape(std::string& out, uint8_t byte) {
  char text[5];
  std::snprintf(text, sizeof text, "\\x%02x", byte);
  out += text;
}

}  // namespace

std::string printable(std::string_view bytes, size_t max_bytes) {
  const size_t size = bytes.size() < max_bytes ? bytes.size() : max_bytes;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  std::string out;
  for (size_t i = 0; i < size;) {
    const uint8_t byte = data[i];
    if (byte >= 0x80) {
      size_t invalid = 0;
      const size_t length = utf8_sequence(data, size, i, invalid);
      // U+0080–U+009F (C1 controls) are encoded as C2 80 … C2 9F: a terminal reads C2 9B as CSI.
      const bool c1_control = length == 2 && byte == 0xC2 && data[i + 1] < 0xA0;
      if (length == 0 || c1_control) {
        const size_t bad = length == 0 ? invalid : length;
        for (size_t k = 0; k < bad; ++k) append_hex_escape(out, data[i + k]);
        i += bad;
      } else {
        out.append(bytes.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (byte) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (byte < 0x20 || byte == 0x7F) append_hex_escape(out, byte);
        else out += char(byte);
    }
    ++i;
  }
  if (bytes.size() > max_bytes) out += "...";
  return out;
}

}  // namespace kiln
