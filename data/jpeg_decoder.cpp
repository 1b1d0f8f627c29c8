// JPEG decoding through Debian's libjpeg-turbo. libjpeg's error_exit must not return, and the default
// one exits the process, so ours longjmps back into read_jpeg_pixels, which holds only plain C data (no
// C++ object whose destructor a jump could skip); the C++ side turns its result into an Image or an Error.
// Corrupt-data warnings (a truncated file, a bad Huffman code) are errors too: libjpeg would otherwise
// fill the rest of the picture with grey and carry on.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

// jpeglib.h needs size_t and FILE declared before it; jerror.h gives ERREXIT.
#include <jpeglib.h>
#include <jerror.h>

#include "core/error.h"
#include "core/printable.h"
#include "data/image_decoders.h"

namespace kiln::data {

namespace {

struct JpegFailure {
  jpeg_error_mgr manager;  // first, so that cinfo->err points at the whole JpegFailure
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
};

struct JpegPixels {
  uint32_t width, height;
  int channels;     // 1, 3 or 4 (Adobe CMYK, inverted as Photoshop writes it)
  uint8_t* pixels;  // malloc'ed, width × height × channels; the caller frees it
};

enum class JpegResult { Ok, TooLarge, Damaged };

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  auto* failure = reinterpret_cast<JpegFailure*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, failure->message);
  std::longjmp(failure->jump, 1);
}

// Level -1 is a warning, which libjpeg raises for corrupt data it then papers over: an error here.
// Other levels are trace messages, not printed.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_jpeg_error(cinfo);
}

// Called while libjpeg reads a multi-scan (progressive) picture: a file with hundreds of scans, each
// cheap to store but costly to decode, would take minutes; libjpeg-turbo's own advice is to cap them.
void on_jpeg_progress(j_common_ptr cinfo) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->input_scan_number <= kMaxJpegScans) return;
  auto* failure = reinterpret_cast<JpegFailure*>(cinfo->err);
  std::snprintf(failure->message, sizeof failure->message, "more than %d scans (kiln reads at most %d)",
                kMaxJpegScans, kMaxJpegScans);
  std::longjmp(failure->jump, 1);
}

JpegResult read_jpeg_pixels(const uint8_t* data, size_t size, bool grey, JpegFailure* failure,
                            JpegPixels* out) {
  jpeg_decompress_struct cinfo;
  jpeg_progress_mgr progress;
  std::memset(&cinfo, 0, sizeof cinfo);
  std::memset(&progress, 0, sizeof progress);
  cinfo.err = jpeg_std_error(&failure->manager);
  failure->manager.error_exit = on_jpeg_error;
  failure->manager.emit_message = on_jpeg_message;
  progress.progress_monitor = on_jpeg_progress;
  uint8_t* volatile pixels = nullptr;
  if (setjmp(failure->jump) != 0) {
    jpeg_destroy_decompress(&cinfo);  // safe on a partly created struct: it checks what was allocated
    std::free(pixels);
    return JpegResult::Damaged;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  cinfo.mem->max_memory_to_use = 1L << 30;  // caps libjpeg's whole-picture arrays (a progressive file's coefficients)
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  out->width = cinfo.image_width;
  out->height = cinfo.image_height;
  if (uint64_t(out->width) * out->height > uint64_t(kMaxImagePixels)) {
    jpeg_destroy_decompress(&cinfo);
    return JpegResult::TooLarge;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
    cinfo.out_color_space = JCS_CMYK;  // libjpeg converts CMYK to nothing else: done by the caller
  else
    cinfo.out_color_space = grey || cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t row_bytes = size_t(cinfo.output_width) * size_t(cinfo.output_components);
  pixels = static_cast<uint8_t*>(std::malloc(row_bytes * cinfo.output_height));
  if (pixels == nullptr) ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 0);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels + size_t(cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);  // reads on to the end-of-image marker: damage after the last row counts
  out->channels = cinfo.output_components;
  jpeg_destroy_decompress(&cinfo);
  out->pixels = pixels;
  return JpegResult::Ok;
}

}  // namespace

Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  JpegFailure failure{};
  JpegPixels decoded{};
  const JpegResult result = read_jpeg_pixels(bytes.data(), bytes.size(), channels == 1, &failure, &decoded);
  if (result == JpegResult::TooLarge) check_image_dimensions(name, "JPEG", decoded.width, decoded.height);
  KILN_CHECK(result == JpegResult::Ok, "image '", name, "' is a damaged JPEG file: ",
             failure.message[0] != '\0' ? printable(failure.message) : std::string("libjpeg gave no reason"));
  const std::unique_ptr<uint8_t, void (*)(void*)> owned(decoded.pixels, std::free);
  const size_t count = size_t(decoded.width) * decoded.height;
  Image image{int(decoded.width), int(decoded.height), decoded.channels == 1 ? 1 : 3, {}};
  if (decoded.channels != 4) {
    image.pixels.assign(owned.get(), owned.get() + count * size_t(decoded.channels));
    return image;
  }
  // Adobe CMYK is stored inverted (255 = no ink): red = C·K/255, as stb_image converted it.
  image.pixels.resize(count * 3);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* cmyk = owned.get() + 4 * i;
    for (int c = 0; c < 3; ++c) image.pixels[3 * i + size_t(c)] = uint8_t((unsigned(cmyk[c]) * cmyk[3] + 127) / 255);
  }
  return image;
}

}  // namespace kiln::data
