// kiln's error type and the check macros every layer of the library uses.
// Errors are exceptions with a message a user can act on; nothing here aborts.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  // what() is "message [where]"; where is the source location of the check that failed ("" for none).
  explicit Error(const std::string& message, const std::string& where = "")
      : std::runtime_error(where.empty() ? message : message + " [" + where + "]"), message_(message) {}
  // The message without its source location: for lists of reasons, as in "skipped 3 files: ...".
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// What an exception says, without the source location a kiln::Error adds: for messages that quote another.
inline std::string message_of(const std::exception& e) {
  const auto* error = dynamic_cast<const Error*>(&e);
  return error ? error->message() : e.what();
}

namespace detail {
// Builds a message from any streamable pieces: detail::concat("shape ", s, " is bad").
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);
}  // namespace detail

}  // namespace kiln

// KILN_CHECK(cond, pieces...): throws kiln::Error naming the message, file and line when cond is false.
#define KILN_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) ::kiln::detail::throw_error(__FILE__, __LINE__, ::kiln::detail::concat(__VA_ARGS__)); \
  } while (0)

// KILN_FAIL(pieces...): throws unconditionally.
#define KILN_FAIL(...) ::kiln::detail::throw_error(__FILE__, __LINE__, ::kiln::detail::concat(__VA_ARGS__))
