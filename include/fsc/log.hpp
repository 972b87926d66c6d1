// log.hpp - diagnostics on stderr ("fsc: error: ..."), journald-aware.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace fsc::log {

enum class Level { error = 3, warning = 4, info = 6, debug = 7 };

/// Sets the verbosity: -1 quiet (errors only), 0 default (+warnings),
/// 1 info, 2 debug.
void set_verbosity(int v);
int verbosity();

/// Writes one diagnostic line to stderr. With JOURNAL_STREAM set, lines get
/// a "<N>" priority prefix instead of "fsc: level: ".
void write(Level level, std::string_view msg);

template <class... A> void error(fmt::format_string<A...> f, A&&... a)
{
  write(Level::error, fmt::format(f, std::forward<A>(a)...));
}
template <class... A> void warning(fmt::format_string<A...> f, A&&... a)
{
  write(Level::warning, fmt::format(f, std::forward<A>(a)...));
}
template <class... A> void info(fmt::format_string<A...> f, A&&... a)
{
  write(Level::info, fmt::format(f, std::forward<A>(a)...));
}
template <class... A> void debug(fmt::format_string<A...> f, A&&... a)
{
  write(Level::debug, fmt::format(f, std::forward<A>(a)...));
}

/// Warns once per key for the whole run (e.g. "O_NOATIME not permitted").
void warn_once(std::string_view key, std::string_view msg);

} // namespace fsc::log
