// Run reports: SVG curves, tick values, base64, the self-contained HTML page and the progress line.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/image_io.h"
#include "kiln_test.h"
#include "report/html_report.h"
#include "report/progress.h"
#include "report/svg_plot.h"

using namespace kiln;
using namespace kiln::report;

TEST_CASE("report: nice ticks and durations", "[report]") {
  CHECK(nice_ticks(0.0, 1.0, 5).size() == 6);
  CHECK(std::abs(nice_ticks(0.0, 1.0, 5)[3] - 0.6) < 1e-15);
  CHECK(nice_ticks(3.0, 97.0, 4) == std::vector<double>{20.0, 40.0, 60.0, 80.0});
  CHECK(format_duration(45) == "45s");
  CHECK(format_duration(185) == "3m05s");
  CHECK(format_duration(7620) == "2h07m");
  CHECK(format_duration(NAN) == "?");
}

TEST_CASE("report: SVG line plot", "[report]") {
  std::string svg = svg_line_plot({{"train <loss>", {{0, 2.0}, {1, 1.5}, {2, NAN}, {3, 1.0}}}, {"val", {{3, 1.2}}}},
                                  {.title = "G & D"});
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("G &amp; D") != std::string::npos);
  CHECK(svg.find("train &lt;loss&gt;") != std::string::npos);
  CHECK(svg.find("<polyline") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg_line_plot({}).find("</svg>") != std::string::npos);  // empty axes, no crash
}

TEST_CASE("report: base64 and a self-contained HTML page", "[report]") {
  CHECK(base64({}) == "");
  CHECK(base64({'M'}) == "TQ==");
  CHECK(base64({'M', 'a'}) == "TWE=");
  CHECK(base64({'M', 'a', 'n'}) == "TWFu");
  auto dir = std::filesystem::temp_directory_path() / "kiln_test_report";
  std::filesystem::create_directories(dir);
  const std::string png = (dir / "grid.png").string();
  data::write_png(png, {2, 1, 1, {0, 255}});
  RunReport r{.title = "dcgan <test>",
              .config = {{"lr", "0.0002"}},
              .results = {{"FID", "12.3"}},
              .plots = {svg_line_plot({{"loss", {{0, 1}, {1, 0.5}}}})},
              .images = {{"step 100", png}, {"missing", (dir / "nope.png").string()}},
              .texts = {{"sample", "a < b"}},
              .audio = {},
              .timing = {}};
  const std::string page = (dir / "report.html").string();
  write_html_report(page, r);
  std::ifstream in(page);
  std::stringstream text;
  text << in.rdbuf();
  const std::string html = text.str();
  CHECK(html.find("<title>dcgan &lt;test&gt;</title>") != std::string::npos);
  CHECK(html.find("data:image/png;base64,iVBORw0KGgo") != std::string::npos);  // the PNG signature
  CHECK(html.find("cannot open") != std::string::npos);                        // the missing file, named
  CHECK(html.find("a &lt; b") != std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);
}

TEST_CASE("report: progress lines in a log file", "[report]") {
  std::FILE* log = std::tmpfile();
  REQUIRE(log != nullptr);
  ProgressLine p(1, 3, "img", Device::cpu(), 3600.0, log);
  p.update(1, 0, {{"loss", 0.5}}, 64);  // printed: the first step
  p.update(2, 0, {{"loss", 0.4}}, 64);  // not printed: within the interval
  p.update(3, 1, {{"loss", 0.25}}, 64); // printed: the last step
  p.finish();
  std::rewind(log);
  char buf[4096] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, log);
  std::fclose(log);
  std::string out(buf, n);
  CHECK(out.find("step 1/3  epoch 0  loss 0.5") != std::string::npos);
  CHECK(out.find("step 2/3") == std::string::npos);
  CHECK(out.find("step 3/3  epoch 1  loss 0.25") != std::string::npos);
  CHECK(out.find("img/s") != std::string::npos);
}
