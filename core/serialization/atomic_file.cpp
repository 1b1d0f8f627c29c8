#include "core/serialization/atomic_file.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <streambuf>
#include <vector>

#include "core/error.h"

namespace kiln {
namespace {

// strerror, and for EFBIG the limit that was hit (a process's file size limit, `ulimit -f`).
std::string os_error(int err) {
  std::string text = std::strerror(err);
  rlimit limit{};
  if (err == EFBIG && ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    text += " (the file size limit, ulimit -f, is " + std::to_string(limit.rlim_cur) + " bytes)";
  return text;
}

// A streambuf writing to a file descriptor through a buffer; remembers the first write error (errno).
class FdStreambuf : public std::streambuf {
 public:
  explicit FdStreambuf(int fd) : fd_(fd), buffer_(1 << 20) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }
  // Writes out the buffer; returns false (and sets error()) on failure.
  bool flush_buffer() {
    const char* p = pbase();
    size_t left = size_t(pptr() - pbase());
    while (left > 0 && error_ == 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
      } else {
        p += n;
        left -= size_t(n);
      }
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return error_ == 0;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

// Creates a fresh temporary file next to `path` (mode 0666 minus umask, like a plain create).
int create_temp(const std::string& path, std::string& temp_path) {
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  std::random_device rd;
  for (int attempt = 0;; ++attempt) {
    std::string name = ".";
    name += target.filename().string();
    name += ".tmp.";
    name += std::to_string(::getpid());
    name += '.';
    name += std::to_string(counter++);
    name += '.';
    name += std::to_string(rd());
    temp_path = (dir / name).string();
    int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    int err = errno;
    if (err == EEXIST && attempt < 100) continue;
    KILN_FAIL("cannot write '", path, "': creating the temporary file '", temp_path, "' failed: ", os_error(err));
  }
}

void fsync_directory(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::string d = dir.empty() ? "." : dir.string();
  int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) KILN_FAIL("wrote '", path, "' but cannot open its directory '", d, "' to sync it: ", os_error(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems do not support syncing directories (EINVAL); the rename itself is done.
  if (rc != 0 && err != EINVAL)
    KILN_FAIL("wrote '", path, "' but syncing its directory '", d, "' failed: ", os_error(err));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  KILN_CHECK(!path.empty(), "write_file_atomically: the path is empty");
  std::string temp_path;
  int fd = create_temp(path, temp_path);
  // Removes the temporary file and throws; fd is -1 afterwards so nothing closes it twice.
  auto fail = [&](const std::string& what, int err) {
    if (fd >= 0) ::close(fd);
    fd = -1;
    ::unlink(temp_path.c_str());
    KILN_FAIL("cannot write '", path, "': ", what, ": ", os_error(err));
  };
  try {
    FdStreambuf buf(fd);
    std::ostream os(&buf);
    write(os);
    if (!buf.flush_buffer()) fail("writing the temporary file '" + temp_path + "' failed", buf.error());
    if (!os) fail("the stream went bad while writing '" + temp_path + "'", buf.error() ? buf.error() : EIO);
  } catch (...) {
    if (fd >= 0) {  // the callback threw (fail() has already cleaned up otherwise)
      ::close(fd);
      ::unlink(temp_path.c_str());
    }
    throw;
  }
  if (::fsync(fd) != 0) fail("syncing the temporary file '" + temp_path + "' failed", errno);
  int fd_closed = fd;
  fd = -1;
  if (::close(fd_closed) != 0) fail("closing the temporary file '" + temp_path + "' failed", errno);
  if (::rename(temp_path.c_str(), path.c_str()) != 0)
    fail("renaming the temporary file '" + temp_path + "' over it failed", errno);
  fsync_directory(path);
}

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  write_file_atomically(path, [&](std::ostream& os) { os.write(static_cast<const char*>(data), std::streamsize(size)); });
}

}  // namespace kiln
