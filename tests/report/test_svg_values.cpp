// Curves of any values: huge, equal past 2^53, up to ±DBL_MAX, NaN and ±inf (a diverging run) always
// give finite coordinates, y ticks, and a note for the values not drawn.
#include <limits>
#include <regex>

#include "kiln_test.h"
#include "report/page_checks.h"
#include "report/svg_plot.h"

using namespace kiln;
using namespace kiln::report;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The distinct y coordinates of the first polyline's points.
std::vector<std::string> distinct_ys(const std::string& svg) {
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, std::regex("points=\"([^\"]*)\"")));
  std::vector<std::string> ys;
  static const std::regex pair("[^ ,]+,([^ ]+)");
  const std::string points = m[1];
  for (auto it = std::sregex_iterator(points.begin(), points.end(), pair); it != std::sregex_iterator(); ++it)
    if (std::find(ys.begin(), ys.end(), (*it)[1].str()) == ys.end()) ys.push_back((*it)[1]);
  return ys;
}

}  // namespace

TEST_CASE("svg plot: ranges past DBL_MAX keep their ticks and their shape", "[report]") {
  const double big = 1.7e308;
  const std::string svg = svg_line_plot({{"loss", {{0, -1e30}, {1, 1e30}, {2, big}, {3, -big}}}});
  INFO(svg);
  CHECK(test::svg_coordinate_problem(svg) == "");
  CHECK(count_of(svg, "stroke=\"#ddd\"") >= 2);  // y grid lines with their labels
  CHECK(distinct_ys(svg).size() == 3);           // ±1e30 both in the middle at this scale, ±1.7e308 apart
  const std::string max = svg_line_plot({{"loss", {{0, std::numeric_limits<double>::max()},
                                                   {1, std::numeric_limits<double>::lowest()}}}});
  CHECK(test::svg_coordinate_problem(max) == "");
  CHECK(distinct_ys(max).size() == 2);
}

TEST_CASE("svg plot: equal values past 2^53 get a band around them", "[report]") {
  for (double v : {1e20, -3e300, 1.7e308, std::numeric_limits<double>::max(), 0.0, 5e-324}) {
    INFO("value " << v);
    const std::string svg = svg_line_plot({{"loss", {{0, v}, {1, v}, {2, v}}}});
    CHECK(test::svg_coordinate_problem(svg) == "");
    CHECK(count_of(svg, "stroke=\"#ddd\"") >= 1);
    CHECK(distinct_ys(svg).size() == 1);
  }
  // Steps too: one step far out, or spans of a few subnormals.
  CHECK(test::svg_coordinate_problem(svg_line_plot({{"loss", {{1e300, 1.0}}}})) == "");
  CHECK(test::svg_coordinate_problem(svg_line_plot({{"loss", {{0, 5e-324}, {1, 1e-323}}}})) == "");
  CHECK(test::svg_coordinate_problem(svg_line_plot({{"loss", {{0, 1e300}, {1, std::nextafter(1e300, 2e300)}}}})) == "");
}

TEST_CASE("svg plot: NaN and infinities are left out, and said to be", "[report]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::string svg = svg_line_plot({{"loss", {{0, 2.0}, {1, nan}, {2, inf}, {3, 1.0}}}, {"val", {{3, -inf}}}});
  INFO(svg);
  CHECK(test::svg_coordinate_problem(svg) == "");
  CHECK(svg.find("3 non-finite values not drawn") != std::string::npos);
  CHECK(distinct_ys(svg).size() == 2);
  const std::string only_nan = svg_line_plot({{"loss", {{0, nan}}}});
  CHECK(test::svg_coordinate_problem(only_nan) == "");
  CHECK(only_nan.find("1 non-finite value not drawn") != std::string::npos);
  CHECK(svg_line_plot({{"loss", {{0, 1.0}}}}).find("not drawn") == std::string::npos);
  // The check itself sees a bad coordinate.
  CHECK(test::svg_coordinate_problem("<line x1=\"nan\"/>") != "");
  CHECK(test::svg_coordinate_problem("<polyline points=\"1,2 3,inf \"/>") != "");
}

TEST_CASE("nice ticks of extreme ranges are finite", "[report]") {
  const double max = std::numeric_limits<double>::max();
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{{-max, max}, {0, max}, {1e300, 1.0000000001e300},
                                                              {0, 5e-324}, {1, 1}}) {
    INFO(lo << " " << hi);
    const std::vector<double> ticks = nice_ticks(lo, hi);
    CHECK(!ticks.empty());
    CHECK(ticks.size() <= 12);
    for (double t : ticks) CHECK(std::isfinite(t));
  }
  CHECK(nice_ticks(0, std::numeric_limits<double>::infinity()).empty());
  CHECK(nice_ticks(std::numeric_limits<double>::quiet_NaN(), 1).empty());
}
