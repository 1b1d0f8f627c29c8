#include "data/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace kiln::data {
namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The bytes of a regular file as they are on disk. The file is opened without blocking and its type is
// checked on the open descriptor (no window for the path to change in between): a FIFO would otherwise
// wait for a writer, and a device such as /dev/zero never ends.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  KILN_CHECK(fd >= 0, "cannot open '", path, "': ", std::strerror(errno));
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_at_end{fd};
  struct stat st {};
  KILN_CHECK(::fstat(fd, &st) == 0, "cannot read '", path, "': ", std::strerror(errno));
  KILN_CHECK(!S_ISDIR(st.st_mode), "cannot read '", path, "': it is a folder, not a file");
  KILN_CHECK(S_ISREG(st.st_mode), "cannot read '", path, "': it is ", file_kind(st.st_mode), ", not a regular file");
  KILN_CHECK(uint64_t(st.st_size) <= max_bytes, "cannot read '", path, "': it is ", st.st_size,
             " bytes, over kiln's limit of ", byte_size_text(max_bytes), " for one file");
  std::vector<uint8_t> bytes;
  bytes.reserve(size_t(st.st_size));
  // Up to 1 MiB at a time; a small file needs no more than its size (+1 to see the end in the same call).
  std::vector<uint8_t> buffer(size_t(std::min<uint64_t>(uint64_t(1) << 20, uint64_t(st.st_size) + 1)));
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    KILN_CHECK(n >= 0, "cannot read '", path, "': ", std::strerror(errno));
    if (n == 0) break;
    KILN_CHECK(bytes.size() + size_t(n) <= max_bytes, "cannot read '", path, "': it is over kiln's limit of ",
               byte_size_text(max_bytes), " for one file");  // the file grew while being read
    bytes.insert(bytes.end(), buffer.data(), buffer.data() + n);
  }
  return bytes;
}

bool is_gzip(const std::vector<uint8_t>& bytes, size_t at) {
  return bytes.size() - at >= 2 && bytes[at] == 0x1f && bytes[at + 1] == 0x8b;
}

// Decompresses every gzip member of `in`. zlib's gzread would return what it could of a truncated
// stream without an error, and ignore bytes after the last member; both are errors here.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path, uint64_t max_bytes) {
  z_stream z{};
  KILN_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "cannot read '", path, "': zlib could not start");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::vector<uint8_t> out, buffer(size_t(1) << 18);
  // The last four bytes give the (last member's) size mod 2³²: a hint that saves regrowing `out`, trusted
  // only up to what deflate can reach (at most 1032:1), so that a forged trailer reserves nothing absurd.
  if (in.size() >= 18) {
    const size_t n = in.size();
    const uint64_t hint = uint64_t(in[n - 4]) | uint64_t(in[n - 3]) << 8 | uint64_t(in[n - 2]) << 16 |
                          uint64_t(in[n - 1]) << 24;
    out.reserve(size_t(std::min({hint, max_bytes, uint64_t(n) * 1032})));
  }
  size_t fed = 0;  // bytes of `in` handed to zlib so far
  auto consumed = [&] { return fed - z.avail_in; };
  while (true) {  // one gzip member
    while (true) {
      if (z.avail_in == 0 && fed < in.size()) {
        const size_t piece = std::min<size_t>(in.size() - fed, size_t(1) << 30);
        z.next_in = const_cast<Bytef*>(in.data() + fed);
        z.avail_in = uInt(piece);
        fed += piece;
      }
      z.next_out = buffer.data();
      z.avail_out = uInt(buffer.size());
      const int rc = inflate(&z, Z_NO_FLUSH);
      const size_t produced = buffer.size() - z.avail_out;
      KILN_CHECK(out.size() + produced <= max_bytes, "cannot read '", path, "': it decompresses to more than ",
                 byte_size_text(max_bytes), ", kiln's limit for one file");
      out.insert(out.end(), buffer.data(), buffer.data() + produced);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && z.avail_in == 0 && fed == in.size())
        KILN_FAIL("cannot read '", path, "': truncated gzip stream (the file ends after ", in.size(),
                  " bytes, in the middle of the compressed data)");
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        KILN_FAIL("cannot read '", path, "': corrupt gzip data at or before byte ", consumed(), " (",
                  z.msg != nullptr ? z.msg : zError(rc), ")");
    }
    const size_t at = consumed();
    // Zero bytes after the last member (padding from tape or block devices) are accepted, as gzip does.
    if (std::all_of(in.begin() + ptrdiff_t(at), in.end(), [](uint8_t b) { return b == 0; })) return out;
    KILN_CHECK(is_gzip(in, at), "cannot read '", path, "': ", in.size() - at,
               " bytes of trailing garbage after the end of the gzip data at byte ", at);
    KILN_CHECK(inflateReset(&z) == Z_OK, "cannot read '", path, "': zlib could not restart");
  }
}

}  // namespace

std::string byte_size_text(uint64_t bytes) {
  const char* units[] = {"GiB", "MiB", "KiB"};
  for (int i = 0; i < 3; ++i) {
    const uint64_t unit = uint64_t(1) << (30 - 10 * i);
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + " " + units[i];
  }
  return std::to_string(bytes) + " bytes";
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  std::vector<uint8_t> raw = read_regular_file(path, max_bytes);
  return is_gzip(raw, 0) ? gunzip(raw, path, max_bytes) : raw;
}

}  // namespace kiln::data
