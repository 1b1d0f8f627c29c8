// UTF-8, the one encoding kiln reads and writes text in: checking a multi-byte sequence (the text
// corpora's UTF-8 check, the XML/HTML escaping of the report) and encoding a code point (the safetensors
// JSON reader's \u escapes, the report's visible control symbols).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln {

// The length (2 to 4) of the valid UTF-8 sequence that starts at bytes[i], a lead byte ≥ 0x80 of the
// `size` bytes; or 0, with `invalid` set to the length of its maximal invalid subpart (at least 1), the
// Unicode way of replacing bad input so that a cut character never swallows the one after it. Valid:
// the shortest form only, no surrogates (U+D800–DFFF), nothing above U+10FFFF.
size_t utf8_sequence(const uint8_t* bytes, size_t size, size_t i, size_t& invalid);

// Appends the UTF-8 encoding of `code_point` (at most U+10FFFF).
void append_utf8(std::string& out, uint32_t code_point);

}  // namespace kiln
