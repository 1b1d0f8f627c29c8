#include "data/file_bytes.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace kiln::data {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  KILN_CHECK(f != nullptr, "cannot open '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      std::string why = gzerror(f, &code);
      gzclose(f);
      KILN_FAIL("cannot read '", path, "': corrupt gzip data (", why, ")");
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  gzclose(f);
  return out;
}

}  // namespace kiln::data
