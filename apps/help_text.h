// The help texts of the kiln command line: an overview (`kiln help`) and one page per command
// (`kiln help COMMAND`, or `--help` / `-h` anywhere after the command), each with examples.
#pragma once
#include <string>

namespace kiln::apps {

// The help page of `command` ("help" or "": the overview); nullptr for a command kiln does not have.
const char* command_help(const std::string& command);

// Whether argv[first..] holds --help or -h.
bool wants_help(int argc, char** argv, int first);

}  // namespace kiln::apps
