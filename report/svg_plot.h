// Line charts as standalone SVG text (loss curves for the run directory and the HTML report): one or
// more named series of (x, y) points on shared axes with "nice" tick values, a legend and axis labels.
// Any values give a valid drawing: NaN and ±inf (a diverging run) are left out with a note on the plot,
// and ranges up to ±DBL_MAX or of equal huge values never overflow into non-finite coordinates.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "report/xml_text.h"

namespace kiln::report {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); points with a non-finite x or y are left out
};

struct PlotOptions {
  std::string title;
  std::string x_label = "step";
  std::string y_label = "loss";
  int width = 640, height = 360;
};

std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& options = {});

// Tick values covering [lo, hi]: about `count` multiples of 1, 2 or 5 × 10ᵏ, all finite; {lo} when
// lo == hi, none when either is not finite.
std::vector<double> nice_ticks(double lo, double hi, int count = 5);

}  // namespace kiln::report
