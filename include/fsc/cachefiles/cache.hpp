// cache.hpp - a cache directory opened read-only: root, cache/, format.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

#include <fsc/error.hpp>
#include <fsc/fd.hpp>

namespace fsc::cachefiles {

/// On-disk generation of a cache.
enum class Format {
  v1,      ///< kernels before 5.17: @xx fan-outs under cache/
  v2,      ///< 5.17+: I<volume key> directories under cache/
  empty,   ///< cache/ exists but holds nothing: undecidable
  mixed,   ///< both v1 fan-outs and v2 volumes (refused by mutating verbs)
  unknown, ///< cache/ holds only entries neither format makes
};

/// "v1", "v2", "empty", "mixed", "unknown".
const char* format_name(Format f);

/// A cache root opened for reading. Directories are opened with O_NOATIME
/// where permitted; without the permission fsc warns once that atimes of
/// directories may move.
class Cache {
public:
  /// Opens root and root/cache. Throws fsc::Error when root is missing, not
  /// a directory, unreadable, or has no cache/ directory.
  static Cache open(const std::string& root);

  Cache(Cache&& o) noexcept = default;
  Cache& operator=(Cache&&) = delete;
  Cache(const Cache&) = delete;

  const std::string& root() const { return m_root; }
  /// The root as realpath(3) resolves it (absolute, no symlink): what /proc
  /// shows of a daemon in the cache, and what absolute paths compare with.
  const std::string& real_root() const { return m_real_root; }
  int root_fd() const { return m_root_fd.get(); }
  int cache_fd() const { return m_cache_fd.get(); }
  Format format() const { return m_format; }
  dev_t dev() const { return m_dev; }
  uid_t owner() const { return m_uid; }

  /// Problems found at the top level (root label, graveyard, strays).
  const std::vector<Problem>& top_problems() const { return m_problems; }

  /// Names in root other than cache/ and graveyard/ (e.g. lost+found).
  const std::vector<std::string>& root_extras() const { return m_extras; }

private:
  Cache() = default;
  void check_top();

  std::string m_root;
  std::string m_real_root;
  Fd m_root_fd;
  Fd m_cache_fd;
  dev_t m_dev = 0;
  uid_t m_uid = 0;
  Format m_format = Format::unknown;
  std::vector<Problem> m_problems;
  std::vector<std::string> m_extras;
};

/// Opens a directory relative to dirfd for reading without following a
/// symlink, with O_NOATIME when allowed (falls back, warning once).
/// Returns -1 with errno set on failure.
int open_dir_noatime(int dirfd, const char* name);

/// Opens a regular file for reading, O_NOFOLLOW, O_NOATIME when allowed.
int open_file_noatime(int dirfd, const char* name);

/// Detects the format from the names directly under cache/.
Format detect_format(int cache_fd);

} // namespace fsc::cachefiles
