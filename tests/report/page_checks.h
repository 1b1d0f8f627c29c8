// Checks of what kiln writes into SVG and HTML pages, written independently of report/: whether text is
// valid UTF-8 with only the characters XML 1.0 and HTML allow, and whether every coordinate of an SVG
// drawing is a finite number. Each returns "" when all is well, else what is wrong and where.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>

namespace kiln::test {

// Decodes by value (then rejects overlong forms, surrogates and code points past U+10FFFF), rather than
// by the byte ranges kiln's escape uses.
inline std::string page_text_problem(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = uint8_t(s[i]);
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return "invalid UTF-8 at byte " + std::to_string(i);
    uint32_t cp = n == 1 ? b : n == 2 ? b & 0x1Fu : n == 3 ? b & 0x0Fu : b & 0x07u;
    for (size_t k = 1; k < n; ++k) {
      const uint8_t c = uint8_t(s[i + k]);
      if ((c >> 6) != 0x2) return "invalid UTF-8 at byte " + std::to_string(i);
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const uint32_t min_of_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of_length[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return "invalid UTF-8 at byte " + std::to_string(i);
    if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE ||
        cp == 0xFFFF)
      return "control character U+" + std::to_string(cp) + " at byte " + std::to_string(i);
    i += n;
  }
  return "";
}

// Every x, y, x1, x2, y1, y2, width, height attribute, every pair of a polyline's points and every
// translate() of an SVG drawing parses, whole, as a finite number.
inline std::string svg_coordinate_problem(const std::string& svg) {
  auto finite = [](const std::string& text) {
    if (text.empty()) return false;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    return *end == '\0' && std::isfinite(v);
  };
  static const std::regex attribute(R"re(\s(x|y|x1|x2|y1|y2|width|height|points|transform)="([^"]*)")re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), attribute); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1], value = (*it)[2];
    std::string numbers = value;
    if (name == "points") {
      for (char& c : numbers) c = c == ',' ? ' ' : c;
    } else if (name == "transform") {
      static const std::regex translate(R"re(translate\(([^,]*),([^)]*)\))re");
      std::smatch m;
      if (!std::regex_search(value, m, translate)) return "transform=\"" + value + "\" has no translate(x,y)";
      numbers = m[1].str() + " " + m[2].str();
    } else if ((name == "width" || name == "height") && !value.empty() && value.back() == '%') {
      numbers = value.substr(0, value.size() - 1);
    }
    std::istringstream words(numbers);
    for (std::string word; words >> word;)
      if (!finite(word)) return name + "=\"" + value + "\": '" + word + "' is not a finite number";
  }
  return "";
}

}  // namespace kiln::test
