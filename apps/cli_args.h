// Command-line flag parsing for the kiln tool: --name value pairs, checked and converted with
// messages that name the flag and the bad value. Throws UsageError; main turns it into exit code 2.
#pragma once
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A flag the parser does not accept; `flag` is its name without the leading --.
class UnknownFlag : public UsageError {
 public:
  explicit UnknownFlag(const std::string& name) : UsageError("unknown flag --" + name), flag(name) {}
  std::string flag;
};

// A whole string as an integer (decimal, in range of long long) or as a number (anything strtod reads,
// infinities and NaN included); nullopt when it is not one, or has characters after it ("3x").
std::optional<long long> parse_integer(const std::string& text);
std::optional<double> parse_number(const std::string& text);

class Args {
 public:
  // Parses argv[first..]; `known` lists the accepted flag names (without the leading --);
  // flags in `switches` take no value; the others need one that is not empty. Positional arguments are
  // kept in order.
  Args(int argc, char** argv, int first, const std::vector<std::string>& known,
       const std::vector<std::string>& switches = {});

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  // Every flag given, name → value ("1" for switches), e.g. to record a run's command line.
  const std::map<std::string, std::string>& values() const { return values_; }
  // A usage error for the first flag given that is not in `names`, e.g. allow_only({"count", "seed"},
  // "a dcgan run"): "--length does not apply to a dcgan run".
  void allow_only(const std::vector<std::string>& names, const std::string& what) const;
  // Whether `name` is one of the flags this parser accepts.
  bool knows(const std::string& name) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  // Integers in [lo, hi]; real numbers that are finite and in [lo, hi].
  long long get_int(const std::string& name, long long fallback, long long lo, long long hi) const;
  double get_double(const std::string& name, double fallback, double lo, double hi) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> known_;
  std::vector<std::string> positional_;
};

}  // namespace kiln::cli
