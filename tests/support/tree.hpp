// tree.hpp - building real cache trees in temporary directories for tests,
// and snapshotting them to prove a read-only verb changed nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <fsc/bytes.hpp>

namespace fsc::test {

/// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& rel) const
  {
    return m_path + "/" + rel;
  }

private:
  std::string m_path;
};

/// mkdir -p with the given mode for the last component.
void make_dirs(const std::string& path, unsigned mode = 0700);

/// Writes a file (creating parents), optionally sparse: data at offset.
void write_file(const std::string& path, const std::string& data,
                std::uint64_t offset = 0, std::uint64_t size = 0);

/// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

/// Sets user.CacheFiles.cache (or another xattr) on path (no follow).
void set_xattr(const std::string& path, ByteView value,
               const std::string& name = "user.CacheFiles.cache");

/// Sets atime and mtime in nanoseconds since the epoch (no follow).
void set_times(const std::string& path, std::int64_t atime_ns,
               std::int64_t mtime_ns);

/// One path's observable state.
struct PathState {
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::int64_t atime_ns = 0;
  std::int64_t mtime_ns = 0;
  std::string content_hash; ///< files: hash of bytes; links: target
  std::map<std::string, std::string> xattrs;
  bool operator==(const PathState&) const = default;
};

/// Snapshot of a whole tree (content, xattrs, atime/mtime ns), read without
/// changing atimes (O_NOATIME; the test runs as the owner).
std::map<std::string, PathState> snapshot(const std::string& root);

/// Extracts a fixture tarball (with xattrs) into dir; returns the top entry.
std::string extract_fixture(const std::string& tarball, const std::string& dir);

/// $FSC_FIXTURES (tests/fixtures in the source tree).
std::string fixtures_dir();

} // namespace fsc::test
