// mount.hpp - binding a cache directory for the engine, as cachefilesd's
// "bind" makes the kernel do: cache/ and graveyard/ checked (or made, with
// the "C3" label, in a new empty directory), refused when a live daemon
// serves it, locked when written. Read-only by default: the engine then
// sees the real tree through an overlay and nothing on disk changes.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <fsc/cachefiles/lock.hpp>
#include <fsc/cachefiles/store.hpp>

namespace fsc::cachefiles {

struct MountOptions {
  bool write = false; ///< apply changes to the cache itself
  std::string into;   ///< copy the cache here first and replay on the copy
  bool force = false; ///< bind even if a daemon seems to serve it
  /// Bind for the 6.1 engine: a v2 cache (or an empty one) is accepted and
  /// a v1 cache refused, and a new cache/ gets no "C3" label (5.17+ does
  /// not label it).
  bool v2 = false;
};

class Mount {
public:
  /// Throws fsc::Error with the reason when root cannot be bound.
  static Mount bind(const std::string& root, const MountOptions& opt);

  Store& store() { return *m_store; }
  const std::string& root() const { return m_root; } ///< where the engine works
  const char* mode() const { return m_mode; }

private:
  std::string m_root;
  const char* m_mode = "read-only";
  std::optional<CacheLock> m_lock;
  std::unique_ptr<Store> m_store;
};

/// Copies the directory tree src to dst (which must not exist) with every
/// xattr (libattr's attr_copy_file), modes, times and holes; never follows
/// a symlink. Throws fsc::Error naming the path that failed.
void copy_tree(const std::string& src, const std::string& dst);

} // namespace fsc::cachefiles
