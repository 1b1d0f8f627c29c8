// Training checkpoints (core/serialization/checkpoint.h): the round trip of every part, bit-exact resume
// on the CPU, and the refusal of missing, truncated, foreign, other-version and corrupted files; a failed
// save leaves the previous checkpoint valid.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "core/checkpoint_resume.h"
#include "core/serialization/half.h"
#include "core/serialization/safetensors.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::resume::bytes_of;
using kiln::test::resume::check_identical;

namespace {

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("kiln_test_checkpoint_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}
std::string temp_path(const std::string& name) { return temp_dir() + "/" + name; }

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
uint64_t header_length(const std::string& file) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file[size_t(i)]);
  return n;
}
// The file's bytes before its data section: the 8-byte length and the JSON header.
std::string header_bytes(const std::string& file) { return file.substr(0, 8 + size_t(header_length(file))); }
std::string crc_hex(const std::string& bytes) {
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08lx", ::crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())));
  return crc;
}
// The header CRC as the format defines it, computed here independently of kiln's code: zlib's CRC-32 of
// every byte before the data, with the 8 digits of "header_crc32" taken as zeros.
std::string expected_header_crc(const std::string& file) {
  std::string header = header_bytes(file);
  const std::string key = "\"header_crc32\":\"";
  const size_t at = header.find(key);
  REQUIRE(at != std::string::npos);
  header.replace(at + key.size(), 8, "00000000");
  return crc_hex(header);
}
// Writes tensors + metadata as a checkpoint whose CRCs are right for what it now holds: what someone
// who edits a checkpoint and recomputes its checksums makes, to reach the checks behind the CRCs.
void save_with_valid_crcs(const std::string& path, const NamedTensors& tensors, std::map<std::string, std::string> meta) {
  std::string data;
  for (const auto& [name, t] : tensors)
    data.append(static_cast<const char*>(t.data()), size_t(t.numel()) * dtype_size(t.dtype()));
  meta["crc32"] = crc_hex(data);
  meta["header_crc32"] = "00000000";
  save_safetensors(path, tensors, meta);
  meta["header_crc32"] = expected_header_crc(read_all(path));
  save_safetensors(path, tensors, meta);
}
// A copy of the safetensors file `file` whose JSON header is `header` (padded again to 8 bytes).
std::string with_header(const std::string& file, std::string header) {
  header.erase(header.find_last_not_of(' ') + 1);
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(header.size()) >> (8 * i)) & 0xFF);
  return out + header + file.substr(8 + size_t(header_length(file)));
}

bool no_temp_files_left() {
  for (const auto& entry : std::filesystem::directory_iterator(temp_dir()))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) return false;
  return true;
}

// load_checkpoint(path) must throw a kiln::Error naming the file and containing `text`.
void check_refused(const std::string& path, const std::string& text) {
  bool threw = false;
  try {
    load_checkpoint(path);
  } catch (const Error& e) {
    threw = true;
    std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find("load_checkpoint") != std::string::npos);
    CHECK(msg.find("'" + path + "'") != std::string::npos);
    CHECK(msg.find(text) != std::string::npos);
  }
  INFO("expected an error containing: " << text);
  CHECK(threw);
}

