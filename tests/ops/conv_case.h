// The convolution test case shared by the CPU tests (tests/ops/test_conv.cpp) and the CUDA conformance
// tests (tests/cuda/test_cuda_conv.cpp): its shapes and options, and a one-line description for INFO.
#pragma once
#include <cstdint>
#include <sstream>
#include <string>

#include "core/ops/ops.h"

namespace kiln::test {

struct ConvCase {
  int64_t n, c_in, h, w, c_out, kh, kw;
  Pair stride, padding, dilation;
  int64_t groups;
  bool bias;
  Pair output_padding = {0, 0};  // conv_transpose2d only
};

inline std::string describe(const ConvCase& c) {
  std::ostringstream os;
  os << "N " << c.n << " C_in " << c.c_in << " " << c.h << "×" << c.w << " C_out " << c.c_out << " k " << c.kh << "×"
     << c.kw << " stride (" << c.stride[0] << ", " << c.stride[1] << ") padding (" << c.padding[0] << ", "
     << c.padding[1] << ") dilation (" << c.dilation[0] << ", " << c.dilation[1] << ") groups " << c.groups
     << " output_padding (" << c.output_padding[0] << ", " << c.output_padding[1] << ") bias " << c.bias;
  return os.str();
}

}  // namespace kiln::test
