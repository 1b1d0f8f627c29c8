#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>

namespace kiln::report {

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (!(hi > lo)) return {lo};
  if (!std::isfinite(hi - lo)) {  // a span past DBL_MAX: the ticks of the halved range (exact), doubled
    std::vector<double> ticks;
    for (double t : nice_ticks(lo / 2, hi / 2, count))
      if (std::isfinite(2 * t)) ticks.push_back(2 * t);
    return ticks;
  }
  const double raw = (hi - lo) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double ratio = raw / magnitude;  // in [1, 10): round to the nearest of 1, 2, 5, 10
  const double step = magnitude * (ratio < 1.5 ? 1.0 : ratio < 3.5 ? 2.0 : ratio < 7.5 ? 5.0 : 10.0);
  // A step that underflows (spans of a few subnormals) or that is too fine for the values' precision
  // (a range of 1e300 ± a few ulps) has no nice multiples: the ends are the ticks.
  if (!(step > 0.0) || !std::isfinite(step) || std::abs(lo / step) > 1e15 || std::abs(hi / step) > 1e15) return {lo, hi};
  // The last tick may pass hi by a rounding error, but not DBL_MAX (where hi + slack would be inf).
  const double limit = std::min(hi + step * 1e-9, std::numeric_limits<double>::max());
  std::vector<double> ticks;
  for (int64_t k = int64_t(std::ceil(lo / step - 1e-9)); double(k) * step <= limit; ++k) ticks.push_back(double(k) * step);
  return ticks;
}

namespace {

constexpr double kMax = std::numeric_limits<double>::max();

// A linear map of [lo, hi] (finite, lo < hi) onto [0, 1] that cannot overflow: where hi − lo is past
// DBL_MAX the values are halved first (exactly); otherwise not, so that differences of subnormal
// values stay nonzero.
struct Axis {
  double lo = 0.0, hi = 1.0;
  double fraction(double v) const {
    const double s = std::isfinite(hi - lo) ? 1.0 : 0.5;
    return (v * s - lo * s) / (hi * s - lo * s);
  }
};

// An axis over the finite values [lo, hi], widened by `margin` of the span on each side, or around a
// single value by max(0.5, 5% of it) (a band of ±0.5 vanishes in the rounding of a value past 2^53),
// all within ±DBL_MAX.
Axis axis_over(double lo, double hi, double margin) {
  if (!(lo < hi)) {
    const double delta = std::max(0.5, 0.05 * std::abs(lo));
    lo = std::max(lo - delta, -kMax), hi = std::min(hi + delta, kMax);
  }
  const double pad = margin * 2.0 * (hi / 2 - lo / 2);
  return {std::max(lo - pad, -kMax), std::min(hi + pad, kMax)};
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

}  // namespace

std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& o) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  int64_t not_drawn = 0;
  for (const Series& s : series)
    for (auto [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y))
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      else
        ++not_drawn;
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw: empty axes
  const Axis ax = axis_over(x0, x1, 0.0), ay = axis_over(y0, y1, 0.05);
  const double left = 60, right = 20, top = o.title.empty() ? 15 : 35, bottom = 45;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  auto sx = [&](double x) { return left + ax.fraction(x) * pw; };
  auto sy = [&](double y) { return top + (1.0 - ay.fraction(y)) * ph; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width << "\" height=\"" << o.height
      << "\" viewBox=\"0 0 " << o.width << " " << o.height << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!o.title.empty())
    svg << "<text x=\"" << o.width / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" << xml_escape(o.title)
        << "</text>\n";
  for (double t : nice_ticks(ay.lo, ay.hi)) {
    svg << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << sy(t) << "\" y2=\"" << sy(t)
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << left - 5 << "\" y=\"" << sy(t) + 4 << "\" text-anchor=\"end\">"
        << number(t) << "</text>\n";
  }
  for (double t : nice_ticks(ax.lo, ax.hi)) {
    svg << "<line x1=\"" << sx(t) << "\" x2=\"" << sx(t) << "\" y1=\"" << top << "\" y2=\"" << top + ph
        << "\" stroke=\"#eee\"/>\n<text x=\"" << sx(t) << "\" y=\"" << top + ph + 15 << "\" text-anchor=\"middle\">"
        << number(t) << "</text>\n";
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#333\"/>\n"
      << "<text x=\"" << left + pw / 2 << "\" y=\"" << o.height - 8 << "\" text-anchor=\"middle\">"
      << xml_escape(o.x_label) << "</text>\n<text transform=\"translate(14," << top + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(o.y_label) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % (sizeof kColors / sizeof kColors[0])];
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (auto [x, y] : series[i].points)
      if (std::isfinite(x) && std::isfinite(y)) svg << sx(x) << "," << sy(y) << " ";
    svg << "\"/>\n<text x=\"" << left + pw - 5 << "\" y=\"" << top + 15 + 14 * double(i) << "\" text-anchor=\"end\" fill=\""
        << color << "\">" << xml_escape(series[i].name) << "</text>\n";
  }
  if (not_drawn > 0)  // NaN or ±inf (a diverging run): said, not silently dropped
    svg << "<text x=\"" << left + 5 << "\" y=\"" << top + 15 << "\" fill=\"#b00\">" << not_drawn << " non-finite "
        << (not_drawn == 1 ? "value" : "values") << " not drawn</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace kiln::report
