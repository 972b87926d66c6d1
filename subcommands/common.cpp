// common.cpp - helpers every verb shares: where the cache is.
#include "command.hpp"

#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/log.hpp>

namespace fsc::cmd {

std::string resolve_cache_dir(const std::string& positional, const Globals& g)
{
  if (!positional.empty() || !g.dir.empty())
    return cachefiles::choose_cache_dir(positional, g.dir, {});
  return cachefiles::choose_cache_dir(
      "", "",
      cachefiles::load_daemon_config(cachefiles::k_default_daemon_config,
                                     false));
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
