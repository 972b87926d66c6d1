// store.hpp - the file operations CacheFiles performs on a cache directory,
// on paths relative to the cache root, either applied to the directory
// (DirStore) or kept in memory over a read-only view of it (OverlayStore),
// so that a replay can show what it would change without changing a byte.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include <fsc/bytes.hpp>

namespace fsc::cachefiles {

struct StoreStat {
  bool exists = false;
  bool dir = false;
  bool reg = false;
  std::uint64_t size = 0;
  std::uint64_t ino = 0; ///< the inode number (made up in an overlay)
};

/// Every operation returns 0 or -errno; nothing follows a symlink.
class Store {
public:
  virtual ~Store() = default;
  virtual StoreStat stat(const std::string& rel) = 0;
  virtual tl::expected<Bytes, int> get_xattr(const std::string& rel) = 0;
  virtual int set_xattr(const std::string& rel, ByteView value,
                        bool create) = 0;
  /// mode as given (4.19 makes 0, 6.1 0700), as vfs_mkdir(.., mode).
  virtual int mkdir(const std::string& rel, unsigned mode) = 0;
  virtual int create(const std::string& rel) = 0; ///< mode 0 regular file
  virtual int unlink(const std::string& rel) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int truncate(const std::string& rel, std::uint64_t size) = 0;
  virtual int write(const std::string& rel, std::uint64_t off,
                    ByteView data) = 0;
  /// True when the byte at off is data (SEEK_DATA), false for a hole.
  virtual tl::expected<bool, int> has_data(const std::string& rel,
                                           std::uint64_t off) = 0;
  virtual int touch_atime(const std::string& rel) = 0;

  /// An unnamed regular file of mode 0 in directory dir (O_TMPFILE, as
  /// 6.1's vfs_tmpfile_open(.., S_IFREG, ..)): a handle that the other
  /// operations take in place of a path, or -errno.
  virtual tl::expected<std::string, int> tmpfile(const std::string& dir) = 0;
  /// Gives the tmpfile its name rel (linkat; -EEXIST when taken) and ends
  /// the handle: the file is then reached by rel.
  virtual int link_tmpfile(const std::string& handle,
                           const std::string& rel) = 0;
  /// Ends a handle; a tmpfile never linked is gone.
  virtual void close_tmpfile(const std::string& handle) = 0;
  /// True for a handle from tmpfile() (never a path: paths do not start
  /// with '#').
  static bool is_tmpfile(const std::string& rel)
  {
    return !rel.empty() && rel[0] == '#';
  }

  /// What the run changed (DirStore) or would have changed (OverlayStore).
  const std::vector<std::string>& changes() const { return m_changes; }

protected:
  void note(std::string s) { m_changes.push_back(std::move(s)); }

private:
  std::vector<std::string> m_changes;
};

/// Applies every change to the directory root.
std::unique_ptr<Store> make_dir_store(const std::string& root);

/// Reads root (O_NOATIME, never writing) and keeps changes in memory.
std::unique_ptr<Store> make_overlay_store(const std::string& root);

/// An empty cache in memory (cache/ and graveyard/ only): for tests and
/// benchmarks of the engine.
std::unique_ptr<Store> make_memory_store();

} // namespace fsc::cachefiles
