// Reading files for the data loaders: gzip streams that are truncated, corrupt or followed by garbage,
// paths that are folders, devices or FIFOs, files over the size limit, and writes past the process's
// file size limit (ulimit -f) are all errors naming the file, and leave no temporary file behind.
#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/serialization/atomic_file.h"
#include "data/file_bytes.h"
#include "data/idx.h"
#include "data/image_io.h"
#include "data/midi.h"
#include "data/midi_tokens.h"
#include "data/text_corpus.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_dir("file_bytes", name); }

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& plain) {
  uLongf size = compressBound(uLong(plain.size())) + 64;
  std::vector<uint8_t> out(size);
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  z.next_in = const_cast<Bytef*>(plain.data());
  z.avail_in = uInt(plain.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void write(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Some thousands of bytes of text that do not compress to almost nothing.
std::vector<uint8_t> some_text() {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "line " + std::to_string(i * 7919 % 1000) + "\n";
  return {text.begin(), text.end()};
}

bool has_temp_file(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("gzip files: whole streams only, and truncated, corrupt or trailing bytes name the file", "[data]") {
  fs::path dir = fresh_dir("gzip");
  const std::vector<uint8_t> text = some_text(), gz = gzip_bytes(text);
  REQUIRE(gz.size() > 200);
  write(dir / "good.gz", gz);
  CHECK(read_file_bytes((dir / "good.gz").string()) == text);
  // Concatenated gzip members read as one, as gzip does.
  std::vector<uint8_t> two = gz, twice = text;
  two.insert(two.end(), gz.begin(), gz.end());
  twice.insert(twice.end(), text.begin(), text.end());
  write(dir / "two.gz", two);
  CHECK(read_file_bytes((dir / "two.gz").string()) == twice);
  // Cut in the middle, or right after the 10-byte header: zlib's gzread returned the part silently.
  const std::string cut = (dir / "cut.gz").string();
  for (size_t keep : {gz.size() / 2, size_t(10), gz.size() - 4}) {
    write(cut, {gz.begin(), gz.begin() + int64_t(keep)});
    CHECK_THROWS_WITH_TEXT(read_file_bytes(cut), "cannot read '" + cut + "': truncated gzip stream");
  }
  std::vector<uint8_t> trailing = gz;
  trailing.insert(trailing.end(), {'j', 'u', 'n', 'k'});
  write(dir / "trailing.gz", trailing);
  CHECK_THROWS_WITH_TEXT(read_file_bytes((dir / "trailing.gz").string()),
                         "4 bytes of trailing garbage after the end of the gzip data at byte " + std::to_string(gz.size()));
  // zero padding after the last member is accepted, as gzip does
  std::vector<uint8_t> padded = gz;
  padded.insert(padded.end(), 512, 0);
  write(dir / "padded.gz", padded);
  CHECK(read_file_bytes((dir / "padded.gz").string()) == text);
  std::vector<uint8_t> bad_crc = gz;
  bad_crc[gz.size() - 6] ^= 0xFF;  // the CRC-32 of the trailer
  write(dir / "crc.gz", bad_crc);
  CHECK_THROWS_WITH_TEXT(read_file_bytes((dir / "crc.gz").string()), "crc.gz': corrupt gzip data");
}

TEST_CASE("gzip files: every reader reports a truncated stream", "[data]") {
  fs::path dir = fresh_dir("readers");
  auto truncated = [&](const std::string& name, const std::vector<uint8_t>& plain) {
    const std::vector<uint8_t> gz = gzip_bytes(plain);
    write(dir / name, {gz.begin(), gz.end() - 8});  // only the trailer (CRC and length) is missing
    return (dir / name).string();
  };
  // text: the whole text decompresses; without its trailer it is still not known to be complete
  CHECK_THROWS_WITH_TEXT(load_text_corpus(truncated("corpus.txt.gz", some_text())), "truncated gzip stream");
  std::vector<uint8_t> idx(8 + 200, 7);  // 200 labels
  const uint8_t header[] = {0, 0, 8, 1, 0, 0, 0, 200};
  std::copy(std::begin(header), std::end(header), idx.begin());
  CHECK_THROWS_WITH_TEXT(read_idx(truncated("labels.gz", idx)), "truncated gzip stream");
  const std::vector<uint8_t> midi = encode_midi(notes_to_midi({{60, 100, 0.0, 0.5, 0}, {64, 100, 0.5, 1.0, 0}}));
  CHECK_THROWS_WITH_TEXT(read_midi(truncated("song.mid.gz", midi)), "truncated gzip stream");
  // In a folder the file is skipped with the reason, and the rest is read.
  fs::path folder = fresh_dir("readers_folder");
  write(folder / "good.txt", some_text());
  const std::vector<uint8_t> gz = gzip_bytes(some_text());
  write(folder / "cut.txt.gz", {gz.begin(), gz.end() - 8});
  TextCorpus c = load_text_corpus(folder.string());
  CHECK(c.files.size() == 1);
  REQUIRE(c.skipped.size() == 1);
  CHECK(c.skipped[0].find("cannot read '" + (folder / "cut.txt.gz").string() + "'") == 0);
  CHECK(c.skipped[0].find(".cpp:") == std::string::npos);  // reasons carry no source location
  CHECK(c.skipped[0].find("truncated gzip stream") != std::string::npos);
}

TEST_CASE("files: folders, devices, FIFOs and files over the size limit are refused by name", "[data]") {
  fs::path dir = fresh_dir("kinds");
  CHECK_THROWS_WITH_TEXT(read_file_bytes(dir.string()), "cannot read '" + dir.string() + "': it is a folder, not a file");
  CHECK_THROWS_WITH_TEXT(read_image(dir.string(), 3), "it is a folder, not a file");
  CHECK_THROWS_WITH_TEXT(read_file_bytes("/dev/null"), "cannot read '/dev/null': it is a character device, not a regular file");
  CHECK_THROWS_WITH_TEXT(load_text_corpus("/dev/null"), "'/dev/null': it is a character device");
  const std::string fifo = (dir / "fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH_TEXT(read_file_bytes(fifo), "it is a FIFO (named pipe), not a regular file");  // never waits for a writer
  CHECK_THROWS_WITH_TEXT(read_file_bytes((dir / "missing").string()), "No such file or directory");

  write(dir / "hundred", std::vector<uint8_t>(100, 'a'));
  CHECK(read_file_bytes((dir / "hundred").string(), 100).size() == 100);
  CHECK_THROWS_WITH_TEXT(read_file_bytes((dir / "hundred").string(), 50),
                         "hundred': it is 100 bytes, over kiln's limit of 50 bytes for one file");
  write(dir / "bomb.gz", gzip_bytes(std::vector<uint8_t>(1 << 20, 0)));  // 1 MiB of zeros in about 1 KiB
  CHECK_THROWS_WITH_TEXT(read_file_bytes((dir / "bomb.gz").string(), 1 << 16),
                         "bomb.gz': it decompresses to more than 64 KiB, kiln's limit for one file");
  CHECK(byte_size_text(kMaxFileBytes) == "2 GiB");
  CHECK(byte_size_text(1000) == "1000 bytes");
}

TEST_CASE("a write past the file size limit (ulimit -f) fails naming the file and the limit", "[data]") {
  fs::path dir = fresh_dir("size_limit");
  const std::string path = (dir / "big.bin").string();
  write_file_atomically(path, "old", 3);
  // kiln ignores SIGXFSZ (apps/kiln_main.cpp), so that such a write fails with EFBIG instead of ending
  // the process; the same here, with a limit of 4 KiB, both restored before checking.
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 4096) {
    WARN("the hard file size limit is below 4 KiB: skipped");
    return;
  }
  const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit low = saved;
  low.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &low) == 0);
  std::string message;
  try {
    const std::vector<char> big(100000, 'x');
    write_file_atomically(path, big.data(), big.size());
  } catch (const Error& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);
  INFO(message);
  CHECK(message.find("cannot write '" + path + "'") != std::string::npos);
  CHECK(message.find("File too large (the file size limit, ulimit -f, is 4096 bytes)") != std::string::npos);
  CHECK(!has_temp_file(dir));
  CHECK(read_file_bytes(path) == std::vector<uint8_t>{'o', 'l', 'd'});
}
