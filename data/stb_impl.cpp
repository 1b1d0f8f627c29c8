// The one translation unit that compiles the stb single-header libraries kiln uses (Debian's
// libstb-dev headers). Warnings are off for this file only (see CMakeLists.txt): it is not our code.
// stb_image is built with its BMP decoder alone: PNG and JPEG go through libpng and libjpeg-turbo, and
// every other format (GIF, PSD, TGA, HDR, PIC, PNM) is compiled out, so no file can reach those decoders.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STBI_ONLY_BMP
#define STBI_NO_LINEAR  // no float (HDR) loading entry points either
#define STBI_MAX_DIMENSIONS 65536
#define STBI_NO_STDIO  // kiln reads files itself (errors name the file) and writes them atomically
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
