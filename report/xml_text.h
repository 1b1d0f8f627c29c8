// Text for XML and HTML pages (the SVG curves, report.html): markup characters escaped, and whatever
// would make the page invalid replaced, so that a folder name or a byte-level model's sample can never
// break it. Only for what goes into a page; files of the model's own output keep their raw bytes.
#pragma once
#include <string>

namespace kiln::report {

// `text` as XML/HTML character data or attribute value: & < > " ' as entities; control characters other
// than tab, newline and carriage return shown as their Unicode control pictures (U+2400 + code, e.g. BEL
// as ␇; DEL as ␡); C1 controls, U+FFFE/U+FFFF and every invalid UTF-8 sequence (stray continuation
// bytes, overlong forms, surrogates, truncated sequences, bytes F5–FF) as U+FFFD, one per maximal invalid
// subpart. Valid multi-byte UTF-8 is kept as it is.
std::string xml_escape(const std::string& text);

}  // namespace kiln::report
