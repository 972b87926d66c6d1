// common.cpp - helpers every verb shares: where the cache is.
#include "command.hpp"

#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/log.hpp>

#include <sys/stat.h>

namespace fsc::cmd {

std::string resolve_cache_dir(const std::string& positional, const Globals& g)
{
  if (!positional.empty())
    return positional;
  if (!g.dir.empty())
    return g.dir;
  struct stat st;
  if (stat(cachefiles::k_default_daemon_config, &st) == 0) {
    cachefiles::ConfigReadOptions opt;
    opt.check_dir = false;
    auto conf = cachefiles::read_daemon_config(
        cachefiles::k_default_daemon_config, opt);
    if (!conf.dir.empty())
      return conf.dir;
  }
  return "/var/cache/fscache";
}

void warn_if_bound(const cachefiles::BindState& b, const std::string& root,
                   const char* deed)
{
  if (!b.bound)
    return;
  std::string why;
  for (auto& e : b.evidence)
    why += (why.empty() ? "" : "; ") + e;
  log::warning("'{}' is live ({}); {} behind the daemon as asked", root, why,
               deed);
}

} // namespace fsc::cmd
