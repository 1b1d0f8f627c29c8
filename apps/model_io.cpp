#include "apps/model_io.h"

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/serialization/finite_check.h"
#include "core/serialization/safetensors.h"

namespace kiln::apps {

void save_weights(const Module& model, const std::string& path, const std::map<std::string, std::string>& metadata) {
  const NamedTensors state = model.state_dict();
  {  // never a model file with NaN or infinity in it (x − x sums to 0 exactly when every x is finite)
    NoGradGuard no_grad;
    for (const auto& [name, t] : state)
      KILN_CHECK(!is_floating(t.dtype()) || t.numel() == 0 || sum(sub(t, t)).item() == 0.0, "refusing to write '",
                 path, "': its tensor '", name, "' holds nan or inf (the run diverged)");
  }
  save_safetensors(path, state, metadata);
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
