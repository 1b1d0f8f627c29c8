// Reading whole files for the data loaders: one call that returns a file's bytes, transparently
// gunzipping it (zlib passes uncompressed files through unchanged), with errors naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

// The whole content of `path` (decompressed if it is gzip data). Throws kiln::Error naming the file
// when it cannot be opened or its gzip stream is corrupt.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace kiln::data
