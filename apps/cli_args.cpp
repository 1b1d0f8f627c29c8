#include "apps/cli_args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace kiln::cli {
namespace {

// A bound as people write it: 1e-12, 0.5, 100 (std::to_string would print 0.000000 and 100.000000).
std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

Args::Args(int argc, char** argv, int first, const std::vector<std::string>& known,
           const std::vector<std::string>& switches)
    : known_(known) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    bool is_switch = std::find(switches.begin(), switches.end(), name) != switches.end();
    if (is_switch && eq != std::string::npos) throw UsageError("flag --" + name + " takes no value");
    if (!is_switch && std::find(known.begin(), known.end(), name) == known.end())
      throw UnknownFlag(name);
    if (!is_switch && eq == std::string::npos) {
      if (i + 1 >= argc) throw UsageError("flag --" + name + " needs a value");
      value = argv[++i];
    }
    // An empty value (--out '', --data=) is a mistake, never a request for the default: kiln used to read
    // it as the default and write or read somewhere the user did not ask for.
    if (!is_switch && value.empty())
      throw UsageError("--" + name + ": the value is empty (leave the flag out to use its default)");
    values_[name] = is_switch ? "1" : value;
  }
}

void Args::allow_only(const std::vector<std::string>& names, const std::string& what) const {
  for (const auto& [name, value] : values_)
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw UsageError("--" + name + " does not apply to " + what);
}

bool Args::knows(const std::string& name) const {
  return std::find(known_.begin(), known_.end(), name) != known_.end();
}

std::string Args::get_string(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::optional<long long> parse_integer(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) return std::nullopt;
  return v;
}

std::optional<double> parse_number(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return std::nullopt;
  return v;
}

long long Args::get_int(const std::string& name, long long fallback, long long lo, long long hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  const std::optional<long long> v = parse_integer(s);
  if (!v) throw UsageError("--" + name + " expects an integer, got '" + s + "'");
  if (*v < lo || *v > hi)
    throw UsageError("--" + name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + s);
  return *v;
}

double Args::get_double(const std::string& name, double fallback, double lo, double hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  const std::optional<double> v = parse_number(s);
  if (!v) throw UsageError("--" + name + " expects a number, got '" + s + "'");
  if (!std::isfinite(*v)) throw UsageError("--" + name + " must be a finite number, got '" + s + "'");
  if (*v < lo || *v > hi)
    throw UsageError("--" + name + " must be between " + number_text(lo) + " and " + number_text(hi) + ", got " + s);
  return *v;
}

}  // namespace kiln::cli
