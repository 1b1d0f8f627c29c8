// A file that lives in memory (memfd_create), for fuzzing the loaders that only take a path: each input
// replaces the file's content, and /proc/self/fd/N names it like any regular file on disk.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace kiln::fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("kiln-fuzz-input", 0)) {
    if (fd_ < 0) std::abort();  // the fuzzer cannot run at all: stop at once
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { ::close(fd_); }

  // Makes `bytes` the whole content of the file and returns its path.
  const std::string& hold(const uint8_t* bytes, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, bytes + done, size - done, off_t(done));
      if (n <= 0) std::abort();
      done += size_t(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace kiln::fuzz
