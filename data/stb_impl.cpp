// The one translation unit that compiles the stb single-header libraries kiln uses (Debian's
// libstb-dev headers). Warnings are off for this file only (see CMakeLists.txt): it is not our code.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STBI_NO_STDIO  // kiln reads files itself (errors name the file) and writes them atomically
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
