#include "core/utf8.h"

namespace kiln {

size_t utf8_sequence(const uint8_t* bytes, size_t size, size_t i, size_t& invalid) {
  const uint8_t lead = bytes[i];
  size_t length = 0;
  uint8_t second_lo = 0x80, second_hi = 0xBF;  // the range of the second byte, narrower after some leads
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {  // E0: no overlong forms; ED: no surrogates
    length = 3;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {  // F0: no overlong forms; F4: nothing past U+10FFFF
    length = 4;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  }
  if (length == 0) {  // a continuation byte with no lead, C0/C1 (overlong), F5–FF
    invalid = 1;
    return 0;
  }
  size_t k = 1;
  for (; k < length && i + k < size; ++k) {
    const uint8_t b = bytes[i + k];
    const bool ok = k == 1 ? b >= second_lo && b <= second_hi : b >= 0x80 && b <= 0xBF;
    if (!ok) break;
  }
  if (k == length) return length;
  invalid = k;
  return 0;
}

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out += char(code_point);
  } else if (code_point < 0x800) {
    out += char(0xC0 | (code_point >> 6));
    out += char(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += char(0xE0 | (code_point >> 12));
    out += char(0x80 | ((code_point >> 6) & 0x3F));
    out += char(0x80 | (code_point & 0x3F));
  } else {
    out += char(0xF0 | (code_point >> 18));
    out += char(0x80 | ((code_point >> 12) & 0x3F));
    out += char(0x80 | ((code_point >> 6) & 0x3F));
    out += char(0x80 | (code_point & 0x3F));
  }
}

}  // namespace kiln
