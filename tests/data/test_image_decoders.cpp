// Picture decoding on valid and hostile bytes: PNG (libpng), JPEG (libjpeg-turbo) and BMP (stb) give the
// expected pixels; other formats, damaged files (bad CRC, bad zlib checksum, truncated, bad Huffman
// table, too many scans) and oversized headers are refused with a message naming the file. The test
// files are assembled here: PNG chunks with zlib, JPEGs with libjpeg's encoder, a BMP by hand.
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>

#include "data/image_folder.h"
#include "data/image_io.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

void put_big_endian_32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(value >> shift));
}

// One PNG chunk: length, type, data, and the CRC of type and data.
Bytes png_chunk(const std::string& type, const Bytes& data) {
  Bytes out;
  put_big_endian_32(out, uint32_t(data.size()));
  Bytes typed(type.begin(), type.end());
  typed.insert(typed.end(), data.begin(), data.end());
  out.insert(out.end(), typed.begin(), typed.end());
  put_big_endian_32(out, uint32_t(crc32(0L, typed.data(), uInt(typed.size()))));
  return out;
}

Bytes zlib_compress(const Bytes& raw) {
  uLongf size = compressBound(uLong(raw.size()));
  Bytes out(size);
  REQUIRE(compress(out.data(), &size, raw.data(), uLong(raw.size())) == Z_OK);
  out.resize(size);
  return out;
}

// A PNG of `rows` (each without its filter byte: filter 0 is added), with `before_data` chunks (PLTE,
// ...) between IHDR and IDAT.
Bytes png_file(uint32_t width, uint32_t height, uint8_t bit_depth, uint8_t colour_type, const std::vector<Bytes>& rows,
               const Bytes& before_data = {}) {
  Bytes out{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  Bytes header;
  put_big_endian_32(header, width);
  put_big_endian_32(header, height);
  header.insert(header.end(), {bit_depth, colour_type, 0, 0, 0});
  const Bytes ihdr = png_chunk("IHDR", header);
  out.insert(out.end(), ihdr.begin(), ihdr.end());
  out.insert(out.end(), before_data.begin(), before_data.end());
  Bytes raw;
  for (const Bytes& row : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), row.begin(), row.end());
  }
  const Bytes idat = png_chunk("IDAT", zlib_compress(raw)), iend = png_chunk("IEND", {});
  out.insert(out.end(), idat.begin(), idat.end());
  out.insert(out.end(), iend.begin(), iend.end());
  return out;
}

// Where the IDAT chunk's data starts in a png_file, and how long it is.
std::pair<size_t, size_t> idat_data(const Bytes& png) {
  for (size_t at = 8; at + 8 <= png.size();) {
    const size_t length = size_t(png[at]) << 24 | size_t(png[at + 1]) << 16 | size_t(png[at + 2]) << 8 | png[at + 3];
    if (std::string(png.begin() + int64_t(at + 4), png.begin() + int64_t(at + 8)) == "IDAT") return {at + 8, length};
    at += 12 + length;
  }
  FAIL("no IDAT chunk");
  return {0, 0};
}

// Recomputes the CRC of the IDAT chunk after its data was edited.
void fix_idat_crc(Bytes& png) {
  const auto [data, length] = idat_data(png);
  const uint32_t crc = uint32_t(crc32(0L, png.data() + data - 4, uInt(length + 4)));
  for (int i = 0; i < 4; ++i) png[data + length + size_t(i)] = uint8_t(crc >> (24 - 8 * i));
}

// A JPEG from libjpeg's encoder; `scans` (optional) is a progressive scan script.
Bytes jpeg_file(int width, int height, int components, const Bytes& pixels,
                const std::vector<jpeg_scan_info>& scans = {}) {
  jpeg_compress_struct c;
  jpeg_error_mgr errors;
  c.err = jpeg_std_error(&errors);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = JDIMENSION(width);
  c.image_height = JDIMENSION(height);
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 4 ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  if (!scans.empty()) {
    c.scan_info = scans.data();
    c.num_scans = int(scans.size());
  }
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data()) + size_t(c.next_scanline) * size_t(width * components);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

