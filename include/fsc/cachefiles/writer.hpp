// writer.hpp - making cache objects exactly as the kernel lays them out:
// names from the cooker, the kernel's modes (0 for fan-outs, index dirs and
// v1 data files), xattrs in each format's framing. Used by `fsc demo`, tests
// and the engine's backend.
#pragma once

#include <cstdint>
#include <string>

#include <fsc/bytes.hpp>
#include <fsc/cachefiles/xattr.hpp>

namespace fsc::cachefiles {

/// Content of a data file to create: bytes at an offset in a file of size.
struct DataSpec {
  std::string bytes; ///< written at offset (the rest is a hole)
  std::uint64_t offset = 0;
  std::uint64_t size = 0;     ///< file size (>= offset + bytes.size())
  std::int64_t atime_ns = -1; ///< -1: leave as created
  std::int64_t mtime_ns = -1;
};

/// Writes objects below an existing or new cache root. Paths are relative
/// to the root ("cache/@4a/I03nfs"). Throws fsc::Error on failure.
class Writer {
public:
  /// Creates root (if missing), cache/ (0700) and graveyard/ (0700);
  /// labels cache/ with "C3" when v1 is true (v2 kernels write no label).
  explicit Writer(std::string root, bool v1 = true);

  const std::string& root() const { return m_root; }

  /// v1: makes (or reuses) the fan-out and the object under parent (a v1
  /// index path or "cache"); returns the object's path.
  std::string add_v1(const std::string& parent, ByteView key, std::uint8_t type,
                     ByteView aux, const DataSpec& data = {});

  /// v2: a volume directory with its xattr; returns "cache/I<key>".
  std::string add_volume(const std::string& volume_key, ByteView coherency);

  /// v2: a data object in volume (path from add_volume); returns its path.
  std::string add_v2(const std::string& volume, ByteView key,
                     const XattrV2& xattr, const DataSpec& data = {});

  /// A plain directory or file that is not an object (strays, graveyard).
  void add_dir(const std::string& rel, unsigned mode);
  void add_file(const std::string& rel, const std::string& bytes);

  /// Sets atime/mtime of a path (ns; -1 leaves one as it is).
  void set_times(const std::string& rel, std::int64_t atime_ns,
                 std::int64_t mtime_ns);

private:
  void make_dir(const std::string& rel, unsigned mode);
  void make_file(const std::string& rel, const DataSpec& data);
  void set_xattr(const std::string& rel, ByteView value);
  std::string m_root;
};

} // namespace fsc::cachefiles
