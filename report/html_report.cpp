#include "report/html_report.h"

#include <sstream>

#include "core/serialization/atomic_file.h"
#include "data/file_bytes.h"
#include "report/xml_text.h"

namespace kiln::report {

std::string base64(const std::vector<uint8_t>& b) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    const uint32_t n = (uint32_t(b[i]) << 16) | (i + 1 < b.size() ? uint32_t(b[i + 1]) << 8 : 0) |
                       (i + 2 < b.size() ? uint32_t(b[i + 2]) : 0);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < b.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < b.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

namespace {

void table(std::ostringstream& html, const char* heading, const KeyValues& rows) {
  if (rows.empty()) return;
  html << "<h2>" << heading << "</h2>\n<table>\n";
  for (const auto& [k, v] : rows) html << "<tr><th>" << xml_escape(k) << "</th><td>" << xml_escape(v) << "</td></tr>\n";
  html << "</table>\n";
}

// A file as a data: URI; a file that cannot be read becomes a visible note instead of a broken page.
std::string data_uri(const std::string& mime, const std::string& path, bool& ok) {
  try {
    ok = true;
    return "data:" + mime + ";base64," + base64(data::read_file_bytes(path));
  } catch (const std::exception& e) {
    ok = false;
    return e.what();
  }
}

}  // namespace

void write_html_report(const std::string& path, const RunReport& r) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << xml_escape(r.title) << "</title>\n"
       << "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}"
          "th{background:#f4f4f4}figure{display:inline-block;margin:0 1em 1em 0}"
          "pre{background:#f8f8f8;padding:1em;white-space:pre-wrap}</style></head><body>\n"
       << "<h1>" << xml_escape(r.title) << "</h1>\n";
  table(html, "Results", r.results);
  if (!r.plots.empty()) {
    html << "<h2>Curves</h2>\n";
    for (const std::string& svg : r.plots) html << "<figure>" << svg << "</figure>\n";
  }
  if (!r.images.empty()) html << "<h2>Samples</h2>\n";
  for (const auto& [caption, file] : r.images) {
    bool ok;
    std::string uri = data_uri("image/png", file, ok);
    html << "<figure>" << (ok ? "<img src=\"" + uri + "\" style=\"image-rendering:pixelated;max-width:100%\">" : xml_escape(uri))
         << "<figcaption>" << xml_escape(caption) << "</figcaption></figure>\n";
  }
  for (const auto& [caption, text] : r.texts)
    html << "<h3>" << xml_escape(caption) << "</h3>\n<pre>" << xml_escape(text) << "</pre>\n";
  for (const auto& [caption, file] : r.audio) {
    bool ok;
    std::string uri = data_uri("audio/wav", file, ok);
    html << "<figure>" << (ok ? "<audio controls src=\"" + uri + "\"></audio>" : xml_escape(uri)) << "<figcaption>"
         << xml_escape(caption) << "</figcaption></figure>\n";
  }
  table(html, "Configuration", r.config);
  table(html, "Timing", r.timing);
  html << "<p><small>written by kiln</small></p>\n</body></html>\n";
  const std::string text = html.str();
  write_file_atomically(path, text.data(), text.size());
}

}  // namespace kiln::report
