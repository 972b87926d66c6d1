// object.cpp - one object looked at closely.
#include <fsc/cachefiles/object.hpp>

#include <fsc/cachefiles/xattr.hpp>
#include <fsc/fd.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
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

// An absolute path with its directory resolved, so that it compares with
// the cache's real root however either was spelled (relative CACHE, a
// symlinked root). The last component is kept: it may be a symlink itself.
std::string resolve_dir_of(const std::string& path)
{
  auto slash = path.find_last_of('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  char buf[PATH_MAX];
  if (!realpath(dir.c_str(), buf))
    return path;
  std::string out = buf;
  return (out == "/" ? "" : out) + path.substr(slash);
}

std::string split_rel(const Cache& cache, std::string path)
{
  if (!path.empty() && path[0] == '/') {
    const std::string& root = cache.real_root();
    std::string abs = resolve_dir_of(path);
    while (abs.size() > 1 && abs.back() == '/')
      abs.pop_back();
    if (abs == root)
      throw Error("'" + path +
                  "' is the cache root: give an entry inside "
                  "it (cache, graveyard, cache/@4a/...)");
    if (abs.compare(0, root.size(), root) != 0 || abs[root.size()] != '/')
      throw Error("'" + path + "' is not inside the cache '" + cache.root() +
                  "'");
    path = abs.substr(root.size() + 1);
  }
  while (!path.empty() && path.back() == '/')
    path.pop_back();
  if (path.rfind("cache/", 0) != 0 && path != "cache" &&
      path.rfind("graveyard/", 0) != 0 && path != "graveyard")
    path = "cache/" + path;
  return path;
}

// cache/, graveyard/ and what lies in the graveyard are not objects the
// scanner delivers: described from their stat alone.
ObjectInfo describe_outside_tree(const Cache& cache, const std::string& rel)
{
  ObjectInfo info;
  info.path = rel;
  ScanEntry& e = info.entry;
  e.path = rel;
  e.name = rel.substr(rel.rfind('/') + 1);
  e.kind = EntryKind::unknown;
  if (int err = stat_at(cache.root_fd(), rel.c_str(), e.st); err > 0) {
    if (err == ENOENT)
      throw Error("no entry '" + rel + "' in the cache '" + cache.root() + "'");
    throw_sys("cannot stat", cache.root() + "/" + rel, err);
  }
  std::string what =
      rel == "cache"
          ? "the root of the object tree (v1: labelled \"C3\"; the kernel "
            "binds only a directory)"
      : rel == "graveyard"
          ? "where the kernel moves objects it discards; the cache daemon "
            "deletes what is in it"
          : "buried: discarded by the kernel (or fsc), waiting to be deleted";
  if (rel == "graveyard")
    info.steps.push_back({"graveyard", EntryKind::unknown, what});
  else if (rel == "cache")
    info.steps.push_back({"cache", EntryKind::unknown, what});
  else {
    info.steps.push_back({"graveyard", EntryKind::unknown,
                          "where the kernel moves objects it discards"});
    info.steps.push_back({e.name, EntryKind::unknown, what});
  }
  return info;
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
  const std::string rel = split_rel(cache, path);
  if (rel == "cache" || rel == "graveyard" || rel.rfind("graveyard/", 0) == 0)
    return describe_outside_tree(cache, rel);
  ObjectInfo info;
  info.path = rel;
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
    Fd fd(openat(dirfd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_NOATIME));
    if (!fd && errno == EPERM)
      fd.reset(openat(dirfd, rel.c_str(), O_RDONLY | O_NOFOLLOW));
    if (fd) {
      info.extents = data_extents(fd.get(), info.entry.st.size);
      info.extents_known = true;
    }
  }
  return info;
}

static std::shared_ptr<Node> node_of_name(Format f, const Node* parent,
                                          std::string_view name)
{
  auto node = std::make_shared<Node>();
  node->level = parent ? parent->level + 1 : 0;
  if (f == Format::v2 && !parent && name.size() > 1 && name[0] == 'I') {
    node->kind = EntryKind::volume;
    node->key.assign(name.begin() + 1, name.end());
    return node;
  }
  if (f == Format::v2) {
    auto n = decode_name_v2(name);
    if (!n)
      return nullptr;
    node->kind = EntryKind::data;
    node->type = k_type_data;
    node->key = std::move(n->key);
    return node;
  }
  auto n = decode_name_v1(name);
  if (!n)
    return nullptr;
  node->type = n->type;
  node->key = std::move(n->key);
  node->kind = n->type == k_type_index  ? EntryKind::index
               : n->type == k_type_data ? EntryKind::data
                                        : EntryKind::special;
  return node;
}

std::shared_ptr<const Node> node_of_path(Format f, std::string_view path)
{
  std::shared_ptr<Node> at;
  std::string sofar;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = std::min(path.find('/', i), path.size());
    std::string_view name = path.substr(i, j - i);
    sofar = std::string(path.substr(0, j));
    i = j + 1;
    if (name.empty() || (sofar == "cache" && !at) || parse_fanout(name) ||
        name[0] == '+')
      continue;
    auto node = node_of_name(f, at.get(), name);
    if (!node)
      return nullptr;
    node->parent = at;
    node->path = sofar;
    at = std::move(node);
  }
  return at;
}

} // namespace fsc::cachefiles