// A checkpoint with one of everything: two models' groups of several dtypes (GAN-style), an optimizer,
// generators with extreme states, a configuration with characters JSON must escape.
Checkpoint sample_checkpoint() {
  Checkpoint ck;
  ck.step = (int64_t(1) << 40) - 5;  // near the largest step a checkpoint may hold
  ck.data = {3, 17};
  ck.config = {{"lr", "3e-4"}, {"model", "dcgan"}, {"empty", ""},
               {"note", "quote \" backslash \\ newline \n \xC3\xA9"}};
  ck.notes = {{"metric.loss", "0x1.8p+1 3"}, {"blank", ""}};
  Generator g(5);
  ck.add_state("G", {{"fc.weight", randn({3, 4}, {}, g)},
                     {"fc.bias", randn({3}, {.dtype = DType::Float64}, g)},
                     {"bn.num_batches_tracked",
                      from_vector(std::vector<int64_t>{-7}, Shape{}, {.dtype = DType::Int64})},
                     {"mask", gt(randn({2, 3}, {}, g), 0.0)},
                     {"half", to_half_from_float32(from_vector<float>({1.5f, -2.f}, {2}), DType::BFloat16)},
                     {"transposed", randn({2, 3}, {}, g).t()},  // a non-contiguous view
                     {"empty", zeros({0, 2})}});
  ck.add_state("D", {{"w", randn({2}, {}, g)}});
  ck.add_state("optimizer.G", {{"lr", from_vector(std::vector<double>{3e-4}, Shape{}, {.dtype = DType::Float64})}});
  ck.add_state("nothing", {});
  ck.add_generator("default", GeneratorState{std::numeric_limits<uint64_t>::max(), 12345678901234567890ull});
  ck.add_generator("shuffle", Generator(99));
  return ck;
}

void check_same_checkpoint(const Checkpoint& a, const Checkpoint& b) {
  CHECK(a.step == b.step);
  CHECK(a.data == b.data);
  CHECK(a.config == b.config);
  CHECK(a.notes == b.notes);
  CHECK(a.state_groups() == b.state_groups());
  for (const auto& group : a.state_groups()) check_identical(a.state(group), b.state(group), group);
  CHECK(a.generators() == b.generators());
}

}  // namespace

TEST_CASE("checkpoint: every part comes back exactly", "[checkpoint]") {
  Checkpoint ck = sample_checkpoint();
  const std::string path = temp_path("everything.ckpt");
  save_checkpoint(path, ck);
  Checkpoint back = load_checkpoint(path);
  check_same_checkpoint(back, ck);
  CHECK(back.state("G")[4].second.dtype() == DType::BFloat16);
  CHECK(back.state("nothing").empty());
  for (const auto& [name, t] : back.state("G")) {
    CHECK(t.device().is_cpu());
    CHECK(t.is_contiguous());
  }
  CHECK(back.generator("default").seed == std::numeric_limits<uint64_t>::max());
  CHECK(back.generator("default").offset == 12345678901234567890ull);
  Generator g;
  back.restore_generator("shuffle", g);
  CHECK(g.seed() == 99);
  CHECK(g.offset() == 0);

  // It is an ordinary safetensors file: tensors "<group>/<name>", the marker, and zlib's CRC-32 of the data.
  SafetensorsFile st = load_safetensors(path);
  CHECK(st.metadata.at("format") == "kiln-checkpoint");
  CHECK(st.metadata.at("version") == "2");
  CHECK(st.metadata.at("step") == std::to_string(ck.step));
  CHECK(st.metadata.at("config.lr") == "3e-4");
  CHECK(st.contains("G/fc.weight"));
  CHECK(st.contains("optimizer.G/lr"));
  const std::string file = read_all(path);
  const std::string data = file.substr(8 + header_length(file));
  CHECK(st.metadata.at("crc32") == crc_hex(data));
  // And the CRC-32 of everything before the data, its own digits taken as zeros.
  CHECK(st.metadata.at("header_crc32") == expected_header_crc(file));

  // A second save replaces the file; an empty checkpoint is valid too.
  save_checkpoint(path, Checkpoint{});
  Checkpoint empty = load_checkpoint(path);
  CHECK(empty.step == 0);
  CHECK(empty.state_groups().empty());
  CHECK(empty.generators().empty());
  CHECK(no_temp_files_left());
}

