#include "core/serialization/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/printable.h"
#include "core/serialization/finite_check.h"
#include "core/serialization/safetensors.h"

namespace kiln {
namespace {

bool valid_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out.empty() ? "none" : out;
}

// zlib's CRC-32, extended over `size` bytes (zlib takes at most UINT_MAX bytes per call).
uint32_t crc32_update(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (size > 0) {
    const size_t chunk = std::min<size_t>(size, std::numeric_limits<uInt>::max());
    c = ::crc32(c, p, uInt(chunk));
    p += chunk;
    size -= chunk;
  }
  return uint32_t(c);
}

std::string hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// The CRC-32 of a file's bytes from `begin` to its end (the data section of a safetensors file).
uint32_t crc32_of_file_tail(const std::string& path, uint64_t begin) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("load_checkpoint: cannot reopen '" + path + "' to check its CRC: " + std::strerror(errno));
  f.seekg(std::streamoff(begin));
  std::vector<char> buffer(1 << 20);
  uint32_t crc = 0;
  while (f) {
    f.read(buffer.data(), std::streamsize(buffer.size()));
    crc = crc32_update(crc, buffer.data(), size_t(f.gcount()));
  }
  if (!f.eof()) throw Error("load_checkpoint: reading '" + path + "' to check its CRC failed");
  return crc;
}

// The header CRC covers every byte before the data section: the 8-byte header length and the whole JSON
// header (every metadata entry, the data CRC among them, and the tensor table: names, dtypes, shapes and
// data offsets), with the 8 hex digits of "header_crc32" itself taken as "00000000". Together with the
// data CRC and the safetensors reader's rule that the tensors cover the data exactly, no byte of the file
// that decides what a run resumes into goes unchecked.
constexpr const char* kHeaderCrcKey = "\"header_crc32\":\"";
constexpr const char* kUnsetCrc = "00000000";

// The header CRC of `header` (SafetensorsFile::header). Throws unless the header holds the key
// "header_crc32" with a string value exactly once, as kiln writes it. In a valid JSON header every raw
// '"' starts or ends a string, so the pattern `"header_crc32":"` can only be that key and its value.
uint32_t header_crc32(const std::string& path, std::string header) {
  const std::string key = kHeaderCrcKey;
  const size_t at = header.find(key);
  if (at == std::string::npos || header.find(key, at + 1) != std::string::npos ||
      header.size() < at + key.size() + 9 || header[at + key.size() + 8] != '"')
    throw Error("load_checkpoint: '" + path + "': the header does not hold 'header_crc32' once, as kiln writes it " +
                "(the file is damaged or was edited)");
  header.replace(at + key.size(), 8, kUnsetCrc);
  return crc32_update(0, header.data(), header.size());
}

// Whole-string decimal parses of metadata values; failures name the file and the key.
template <class Int>
Int parse_int(const std::string& path, const std::map<std::string, std::string>& meta, const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw Error("load_checkpoint: '" + path + "': the metadata lacks '" + printable(key) + "' (the file is damaged)");
  const std::string& s = it->second;
  Int value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range)
    throw Error("load_checkpoint: '" + path + "': the metadata '" + printable(key) + "' is '" + printable(s) +
                "', out of range");
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    throw Error("load_checkpoint: '" + path + "': the metadata '" + printable(key) + "' is '" + printable(s) +
                "', not an integer");
  return value;
}

}  // namespace

// ---------------------------------------------------------------- Checkpoint

void Checkpoint::add_state(const std::string& group, const NamedTensors& tensors) {
  KILN_CHECK(valid_name(group), "Checkpoint::add_state: the group name '", group,
             "' must be non-empty letters, digits, '_', '-' or '.'");
  KILN_CHECK(!has_state(group), "Checkpoint::add_state: the group '", group, "' was already added");
  NamedTensors copies;
  copies.reserve(tensors.size());
  std::set<std::string> seen;
  NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    KILN_CHECK(!name.empty(), "Checkpoint::add_state: group '", group, "' has a tensor with an empty name");
    KILN_CHECK(seen.insert(name).second, "Checkpoint::add_state: group '", group, "' has '", name, "' twice");
    KILN_CHECK(t.defined(), "Checkpoint::add_state: '", group, "/", name, "' is undefined");
    // A snapshot: later in-place updates of the live tensor must not reach the checkpoint.
    Tensor snapshot = t.device().is_cpu() ? clone(t.detach()) : contiguous(t.detach().to(Device::cpu()));
    copies.emplace_back(name, std::move(snapshot));
  }
  groups_.emplace_back(group, std::move(copies));
}

const NamedTensors& Checkpoint::state(const std::string& group) const {
  for (const auto& [g, tensors] : groups_)
    if (g == group) return tensors;
  KILN_FAIL("Checkpoint: no state group '", group, "' (the checkpoint holds ", quoted_list(state_groups()), ")");
}

bool Checkpoint::has_state(const std::string& group) const {
  return std::any_of(groups_.begin(), groups_.end(), [&](const auto& g) { return g.first == group; });
}

