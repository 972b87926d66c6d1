// bound.hpp - is a cache directory live (bound by a kernel through a daemon)?
//
// Nothing on disk says so. The evidence is in /proc: a process holding
// /dev/cachefiles open is a cache daemon (the device allows one opener); it is
// bound to this cache when its working directory or an open fd lies inside
// the cache root (cachefilesd fchdir()s into the tree to cull), or when its
// configuration names this directory.
#pragma once

#include <fsc/error.hpp>

#include <string>
#include <vector>

namespace fsc::cachefiles {

struct BindState {
  bool bound = false;                ///< a daemon serves this cache
  bool daemon_running = false;       ///< some process holds /dev/cachefiles
  std::vector<std::string> evidence; ///< one sentence per finding
  std::vector<std::string> users;    ///< other processes inside the cache
};

/// Where /proc is: $FSC_PROC_ROOT (tests fake a daemon there), else /proc.
std::string proc_root();

/// Looks through proc_dir (normally /proc) for evidence about cache root.
/// config_dir is the `dir` a daemon's config names (empty when unknown).
BindState detect_binding(const std::string& root,
                         const std::string& proc_dir = "/proc",
                         const std::string& config_dir = {});

/// A problem a live cache makes by itself: an entry gone between its
/// listing and its stat (the kernel buried it, its daemon culled it). Not
/// a fault of the cache while it is bound; on an offline one it is.
bool live_churn(const Problem& p, const BindState& b);

} // namespace fsc::cachefiles
