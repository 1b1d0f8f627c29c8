// Reading and writing safetensors files (https://github.com/huggingface/safetensors), the real format:
//   [u64 little-endian N] [N bytes of JSON header] [raw little-endian tensor data]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the
// data section) plus an optional "__metadata__" object of string → string.
// dtypes: F32 F64 BF16 F16 I64 I32 U8 BOOL (kiln's DTypes).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln {

struct SafetensorsFile {
  // In the order of their data in the file (for files kiln wrote: the order they were saved in).
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
  // The file's bytes before the data section, as read: the 8-byte header length and the JSON header
  // (what a checksum over the header, such as a kiln checkpoint's, is computed on).
  std::string header;

  // The tensor called `name`; throws kiln::Error listing the names when there is none.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
};

// Writes the tensors (any layout, any device: copied to contiguous CPU bytes) in the given order, with a
// header padded with spaces to a multiple of 8 bytes. Names must be unique, non-empty and not
// "__metadata__". The file is replaced atomically (see atomic_file.h).
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The bytes save_safetensors writes before the data: the 8-byte little-endian header length and the
// padded JSON header (`path` only names the file in errors).
std::string encode_safetensors_header(const std::string& path,
                                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                                      const std::map<std::string, std::string>& metadata);

// Reads a whole file; tensors are contiguous CPU tensors with the file's dtypes (bfloat16/float16 too:
// see half.h to compute with them). Every inconsistency throws kiln::Error naming the file, among them
// the format's rule that the tensors' data_offsets, taken in order, cover the data section exactly: from
// byte 0, without a gap or an overlap, to the end of the file (a file with bytes inserted or appended
// is refused). Names and values from the file are quoted with kiln::printable. Values are not checked:
// NaN and Inf load as they are (finite_check.h has the check for loaders of weights).
SafetensorsFile load_safetensors(const std::string& path);

// The safetensors dtype string ("F32", ...) of a DType, and back (throws on unknown names).
const char* safetensors_dtype_name(DType dtype);

}  // namespace kiln
