// Sample grids: a batch of images [N, C, H, W] (C = 1 or 3) tiled into one PNG, nrow images per row,
// with a padding border, like torchvision.utils.save_image / make_grid.
#pragma once
#include <string>

#include "core/tensor.h"
#include "data/image_io.h"

namespace kiln::data {

struct GridOptions {
  int nrow = 8;                        // images per row
  int padding = 2;                     // pixels between images and around the grid
  double low = 0.0, high = 1.0;        // the value range mapped to 0–255 (values outside are clipped)
  uint8_t pad_value = 0;
};

// The grid as an image (any device, float dtype; copied to the CPU).
Image make_grid(const Tensor& images, const GridOptions& options = {});
// Writes the grid as a PNG file (atomically).
void save_image_grid(const std::string& path, const Tensor& images, const GridOptions& options = {});

}  // namespace kiln::data
