// An exclusive lock on a run folder (flock on RUN/.lock) for as long as a training command writes into
// it: a second `kiln train --out RUN` or `kiln resume RUN` meanwhile is refused (or, for a new run, goes
// to the next free folder name) instead of interleaving its checkpoints and metrics with the first one's.
// The lock belongs to the process: a crash or SIGKILL releases it. Reading a run (sample, eval) takes none.
#pragma once
#include <memory>
#include <string>

namespace kiln::apps {

class RunLock {
 public:
  // The lock of `folder` (which must exist), or nullptr when another process holds it.
  static std::unique_ptr<RunLock> try_acquire(const std::string& folder);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_;
};

// Removes the temporary files (".NAME.tmp.*") that a process killed while writing left in `folder` and
// its samples/; call it holding the folder's lock, when no writer of this run can be at work.
void remove_stale_temporaries(const std::string& folder);

}  // namespace kiln::apps
