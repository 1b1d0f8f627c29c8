#include "report/xml_text.h"

#include <cstdint>

namespace kiln::report {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

void append_utf8(std::string& out, uint32_t code) {
  if (code < 0x800) {
    out += char(0xC0 | (code >> 6));
    out += char(0x80 | (code & 0x3F));
  } else {
    out += char(0xE0 | (code >> 12));
    out += char(0x80 | ((code >> 6) & 0x3F));
    out += char(0x80 | (code & 0x3F));
  }
}

// The length of the valid UTF-8 sequence of 2–4 bytes at text[i] (whose lead byte is ≥ 0x80), or 0 with
// `invalid` set to the length of its maximal invalid subpart (at least 1): the Unicode/WHATWG way of
// replacing bad input, so that a truncated character never swallows the character after it.
size_t utf8_sequence(const std::string& text, size_t i, size_t& invalid) {
  const auto byte = [&](size_t k) { return uint8_t(text[k]); };
  const uint8_t lead = byte(i);
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
  for (; k < length && i + k < text.size(); ++k) {
    const uint8_t b = byte(i + k);
    const bool ok = k == 1 ? b >= second_lo && b <= second_hi : b >= 0x80 && b <= 0xBF;
    if (!ok) break;
  }
  if (k == length) return length;
  invalid = k;
  return 0;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const uint8_t c = uint8_t(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        case '\t': case '\n': case '\r': out += char(c); break;
        default:
          if (c < 0x20) append_utf8(out, 0x2400 + c);  // ␀ … ␟: not allowed in XML 1.0, shown instead
          else if (c == 0x7F) append_utf8(out, 0x2421);  // ␡: allowed in XML, an error in HTML
          else out += char(c);
      }
      ++i;
      continue;
    }
    size_t invalid = 0;
    const size_t length = utf8_sequence(text, i, invalid);
    if (length == 0) {
      out += kReplacement;
      i += invalid;
      continue;
    }
    const uint8_t second = uint8_t(text[i + 1]), third = length > 2 ? uint8_t(text[i + 2]) : 0;
    const bool c1_control = c == 0xC2 && second < 0xA0;                                // U+0080–U+009F
    const bool non_character = c == 0xEF && second == 0xBF && (third == 0xBE || third == 0xBF);  // U+FFFE, U+FFFF
    if (c1_control || non_character)
      out += kReplacement;
    else
      out.append(text, i, length);
    i += length;
  }
  return out;
}

}  // namespace kiln::report
