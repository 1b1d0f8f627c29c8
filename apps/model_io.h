// Model weights as safetensors files with PyTorch's names (model.safetensors in a run folder), and the
// commands' way of reading them back with a clear error naming the file.
#pragma once
#include <map>
#include <string>

#include "layers/module.h"

namespace kiln::apps {

void save_weights(const Module& model, const std::string& path, const std::map<std::string, std::string>& metadata);
// Strict load (every name and shape must match, every floating-point value finite); errors name the file
// (and the tensor holding a NaN or Inf).
void load_weights(Module& model, const std::string& path);

}  // namespace kiln::apps
