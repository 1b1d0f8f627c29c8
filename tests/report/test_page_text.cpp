// Text in SVG and HTML pages: markup escaped, control characters and invalid UTF-8 (a folder name with
// an ESC byte, a byte-level model's sample) replaced so that the page stays valid; valid UTF-8 kept.
#include <fstream>
#include <sstream>

#include "kiln_test.h"
#include "report/html_report.h"
#include "report/page_checks.h"
#include "report/svg_plot.h"
#include "report/xml_text.h"

using namespace kiln;
using namespace kiln::report;

TEST_CASE("xml_escape: markup, control characters and invalid UTF-8", "[report]") {
  CHECK(xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  CHECK(xml_escape("tab\tnew\nline\r") == "tab\tnew\nline\r");  // allowed controls kept
  CHECK(xml_escape(std::string("\x01\a\b\x1b", 4)) == "\u2401\u2407\u2408\u241b");  // ␁ ␇ ␈ ␛
  CHECK(xml_escape(std::string("a\0b", 3)) == "a\u2400b");
  CHECK(xml_escape("\x7f") == "\u2421");  // DEL: an error in HTML
  // Valid UTF-8 of every length is kept: ü, ✓, 😀.
  CHECK(xml_escape("\u00fc \u2713 \U0001F600") == "\u00fc \u2713 \U0001F600");
  const std::string fffd = "\uFFFD";
  CHECK(xml_escape("\xff\xfe") == fffd + fffd);        // bytes that never occur in UTF-8
  CHECK(xml_escape("a\x80z") == "a" + fffd + "z");     // a stray continuation byte
  CHECK(xml_escape("\xc0\xaf") == fffd + fffd);        // an overlong '/'
  CHECK(xml_escape("\xed\xa0\x80") == fffd + fffd + fffd);  // a surrogate
  CHECK(xml_escape("\xf4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // past U+10FFFF
  // A truncated sequence is one replacement and never swallows the character after it.
  CHECK(xml_escape("\xe2\x9c<") == fffd + "&lt;");
  CHECK(xml_escape("\xf0\x9f\x98") == fffd);
  CHECK(xml_escape("\xc2\x85") == fffd);      // U+0085, a C1 control
  CHECK(xml_escape("\xef\xbf\xbf") == fffd);  // U+FFFF, not a character
  // Every byte string comes out as text a page can hold.
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i), all += char(255 - i), all += "\xe2";
  CHECK(test::page_text_problem(xml_escape(all)) == "");
  CHECK(test::page_text_problem(std::string("\x01", 1)) != "");  // the check itself sees the problem
}

TEST_CASE("SVG and HTML stay valid with a control byte in the title and a byte-level sample", "[report]") {
  const std::string bad_name = "runs/\x01\x1b[31m\xff\xfe-data";
  const std::string svg = svg_line_plot({{"loss\a", {{0, 2.0}, {1, 1.0}}}}, {.title = "gpt on " + bad_name});
  CHECK(test::page_text_problem(svg) == "");
  CHECK(svg.find("\u241b[31m") != std::string::npos);  // ESC shown as ␛, the rest kept

  const auto dir = test::fresh_dir("report", "page_text");
  RunReport r;
  r.title = "charrnn " + bad_name;
  r.config = {{"data", bad_name}};
  r.plots = {svg};
  r.texts = {{"step 2", std::string("ab\a\b") + '\0' + "\xc3( caf\xc3\xa9\n"}};
  const std::string page = (dir / "report.html").string();
  write_html_report(page, r);
  std::ifstream in(page, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string html = text.str();
  CHECK(test::page_text_problem(html) == "");
  CHECK(html.find("ab\u2407\u2408\u2400\uFFFD( caf\u00e9\n") != std::string::npos);
}
