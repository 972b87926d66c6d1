// object.cpp - one object looked at closely.
#include <fsc/cachefiles/object.hpp>

#include <fsc/cachefiles/xattr.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fsc::cachefiles {

std::vector<Extent> data_extents(int fd, std::uint64_t size)
{
  std::vector<Extent> out;
  off_t pos = 0;
  while (std::uint64_t(pos) < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO)
        break; // only a hole up to the end
      out.assign(1, {0, size});
      return out;
    }
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0)
      hole = off_t(size);
    out.push_back({std::uint64_t(data), std::uint64_t(hole)});
    pos = hole;
  }
  return out;
}

namespace {

std::string split_rel(const Cache& cache, std::string path)
{
  const std::string& root = cache.root();
  if (!path.empty() && path[0] == '/') {
    if (path.compare(0, root.size(), root) != 0 ||
        (path.size() > root.size() && path[root.size()] != '/'))
      throw Error("'" + path + "' is not inside the cache '" + root + "'");
    path = path.substr(std::min(path.size(), root.size() + 1));
  }
  while (!path.empty() && path.back() == '/')
    path.pop_back();
  if (path.rfind("cache/", 0) != 0 && path != "cache")
    path = "cache/" + path;
  return path;
}

std::string explain(const ScanEntry& e)
{
  switch (e.kind) {
  case EntryKind::fanout:
    return "fan-out directory (not an object)";
  case EntryKind::volume:
    return "volume, key \"" + to_string(e.node->key) + "\"";
  case EntryKind::index:
  case EntryKind::data:
  case EntryKind::special: {
    const Node& n = *e.node;
    std::string how =
        e.name[0] == 'I' || e.name[0] == 'D' || e.name[0] == 'S'
            ? fmt::format("'{}': printable key, length chars '{}' = {}",
                          e.name[0], e.name.substr(1, 2), n.key.size())
            : fmt::format("'{}': encoded key of {} bytes", e.name[0],
                          n.key.size());
    return fmt::format("{} object; {}; key {}", entry_kind_name(e.kind), how,
                       to_hex(n.key));
  }
  case EntryKind::unknown:
    break;
  }
  return e.problems.empty() ? "not an object" : e.problems.front().message;
}

} // namespace

ObjectInfo describe_path(const Cache& cache, const std::string& path)
{
  ObjectInfo info;
  info.path = split_rel(cache, path);
  // The scanner, restricted to this path, classifies each step exactly as
  // a whole-cache scan would.
  ScanOptions opt;
  opt.ordered = true;
  opt.fanouts = true;
  opt.only_path = info.path;
  bool found = false;
  scan(cache, opt, [&](const ScanEntry& e, unsigned) {
    if (found)
      return;
    if (info.path.compare(0, e.path.size(), e.path) == 0 &&
        (info.path.size() == e.path.size() || info.path[e.path.size()] == '/'))
      info.steps.push_back({e.name, e.kind, explain(e)});
    if (e.path == info.path) {
      info.entry = e;
      found = true;
    }
  });
  if (!found)
    throw Error("no entry '" + info.path + "' in the cache '" + cache.root() +
                "'");
  if (S_ISREG(info.entry.st.mode)) {
    int dirfd = cache.root_fd();
    std::string rel = info.path;
    int fd = openat(dirfd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_NOATIME);
    if (fd < 0 && errno == EPERM)
      fd = openat(dirfd, rel.c_str(), O_RDONLY | O_NOFOLLOW);
    if (fd >= 0) {
      info.extents = data_extents(fd, info.entry.st.size);
      info.extents_known = true;
      close(fd);
    }
  }
  return info;
}

} // namespace fsc::cachefiles
