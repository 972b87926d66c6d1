// engine_choice.cpp - the engine for a cache directory, by its format.
#include <fsc/fscache/engine_choice.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/v2/types.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

namespace fsc::fscache {

using cachefiles::Format;

const char* engine_name(EngineGen g)
{
  return g == EngineGen::v61 ? "6.1" : "4.19";
}

std::optional<EngineGen> parse_engine(std::string_view name)
{
  if (name == "4.19" || name == "4")
    return EngineGen::v419;
  if (name == "6.1" || name == "6")
    return EngineGen::v61;
  return std::nullopt;
}

namespace {

/// The format of root's cache/, or empty when there is none yet.
Format format_of(const std::string& root)
{
  struct stat st;
  const std::string cache = root + "/cache";
  if (::lstat(cache.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Format::empty;
  return cachefiles::Cache::open(root).format();
}

} // namespace

tl::expected<EngineChoice, std::string>
choose_engine(const std::string& root, std::optional<EngineGen> forced)
{
  const Format f = format_of(root);
  if (f == Format::mixed)
    return tl::make_unexpected(
        "'" + root + "' holds both v1 and v2 objects: no engine binds it");
  std::optional<EngineGen> by_format;
  if (f == Format::v1)
    by_format = EngineGen::v419;
  else if (f == Format::v2)
    by_format = EngineGen::v61;
  if (forced && by_format && *forced != *by_format)
    return tl::make_unexpected(
        "--engine " + std::string(engine_name(*forced)) + " contradicts '" +
        root + "', a " + cachefiles::format_name(f) + " cache (written by " +
        (f == Format::v1 ? "kernels before 5.17" : "kernels 5.17 and later") +
        ", replayed by the " + engine_name(*by_format) + " engine)");
  if (forced)
    return EngineChoice{*forced, "--engine"};
  if (by_format)
    return EngineChoice{*by_format,
                        std::string(cachefiles::format_name(f)) + " cache"};
  return EngineChoice{EngineGen::v419, f == Format::empty
                                           ? "new cache, the default"
                                           : "unknown format, the default"};
}

namespace {

bool is_419_fix(std::string_view n)
{
  for (const auto& f : fix_names())
    if (f.first == n)
      return true;
  return false;
}

bool is_61_fix(std::string_view n)
{
  for (const auto& f : v2::fix_names())
    if (f.name == n)
      return true;
  return false;
}

} // namespace

tl::expected<void, std::string>
check_unfix(const std::vector<std::string>& names, EngineGen gen)
{
  for (const auto& n : names) {
    const bool ours = gen == EngineGen::v419 ? is_419_fix(n) : is_61_fix(n);
    if (ours)
      continue;
    std::string own;
    if (gen == EngineGen::v419)
      for (const auto& f : fix_names())
        own += (own.empty() ? "" : ", ") + std::string(f.first);
    else
      for (const auto& f : v2::fix_names())
        own += (own.empty() ? "" : ", ") + std::string(f.name);
    const bool other = gen == EngineGen::v419 ? is_61_fix(n) : is_419_fix(n);
    return tl::unexpected(fmt::format(
        "--unfix {}: {}; the {} engine runs here, its fixes are {}", n,
        other ? fmt::format("a fix of the {} engine",
                            gen == EngineGen::v419 ? "6.1" : "4.19")
              : "no such fix",
        engine_name(gen), own));
  }
  return {};
}

v2::Fixes v2_fixes_without(const std::vector<std::string>& names)
{
  v2::Fixes fixes;
  for (const auto& n : names)
    for (const auto& f : v2::fix_names())
      if (f.name == n)
        fixes.*f.member = false;
  return fixes;
}

std::vector<std::string> unfix_names()
{
  std::vector<std::string> v;
  for (const auto& f : fix_names())
    v.emplace_back(f.first);
  for (const auto& f : v2::fix_names())
    v.emplace_back(f.name);
  return v;
}

} // namespace fsc::fscache
