// PNG decoding through Debian's libpng 1.6. libpng reports errors by longjmp, so everything between the
// setjmp and the longjmp lives in read_png_pixels, which holds only plain C data (no C++ object whose
// destructor a jump could skip); the C++ side turns its result into an Image or a kiln::Error.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/printable.h"
#include "data/image_decoders.h"

namespace kiln::data {

namespace {

struct PngSource {
  const uint8_t* data;
  size_t size, position;
};

struct PngFailure {
  std::jmp_buf jump;
  char message[256];
};

struct PngPixels {
  uint32_t width, height;
  int channels;     // 1 or 3
  uint8_t* pixels;  // malloc'ed, width × height × channels; the caller frees it
};

enum class PngResult { Ok, TooLarge, Damaged };

void read_from_memory(png_structp png, png_bytep out, size_t count) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > source->size - source->position) png_error(png, "the file ends before the picture does");
  std::memcpy(out, source->data + source->position, count);
  source->position += count;
}

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* failure = static_cast<PngFailure*>(png_get_error_ptr(png));
  std::snprintf(failure->message, sizeof failure->message, "%s", message != nullptr ? message : "");
  std::longjmp(failure->jump, 1);
}

// Warnings are about ancillary data libpng then ignores; they are not printed (they may quote file bytes).
void on_png_warning(png_structp, png_const_charp) {}

PngResult read_png_pixels(PngSource* source, PngFailure* failure, PngPixels* out) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, failure, on_png_error, on_png_warning);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(failure->message, sizeof failure->message, "out of memory");
    return PngResult::Damaged;
  }
  uint8_t* volatile pixels = nullptr;
  png_bytep* volatile rows = nullptr;
  if (setjmp(failure->jump) != 0) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::free(pixels);
    std::free(rows);
    return PngResult::Damaged;
  }
  png_set_read_fn(png, source, read_from_memory);
  // Integrity: a CRC error in any chunk, a wrong zlib (Adler-32) checksum and every "benign" error are
  // errors; libpng's defaults would warn about some of them and go on with other pixels.
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_benign_errors(png, 0);
  png_set_option(png, PNG_IGNORE_ADLER32, 0);  // 0: off (its last argument is a flag, PNG_OPTION_OFF would be on)
  // Ancillary chunks (colour profiles, gamma, text...) are skipped unread, CRC still checked: kiln uses none
  // of them, and strict checks on their contents would refuse many valid pictures (old sRGB profiles).
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_set_user_limits(png, 1u << 20, 1u << 20);
  png_read_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  if (uint64_t(out->width) * out->height > uint64_t(kMaxImagePixels)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngResult::TooLarge;
  }
  png_set_expand(png);  // palette to RGB, grey below 8 bits to 8, tRNS to an alpha channel...
  png_set_strip_alpha(png);  // ...which is dropped, as every alpha channel is
  png_set_strip_16(png);     // 16-bit samples keep their high byte (as stb_image did)
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if ((channels != 1 && channels != 3) || row_bytes != size_t(out->width) * size_t(channels))
    png_error(png, "unexpected sample layout after conversion to 8 bits");
  pixels = static_cast<uint8_t*>(std::malloc(row_bytes * out->height));
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * out->height));
  if (pixels == nullptr || rows == nullptr) png_error(png, "out of memory");
  for (uint32_t y = 0; y < out->height; ++y) rows[y] = pixels + size_t(y) * row_bytes;
  png_read_image(png, rows);
  png_read_end(png, nullptr);  // the rest of the zlib stream (its checksum) and the chunks after the image
  png_destroy_read_struct(&png, &info, nullptr);
  std::free(rows);
  out->channels = channels;
  out->pixels = pixels;
  return PngResult::Ok;
}

}  // namespace

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& name) {
  PngSource source{bytes.data(), bytes.size(), 0};
  PngFailure failure{};
  PngPixels decoded{};
  const PngResult result = read_png_pixels(&source, &failure, &decoded);
  if (result == PngResult::TooLarge) check_image_dimensions(name, "PNG", decoded.width, decoded.height);
  KILN_CHECK(result == PngResult::Ok, "image '", name, "' is a damaged PNG file: ",
             failure.message[0] != '\0' ? printable(failure.message) : std::string("libpng gave no reason"));
  const std::unique_ptr<uint8_t, void (*)(void*)> owned(decoded.pixels, std::free);
  Image image{int(decoded.width), int(decoded.height), decoded.channels, {}};
  image.pixels.assign(owned.get(), owned.get() + size_t(decoded.width) * decoded.height * size_t(decoded.channels));
  return image;
}

}  // namespace kiln::data
