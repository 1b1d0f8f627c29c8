// Text corpora: vocabulary, split, encode/decode, folders with non-text files, and bad input.
#include <filesystem>
#include <fstream>

#include "data/text_corpus.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_dir("text", name); }

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

}  // namespace

TEST_CASE("text corpus: byte vocabulary, 90/10 split, encode and decode", "[data][text]") {
  fs::path dir = fresh_dir("one");
  write(dir / "a.txt", "abcabcabca");  // 10 bytes, vocabulary a b c
  TextCorpus c = load_text_corpus((dir / "a.txt").string());
  CHECK(c.vocabulary == std::vector<uint8_t>{'a', 'b', 'c'});
  CHECK(c.bytes == 10);
  CHECK(c.train.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2});
  CHECK(c.validation.to_vector<int64_t>() == std::vector<int64_t>{0});
  CHECK(c.decode(c.encode("cab")) == "cab");
  CHECK_THROWS_WITH_TEXT(c.encode("abz"), "byte 0x7a at position 2 is not in the corpus vocabulary");
  CHECK_THROWS_WITH_TEXT(c.decode({3}), "token id 3 is outside the vocabulary");
}

TEST_CASE("text corpus: a folder is read in path order, skipping what is not text", "[data][text]") {
  fs::path dir = fresh_dir("folder");
  fs::create_directories(dir / "sub");
  write(dir / "b", "world\n");
  write(dir / "a", "hello ");
  write(dir / "sub" / "c", "caf\xc3\xa9\n");  // é in UTF-8
  write(dir / "a.dat", std::string("\x00\x01\x02", 3));
  write(dir / "latin1", "caf\xe9\n");  // é in Latin-1: not UTF-8
  write(dir / ".hidden", "secret");
  fs::create_symlink(dir / "a", dir / "a.u8");
  TextCorpus c = load_text_corpus(dir.string(), 0.0);
  REQUIRE(c.files.size() == 3);
  CHECK(c.decode(c.train.to_vector<int64_t>()) == "hello world\ncaf\xc3\xa9\n");
  CHECK(c.index_files == std::vector<std::string>{(dir / "a.dat").string()});
  REQUIRE(c.skipped.size() == 2);  // a.u8 is a second name of a: read once, and named
  CHECK(c.skipped[0] == (dir / "a.u8").string() + ": a second name of 'a' (a link), read once");
  CHECK(c.skipped[1].find("latin1: not UTF-8 text (invalid byte sequence at offset 3)") != std::string::npos);
}

TEST_CASE("text corpus: a folder with nothing usable names the files it skipped and why", "[data][text]") {
  fs::path dir = fresh_dir("all_bad");
  for (int i = 0; i < 7; ++i) write(dir / ("latin" + std::to_string(i)), "caf\xe9\n");
  write(dir / "index.dat", std::string("\x00\x01", 2));
  CHECK_THROWS_WITH_TEXT(load_text_corpus(dir.string()),
                         "has no UTF-8 text files (1 fortune index files (.dat) and 7 other files skipped):\n  " +
                             (dir / "latin0").string() + ": not UTF-8 text (invalid byte sequence at offset 3)");
  CHECK_THROWS_WITH_TEXT(load_text_corpus(dir.string()), "latin4: not UTF-8 text");
  CHECK_THROWS_WITH_TEXT(load_text_corpus(dir.string()), "\n  and 2 more");
}

TEST_CASE("text corpus: bad input is reported by name", "[data][text]") {
  fs::path dir = fresh_dir("bad");
  write(dir / "latin1.txt", "na\xefve");
  CHECK_THROWS_WITH_TEXT(load_text_corpus((dir / "latin1.txt").string()), "is not UTF-8: invalid byte sequence at offset 2");
  CHECK_THROWS_WITH_TEXT(load_text_corpus("/nonexistent/kiln.txt"), "text corpus '/nonexistent/kiln.txt' does not exist");
  write(dir / "tiny.txt", "x");
  CHECK_THROWS_WITH_TEXT(load_text_corpus((dir / "tiny.txt").string()), "too little text");
  CHECK_THROWS_WITH_TEXT(load_text_corpus((dir / "tiny.txt").string(), 1.5), "validation fraction 1.5");
  fs::path empty = fresh_dir("empty");
  CHECK_THROWS_WITH_TEXT(load_text_corpus(empty.string()), "has no UTF-8 text files");
}

TEST_CASE("UTF-8 validation", "[data][text]") {
  auto check = [](const std::string& s) { return first_invalid_utf8(std::vector<uint8_t>(s.begin(), s.end())); };
  CHECK(check("plain ascii") == -1);
  CHECK(check("\xe2\x82\xac \xf0\x9f\x8e\xb5") == -1);  // € and 🎵
  CHECK(check("\xc0\xaf") == 0);                        // overlong '/'
  CHECK(check("ab\xed\xa0\x80") == 2);                  // a UTF-16 surrogate
  CHECK(check("abc\xe2\x82") == 3);                     // cut short
  CHECK(check("\xf4\x90\x80\x80") == 0);                // above U+10FFFF
}

TEST_CASE("text corpus: Debian's fortunes", "[data][text]") {
  if (!fs::is_directory(kFortunesDir)) {
    WARN("Debian's fortunes package is not installed: skipped");
    return;
  }
  TextCorpus c = load_text_corpus(kFortunesDir);
  CHECK(c.bytes > 1000000);
  CHECK(c.vocabulary_size() > 90);
  CHECK(c.vocabulary_size() < 256);
  CHECK(c.train.numel() + c.validation.numel() == c.bytes);
}
