// Checks of an --out path before a command does any work (loads a model, runs an optimisation), so that
// a path kiln cannot write, or would write under a surprising name, is a usage error at once, not a
// failure at the end or a file called ".txt". Only checks; it creates nothing.
#pragma once
#include <string>
#include <vector>

namespace kiln::apps {

// A file written whole: not empty, not a folder (one that exists, or a name ending in '/', '.' or '..'),
// in a folder that exists; when `extension` is given (".png"), the name must end in it, in any case.
// Throws cli::UsageError naming `flag`, the path and what to give instead.
void check_output_file(const std::string& flag, const std::string& path, const std::string& extension = "");

// A path to which kiln adds the extension(s) itself (a language model's sample: STEM.txt, or STEM.mid and
// STEM.wav): the same checks, and it must not already end in one of `added` (STEM.txt would become
// STEM.txt.txt).
void check_output_stem(const std::string& flag, const std::string& stem, const std::vector<std::string>& added);

}  // namespace kiln::apps
