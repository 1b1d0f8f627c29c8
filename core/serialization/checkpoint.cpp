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

// The CRC-32 of what the data CRC does not cover: every metadata entry but the two CRCs (in key order),
// and every tensor's name, dtype and shape (in name order), so that a damaged step, generator offset or
// dtype in the header is found as surely as damaged data.
uint32_t header_crc32(const std::map<std::string, std::string>& meta, const NamedTensors& tensors) {
  uint32_t crc = 0;
  auto add = [&](const std::string& text) { crc = crc32_update(crc, text.c_str(), text.size() + 1); };  // with '\0'
  for (const auto& [key, value] : meta) {
    if (key == "crc32" || key == "header_crc32") continue;
    add(key);
    add(value);
  }
  std::vector<const std::pair<std::string, Tensor>*> sorted;
  for (const auto& entry : tensors) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    add(entry->first);
    add(dtype_name(entry->second.dtype()));
    for (int64_t d : entry->second.shape()) add(std::to_string(d));
  }
  return crc;
}

uint64_t read_header_length(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char len[8] = {};
  f.read(reinterpret_cast<char*>(len), 8);
  if (f.gcount() != 8) throw Error("load_checkpoint: cannot reread the header length of '" + path + "'");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  return n;
}

// Whole-string decimal parses of metadata values; failures name the file and the key.
template <class Int>
Int parse_int(const std::string& path, const std::map<std::string, std::string>& meta, const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw Error("load_checkpoint: '" + path + "': the metadata lacks '" + key + "' (the file is damaged)");
  const std::string& s = it->second;
  Int value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    throw Error("load_checkpoint: '" + path + "': the metadata '" + key + "' is '" + s + "', not an integer");
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
  meta["header_crc32"] = hex8(header_crc32(meta, tensors));
  try {
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
  auto format = meta.find("format");
  if (format == meta.end())
    throw Error("load_checkpoint: '" + path + "' is not a kiln checkpoint: it is a safetensors file without the " +
                "metadata \"format\": \"" + kCheckpointFormat + "\" (load it with load_safetensors)");
  if (format->second != kCheckpointFormat)
    throw Error("load_checkpoint: '" + path + "' is not a kiln checkpoint: its metadata says format '" +
                format->second + "', expected '" + kCheckpointFormat + "'");
  auto version = meta.find("version");
  const std::string v = version == meta.end() ? "(none)" : version->second;
  if (v != kCheckpointVersion)
    throw Error("load_checkpoint: '" + path + "' is a kiln checkpoint of version " + v +
                ", but this build of kiln reads version " + kCheckpointVersion);
  auto stored_crc = meta.find("crc32");
  if (stored_crc == meta.end())
    throw Error("load_checkpoint: '" + path + "': the metadata lacks 'crc32' (the file is damaged)");
  const std::string actual_crc = hex8(crc32_of_file_tail(path, 8 + read_header_length(path)));
  if (actual_crc != stored_crc->second)
    throw Error("load_checkpoint: '" + path + "' is corrupted: the CRC-32 of its data is " + actual_crc +
                ", the header says " + stored_crc->second);

  auto stored_header_crc = meta.find("header_crc32");
  if (stored_header_crc != meta.end()) {
    const std::string actual = hex8(header_crc32(meta, file.tensors));
    if (actual != stored_header_crc->second)
      throw Error("load_checkpoint: '" + path + "' is corrupted: the CRC-32 of its header is " + actual +
                  ", the header says " + stored_header_crc->second);
  }

  Checkpoint ck;
  ck.step = parse_int<int64_t>(path, meta, "step");
  ck.data.epoch = parse_int<int64_t>(path, meta, "data.epoch");
  ck.data.index = parse_int<int64_t>(path, meta, "data.index");
  constexpr int64_t kMaxCount = int64_t(1) << 40;  // the most steps a run may ask for
  for (auto [key, value] : {std::pair{"step", ck.step}, {"data.epoch", ck.data.epoch}, {"data.index", ck.data.index}})
    if (value < 0 || value > kMaxCount)
      throw Error("load_checkpoint: '" + path + "': the metadata '" + key + "' is " + std::to_string(value) +
                  ", outside 0 to 2^40 (the file is damaged)");

  // Groups, in their saved order; each tensor goes to the group its name starts with.
  auto groups_it = meta.find("groups");
  if (groups_it == meta.end())
    throw Error("load_checkpoint: '" + path + "': the metadata lacks 'groups' (the file is damaged)");
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
      throw Error("load_checkpoint: '" + path + "': the tensor '" + name + "' belongs to none of the groups '" + list +
                  "' (the file is damaged)");
    g->second.emplace_back(name.substr(slash + 1), std::move(t));
  }
  for (auto& [group, tensors] : groups) {
    if (!valid_name(group))
      throw Error("load_checkpoint: '" + path + "': invalid group name '" + group + "' in '" + list + "'");
    if (ck.has_state(group))
      throw Error("load_checkpoint: '" + path + "': the group '" + group + "' appears twice in '" + list + "'");
    ck.groups_.emplace_back(group, std::move(tensors));  // fresh contiguous CPU tensors: no snapshot needed
  }

  const std::string gen_prefix = "generator.", config_prefix = "config.", note_prefix = "note.";
  for (const auto& [key, value] : meta) {
    if (key.rfind(config_prefix, 0) == 0) {
      ck.config[key.substr(config_prefix.size())] = value;
    } else if (key.rfind(note_prefix, 0) == 0) {
      ck.notes[key.substr(note_prefix.size())] = value;
    } else if (key.rfind(gen_prefix, 0) == 0 && key.size() > gen_prefix.size() + 5 &&
               key.compare(key.size() - 5, 5, ".seed") == 0) {
      const std::string name = key.substr(gen_prefix.size(), key.size() - gen_prefix.size() - 5);
      if (!valid_name(name))
        throw Error("load_checkpoint: '" + path + "': invalid generator name '" + name + "' in the metadata");
      ck.add_generator(name, GeneratorState{parse_int<uint64_t>(path, meta, key),
                                            parse_int<uint64_t>(path, meta, gen_prefix + name + ".offset")});
    }
  }
  return ck;
}

}  // namespace kiln
