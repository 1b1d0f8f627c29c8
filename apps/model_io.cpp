#include "apps/model_io.h"

#include "core/error.h"
#include "core/serialization/finite_check.h"
#include "core/serialization/safetensors.h"

namespace kiln::apps {

void save_weights(const Module& model, const std::string& path, const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, model.state_dict(), metadata);
}

void load_weights(Module& model, const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  // Weights of a run that diverged (or a damaged file) are refused here, naming the tensor, rather
  // than found later as "the logits hold nan" with no file named.
  check_finite_tensors(file.tensors, "weights in '" + path + "'");
  try {
    model.load_state_dict(file.tensors);
  } catch (const Error& e) {
    KILN_FAIL("weights in '", path, "' do not fit this model: ", e.what());
  }
}

}  // namespace kiln::apps
