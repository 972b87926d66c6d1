// summary.hpp - aggregate figures of a scan: counts per netfs, sizes, atime
// ages, the largest and the oldest objects. Constant memory (bounded heaps).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/cachefiles/scan.hpp>

namespace fsc::cachefiles {

/// Per-netfs (v1 primary index) or per-volume-netfs (v2) counts.
struct NetfsCount {
  std::uint64_t indices = 0; ///< v1 index objects (incl. the primary index)
  std::uint64_t volumes = 0; ///< v2 volumes
  std::uint64_t data = 0;
  std::uint64_t bytes = 0;     ///< apparent (st_size) of data objects
  std::uint64_t allocated = 0; ///< st_blocks * 512 of data objects
};

/// Age buckets of data-object atimes relative to "now".
inline constexpr std::array<const char*, 8> k_age_buckets = {
    "future", "<1h", "<1d", "<7d", "<30d", "<90d", "<365d", ">=365d"};

struct ObjectBrief {
  std::string path;
  std::uint64_t size = 0;
  std::uint64_t allocated = 0;
  std::int64_t atime_ns = 0;
  std::shared_ptr<const Node> node; ///< for its decoded label
};

/// The data below one server (v1: the index under the netfs's primary
/// index, an NFS server or AFS cell) or one volume (v2).
struct GroupCount {
  std::shared_ptr<const Node> node; ///< the server index or the volume
  NetfsCount count;
};

/// The node whose totals n counts in (see GroupCount), or null.
std::shared_ptr<const Node> group_of(const std::shared_ptr<const Node>& n);
/// group_of() without touching reference counts.
const Node* group_of(const Node& n);

/// What `fsc inspect` prints by default.
class Summary {
public:
  explicit Summary(std::int64_t now_ns, std::size_t top_n = 10)
      : m_now_ns(now_ns), m_top_n(top_n)
  {
  }

  void add(const ScanEntry& e);
  /// Folds another worker's summary into this one.
  void merge(const Summary& o);
  /// Sorts the top lists (largest first, oldest first).
  void finish();

  /// "largest" ranks by allocated bytes (what culling frees), then apparent.
  static bool larger(const ObjectBrief& a, const ObjectBrief& b);

  std::map<std::string, NetfsCount, std::less<>> netfs;
  std::map<std::string, GroupCount, std::less<>> groups; ///< by the group node's path
  std::array<std::uint64_t, k_age_buckets.size()> ages{};
  double age_sum_s = 0; ///< sum of the data objects' atime ages (>= 0)
  std::uint64_t objects = 0, data = 0, indices = 0, volumes = 0;
  std::uint64_t fanouts = 0, unknown = 0;
  std::uint64_t bytes = 0, allocated = 0;
  std::uint64_t problems = 0;
  std::vector<ObjectBrief> largest, oldest;

private:
  /// Whether b (its path not yet copied) would enter the heap.
  bool wanted(const std::vector<ObjectBrief>& heap, const ObjectBrief& b,
              bool by_size) const;
  void keep(std::vector<ObjectBrief>& heap, const ObjectBrief& b, bool by_size);
  void count(NetfsCount& c, const ScanEntry& e);
  std::int64_t m_now_ns;
  std::size_t m_top_n;
};

/// The netfs an object belongs to: v1 primary index key ("nfs"), v2 volume
/// key up to the first comma; "" when unknown. A view of the top node's key:
/// valid while n is.
std::string_view netfs_of(const Node& n);

/// Free space of the file system holding fd (statvfs).
struct FsSpace {
  std::uint64_t blocks = 0, bfree = 0, bavail = 0, bsize = 0;
  std::uint64_t files = 0, ffree = 0;
  bool noatime = false, relatime = false;
};
FsSpace fs_space(int fd);

} // namespace fsc::cachefiles
