// error.hpp - fatal errors, per-object problems and exit codes.
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace fsc {

/// Thrown when a command cannot go on; caught only in main().
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown when the arguments do not fit together (exit 64, as a parse
/// error of CLI11 would).
class UsageError : public Error {
public:
  using Error::Error;
};

/// Thrown when a cache may not be changed now (bound to a daemon, locked by
/// another fsc); carries the exit code main() returns.
class Refused : public Error {
public:
  Refused(const std::string& what, int code) : Error(what), m_code(code) {}
  int code() const { return m_code; }

private:
  int m_code;
};

/// A finding about one object or path: data to report, never thrown.
struct Problem {
  std::string kind;    ///< stable class name, e.g. "bad-fanout"
  std::string path;    ///< path relative to the cache root (or absolute)
  std::string message; ///< lower-case explanation, no final period
};

/// Exit codes shared by every subcommand (see STYLE.md).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int problems = 1;
inline constexpr int fatal = 2;
inline constexpr int usage = 64;
inline constexpr int busy = 75;
} // namespace exit_code

/// strerror() text for an errno value, thread-safe.
std::string errno_text(int err);

/// "what 'path': strerror(err)", the house format for system errors.
std::string sys_message(const std::string& what, const std::string& path,
                        int err);

/// Throws fsc::Error with sys_message(what, path, err).
[[noreturn]] void throw_sys(const std::string& what, const std::string& path,
                            int err);

} // namespace fsc
