// summary.cpp - aggregate figures of a scan.
#include <fsc/cachefiles/summary.hpp>

#include <algorithm>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace fsc::cachefiles {

std::string_view netfs_of(const Node& n)
{
  const Node* top = &n;
  while (top->parent)
    top = top->parent.get();
  const std::string_view key(reinterpret_cast<const char*>(top->key.data()),
                             top->key.size());
  if (top->kind == EntryKind::volume)
    return key.substr(0, key.find(','));
  return top->level == 0 && top->kind == EntryKind::index ? key
                                                          : std::string_view();
}

namespace {

// map[k] for a map ordered by std::less<>, without a string made for a key
// that is already there (nearly every call of a scan).
template <class Map> typename Map::mapped_type& slot(Map& m, std::string_view k)
{
  auto it = m.find(k);
  if (it == m.end())
    it = m.emplace(std::string(k), typename Map::mapped_type{}).first;
  return it->second;
}

} // namespace

static std::size_t age_bucket(std::int64_t age_s)
{
  static const std::int64_t limits[] = {3600,       86400,      7 * 86400,
                                        30 * 86400, 90 * 86400, 365 * 86400};
  if (age_s < 0)
    return 0;
  for (std::size_t i = 0; i < std::size(limits); ++i)
    if (age_s < limits[i])
      return i + 1;
  return k_age_buckets.size() - 1;
}

const Node* group_of(const Node& n)
{
  // v2: the volume at level 0; v1: the index below the primary index.
  const Node* at = &n;
  while (at && at->level > 1)
    at = at->parent.get();
  if (at && at->level == 1 && at->parent &&
      at->parent->kind == EntryKind::volume)
    at = at->parent.get();
  if (!at || at->kind == EntryKind::data ||
      (at->level == 0 && at->kind != EntryKind::volume))
    return nullptr;
  return at;
}

std::shared_ptr<const Node> group_of(const std::shared_ptr<const Node>& n)
{
  const Node* g = n ? group_of(*n) : nullptr;
  std::shared_ptr<const Node> at = n;
  while (at && at.get() != g)
    at = at->parent;
  return at;
}

bool Summary::larger(const ObjectBrief& a, const ObjectBrief& b)
{
  if (a.allocated != b.allocated)
    return a.allocated > b.allocated;
  return a.size != b.size ? a.size > b.size : a.path < b.path;
}

// Min-heap on "how much we want it" so the least wanted is popped.
static bool less_wanted(const ObjectBrief& x, const ObjectBrief& y,
                        bool by_size)
{
  return by_size ? Summary::larger(x, y) : x.atime_ns < y.atime_ns;
}

// b's path is empty here, which compares before any other: a tie of sizes
// counts as wanted, and keep() decides it with the path.
bool Summary::wanted(const std::vector<ObjectBrief>& heap,
                     const ObjectBrief& b, bool by_size) const
{
  if (heap.size() < m_top_n)
    return true;
  return m_top_n && less_wanted(b, heap.front(), by_size);
}

void Summary::keep(std::vector<ObjectBrief>& heap, const ObjectBrief& b,
                   bool by_size)
{
  auto less_wanted = [by_size](const ObjectBrief& x, const ObjectBrief& y) {
    return fsc::cachefiles::less_wanted(x, y, by_size);
  };
  if (heap.size() < m_top_n) {
    heap.push_back(b);
    std::push_heap(heap.begin(), heap.end(), less_wanted);
  } else if (m_top_n && less_wanted(b, heap.front())) {
    std::pop_heap(heap.begin(), heap.end(), less_wanted);
    heap.back() = b;
    std::push_heap(heap.begin(), heap.end(), less_wanted);
  }
}

void Summary::add(const ScanEntry& e)
{
  problems += e.problems.size();
  switch (e.kind) {
  case EntryKind::fanout:
    ++fanouts;
    return;
  case EntryKind::unknown:
    ++unknown;
    return;
  default:
    break;
  }
  ++objects;
  NetfsCount& c = slot(netfs, e.node ? netfs_of(*e.node) : std::string_view());
  if (e.kind == EntryKind::volume) {
    ++volumes;
    ++c.volumes;
    return;
  }
  if (e.kind == EntryKind::index) {
    ++indices;
    ++c.indices;
    return;
  }
  ++data;
  count(c, e);
  if (const Node* g = e.node ? group_of(*e.node) : nullptr) {
    GroupCount& gc = slot(groups, g->path);
    if (!gc.node)
      gc.node = group_of(e.node);
    count(gc.count, e);
  }
  const std::uint64_t alloc = e.st.blocks * 512;
  bytes += e.st.size;
  allocated += alloc;
  const std::int64_t age_s = (m_now_ns - e.st.atime_ns) / 1000000000;
  ++ages[age_bucket(age_s)];
  age_sum_s += double(std::max<std::int64_t>(age_s, 0));
  // The path is compared only on a tie of sizes, and copied only when the
  // object makes a list: most objects of a large cache make neither.
  ObjectBrief b{{}, e.st.size, alloc, e.st.atime_ns, nullptr};
  const bool big = wanted(largest, b, true);
  const bool old = wanted(oldest, b, false);
  if (!big && !old)
    return;
  b.path = e.path;
  b.node = e.node;
  if (big)
    keep(largest, b, true);
  if (old)
    keep(oldest, b, false);
}

void Summary::count(NetfsCount& c, const ScanEntry& e)
{
  ++c.data;
  c.bytes += e.st.size;
  c.allocated += e.st.blocks * 512;
}

static void add_counts(NetfsCount& c, const NetfsCount& v)
{
  c.indices += v.indices;
  c.volumes += v.volumes;
  c.data += v.data;
  c.bytes += v.bytes;
  c.allocated += v.allocated;
}

void Summary::merge(const Summary& o)
{
  for (auto& [k, v] : o.netfs)
    add_counts(netfs[k], v);
  for (auto& [k, v] : o.groups) {
    GroupCount& g = groups[k];
    if (!g.node)
      g.node = v.node;
    add_counts(g.count, v.count);
  }
  for (std::size_t i = 0; i < ages.size(); ++i)
    ages[i] += o.ages[i];
  age_sum_s += o.age_sum_s;
  objects += o.objects;
  data += o.data;
  indices += o.indices;
  volumes += o.volumes;
  fanouts += o.fanouts;
  unknown += o.unknown;
  bytes += o.bytes;
  allocated += o.allocated;
  problems += o.problems;
  for (auto& b : o.largest)
    keep(largest, b, true);
  for (auto& b : o.oldest)
    keep(oldest, b, false);
}

void Summary::finish()
{
  std::sort(largest.begin(), largest.end(), larger);
  std::sort(oldest.begin(), oldest.end(), [](auto& a, auto& b) {
    return a.atime_ns != b.atime_ns ? a.atime_ns < b.atime_ns : a.path < b.path;
  });
}

FsSpace fs_space(int fd)
{
  FsSpace s;
  struct statvfs v;
  if (fstatvfs(fd, &v) != 0)
    return s;
  s.blocks = v.f_blocks;
  s.bfree = v.f_bfree;
  s.bavail = v.f_bavail;
  s.bsize = v.f_frsize ? v.f_frsize : v.f_bsize;
  s.files = v.f_files;
  s.ffree = v.f_ffree;
  s.noatime = v.f_flag & ST_NOATIME;
  s.relatime = v.f_flag & ST_RELATIME;
  return s;
}

} // namespace fsc::cachefiles
