#include "apps/model_io.h"

#include "core/error.h"
#include "core/serialization/safetensors.h"

namespace kiln::apps {

void save_weights(const Module& model, const std::string& path, const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, model.state_dict(), metadata);
}

void load_weights(Module& model, const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  try {
    model.load_state_dict(file.tensors);
  } catch (const Error& e) {
    KILN_FAIL("weights in '", path, "' do not fit this model: ", e.what());
  }
}

}  // namespace kiln::apps