TEST_CASE("checkpoint: states are snapshots, and misuse is refused", "[checkpoint]") {
  Tensor live = zeros({3});
  Checkpoint ck;
  ck.add_state("model", {{"w", live}});
  live.fill_(5.0);  // training goes on after the checkpoint was taken
  CHECK(ck.state("model")[0].second.to_vector<float>() == std::vector<float>({0.f, 0.f, 0.f}));

  // A parameter that requires grad is snapshotted without history.
  Tensor p = ones({2}, {.requires_grad = true});
  ck.add_state("p", {{"p", p}});
  CHECK(!ck.state("p")[0].second.requires_grad());

  CHECK_THROWS_WITH_TEXT(ck.add_state("model", {}), "already added");
  CHECK_THROWS_WITH_TEXT(ck.add_state("a/b", {}), "group name 'a/b'");
  CHECK_THROWS_WITH_TEXT(ck.add_state("", {}), "group name ''");
  CHECK_THROWS_WITH_TEXT(ck.add_state("a,b", {}), "group name 'a,b'");
  CHECK_THROWS_WITH_TEXT(ck.add_state("x", {{"w", live}, {"w", live}}), "'w' twice");
  CHECK_THROWS_WITH_TEXT(ck.add_state("y", {{"w", Tensor()}}), "'y/w' is undefined");
  CHECK_THROWS_WITH_TEXT(ck.add_state("z", {{"", live}}), "empty name");
  CHECK_THROWS_WITH_TEXT(ck.state("optimizer"), "no state group 'optimizer' (the checkpoint holds 'model', 'p')");
  CHECK_THROWS_WITH_TEXT(ck.generator("default"), "no generator 'default' (the checkpoint holds none)");
  CHECK_THROWS_WITH_TEXT(ck.add_generator("a b", Generator()), "the name 'a b'");
  CHECK(ck.has_state("model"));
  CHECK(!ck.has_state("x"));
}

TEST_CASE("checkpoint: restoring into another model or optimizer is refused (strict)", "[checkpoint]") {
  using kiln::test::resume::Net;
  manual_seed(1);
  Net net;
  AdamW opt(net.parameters());
  Checkpoint ck;
  ck.add_state("model", net.state_dict());
  ck.add_state("optimizer", opt.state_tensors());
  const std::string path = temp_path("strict.ckpt");
  save_checkpoint(path, ck);
  Checkpoint back = load_checkpoint(path);

  Linear other(kiln::test::resume::kFeatures, 2);
  CHECK_THROWS_WITH_TEXT(other.load_state_dict(back.state("model")), "fc1.weight");
  SGD sgd(other.parameters(), 0.1);
  ck = Checkpoint();
  ck.add_state("optimizer", {{"param.0.exp_avg", zeros({2, kiln::test::resume::kFeatures})}});
  CHECK_THROWS_WITH_TEXT(sgd.load_state_tensors(ck.state("optimizer")), "unknown state 'param.0.exp_avg'");
  // The matching objects take it.
  net.load_state_dict(back.state("model"));
  opt.load_state_tensors(back.state("optimizer"));
}

TEST_CASE("checkpoint: N steps straight equal N/2 + save + load + N/2, bit for bit (CPU)", "[checkpoint]") {
  // Split at the very start, exactly at an epoch's end, and in the middle of an epoch.
  for (int64_t split : {int64_t(0), int64_t(5), int64_t(7)})
    kiln::test::resume::check_resume_is_bit_exact(Device::cpu(), split, temp_dir());
}

