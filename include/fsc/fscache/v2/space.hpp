// space.hpp - CacheFiles' side of cachefilesd: the backing filesystem's
// free space against the daemon's limits (6.1 cache.c:cachefiles_has_space,
// docs/engine-v2.md §4.8) and the cull/inuse requests (daemon.c, §4.9).
#pragma once

#include <cstdint>
#include <string_view>

namespace fsc::fscache::v2 {

/// What statfs says of the backing filesystem (blocks in pages: the
/// kernel shifts f_blocks and f_bavail to pages) and cachefilesd's limits
/// in percent (cachefiles_daemon_open()'s defaults).
struct Space {
  std::uint64_t files = 0, ffree = 0; ///< files 0: never set, no check
  std::uint64_t blocks = 0, bavail = 0;
  unsigned frun = 7, fcull = 5, fstop = 1;
  unsigned brun = 7, bcull = 5, bstop = 1;
};

enum class SpaceWhy : std::uint8_t { create, write, check };

/// cachefiles_has_space() and the state it keeps: the limits as counts
/// (computed as the kernel does at bind: f_files / 100 * percent), the
/// CULLING flag the daemon polls, and the NoSpace counters.
class SpaceState {
public:
  /// New statfs figures and limits; false (nothing changed) when the
  /// limits break 0 <= stop < cull < run < 100 ("Free space limits must
  /// be in range", -EINVAL in cachefiles_daemon_*()).
  bool set(const Space& s);
  /// 0, or -ENOBUFS below a stop limit: fnr files and bnr pages are about
  /// to be used.
  int has_space(std::uint64_t fnr, std::uint64_t bnr, SpaceWhy why);
  bool culling() const { return m_culling; }
  const Space& space() const { return m_space; }

  struct Counts {
    unsigned nwr = 0;  ///< no space for a write
    unsigned ncr = 0;  ///< no space for a create
    unsigned cull = 0; ///< objects culled by the daemon
  } counts;

private:
  Space m_space;
  std::uint64_t m_frun = 0, m_fcull = 0, m_fstop = 0;
  std::uint64_t m_brun = 0, m_bcull = 0, m_bstop = 0;
  bool m_culling = false;
};

/// The daemon's requests of CacheFiles. `dir` is the daemon's cwd relative
/// to the cache root (cachefilesd chdirs to the victim's directory), `name`
/// one entry in it. 0 or -errno, as the write() of the command returns.
class Daemon {
public:
  virtual ~Daemon() = default;
  /// cachefiles_daemon_cull: -EINVAL (a '/' in name), -ENOENT (absent),
  /// -EBUSY (in use by the kernel), else the entry is buried.
  virtual int cull(std::string_view dir, std::string_view name) = 0;
  /// cachefiles_daemon_inuse: -EBUSY in use, 0 not, -ENOENT absent.
  virtual int inuse(std::string_view dir, std::string_view name) = 0;
  virtual SpaceState& space() = 0;
};

} // namespace fsc::fscache::v2