std::vector<std::string> Checkpoint::state_groups() const {
  std::vector<std::string> names;
  for (const auto& [g, tensors] : groups_) names.push_back(g);
  return names;
}

void Checkpoint::add_generator(const std::string& name, const Generator& generator) {
  add_generator(name, GeneratorState{generator.seed(), generator.offset()});
}

void Checkpoint::add_generator(const std::string& name, GeneratorState state) {
  KILN_CHECK(valid_name(name), "Checkpoint::add_generator: the name '", name,
             "' must be non-empty letters, digits, '_', '-' or '.'");
  generators_[name] = state;
}

GeneratorState Checkpoint::generator(const std::string& name) const {
  auto it = generators_.find(name);
  if (it != generators_.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, s] : generators_) names.push_back(n);
  KILN_FAIL("Checkpoint: no generator '", name, "' (the checkpoint holds ", quoted_list(names), ")");
}

void Checkpoint::restore_generator(const std::string& name, Generator& generator) const {
  GeneratorState s = this->generator(name);
  generator.set_state(s.seed, s.offset);
}

// ---------------------------------------------------------------- the file

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  NamedTensors tensors;
  uint32_t crc = 0;
  std::string groups;
  for (const std::string& group : checkpoint.state_groups()) {
    groups += (groups.empty() ? "" : ",") + group;
    for (const auto& [name, t] : checkpoint.state(group)) {
      // Snapshots are contiguous CPU tensors: their bytes are exactly what the writer puts in the data section.
      crc = crc32_update(crc, t.data(), size_t(t.numel()) * dtype_size(t.dtype()));
      tensors.emplace_back(group + "/" + name, t);
    }
  }
  std::map<std::string, std::string> meta;
  meta["format"] = kCheckpointFormat;
  meta["version"] = kCheckpointVersion;
  meta["crc32"] = hex8(crc);
  meta["step"] = std::to_string(checkpoint.step);
  meta["data.epoch"] = std::to_string(checkpoint.data.epoch);
  meta["data.index"] = std::to_string(checkpoint.data.index);
  meta["groups"] = groups;
  for (const auto& [name, s] : checkpoint.generators()) {
    meta["generator." + name + ".seed"] = std::to_string(s.seed);
    meta["generator." + name + ".offset"] = std::to_string(s.offset);
  }
  for (const auto& [key, value] : checkpoint.config) {
    KILN_CHECK(!key.empty(), "save_checkpoint: '", path, "': a configuration key is empty");
    meta["config." + key] = value;
  }
  for (const auto& [key, value] : checkpoint.notes) {
    KILN_CHECK(!key.empty(), "save_checkpoint: '", path, "': a note key is empty");
    meta["note." + key] = value;
  }
  try {
    meta["header_crc32"] = kUnsetCrc;
    const std::string header = encode_safetensors_header(path, tensors, meta);
    meta["header_crc32"] = hex8(crc32_update(0, header.data(), header.size()));  // same length: same layout
    save_safetensors(path, tensors, meta);
  } catch (const Error& e) {
    // The atomic writer's messages say what failed; before the rename, a previous file stays as it was.
    throw Error("save_checkpoint: '" + path + "': " + e.what());
  }
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsFile file;
  try {
    file = load_safetensors(path);
  } catch (const Error& e) {
    throw Error("load_checkpoint: cannot read the checkpoint '" + path + "': " + e.what());
  }
  const auto& meta = file.metadata;
  const std::string in_file = "load_checkpoint: '" + path + "'";
  auto format = meta.find("format");
  if (format == meta.end())
    throw Error(in_file + " is not a kiln checkpoint: it is a safetensors file without the metadata \"format\": \"" +
                kCheckpointFormat + "\" (load it with load_safetensors)");
  if (format->second != kCheckpointFormat)
    throw Error(in_file + " is not a kiln checkpoint: its metadata says format '" + printable(format->second) +
                "', expected '" + kCheckpointFormat + "'");
  auto version = meta.find("version");
  const std::string v = version == meta.end() ? "(none)" : version->second;
  if (v == "1")
    throw Error(in_file + " was written by an older kiln (checkpoint format 1, whose checksum left the tensor table " +
                "unchecked); this kiln reads format " + kCheckpointVersion + " only: resume the run with the kiln " +
                "that wrote it, or train it again (its model.safetensors still serves kiln sample and eval)");
  if (v != kCheckpointVersion)
    throw Error(in_file + " is a kiln checkpoint of version " + printable(v) + ", but this build of kiln reads version " +
                kCheckpointVersion);

  // The header CRC first: it covers every metadata entry (the data CRC among them) and the tensor table.
  auto stored_header_crc = meta.find("header_crc32");
  if (stored_header_crc == meta.end())
    throw Error(in_file + ": the metadata lacks 'header_crc32', which every checkpoint of format " +
                kCheckpointVersion + " carries (the file is damaged or was edited)");
  const std::string actual_header_crc = hex8(header_crc32(path, file.header));
  if (actual_header_crc != stored_header_crc->second)
    throw Error(in_file + " is corrupted: the CRC-32 of its header is " + actual_header_crc + ", the header says " +
                printable(stored_header_crc->second));
  auto stored_crc = meta.find("crc32");
  if (stored_crc == meta.end()) throw Error(in_file + ": the metadata lacks 'crc32' (the file is damaged)");
  const std::string actual_crc = hex8(crc32_of_file_tail(path, file.header.size()));
  if (actual_crc != stored_crc->second)
    throw Error(in_file + " is corrupted: the CRC-32 of its data is " + actual_crc + ", the header says " +
                printable(stored_crc->second));

  // Every metadata key is one kiln writes: a checkpoint that passed its CRCs but holds others was
  // written by something else, whose meaning for the resume is unknown.
  const std::string gen_prefix = "generator.", config_prefix = "config.", note_prefix = "note.";
  auto starts_with = [](const std::string& key, const std::string& prefix) {
    return key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
  };
  auto ends_with = [](const std::string& key, const std::string& suffix) {
    return key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::set<std::string> generator_names;
  for (const auto& [key, value] : meta) {
    if (key == "format" || key == "version" || key == "crc32" || key == "header_crc32" || key == "step" ||
        key == "data.epoch" || key == "data.index" || key == "groups" || starts_with(key, config_prefix) ||
        starts_with(key, note_prefix))
      continue;
    if (starts_with(key, gen_prefix) && (ends_with(key, ".seed") || ends_with(key, ".offset"))) {
      const size_t suffix = ends_with(key, ".seed") ? 5 : 7;
      const std::string name = key.substr(gen_prefix.size(), key.size() - gen_prefix.size() - suffix);
      if (!valid_name(name))
        throw Error(in_file + ": invalid generator name '" + printable(name) + "' in the metadata key '" +
                    printable(key) + "'");
      generator_names.insert(name);
      continue;
    }
    throw Error(in_file + ": the metadata holds the key '" + printable(key) +
                "', which kiln does not write (the file was edited or not written by kiln)");
  }

  Checkpoint ck;
  ck.step = parse_int<int64_t>(path, meta, "step");
  ck.data.epoch = parse_int<int64_t>(path, meta, "data.epoch");
  ck.data.index = parse_int<int64_t>(path, meta, "data.index");
  constexpr int64_t kMaxCount = int64_t(1) << 40;  // the most steps a run may ask for
  for (auto [key, value] : {std::pair{"step", ck.step}, {"data.epoch", ck.data.epoch}, {"data.index", ck.data.index}})
    if (value < 0 || value > kMaxCount)
      throw Error(in_file + ": the metadata '" + key + "' is " + std::to_string(value) +
                  ", outside 0 to 2^40 (the file is damaged)");
  // Both halves of every generator's state: a missing one is reported by parse_int, naming the key.
  for (const std::string& name : generator_names)
    ck.add_generator(name, GeneratorState{parse_int<uint64_t>(path, meta, gen_prefix + name + ".seed"),
                                          parse_int<uint64_t>(path, meta, gen_prefix + name + ".offset")});

  // Values that are not finite are never resumed into: a run must not go on from NaN weights or state.
  check_finite_tensors(file.tensors, in_file);

  // Groups, in their saved order; each tensor goes to the group its name starts with.
  auto groups_it = meta.find("groups");
  if (groups_it == meta.end()) throw Error(in_file + ": the metadata lacks 'groups' (the file is damaged)");
  std::vector<std::pair<std::string, NamedTensors>> groups;
  const std::string& list = groups_it->second;
  for (size_t begin = 0; !list.empty() && begin <= list.size();) {
    size_t end = std::min(list.find(',', begin), list.size());
    groups.emplace_back(list.substr(begin, end - begin), NamedTensors{});
    begin = end + 1;
  }
  for (auto& [name, t] : file.tensors) {
    const size_t slash = name.find('/');
    const std::string group = slash == std::string::npos ? "" : name.substr(0, slash);
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& p) { return p.first == group; });
    if (slash == std::string::npos || g == groups.end())
      throw Error(in_file + ": the tensor '" + printable(name) + "' belongs to none of the groups '" + printable(list) +
                  "' (the file is damaged)");
    if (slash + 1 == name.size()) throw Error(in_file + ": the tensor '" + printable(name) + "' has an empty name");
    g->second.emplace_back(name.substr(slash + 1), std::move(t));
  }
  for (auto& [group, tensors] : groups) {
    if (!valid_name(group))
      throw Error(in_file + ": invalid group name '" + printable(group) + "' in '" + printable(list) + "'");
    if (ck.has_state(group))
      throw Error(in_file + ": the group '" + group + "' appears twice in '" + printable(list) + "'");
    ck.groups_.emplace_back(group, std::move(tensors));  // fresh contiguous CPU tensors: no snapshot needed
  }

  for (const auto& [key, value] : meta) {
    if (starts_with(key, config_prefix)) ck.config[key.substr(config_prefix.size())] = value;
    else if (starts_with(key, note_prefix)) ck.notes[key.substr(note_prefix.size())] = value;
  }
  return ck;
}

}  // namespace kiln
