// Bytes from files quoted in messages: printable text kept, control characters and bad UTF-8 escaped.
#include <string>

#include "core/printable.h"
#include "kiln_test.h"

using namespace kiln;

TEST_CASE("printable keeps text and UTF-8 and escapes control bytes", "[printable]") {
  CHECK(printable("IHDR") == "IHDR");
  CHECK(printable("caf\xC3\xA9") == "caf\xC3\xA9");                // é stays
  CHECK(printable("\x1b[2J") == "\\x1b[2J");                       // ESC: no screen clearing
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable("tab\there\nnew\\") == "tab\\there\\nnew\\\\");
  CHECK(printable("\x7f") == "\\x7f");
  CHECK(printable("\xC2\x9B" "2J") == "\\xc2\\x9b2J");             // C1 CSI in UTF-8 form
  CHECK(printable("\xff\xfe") == "\\xff\\xfe");                    // not UTF-8
}

TEST_CASE("printable cuts long input and says so", "[printable]") {
  CHECK(printable(std::string(100, 'x'), 10) == std::string(10, 'x') + "...");
  CHECK(printable("short", 10) == "short");
}

TEST_CASE("printable_text keeps the layout of text and escapes what a terminal obeys", "[printable]") {
  CHECK(printable_text("two\tcolumns\nand a \\ line\n") == "two\tcolumns\nand a \\ line\n");
  CHECK(printable_text("caf\xC3\xA9 \x1b[2Jgone\r") == "caf\xC3\xA9 \\x1b[2Jgone\\r");
  CHECK(printable_text(std::string(200, 'x')) == std::string(200, 'x'));  // never cut
}
