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

// `text` (its first max_bytes) with every byte a terminal would obey escaped; with `keep_layout`, line
// breaks, tabs and backslashes pass as they are (text shown as text, not quoted in a message).
std::string escaped(std::string_view bytes, size_t max_bytes, bool keep_layout) {
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
    if (keep_layout && (byte == '\n' || byte == '\t' || byte == '\\')) {
      out += char(byte);
      ++i;
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

}  // namespace

std::string printable(std::string_view bytes, size_t max_bytes) { return escaped(bytes, max_bytes, false); }

std::string printable_text(std::string_view text) { return escaped(text, text.size(), true); }

}  // namespace kiln