TEST_CASE("checkpoint: missing, truncated, foreign, other-version and corrupted files are refused", "[checkpoint]") {
  const std::string good = temp_path("good.ckpt");
  save_checkpoint(good, sample_checkpoint());
  const std::string file = read_all(good);
  const size_t header_end = 8 + size_t(header_length(file));
  REQUIRE(file.size() > header_end + 16);

  check_refused(temp_path("no_such.ckpt"), "No such file or directory");

  // Truncated anywhere: inside the length, inside the header, right after it, inside the data, one byte short.
  const std::string cut = temp_path("cut.ckpt");
  for (size_t size : {size_t(0), size_t(5), size_t(8), header_end / 2, header_end, header_end + 1,
                      (header_end + file.size()) / 2, file.size() - 1}) {
    INFO("truncated to " << size << " of " << file.size() << " bytes");
    write_all(cut, file.substr(0, size));
    check_refused(cut, "cannot read the checkpoint");
  }
  // Bytes appended after a complete checkpoint, or inserted into its data, belong to no tensor.
  write_all(cut, file + "extra");
  check_refused(cut, "bytes after tensor");
  write_all(cut, file.substr(0, header_end + 4) + "xyz" + file.substr(header_end + 4));
  check_refused(cut, "belong to no tensor");

  const std::string text = temp_path("notes.txt");
  write_all(text, "these are not the tensors you are looking for\n");
  check_refused(text, "not a safetensors file");

  // Foreign safetensors files: no metadata, metadata without the marker, another format.
  const std::string foreign = temp_path("foreign.safetensors");
  save_safetensors(foreign, {{"w", ones({2})}});
  check_refused(foreign, "is not a kiln checkpoint");
  save_safetensors(foreign, {{"w", ones({2})}}, {{"step", "3"}});
  check_refused(foreign, "is not a kiln checkpoint");
  save_safetensors(foreign, {{"w", ones({2})}}, {{"format", "pt"}});
  check_refused(foreign, "its metadata says format 'pt'");

  // Another version of the format (a file from a later kiln), or none.
  SafetensorsFile st = load_safetensors(good);
  st.metadata["version"] = "3";
  const std::string other_version = temp_path("v3.ckpt");
  save_safetensors(other_version, st.tensors, st.metadata);
  check_refused(other_version, "of version 3, but this build of kiln reads version 2");
  st.metadata.erase("version");
  save_safetensors(other_version, st.tensors, st.metadata);
  check_refused(other_version, "of version (none)");
  // Format 1 (older kilns), whose header CRC left the tensor table out, is refused with what to do.
  st.metadata["version"] = "1";
  save_safetensors(other_version, st.tensors, st.metadata);
  check_refused(other_version, "was written by an older kiln (checkpoint format 1");

  // One flipped bit anywhere in the data is caught by the CRC.
  const std::string bad = temp_path("bad.ckpt");
  for (size_t pos : {header_end, header_end + 7, (header_end + file.size()) / 2, file.size() - 1}) {
    INFO("bit flipped at byte " << pos);
    std::string damaged = file;
    damaged[pos] = char(damaged[pos] ^ 0x10);
    write_all(bad, damaged);
    check_refused(bad, "is corrupted: the CRC-32 of its data is");
  }
  // A damaged data CRC entry itself is caught by the header CRC, which covers it.
  st = load_safetensors(good);
  st.metadata["crc32"] = "00000000";
  save_safetensors(bad, st.tensors, st.metadata);
  check_refused(bad, "is corrupted: the CRC-32 of its header is");
  // The header has a CRC of its own: a changed step, generator offset or dtype is caught by it, even
  // where the data's bytes stay the same.
  st = load_safetensors(good);
  st.metadata["generator.shuffle.offset"] = "1";
  save_safetensors(bad, st.tensors, st.metadata);
  check_refused(bad, "is corrupted: the CRC-32 of its header is");
  st = load_safetensors(good);
  for (auto& [name, t] : st.tensors) {
    if (name != "D/w") continue;
    const std::vector<float> values = t.to_vector<float>();  // the same bytes, read as int32
    std::vector<int32_t> same_bytes(values.size());
    std::memcpy(same_bytes.data(), values.data(), values.size() * sizeof(float));
    t = from_vector(same_bytes, t.shape(), {.dtype = DType::Int32});
  }
  save_safetensors(bad, st.tensors, st.metadata);
  check_refused(bad, "is corrupted: the CRC-32 of its header is");
  // The header CRC is required: without it, an edited step or generator state is refused.
  st = load_safetensors(good);
  st.metadata.erase("header_crc32");
  save_safetensors(bad, st.tensors, st.metadata);
  check_refused(bad, "the metadata lacks 'header_crc32'");
  st.metadata["step"] = "3";
  st.metadata["generator.default.offset"] = "0";
  save_safetensors(bad, st.tensors, st.metadata);
  check_refused(bad, "the metadata lacks 'header_crc32'");

  // Behind right CRCs (an edit whose checksums were recomputed), every field is still checked, and the
  // message names the file and the key.
  st = load_safetensors(good);
  save_with_valid_crcs(bad, st.tensors, st.metadata);
  check_same_checkpoint(load_checkpoint(bad), sample_checkpoint());  // the helper writes valid files
  auto refused_with = [&](std::map<std::string, std::string> meta, const std::string& message) {
    save_with_valid_crcs(bad, st.tensors, std::move(meta));
    check_refused(bad, message);
  };
  auto edited = [&](const std::string& key, const char* value) {
    std::map<std::string, std::string> meta = st.metadata;
    if (value) meta[key] = value;
    else meta.erase(key);
    return meta;
  };
  refused_with(edited("step", nullptr), "the metadata lacks 'step'");
  refused_with(edited("step", "-5"), "the metadata 'step' is -5, outside 0 to 2^40");
  refused_with(edited("data.epoch", "3x"), "'data.epoch' is '3x', not an integer");
  refused_with(edited("data.index", ""), "'data.index' is '', not an integer");
  refused_with(edited("generator.shuffle.seed", "12345678901234567890123"),
               "'generator.shuffle.seed' is '12345678901234567890123', out of range");
  refused_with(edited("generator.shuffle.offset", nullptr), "the metadata lacks 'generator.shuffle.offset'");
  refused_with(edited("generator.shuffle.seed", nullptr), "the metadata lacks 'generator.shuffle.seed'");
  refused_with(edited("generator.a b.seed", "1"), "invalid generator name 'a b'");
  refused_with(edited("learning_rate", "0.1"), "the metadata holds the key 'learning_rate', which kiln does not write");
  // Bytes from the file are quoted printably: an ESC in a key reaches the message as \x1b.
  refused_with(edited("\x1b[2J", "x"), "the key '\\x1b[2J'");
  refused_with(edited("format", "kiln-checkpoint\x1b[2J"), "is not a kiln checkpoint: its metadata says format 'kiln-checkpoint\\x1b[2J'");
  refused_with(edited("groups", "G,optimizer.G,nothing"), "the tensor 'D/w' belongs to none of the groups");
  // A tensor holding NaN or Inf is never resumed into, whatever group it is in.
  for (const char* which : {"G/fc.weight", "G/half", "D/w"}) {
    SafetensorsFile changed = load_safetensors(good);
    for (auto& [name, t] : changed.tensors) {
      if (name != which) continue;
      if (t.dtype() == DType::BFloat16) static_cast<uint16_t*>(t.data())[1] = 0x7F80;  // bf16 +Inf
      else static_cast<float*>(t.data())[1] = std::numeric_limits<float>::quiet_NaN();
    }
    save_with_valid_crcs(bad, changed.tensors, changed.metadata);
    check_refused(bad, std::string("tensor '") + which + "' holds " + (std::string(which) == "G/half" ? "inf" : "nan") +
                           " at element 1 of");
  }

  // The good file still loads.
  check_same_checkpoint(load_checkpoint(good), sample_checkpoint());
}

