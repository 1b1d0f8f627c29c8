#include "report/xml_text.h"

#include <cstdint>

#include "core/utf8.h"

namespace kiln::report {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

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
    const size_t length = utf8_sequence(reinterpret_cast<const uint8_t*>(text.data()), text.size(), i, invalid);
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
