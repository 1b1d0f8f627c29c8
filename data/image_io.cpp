#include "data/image_io.h"

#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "core/error.h"
#include "core/serialization/atomic_file.h"
#include "data/file_bytes.h"
#include "data/image_decoders.h"
#include "data/image_format.h"

namespace kiln::data {

namespace {

// pixels with image.channels (1 or 3) channels as `channels` channels: grey repeated in R, G and B, or
// RGB to grey with stb_image's integer weights (77 R + 150 G + 29 B) / 256, which kiln has always used.
Image with_channels(Image image, int channels) {
  if (image.channels == channels) return image;
  const size_t count = size_t(image.width) * size_t(image.height);
  std::vector<uint8_t> out(count * size_t(channels));
  for (size_t i = 0; i < count; ++i) {
    if (channels == 3) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = image.pixels[i];
    } else {
      const uint8_t* rgb = &image.pixels[3 * i];
      out[i] = uint8_t((rgb[0] * 77 + rgb[1] * 150 + rgb[2] * 29) >> 8);
    }
  }
  return Image{image.width, image.height, channels, std::move(out)};
}

}  // namespace

void check_image_dimensions(const std::string& name, const char* format, int64_t width, int64_t height) {
  KILN_CHECK(width > 0 && height > 0, "image '", name, "' is a damaged ", format, " file: its header gives a size of ",
             width, "x", height, " pixels");
  // Each side first, so that the product cannot overflow.
  KILN_CHECK(width <= kMaxImagePixels && height <= kMaxImagePixels && width * height <= kMaxImagePixels, "image '", name, "' is ", width, "x", height,
             " pixels: larger than kiln reads (64 megapixels)");
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  KILN_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  KILN_CHECK(!bytes.empty(), "image '", name, "' is empty");
  switch (image_format_of(bytes)) {
    case ImageFormat::Png: return with_channels(decode_png(bytes, name), channels);
    case ImageFormat::Jpeg: return with_channels(decode_jpeg(bytes, name, channels), channels);
    case ImageFormat::Bmp: return decode_bmp(bytes, name, channels);
    case ImageFormat::Other: break;
  }
  KILN_FAIL("image '", name, "' is not a PNG, JPEG or BMP file: it starts with ", first_bytes(bytes));
}

Image read_image(const std::string& path, int channels) { return decode_image(read_file_bytes(path), path, channels); }

Image center_crop_resize(const Image& image, int size) {
  KILN_CHECK(size > 0, "center_crop_resize: size must be positive, got ", size);
  const int side = std::min(image.width, image.height);
  KILN_CHECK(side > 0, "center_crop_resize: empty image");
  const int x0 = (image.width - side) / 2, y0 = (image.height - side) / 2;
  const int stride = image.width * image.channels;
  const uint8_t* corner = image.pixels.data() + size_t(y0) * size_t(stride) + size_t(x0) * size_t(image.channels);
  Image out{size, size, image.channels, std::vector<uint8_t>(size_t(size) * size_t(size) * size_t(image.channels))};
  if (side == size) {  // a plain crop: copied, not resampled (the filter would blur it slightly)
    const size_t row = size_t(size) * size_t(image.channels);
    for (int y = 0; y < size; ++y)
      std::copy(corner + size_t(y) * size_t(stride), corner + size_t(y) * size_t(stride) + row,
                out.pixels.begin() + int64_t(size_t(y) * row));
    return out;
  }
  KILN_CHECK(stbir_resize_uint8(corner, side, side, stride, out.pixels.data(), size, size, 0, image.channels) == 1,
             "center_crop_resize: resizing failed");
  return out;
}

// out[c·H·W + i] = pixels[i·C + c] / 255 for pixel i and channel c
void append_planar(const Image& image, std::vector<float>& out) {
  const size_t plane = size_t(image.width) * size_t(image.height), channels = size_t(image.channels);
  const size_t base = out.size();
  out.resize(base + plane * channels);
  for (size_t c = 0; c < channels; ++c)
    for (size_t i = 0; i < plane; ++i) out[base + c * plane + i] = float(image.pixels[i * channels + c]) / 255.0f;
}

std::vector<uint8_t> encode_png(const Image& image) {
  KILN_CHECK((image.channels == 1 || image.channels == 3) && image.width > 0 && image.height > 0 &&
                 image.pixels.size() == size_t(image.width) * size_t(image.height) * size_t(image.channels),
             "encode_png: inconsistent image ", image.width, "x", image.height, "x", image.channels, " with ",
             image.pixels.size(), " bytes");
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  KILN_CHECK(stbi_write_png_to_func(append, &png, image.width, image.height, image.channels, image.pixels.data(),
                                    image.width * image.channels) != 0,
             "encode_png: encoding failed");
  return png;
}

void write_png(const std::string& path, const Image& image) {
  std::vector<uint8_t> png = encode_png(image);
  write_file_atomically(path, png.data(), png.size());
}

}  // namespace kiln::data
