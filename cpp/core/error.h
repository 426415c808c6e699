// Errors raised by the core.
//
// Every failure the user can cause is reported by throwing ember::Error with a kind
// that the Python bindings map to PyTorch's exception type for the same condition
// (RuntimeError, IndexError, TypeError, ValueError). Messages start with the op in
// brackets, then PyTorch's wording for the condition, then what helps:
//   "[mm] mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"
// The core never aborts on bad input: it checks before it writes, so a failed
// operation leaves its operands unchanged.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ember {

enum class ErrorKind { Runtime, Index, Type, Value, NotImplemented };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

namespace detail {
inline void str_into(std::ostringstream&) {}
template <typename T, typename... Rest>
void str_into(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  str_into(os, rest...);
}
}  // namespace detail

template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::str_into(os, args...);
  return os.str();
}

}  // namespace ember

// EMBER_CHECK(cond, kind, parts...) throws ember::Error(kind, str(parts...)) when cond fails.
#define EMBER_CHECK_KIND(cond, kind, ...)                            \
  do {                                                               \
    if (!(cond)) throw ::ember::Error(kind, ::ember::str(__VA_ARGS__)); \
  } while (0)
#define EMBER_CHECK(cond, ...) EMBER_CHECK_KIND(cond, ::ember::ErrorKind::Runtime, __VA_ARGS__)
#define EMBER_CHECK_INDEX(cond, ...) EMBER_CHECK_KIND(cond, ::ember::ErrorKind::Index, __VA_ARGS__)
#define EMBER_CHECK_TYPE(cond, ...) EMBER_CHECK_KIND(cond, ::ember::ErrorKind::Type, __VA_ARGS__)
#define EMBER_CHECK_VALUE(cond, ...) EMBER_CHECK_KIND(cond, ::ember::ErrorKind::Value, __VA_ARGS__)
