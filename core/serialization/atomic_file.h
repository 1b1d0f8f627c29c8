// Crash-safe file replacement: the bytes go to a temporary file in the target's directory, which is
// flushed, fsync'ed and renamed over the target, and then the directory is fsync'ed. A reader (or a
// crash) sees either the complete old file or the complete new one, never a mix. Used by safetensors
// and checkpoints.
#pragma once
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

namespace kiln {

// Calls `write` with a stream onto the temporary file, then publishes it as `path`. On any failure
// (the callback throws, disk full, unwritable directory, ...) the temporary file is removed and a
// previous file at `path` is left untouched. OS failures throw kiln::Error naming the path and
// strerror; an exception thrown by `write` itself propagates unchanged.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// The same for a byte buffer.
void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace kiln