TEST_CASE("checkpoint: the header CRC covers the tensor table (swapped data offsets are refused)", "[checkpoint]") {
  // Two tensors of the same size: exchanging their data offsets in the header leaves every data byte,
  // and so the data CRC, as it was; a resume would continue with the two states exchanged.
  Checkpoint ck;
  ck.add_state("model", {{"a", from_vector<float>({1.f, 2.f}, {2})}, {"b", from_vector<float>({3.f, 4.f}, {2})}});
  const std::string path = temp_path("swapped.ckpt");
  save_checkpoint(path, ck);
  const std::string file = read_all(path);
  std::string header = file.substr(8, size_t(header_length(file)));
  const std::string a = "\"data_offsets\":[0,8]", b = "\"data_offsets\":[8,16]";
  const size_t at_a = header.find(a), at_b = header.find(b);
  REQUIRE(at_a != std::string::npos);
  REQUIRE(at_b != std::string::npos);
  REQUIRE(at_a < at_b);
  header = header.substr(0, at_a) + b + header.substr(at_a + a.size(), at_b - at_a - a.size()) + a +
           header.substr(at_b + b.size());
  write_all(path, with_header(file, header));
  // The swapped file is a well-formed safetensors file with the values exchanged...
  SafetensorsFile swapped = load_safetensors(path);
  CHECK(swapped.at("model/a").to_vector<float>() == std::vector<float>({3.f, 4.f}));
  // ...which the header CRC refuses as a checkpoint.
  check_refused(path, "is corrupted: the CRC-32 of its header is");

  // So is any other change of the tensor table: a shape [2] read as [1, 2] holds the same bytes.
  write_all(path, with_header(file, [&] {
    std::string h = file.substr(8, size_t(header_length(file)));
    const size_t at = h.find("\"shape\":[2]");
    REQUIRE(at != std::string::npos);
    return h.replace(at, 11, "\"shape\":[1,2]");
  }()));
  CHECK(load_safetensors(path).at("model/a").shape() == Shape({1, 2}));
  check_refused(path, "is corrupted: the CRC-32 of its header is");
}

