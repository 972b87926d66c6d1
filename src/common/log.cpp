// log.cpp - diagnostics on stderr.
#include <fsc/log.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>

namespace fsc::log {
namespace {

int g_verbosity = 0;
std::mutex g_mutex;

const char* label(Level l)
{
  switch (l) {
  case Level::error:
    return "error";
  case Level::warning:
    return "warning";
  case Level::info:
    return "info";
  case Level::debug:
    return "debug";
  }
  return "";
}

bool enabled(Level l)
{
  switch (l) {
  case Level::error:
    return true;
  case Level::warning:
    return g_verbosity >= 0;
  case Level::info:
    return g_verbosity >= 1;
  case Level::debug:
    return g_verbosity >= 2;
  }
  return true;
}

} // namespace

void set_verbosity(int v) { g_verbosity = v; }
int verbosity() { return g_verbosity; }

void write(Level level, std::string_view msg)
{
  if (!enabled(level))
    return;
  std::lock_guard lock(g_mutex);
  if (std::getenv("JOURNAL_STREAM"))
    fmt::print(stderr, "<{}>{}\n", int(level), msg);
  else if (level == Level::info)
    fmt::print(stderr, "fsc: {}\n", msg);
  else
    fmt::print(stderr, "fsc: {}: {}\n", label(level), msg);
}

void warn_once(std::string_view key, std::string_view msg)
{
  static std::set<std::string, std::less<>> seen;
  {
    std::lock_guard lock(g_mutex);
    if (!seen.emplace(key).second)
      return;
  }
  write(Level::warning, msg);
}

} // namespace fsc::log
