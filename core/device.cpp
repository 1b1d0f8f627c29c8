#include "core/device.h"

#include "core/error.h"

namespace kiln {

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    std::string idx = text.substr(5);
    bool digits = !idx.empty() && idx.size() < 4 && idx.find_first_not_of("0123456789") == std::string::npos;
    KILN_CHECK(digits, "bad device '", text, "': expected cpu, cuda or cuda:N");
    return Device::cuda(std::stoi(idx));
  }
  KILN_FAIL("bad device '", text, "': expected cpu, cuda or cuda:N");
}

}  // namespace kiln
