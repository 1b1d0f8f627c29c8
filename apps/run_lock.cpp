#include "apps/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace kiln::apps {
namespace fs = std::filesystem;

std::unique_ptr<RunLock> RunLock::try_acquire(const std::string& folder) {
  const std::string path = folder + "/.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  KILN_CHECK(fd >= 0, "cannot create the lock file '", path, "': ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    KILN_CHECK(err == EWOULDBLOCK, "cannot lock '", path, "': ", std::strerror(err));
    return nullptr;
  }
  return std::unique_ptr<RunLock>(new RunLock(fd));
}

RunLock::~RunLock() { ::close(fd_); }  // closing the descriptor releases the lock

void remove_stale_temporaries(const std::string& folder) {
  for (const fs::path& dir : {fs::path(folder), fs::path(folder) / "samples"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos && entry.is_regular_file(ec))
        fs::remove(entry.path(), ec);  // a failure leaves a harmless file behind
    }
  }
}

}  // namespace kiln::apps
