// object.hpp - one object looked at closely: its path decoded component by
// component, its xattr, its stat and which byte ranges hold cached data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fsc/cachefiles/scan.hpp>

namespace fsc::cachefiles {

/// A [start, end) byte range that holds data (not a hole).
struct Extent {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
};

/// Data ranges of an open file by SEEK_DATA/SEEK_HOLE (never reads data).
/// Falls back to one extent [0, size) when the fs lacks SEEK_DATA.
std::vector<Extent> data_extents(int fd, std::uint64_t size);

/// One step of a path below cache/.
struct PathStep {
  std::string name;
  EntryKind kind = EntryKind::unknown;
  std::string explanation; ///< how the name decodes, or why it does not
};

/// Everything about one entry of the tree.
struct ObjectInfo {
  std::string path; ///< relative to the cache root
  std::vector<PathStep> steps;
  ScanEntry entry; ///< kind, node chain (with xattr), stat, problems
  std::vector<Extent> extents;
  bool extents_known = false;
};

/// Looks up path (relative to the cache root, or absolute inside it) the
/// way the scanner would classify it, without changing anything.
/// Throws fsc::Error when the path is not inside the cache or is missing.
ObjectInfo describe_path(const Cache& cache, const std::string& path);

/// The node chain of an object path ("cache/@4a/I03nfs/.../Dxxx") from its
/// names alone (no I/O, no xattr), for labelling objects a walk saw by path
/// only, such as cull victims; null when a name does not decode.
std::shared_ptr<const Node> node_of_path(Format f, std::string_view path);

} // namespace fsc::cachefiles