TEST_CASE("checkpoint: a failed save leaves the previous checkpoint valid", "[checkpoint]") {
  const std::string path = temp_path("previous.ckpt");
  Checkpoint before = sample_checkpoint();
  save_checkpoint(path, before);
  const std::string previous_bytes = read_all(path);

  // A bigger checkpoint whose save fails half-way through the data: the file size limit makes write()
  // fail with EFBIG (as a full disk would) after the previous checkpoint's size.
  Checkpoint bigger = sample_checkpoint();
  bigger.add_state("big", {{"w", zeros({64 * 1024})}});
  struct rlimit old_limit;
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = rlim_t(previous_bytes.size() + 4096);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // else exceeding the limit kills the process
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  std::string message;
  try {
    save_checkpoint(path, bigger);
  } catch (const Error& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  INFO("message: " << message);
  CHECK(message.find("save_checkpoint: '" + path + "'") != std::string::npos);
  CHECK(message.find("File too large") != std::string::npos);
  CHECK(read_all(path) == previous_bytes);
  check_same_checkpoint(load_checkpoint(path), before);
  CHECK(no_temp_files_left());

  // Unwritable places: a missing directory, a directory in the way of the file, a read-only directory.
  CHECK_THROWS_WITH_TEXT(save_checkpoint(temp_path("missing_dir/x.ckpt"), before), "No such file or directory");
  std::filesystem::create_directories(temp_path("a_dir"));
  CHECK_THROWS_WITH_TEXT(save_checkpoint(temp_path("a_dir"), before), "Is a directory");
  if (::geteuid() != 0) {  // root ignores directory permissions
    const std::string ro = temp_path("read_only");
    std::filesystem::create_directories(ro);
    save_checkpoint(ro + "/run.ckpt", before);
    ::chmod(ro.c_str(), 0555);
    CHECK_THROWS_WITH_TEXT(save_checkpoint(ro + "/run.ckpt", bigger), "Permission denied");
    ::chmod(ro.c_str(), 0755);
    check_same_checkpoint(load_checkpoint(ro + "/run.ckpt"), before);
  } else {
    WARN("running as root: the read-only directory case is skipped (root may write anywhere)");
  }
  CHECK(no_temp_files_left());
}
