// summary.cpp - aggregate figures of a scan.
#include <fsc/cachefiles/summary.hpp>

#include <algorithm>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace fsc::cachefiles {

std::string netfs_of(const Node& n)
{
  const Node* top = &n;
  while (top->parent)
    top = top->parent.get();
  std::string key = to_string(top->key);
  if (top->kind == EntryKind::volume)
    return key.substr(0, key.find(','));
  return top->level == 0 && top->kind == EntryKind::index ? key : "";
}

static std::size_t age_bucket(std::int64_t age_s)
{
  static const std::int64_t limits[] = {3600, 86400, 7 * 86400, 30 * 86400,
                                        90 * 86400, 365 * 86400};
  if (age_s < 0)
    return 0;
  for (std::size_t i = 0; i < std::size(limits); ++i)
    if (age_s < limits[i])
      return i + 1;
  return k_age_buckets.size() - 1;
}

void Summary::keep(std::vector<ObjectBrief>& heap, const ObjectBrief& b,
                   bool by_size)
{
  // Min-heap on "how much we want it" so the least wanted is popped.
  auto less_wanted = [by_size](const ObjectBrief& x, const ObjectBrief& y) {
    return by_size ? x.size > y.size : x.atime_ns < y.atime_ns;
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
  case EntryKind::fanout: ++fanouts; return;
  case EntryKind::unknown: ++unknown; return;
  default: break;
  }
  ++objects;
  NetfsCount& c = netfs[e.node ? netfs_of(*e.node) : std::string()];
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
  ++c.data;
  const std::uint64_t alloc = e.st.blocks * 512;
  c.bytes += e.st.size;
  c.allocated += alloc;
  bytes += e.st.size;
  allocated += alloc;
  ++ages[age_bucket((m_now_ns - e.st.atime_ns) / 1000000000)];
  ObjectBrief b{e.path, e.st.size, alloc, e.st.atime_ns};
  keep(largest, b, true);
  keep(oldest, b, false);
}

void Summary::merge(const Summary& o)
{
  for (auto& [k, v] : o.netfs) {
    auto& c = netfs[k];
    c.indices += v.indices;
    c.volumes += v.volumes;
    c.data += v.data;
    c.bytes += v.bytes;
    c.allocated += v.allocated;
  }
  for (std::size_t i = 0; i < ages.size(); ++i)
    ages[i] += o.ages[i];
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
  std::sort(largest.begin(), largest.end(), [](auto& a, auto& b) {
    return a.size != b.size ? a.size > b.size : a.path < b.path;
  });
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
