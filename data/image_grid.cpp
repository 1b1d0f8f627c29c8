#include "data/image_grid.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/ops/ops.h"
#include "core/shape.h"

namespace kiln::data {

// pixel = round(255·clamp((x − low)/(high − low), 0, 1)); image i sits at row i / nrow, column i % nrow.
Image make_grid(const Tensor& images, const GridOptions& o) {
  KILN_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3) && images.size(0) > 0,
             "make_grid: images must be [N, C, H, W] with N ≥ 1 and C = 1 or 3, got ", shape_str(images.shape()));
  KILN_CHECK(o.nrow >= 1 && o.padding >= 0 && o.high > o.low, "make_grid: bad options (nrow ", o.nrow, ", padding ",
             o.padding, ", range ", o.low, " to ", o.high, ")");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = std::min<int64_t>(o.nrow, n), rows = (n + o.nrow - 1) / o.nrow;
  const int64_t grid_w = cols * (w + o.padding) + o.padding, grid_h = rows * (h + o.padding) + o.padding;
  KILN_CHECK(grid_w <= 32768 && grid_h <= 32768, "make_grid: a ", grid_w, "x", grid_h, " grid is too large");
  const std::vector<double> x = images.detach().cpu().to(DType::Float64).contiguous().to_vector<double>();
  Image grid{int(grid_w), int(grid_h), int(c), std::vector<uint8_t>(size_t(grid_w * grid_h * c), o.pad_value)};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = o.padding + (i / o.nrow) * (h + o.padding), left = o.padding + (i % o.nrow) * (w + o.padding);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          double v = x[size_t(((i * c + ch) * h + y) * w + xx)];
          v = std::isnan(v) ? 0.0 : std::clamp((v - o.low) / (o.high - o.low), 0.0, 1.0);
          grid.pixels[size_t(((top + y) * grid_w + left + xx) * c + ch)] = uint8_t(std::lround(255.0 * v));
        }
  }
  return grid;
}

void save_image_grid(const std::string& path, const Tensor& images, const GridOptions& options) {
  write_png(path, make_grid(images, options));
}

}  // namespace kiln::data
