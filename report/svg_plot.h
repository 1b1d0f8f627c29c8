// Line charts as standalone SVG text (loss curves for the run directory and the HTML report): one or
// more named series of (x, y) points on shared axes with "nice" tick values, a legend and axis labels.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "report/xml_text.h"

namespace kiln::report {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite y values are left out
};

struct PlotOptions {
  std::string title;
  std::string x_label = "step";
  std::string y_label = "loss";
  int width = 640, height = 360;
};

std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& options = {});

// Tick values covering [lo, hi]: about `count` multiples of 1, 2 or 5 × 10ᵏ.
std::vector<double> nice_ticks(double lo, double hi, int count = 5);

}  // namespace kiln::report
