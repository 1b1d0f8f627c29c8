// Training checkpoints: everything a run needs to resume bit-exactly (named groups of state tensors for
// models, optimizers and EMAs; generator states; the step; the data loader's position; the run's
// configuration) in ONE safetensors file, written atomically and checked when read (a kiln marker, a
// format version, required CRC-32s of the data and of the whole header, every field validated). It knows no Module or Optimizer: their state_dict() /
// state_tensors() go in as named tensors and come back out for load_state_dict / load_state_tensors.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace kiln {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Where the data loader stands: the epoch, and the index of the next item (sample or batch, as the
// loader counts) within that epoch.
struct DataPosition {
  int64_t epoch = 0;
  int64_t index = 0;
  bool operator==(const DataPosition&) const = default;
};

// A Generator's whole state.
struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;
  bool operator==(const GeneratorState&) const = default;
};

class Checkpoint;
Checkpoint load_checkpoint(const std::string& path);

// What a checkpoint holds. Learning-rate schedules (optim/lr_schedule.h) are pure functions of the
// step and keep no state of their own: the step and the optimizer's state (its current rate) are enough.
class Checkpoint {
 public:
  int64_t step = 0;                            // optimizer steps taken so far
  DataPosition data;
  std::map<std::string, std::string> config;   // the run's configuration, e.g. {"lr", "3e-4"}
  std::map<std::string, std::string> notes;    // what else a caller wants back, e.g. pending metric sums

  // Adds a group of state tensors under a name: "model" (or "G", "D" for a GAN), "optimizer", "ema", ...
  // Names are letters, digits, '_', '-' and '.'. The tensors are snapshotted now as contiguous CPU
  // copies (tensors on a GPU are copied back, one sync), so training may go on before the save.
  void add_state(const std::string& group, const NamedTensors& tensors);
  // The tensors of a group (on the CPU), in the order they were added; throws listing the groups there are.
  const NamedTensors& state(const std::string& group) const;
  bool has_state(const std::string& group) const;
  std::vector<std::string> state_groups() const;  // in the order they were added

  // Records a generator's (seed, offset) under a name ("default" for default_generator(), "shuffle", ...).
  void add_generator(const std::string& name, const Generator& generator);
  void add_generator(const std::string& name, GeneratorState state);
  // Puts the recorded state into `generator`; throws listing the names there are when `name` is not one.
  void restore_generator(const std::string& name, Generator& generator) const;
  GeneratorState generator(const std::string& name) const;
  const std::map<std::string, GeneratorState>& generators() const { return generators_; }

 private:
  friend Checkpoint load_checkpoint(const std::string& path);
  std::vector<std::pair<std::string, NamedTensors>> groups_;
  std::map<std::string, GeneratorState> generators_;
};

// Writes the checkpoint to `path` through the atomic writer (core/serialization/atomic_file.h): the
// previous file at `path` stays valid until the new one is complete. The file is a safetensors file with
// tensors "<group>/<name>" and metadata "format": "kiln-checkpoint", "version": "2", "crc32" (zlib's
// CRC-32 of the data section, 8 hex digits), "header_crc32" (zlib's CRC-32 of every byte before the data
// section, i.e. the header length and the whole JSON header with the tensor table and all metadata,
// taken with its own 8 digits as "00000000"), "step", "data.epoch", "data.index", "groups",
// "generator.<name>.seed/.offset", "config.<key>" and "note.<key>". Failures throw kiln::Error naming
// the path.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint. Each of these is refused with a kiln::Error naming the file (and the key, tensor or
// value at fault, quoted with kiln::printable): a missing or unreadable file, a truncated one, one whose
// tensors do not cover its data exactly (see load_safetensors), a safetensors file that is not a kiln
// checkpoint, another format version (format 1, of older kilns, whose header CRC left the tensor table
// out, included), a missing "crc32" or "header_crc32", data or a header that fails its CRC, a metadata key
// kiln does not write, a step or data position outside [0, 2⁴⁰], a generator without its seed or offset,
// a tensor outside the listed groups, and a floating-point tensor holding NaN or Inf.
Checkpoint load_checkpoint(const std::string& path);

inline constexpr const char* kCheckpointFormat = "kiln-checkpoint";
inline constexpr const char* kCheckpointVersion = "2";

}  // namespace kiln
