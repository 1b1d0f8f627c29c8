// Bytes from a user's file made safe to print in a message: a chunk name, a key, a line of a corpus.
// Raw bytes must never reach the terminal (an ESC byte in a PNG chunk name could clear the screen), so
// every control character and every byte that is not valid UTF-8 is shown as an escape.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace kiln {

// `bytes` with printable ASCII and valid UTF-8 kept as they are; \n, \t, \r, \\ as C escapes; every other
// control character (C0, DEL, and the C1 controls U+0080–U+009F, which terminals also obey) and every byte
// of an invalid UTF-8 sequence as \xNN. Longer than `max_bytes` input bytes: cut there, with "..." after.
std::string printable(std::string_view bytes, size_t max_bytes = 80);

// Text from a file shown whole as text (a generated sample that echoes its corpus): escaped the same way,
// except that line breaks, tabs and backslashes stay as they are; nothing is cut.
std::string printable_text(std::string_view text);

}  // namespace kiln
