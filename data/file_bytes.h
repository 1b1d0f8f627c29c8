// Reading whole files for the data loaders: one call that returns a file's bytes, transparently
// gunzipping it (files that do not start with the gzip signature are returned unchanged), with errors
// naming the file. It never returns part of a file: a truncated or corrupt gzip stream is an error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

// The most bytes kiln reads from one file (on disk, and again after decompression): 2 GiB.
inline constexpr uint64_t kMaxFileBytes = uint64_t(1) << 31;

// The whole content of `path` (decompressed if it is gzip data: concatenated gzip members are read one
// after the other, as gzip does). Throws kiln::Error naming the file when it does not exist, is a folder,
// a device or a FIFO rather than a regular file, is larger than `max_bytes` (on disk or decompressed),
// cannot be read, or its gzip data is corrupt, truncated or followed by bytes that are not gzip data.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes = kMaxFileBytes);

// A byte count for messages: "2 GiB", "64 MiB", "1000 bytes" (exact; a unit only where it divides).
std::string byte_size_text(uint64_t bytes);

}  // namespace kiln::data
