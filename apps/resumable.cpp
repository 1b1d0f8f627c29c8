#include "apps/resumable.h"

#include <filesystem>

#include "core/error.h"
#include "core/serialization/checkpoint.h"

namespace kiln::apps {

Checkpoint Resumable::capture(int64_t step, const Config& config, const Config& notes) const {
  Checkpoint c;
  c.step = step;
  c.config = config;
  c.notes = notes;
  for (const auto& [name, m] : modules) c.add_state("model." + name, m->state_dict());
  for (const auto& [name, o] : optimizers) c.add_state("optimizer." + name, o->state_tensors());
  for (const auto& [name, e] : averages) c.add_state("ema." + name, e->state_tensors());
  c.add_generator("default", default_generator());
  for (const auto& [name, g] : generators) c.add_generator(name, *g);
  if (loader) c.data = {loader->position().epoch, loader->position().batch};
  return c;
}

void Resumable::save(const RunDir& run, int64_t step, const Config& config, const Config& notes) const {
  save_checkpoint(run.file("checkpoint.safetensors"), capture(step, config, notes));
}

void Resumable::restore_from(const Checkpoint& c, bool weights_only) {
  // Each group's errors name the group, so that with the file and the entry they say where the fault is.
  auto restore_group = [&](const std::string& group, const auto& load) {
    try {
      load(c.state(group));
    } catch (const Error& e) {
      KILN_FAIL("group '", group, "': ", e.what());
    }
  };
  // (Lambdas capture the pointers by name: clang 14 cannot capture a structured binding.)
  for (auto& entry : modules) {
    auto* module = entry.second;
    restore_group("model." + entry.first, [&](const NamedTensors& s) { module->load_state_dict(s); });
  }
  for (auto& entry : optimizers) {
    auto* optimizer = entry.second;
    restore_group("optimizer." + entry.first, [&](const NamedTensors& s) { optimizer->load_state_tensors(s); });
  }
  for (auto& entry : averages) {  // the decay of this command (the recorded one, unless --ema was given)
    auto* average = entry.second;
    const double decay = average->decay();
    restore_group("ema." + entry.first, [&](const NamedTensors& s) { average->load_state_tensors(s); });
    average->set_decay(decay);
  }
  if (weights_only) return;
  c.restore_generator("default", default_generator());
  for (auto& [name, g] : generators) c.restore_generator(name, *g);
  if (loader) loader->seek({c.data.epoch, c.data.index});
}

int64_t Resumable::restore(const RunDir& run, Config* notes) {
  const std::string path = run.file("checkpoint.safetensors");
  KILN_CHECK(std::filesystem::exists(path), "run '", run.path(), "' has no checkpoint.safetensors to resume from");
  const Checkpoint c = load_checkpoint(path);
  // A checkpoint copied in from another run may fit every shape and still be another model's state.
  const Config config = run.read_config();
  for (const char* key : {"model", "corpus", "symbols"}) {
    const auto mine = config.find(key), theirs = c.config.find(key);
    KILN_CHECK(mine == config.end() || theirs == c.config.end() || mine->second == theirs->second, "checkpoint '",
               path, "' was written by another run: its '", key, "' differs from the one in ", run.file("config.json"));
  }
  if (notes) *notes = c.notes;
  try {
    restore_from(c);
    if (learning_rate > 0.0)
      for (auto& [name, o] : optimizers) o->set_lr(learning_rate);
  } catch (const Error& e) {
    KILN_FAIL("checkpoint '", path, "' does not fit this run: ", e.what());
  }
  return c.step;
}

}  // namespace kiln::apps
