// scan.hpp - a parallel, constant-memory walk of a cache's object tree.
//
// The walk reads each directory once (getdents64), stats each entry with
// statx relative to its directory, and reads the CacheFiles xattr of object
// entries only when asked: stat-only work (cull planning, sizes) must not pay
// for xattrs. Nothing it does changes an atime.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fsc/bytes.hpp>
#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/key.hpp>
#include <fsc/error.hpp>

namespace fsc::cachefiles {

/// What an entry in the tree is.
enum class EntryKind {
  index,   ///< v1 index object (I/J directory)
  data,    ///< data object (v1 D/E file, v2 data file)
  special, ///< v1 special object (S/T)
  volume,  ///< v2 volume directory (I<key>)
  fanout,  ///< @xx (or v1 +...) intermediate directory, not an object
  unknown, ///< anything the kernel would not have made
};

const char* entry_kind_name(EntryKind k);

/// The fields of statx an fsc verb uses.
struct Stat {
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t nlink = 0;
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::uint64_t blocks = 0; ///< 512-byte units
  std::int64_t atime_ns = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
};

/// An object and its ancestry: parents are shared, so a scan holds only the
/// branches it is working on.
struct Node {
  std::shared_ptr<const Node> parent;
  std::string path; ///< relative to the cache root ("cache/@4a/I03nfs")
  int level = 0;    ///< 0: child of cache/ (v1 netfs index, v2 volume)
  EntryKind kind = EntryKind::unknown;
  std::uint8_t type = 0; ///< cookie type from the name (v1)
  Bytes key;             ///< decoded index key (v2 volume: the key string)
  bool key_ok = true;    ///< false: the name does not decode (key empty)
  Bytes xattr;           ///< raw xattr, when read
  bool has_xattr = false;
};

/// One entry delivered by scan().
struct ScanEntry {
  EntryKind kind = EntryKind::unknown;
  std::shared_ptr<const Node> node; ///< set for index/data/special/volume
  std::string path;                 ///< relative to the cache root
  std::string name;
  Stat st;
  int xattr_errno = -1;          ///< -1 not read, 0 read, else errno
  std::vector<Problem> problems; ///< layout problems of this entry
};

struct ScanOptions {
  bool read_xattrs = true;
  unsigned threads = 0;  ///< 0: one per online CPU (at most 8)
  bool ordered = false;  ///< one thread, depth-first, names sorted
  bool fanouts = false;  ///< also deliver fan-out entries
  std::string only_path; ///< when set: only entries on this path
                         ///< ("cache/@4a/I03nfs"), for one-object looks
};

struct ScanStats {
  std::uint64_t dirs = 0;
  std::uint64_t entries = 0;
  std::uint64_t errors = 0;
};

/// Receives entries; called from worker threads concurrently (worker is
/// 0..threads-1, so a sink can keep per-worker state), or from one thread
/// in order when ScanOptions::ordered.
using ScanSink = std::function<void(const ScanEntry&, unsigned worker)>;

/// Walks cache/ of an opened cache. Errors on single paths (EACCES, ENOENT
/// during the walk, bad names) become problems on entries or are reported
/// through the sink as unknown entries; the walk always finishes.
ScanStats scan(const Cache& cache, const ScanOptions& opt,
               const ScanSink& sink);

/// How many workers scan() runs with opt: a sink's per-worker state needs
/// this many slots.
unsigned scan_workers(const ScanOptions& opt);

/// statx of name in dirfd without following links, into Stat.
int stat_at(int dirfd, const char* name, Stat& st, bool want_blocks = true);

} // namespace fsc::cachefiles
