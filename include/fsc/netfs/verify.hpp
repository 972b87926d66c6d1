// verify.hpp - does each cached NFS data object still match its origin file?
// The aux the client would store now is rebuilt from the origin's statx and
// compared as nfs_fscache_inode_check_aux does (all 40 bytes); with `data`,
// the cached extents (SEEK_DATA/SEEK_HOLE) are compared with the origin's
// bytes, hashed with XXH3. Nothing is written; files are read O_NOATIME.
#pragma once

#include <fsc/bytes.hpp>
#include <fsc/cachefiles/cache.hpp>
#include <fsc/fd.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fsc::netfs {

enum class Verdict { okay, obsolete, corrupt, orphan, unmapped, unreadable };
const char* verdict_name(Verdict v);

/// One field whose value on disk differs from what the origin implies.
struct Difference {
  std::string field; ///< "mtime", "ctime", "change_attr", "aux length"
  std::string cached, origin;
};

struct ObjectVerdict {
  std::string path;    ///< of the data object, relative to the cache root
  std::string key_hex; ///< its key (the NFS file handle)
  std::string origin;  ///< the origin file, when mapped
  Verdict verdict = Verdict::unmapped;
  std::vector<Difference> diffs;
  std::optional<std::uint64_t> first_bad_offset; ///< CORRUPT
  std::uint64_t bytes_compared = 0;
  /// A non-zero byte past the object's size (the backing file's padding):
  /// an anomaly of the cache file, not of the data the client reads.
  std::optional<std::uint64_t> padding_nonzero_offset;
  std::string checked; ///< what was checked beyond the times, when partial
  std::string note;    ///< why unmapped/unreadable
};

/// Where the origin of each key is: NFS file handle (hex) → path.
using OriginMap = std::map<std::string, std::string>;

/// Reads "KEYHEX PATH" lines ('#' comments); throws fsc::Error naming the
/// file and line of a malformed one.
OriginMap read_origin_map(const std::string& file);

/// Walks an NFS client mount and maps the NFS file handle of every regular
/// file (from name_to_handle_at) to its path. Throws fsc::Error when the
/// directory cannot be read or is not NFS.
OriginMap map_nfs_client(const std::string& mountpoint);

/// The NFS file handle inside the f_handle that name_to_handle_at returns on
/// an NFS client (fs/nfs/export.c: fileid high/low, type, then struct nfs_fh).
std::optional<Bytes> nfs_fh_from_handle(ByteView f_handle);

/// Where one object's origin file is, or why it cannot be had.
struct Located {
  Verdict verdict = Verdict::okay; ///< okay: found; else orphan, unmapped...
  std::string path;                ///< the origin file, when found
  Fd fd;            ///< when found: open O_RDONLY on it, or none: open path
  std::string note; ///< why not found
};

/// Finds the origin file of an object from its key (the NFS file handle).
class OriginSource {
public:
  virtual ~OriginSource() = default;
  virtual Located locate(ByteView key) = 0;
  /// How: "origin_map", "nfs_client", "open_by_handle_at" or "index".
  virtual std::string method() const = 0;
};

/// An OriginMap (from --origin-map or an NFS client walk) as a source.
class MapOrigin : public OriginSource {
public:
  MapOrigin(OriginMap map, std::string method)
      : m_map(std::move(map)), m_method(std::move(method))
  {
  }
  Located locate(ByteView key) override;
  std::string method() const override { return m_method; }

private:
  OriginMap m_map;
  std::string m_method;
};

struct VerifyOptions {
  bool data = false;   ///< compare cached bytes too
  bool nfs_v4 = false; ///< force the NFSv4 rule; else the server key
                       ///< or volume of each object says the version
};

/// Verifies every data object of the cache; calls sink for each.
void verify(const cachefiles::Cache& cache, OriginSource& origins,
            const VerifyOptions& opt,
            const std::function<void(const ObjectVerdict&)>& sink);

/// The same with a map from key to path.
void verify(const cachefiles::Cache& cache, const OriginMap& origins,
            const VerifyOptions& opt,
            const std::function<void(const ObjectVerdict&)>& sink);

} // namespace fsc::netfs