// A 16×16 RGB JPEG of one colour.
Bytes plain_jpeg() {
  Bytes pixels;
  for (int i = 0; i < 16 * 16; ++i) pixels.insert(pixels.end(), {200, 40, 90});
  return jpeg_file(16, 16, 3, pixels);
}

bool close_to(const Bytes& got, const Bytes& want, int tolerance) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::abs(int(got[i]) - int(want[i])) > tolerance) return false;
  return true;
}

}  // namespace

TEST_CASE("image decoders: 8-bit and 16-bit and palette and grey-alpha PNGs give the expected pixels", "[data][images]") {
  // 8-bit RGB; grey with stb_image's weights, (77 R + 150 G + 29 B) >> 8, as kiln always computed it.
  const Bytes rgb = png_file(2, 1, 8, 2, {{10, 20, 30, 200, 100, 50}});
  CHECK(decode_image(rgb, "rgb.png", 3).pixels == Bytes{10, 20, 30, 200, 100, 50});
  CHECK(decode_image(rgb, "rgb.png", 1).pixels == Bytes{18, 124});
  // 16-bit RGB keeps the high byte of each sample.
  const Bytes deep = png_file(1, 1, 16, 2, {{0x12, 0x34, 0xab, 0xcd, 0x00, 0xff}});
  CHECK(decode_image(deep, "deep.png", 3).pixels == Bytes{0x12, 0xab, 0x00});
  // A palette of two colours, indices 1 and 0.
  const Bytes palette =
      png_file(2, 1, 8, 3, {{1, 0}}, png_chunk("PLTE", {1, 2, 3, 250, 251, 252}));
  CHECK(decode_image(palette, "palette.png", 3).pixels == Bytes{250, 251, 252, 1, 2, 3});
  // Grey with alpha: the alpha is dropped, the grey repeated for RGB.
  const Bytes grey_alpha = png_file(2, 1, 8, 4, {{40, 255, 90, 0}});
  CHECK(decode_image(grey_alpha, "ga.png", 3).pixels == Bytes{40, 40, 40, 90, 90, 90});
  CHECK(decode_image(grey_alpha, "ga.png", 1).pixels == Bytes{40, 90});
  // RGBA, 1×2: two rows.
  const Bytes rgba = png_file(1, 2, 8, 6, {{1, 2, 3, 4}, {5, 6, 7, 8}});
  const Image im = decode_image(rgba, "rgba.png", 3);
  CHECK((im.width == 1 && im.height == 2 && im.channels == 3 && im.pixels == Bytes{1, 2, 3, 5, 6, 7}));
}

TEST_CASE("image decoders: a JPEG and a BMP give the expected pixels and oversized ones are refused", "[data][images]") {
  const Image colour = decode_image(plain_jpeg(), "plain.jpg", 3);
  REQUIRE((colour.width == 16 && colour.height == 16 && colour.channels == 3));
  Bytes want;
  for (int i = 0; i < 16 * 16; ++i) want.insert(want.end(), {200, 40, 90});
  CHECK(close_to(colour.pixels, want, 3));  // JPEG is lossy: a few levels off at most for one flat colour
  const Image luma = decode_image(plain_jpeg(), "plain.jpg", 1);
  CHECK(close_to(luma.pixels, Bytes(16 * 16, 95), 3));  // 0.299·200 + 0.587·40 + 0.114·90 = 93.5 (rounding)
  const Image grey = decode_image(jpeg_file(8, 8, 1, Bytes(64, 77)), "grey.jpg", 3);
  CHECK(close_to(grey.pixels, Bytes(64 * 3, 77), 2));
  // CMYK, stored inverted as Adobe writes it (255 = no ink): red = C·K/255 and so on.
  Bytes cmyk;
  for (int i = 0; i < 64; ++i) cmyk.insert(cmyk.end(), {255, 128, 0, 255});
  const Image from_cmyk = decode_image(jpeg_file(8, 8, 4, cmyk), "cmyk.jpg", 3);
  Bytes rgb;
  for (int i = 0; i < 64; ++i) rgb.insert(rgb.end(), {255, 128, 0});
  CHECK((from_cmyk.channels == 3 && close_to(from_cmyk.pixels, rgb, 3)));

  // A 2×2 24-bit BMP, written by hand: rows bottom-up, BGR, each row padded to 4 bytes.
  Bytes bmp{'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,  // file header: size 70, pixels at 54
            40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0,  // info header: 2×2, 1 plane, 24 bits
            0, 0, 0, 0, 16, 0, 0, 0, 0x13, 0x0b, 0, 0, 0x13, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  bmp.insert(bmp.end(), {3, 2, 1, 6, 5, 4, 0, 0});      // bottom row: (1,2,3) (4,5,6)
  bmp.insert(bmp.end(), {9, 8, 7, 12, 11, 10, 0, 0});   // top row: (7,8,9) (10,11,12)
  const Image b = decode_image(bmp, "small.bmp", 3);
  CHECK((b.width == 2 && b.height == 2 && b.pixels == Bytes{7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6}));
  Bytes top_down = bmp;  // the same rows stored top-down: the header's height is -2
  top_down[22] = 0xfe, top_down[23] = top_down[24] = top_down[25] = 0xff;
  CHECK(decode_image(top_down, "top_down.bmp", 3).pixels == Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  // The same header claiming 20000 × 20000 pixels is refused before stb allocates for them.
  Bytes huge = bmp;
  huge[18] = huge[22] = 0x20, huge[19] = huge[23] = 0x4e;
  CHECK_THROWS_WITH_TEXT(decode_image(huge, "huge.bmp", 3), "'huge.bmp' is 20000x20000 pixels: larger than kiln reads");
}

TEST_CASE("image decoders: PPM and PGM and Radiance HDR files are refused as not PNG or JPEG or BMP", "[data][images]") {
  // Valid 16-bit PPM and PGM: stb_image read past its buffer on these (CVE-2021-42716).
  Bytes ppm{'P', '6', '\n', '1', ' ', '1', '\n', '6', '5', '5', '3', '5', '\n'};
  ppm.insert(ppm.end(), {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc});
  CHECK_THROWS_WITH_TEXT(decode_image(ppm, "deep.ppm", 3),
                         "image 'deep.ppm' is not a PNG, JPEG or BMP file: it starts with 50 36 0a 31 20 31");
  CHECK_THROWS_WITH_TEXT(decode_image(ppm, "deep.ppm", 3), "(\"P6\\n1 1\\n65535\"");
  Bytes pgm{'P', '5', '\n', '2', ' ', '1', '\n', '6', '5', '5', '3', '5', '\n', 1, 2, 3, 4};
  CHECK_THROWS_WITH_TEXT(decode_image(pgm, "deep.pgm", 1), "'deep.pgm' is not a PNG, JPEG or BMP file");
  // A small Radiance HDR file named .png: an RLE scan line of 8 pixels that ends at once, on which
  // stb_image looped forever (CVE-2021-42715). Refused at once.
  const std::string hdr_text = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 8\n";
  Bytes hdr(hdr_text.begin(), hdr_text.end());
  hdr.insert(hdr.end(), {2, 2, 0, 8});
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_TEXT(decode_image(hdr, "x.png", 3), "image 'x.png' is not a PNG, JPEG or BMP file: it starts with 23 3f 52");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK_THROWS_WITH_TEXT(decode_image({'G', 'I', 'F', '8', '9', 'a'}, "a.gif", 3), "not a PNG, JPEG or BMP file");
  CHECK_THROWS_WITH_TEXT(decode_image({1, 2, 3, 4}, "junk.png", 3), "it starts with 01 02 03 04 (\"\\x01\\x02\\x03\\x04\")");
  CHECK_THROWS_WITH_TEXT(decode_image({}, "empty.png", 3), "image 'empty.png' is empty");
}

TEST_CASE("image decoders: PNGs with a bad CRC or bad zlib data or a truncated end are refused", "[data][images]") {
  const Bytes good = png_file(4, 4, 8, 2, std::vector<Bytes>(4, Bytes(12, 100)));
  REQUIRE(decode_image(good, "good.png", 3).pixels == Bytes(48, 100));
  const auto [data, length] = idat_data(good);
  // The IDAT chunk's CRC wrong, its data intact: stb_image never looked at CRCs.
  Bytes bad_crc = good;
  bad_crc[data + length + 3] ^= 0x40;
  CHECK_THROWS_WITH_TEXT(decode_image(bad_crc, "crc.png", 3), "image 'crc.png' is a damaged PNG file: IDAT: CRC error");
  // A damaged byte in the compressed data, the CRC left as it was (the zlib checksum may see it first).
  Bytes bad_byte = good;
  bad_byte[data + 3] ^= 0x40;
  CHECK_THROWS_WITH_TEXT(decode_image(bad_byte, "byte.png", 3), "image 'byte.png' is a damaged PNG file: IDAT: ");
  // The zlib checksum (Adler-32, the last 4 bytes of the stream) damaged and the chunk CRC recomputed:
  // stb_image decoded this with exit 0; every pixel is right, only the checksum says the data is not.
  Bytes bad_adler = good;
  bad_adler[data + length - 1] ^= 0x01;
  fix_idat_crc(bad_adler);
  CHECK_THROWS_WITH_TEXT(decode_image(bad_adler, "adler.png", 3),
                         "image 'adler.png' is a damaged PNG file: IDAT: incorrect data check");
  // The deflate stream itself damaged, CRC recomputed: different pixels must not come out.
  Bytes bad_deflate = good;
  bad_deflate[data + 2] ^= 0xff;
  fix_idat_crc(bad_deflate);
  CHECK_THROWS_WITH_TEXT(decode_image(bad_deflate, "deflate.png", 3), "image 'deflate.png' is a damaged PNG file");
  const Bytes truncated(good.begin(), good.begin() + int64_t(data + length / 2));
  CHECK_THROWS_WITH_TEXT(decode_image(truncated, "cut.png", 3), "image 'cut.png' is a damaged PNG file");
  // A header claiming 100000 × 100000 pixels is refused before anything is allocated.
  const Bytes huge = png_file(100000, 100000, 8, 2, {});
  CHECK_THROWS_WITH_TEXT(decode_image(huge, "huge.png", 3), "'huge.png' is 100000x100000 pixels: larger than kiln reads");
}

TEST_CASE("image decoders: a PNG chunk named with an ESC byte is quoted escaped", "[data][images]") {
  const Bytes escape = png_chunk("\x1b[2J", {1, 2, 3});
  const Bytes png = png_file(1, 1, 8, 0, {{7}}, escape);
  try {
    decode_image(png, "esc.png", 1);
    FAIL("a chunk named ESC[2J was accepted");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("image 'esc.png' is a damaged PNG file") != std::string::npos);
    CHECK(message.find("[1B]") != std::string::npos);
    CHECK(message.find('\x1b') == std::string::npos);
  }
}

TEST_CASE("image decoders: truncated JPEGs and bad Huffman tables and too many scans are refused", "[data][images]") {
  const Bytes good = plain_jpeg();
  const Bytes truncated(good.begin(), good.begin() + int64_t(good.size() * 2 / 3));
  CHECK_THROWS_WITH_TEXT(decode_image(truncated, "cut.jpg", 3), "image 'cut.jpg' is a damaged JPEG file: ");
  // A Huffman table (DHT) declaring 300 codes, more than the 256 a table can hold, right after the start.
  Bytes dht{0xff, 0xc4, 0x01, 0x3f, 0x00};  // length 319 = 2 + 1 + 16 + 300, table class 0 index 0
  const Bytes counts{0, 0, 0, 0, 0, 0, 0, 0, 37, 37, 37, 37, 37, 37, 37, 41};
  dht.insert(dht.end(), counts.begin(), counts.end());
  dht.insert(dht.end(), 300, 0x01);
  Bytes bad_huffman = good;
  bad_huffman.insert(bad_huffman.begin() + 2, dht.begin(), dht.end());
  CHECK_THROWS_WITH_TEXT(decode_image(bad_huffman, "huff.jpg", 3), "image 'huff.jpg' is a damaged JPEG file: Bogus Huffman table");
  // A frame header (SOF0) claiming 10000 × 10000 pixels is refused before anything is allocated.
  Bytes huge = good;
  for (size_t at = 2; at + 9 < huge.size(); ++at)
    if (huge[at] == 0xff && huge[at + 1] == 0xc0) {
      huge[at + 5] = 0x27, huge[at + 6] = 0x10, huge[at + 7] = 0x27, huge[at + 8] = 0x10;  // height, width
      break;
    }
  CHECK_THROWS_WITH_TEXT(decode_image(huge, "huge.jpg", 3), "'huge.jpg' is 10000x10000 pixels: larger than kiln reads");
  // A progressive grey JPEG of 65 scans (DC in two steps, then each AC coefficient alone) is refused:
  // kiln reads at most 64. The same picture in 64 scans (DC in one) is read.
  std::vector<jpeg_scan_info> scans{{1, {0, 0, 0, 0}, 0, 0, 0, 1}, {1, {0, 0, 0, 0}, 0, 0, 1, 0}};
  for (int k = 1; k < 64; ++k) scans.push_back({1, {0, 0, 0, 0}, k, k, 0, 0});
  const Bytes flat(64, 120);
  CHECK_THROWS_WITH_TEXT(decode_image(jpeg_file(8, 8, 1, flat, scans), "scans.jpg", 1),
                         "image 'scans.jpg' is a damaged JPEG file: more than 64 scans");
  scans.erase(scans.begin());
  scans[0].Ah = 0;
  CHECK(close_to(decode_image(jpeg_file(8, 8, 1, flat, scans), "scans.jpg", 1).pixels, flat, 2));
}

TEST_CASE("image folder: every damaged or foreign picture is skipped and named", "[data][images]") {
  const fs::path root = test::fresh_dir("images", "damaged");
  auto write = [&](const std::string& name, const Bytes& bytes) {
    std::ofstream(root / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), int64_t(bytes.size()));
  };
  write("good.png", png_file(2, 2, 8, 2, std::vector<Bytes>(2, Bytes(6, 50))));
  const std::string hdr_text = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 8\n";
  Bytes hdr(hdr_text.begin(), hdr_text.end());
  hdr.insert(hdr.end(), {2, 2, 0, 8});  // the scan line stb_image looped on forever
  write("x.png", hdr);
  const Bytes jpeg = plain_jpeg();
  write("cut.jpg", Bytes(jpeg.begin(), jpeg.begin() + int64_t(jpeg.size() / 2)));
  write("a.gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0});
  const auto start = std::chrono::steady_clock::now();
  const ImageFolder folder = load_image_folder(root.string(), {.size = 2, .channels = 3});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(folder.files.size() == 1);
  REQUIRE(folder.skipped.size() == 3);
  CHECK(folder.skipped[0].find("a.gif' is not a PNG, JPEG or BMP file") != std::string::npos);
  CHECK(folder.skipped[1].find("cut.jpg' is a damaged JPEG file") != std::string::npos);
  CHECK(folder.skipped[2].find("x.png' is not a PNG, JPEG or BMP file") != std::string::npos);
}
