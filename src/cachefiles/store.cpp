// store.cpp - CacheFiles' file operations on a real directory or in an
// overlay over a read-only one.
#include <fsc/cachefiles/store.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/error.hpp>
#include <fsc/fd.hpp>

#include <cerrno>
#include <fcntl.h>
#include <map>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fsc::cachefiles {

namespace {

std::string parent_of(const std::string& rel)
{
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

std::string leaf_of(const std::string& rel)
{
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

// --- DirStore
// ------------------------------------------------------------------

class DirStore : public Store {
public:
  explicit DirStore(const std::string& root)
      : m_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
  {
    if (!m_fd)
      throw_sys("cannot open cache", root, errno);
  }

  /// The directory holding rel's last component, opened without following
  /// a symlink anywhere on the way; -errno on failure.
  int open_parent(const std::string& rel)
  {
    Fd fd(::dup(m_fd.get()));
    std::string dir = parent_of(rel);
    std::size_t pos = 0;
    while (fd && pos < dir.size()) {
      auto next = dir.find('/', pos);
      std::string comp = dir.substr(pos, next - pos);
      fd = Fd(open_dir_noatime(fd.get(), comp.c_str()));
      if (!fd)
        return -errno;
      pos = next == std::string::npos ? dir.size() : next + 1;
    }
    return fd ? fd.release() : -errno;
  }

  StoreStat stat(const std::string& rel) override
  {
    StoreStat s;
    struct stat st;
    if (is_tmpfile(rel)) {
      auto t = m_tmp.find(rel);
      if (t == m_tmp.end() || ::fstat(t->second.get(), &st) != 0)
        return s;
    } else {
      Fd dir(open_parent(rel));
      if (!dir || ::fstatat(dir.get(), leaf_of(rel).c_str(), &st,
                            AT_SYMLINK_NOFOLLOW) != 0)
        return s;
    }
    s.exists = true;
    s.ino = std::uint64_t(st.st_ino);
    s.dir = S_ISDIR(st.st_mode);
    s.reg = S_ISREG(st.st_mode);
    s.size = std::uint64_t(st.st_size);
    return s;
  }

  tl::expected<Bytes, int> get_xattr(const std::string& rel) override
  {
    if (is_tmpfile(rel)) {
      Fd fd(open_leaf(rel, O_RDONLY));
      if (!fd)
        return tl::unexpected(-fd.get());
      return read_xattr_fd(fd.get());
    }
    Fd dir(open_parent(rel));
    if (!dir)
      return tl::unexpected(-dir.get());
    auto r = read_xattr_at(dir.get(), leaf_of(rel));
    if (!r)
      return tl::unexpected(r.error());
    return *r;
  }

  int open_leaf(const std::string& rel, int flags)
  {
    if (is_tmpfile(rel)) {
      auto t = m_tmp.find(rel);
      if (t == m_tmp.end())
        return -EBADF;
      int fd = ::fcntl(t->second.get(), F_DUPFD_CLOEXEC, 0);
      return fd < 0 ? -errno : fd;
    }
    Fd dir(open_parent(rel));
    if (!dir)
      return dir.get();
    int fd = ::openat(dir.get(), leaf_of(rel).c_str(),
                      flags | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }

  int set_xattr(const std::string& rel, ByteView v, bool create) override
  {
    Fd fd(open_leaf(rel, O_RDONLY | O_NOATIME));
    if (!fd)
      return fd.get();
    if (::fsetxattr(fd.get(), k_xattr_name, v.data(), v.size(),
                    create ? XATTR_CREATE : XATTR_REPLACE) != 0)
      return -errno;
    note(fmt::format("setxattr {} {}", rel, to_hex(v)));
    return 0;
  }

  int mkdir(const std::string& rel, unsigned mode) override
  {
    if (is_tmpfile(rel))
      return -EINVAL; // a handle has no name to make or remove
    Fd dir(open_parent(rel));
    if (!dir)
      return dir.get();
    if (::mkdirat(dir.get(), leaf_of(rel).c_str(), mode_t(mode)) != 0)
      return -errno;
    note("mkdir " + rel);
    return 0;
  }

  int create(const std::string& rel) override
  {
    if (is_tmpfile(rel))
      return -EINVAL; // a handle has no name to make or remove
    Fd fd(open_leaf(rel, O_WRONLY | O_CREAT | O_EXCL));
    if (!fd)
      return fd.get();
    // open(2) applies the umask to mode 0 anyway; the kernel's is exactly 0.
    ::fchmod(fd.get(), 0);
    note("create " + rel);
    return 0;
  }

  int unlink(const std::string& rel) override
  {
    if (is_tmpfile(rel))
      return -EINVAL; // a handle has no name to make or remove
    Fd dir(open_parent(rel));
    if (!dir)
      return dir.get();
    if (::unlinkat(dir.get(), leaf_of(rel).c_str(), 0) != 0)
      return -errno;
    note("unlink " + rel);
    return 0;
  }

  int rename(const std::string& from, const std::string& to) override
  {
    if (is_tmpfile(from) || is_tmpfile(to))
      return -EINVAL;
    Fd a(open_parent(from)), b(open_parent(to));
    if (!a || !b)
      return !a ? a.get() : b.get();
    if (::renameat(a.get(), leaf_of(from).c_str(), b.get(),
                   leaf_of(to).c_str()) != 0)
      return -errno;
    note("rename " + from + " -> " + to);
    return 0;
  }

  int truncate(const std::string& rel, std::uint64_t size) override
  {
    Fd fd(open_leaf(rel, O_WRONLY | O_NOATIME));
    if (!fd)
      return fd.get();
    if (::ftruncate(fd.get(), off_t(size)) != 0)
      return -errno;
    note(fmt::format("truncate {} to {}", rel, size));
    return 0;
  }

  int write(const std::string& rel, std::uint64_t off, ByteView data) override
  {
    Fd fd(open_leaf(rel, O_WRONLY | O_NOATIME));
    if (!fd)
      return fd.get();
    if (::pwrite(fd.get(), data.data(), data.size(), off_t(off)) !=
        ssize_t(data.size()))
      return -EIO;
    note(fmt::format("write {} bytes at {} of {}", data.size(), off, rel));
    return 0;
  }

  tl::expected<bool, int> has_data(const std::string& rel,
                                   std::uint64_t off) override
  {
    Fd fd(open_leaf(rel, O_RDONLY | O_NOATIME));
    if (!fd)
      return tl::unexpected(-fd.get());
    off_t d = ::lseek(fd.get(), off_t(off), SEEK_DATA);
    if (d < 0)
      return errno == ENXIO ? false
                            : tl::expected<bool, int>(tl::unexpected(errno));
    return std::uint64_t(d) == off;
  }

  int touch_atime(const std::string& rel) override
  {
    timespec t[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    if (is_tmpfile(rel)) {
      Fd fd(open_leaf(rel, O_RDONLY));
      if (!fd)
        return fd.get();
      return ::futimens(fd.get(), t) == 0 ? 0 : -errno;
    }
    Fd dir(open_parent(rel));
    if (!dir)
      return dir.get();
    if (::utimensat(dir.get(), leaf_of(rel).c_str(), t, AT_SYMLINK_NOFOLLOW) !=
        0)
      return -errno;
    note("atime " + rel);
    return 0;
  }

  tl::expected<std::string, int> tmpfile(const std::string& dir) override
  {
    Fd parent(open_parent(dir + "/x"));
    if (!parent)
      return tl::unexpected(parent.get());
    // The kernel's mode is exactly 0 (the umask cannot add bits to it).
    Fd fd(::openat(parent.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0));
    if (!fd)
      return tl::unexpected(-errno);
    std::string handle = fmt::format("#tmpfile{}", ++m_tmp_count);
    note(fmt::format("tmpfile {} in {}", handle, dir));
    m_tmp.emplace(handle, std::move(fd));
    return handle;
  }

  int link_tmpfile(const std::string& handle, const std::string& rel) override
  {
    auto t = m_tmp.find(handle);
    if (t == m_tmp.end())
      return -EBADF;
    Fd dir(open_parent(rel));
    if (!dir)
      return dir.get();
    std::string leaf = leaf_of(rel);
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not.
    if (::linkat(t->second.get(), "", dir.get(), leaf.c_str(), AT_EMPTY_PATH) !=
        0) {
      std::string proc = fmt::format("/proc/self/fd/{}", t->second.get());
      if (::linkat(AT_FDCWD, proc.c_str(), dir.get(), leaf.c_str(),
                   AT_SYMLINK_FOLLOW) != 0)
        return -errno;
    }
    note(fmt::format("link {} as {}", handle, rel));
    m_tmp.erase(t);
    return 0;
  }

  void close_tmpfile(const std::string& handle) override
  {
    if (m_tmp.erase(handle) != 0)
      note("close " + handle);
  }

private:
  Fd m_fd;
  std::map<std::string, Fd> m_tmp;
  std::uint64_t m_tmp_count = 0;
};

// --- OverlayStore
// ------------------------------------------------------------------

enum class Kind : std::uint8_t { base, absent, dir, file };
struct Node {
  Kind kind = Kind::base;
  bool fresh = false; ///< made in the overlay: nothing of the base below
  std::optional<Bytes> xattr;
  std::uint64_t size = 0;
  std::map<std::uint64_t, std::uint64_t> data; ///< written extents
  std::uint64_t base_limit = ~0ULL; ///< base bytes survive below this
  std::uint64_t ino = 0;
};
/// find()'s answer for "ask the base directory".
const Node k_base_node{};

class OverlayStore : public Store {
public:
  explicit OverlayStore(std::unique_ptr<DirStore> base)
      : m_base(std::move(base))
  {
    if (!m_base) {
      m_nodes["cache"] = Node{Kind::dir, true};
      m_nodes["cache"].ino = ++m_next_ino;
      m_nodes["graveyard"] = Node{Kind::dir, true};
      m_nodes["graveyard"].ino = ++m_next_ino;
    }
  }

  StoreStat stat(const std::string& rel) override
  {
    StoreStat s;
    const Node* n = find(rel);
    if (n == &k_base_node)
      return m_base->stat(rel);
    if (!n || n->kind == Kind::absent)
      return s;
    s.exists = true;
    s.dir = n->kind == Kind::dir;
    s.reg = n->kind == Kind::file;
    s.size = n->size;
    s.ino = n->ino;
    return s;
  }

  tl::expected<Bytes, int> get_xattr(const std::string& rel) override
  {
    const Node* n = find(rel);
    if (n == &k_base_node)
      return m_base->get_xattr(rel);
    if (!n || n->kind == Kind::absent)
      return tl::unexpected(ENOENT);
    if (n->xattr)
      return *n->xattr;
    if (n->fresh)
      return tl::unexpected(ENODATA);
    return m_base->get_xattr(rel);
  }

  int set_xattr(const std::string& rel, ByteView v, bool create) override
  {
    Node& n = materialise(rel);
    if (n.kind == Kind::absent)
      return -ENOENT;
    bool has = n.xattr.has_value() ||
               (!n.fresh && m_base && m_base->get_xattr(rel).has_value());
    if (create && has)
      return -EEXIST;
    if (!create && !has)
      return -ENODATA;
    n.xattr = Bytes(v.begin(), v.end());
    note(fmt::format("setxattr {} {}", rel, to_hex(v)));
    return 0;
  }

  int mkdir(const std::string& rel, unsigned) override
  {
    return make(rel, Kind::dir, "mkdir ");
  }
  int create(const std::string& rel) override
  {
    return make(rel, Kind::file, "create ");
  }

  int unlink(const std::string& rel) override
  {
    StoreStat s = stat(rel);
    if (!s.exists)
      return -ENOENT;
    m_nodes[rel] = Node{Kind::absent};
    note("unlink " + rel);
    return 0;
  }

  int rename(const std::string& from, const std::string& to) override
  {
    StoreStat s = stat(from);
    if (!s.exists)
      return -ENOENT;
    m_nodes[from] = Node{Kind::absent};
    m_nodes[to] = Node{s.dir ? Kind::dir : Kind::file, true};
    m_nodes[to].ino = s.ino;
    note("rename " + from + " -> " + to);
    return 0;
  }

  int truncate(const std::string& rel, std::uint64_t size) override
  {
    Node& n = materialise(rel);
    if (n.kind != Kind::file)
      return n.kind == Kind::absent ? -ENOENT : -EISDIR;
    n.size = size;
    for (auto it = n.data.begin(); it != n.data.end();)
      it = it->first >= size ? n.data.erase(it) : std::next(it);
    n.base_limit = std::min(n.base_limit, size);
    note(fmt::format("truncate {} to {}", rel, size));
    return 0;
  }

  int write(const std::string& rel, std::uint64_t off, ByteView data) override
  {
    Node& n = materialise(rel);
    if (n.kind != Kind::file)
      return n.kind == Kind::absent ? -ENOENT : -EISDIR;
    n.data[off] = data.size();
    n.size = std::max(n.size, off + data.size());
    note(fmt::format("write {} bytes at {} of {}", data.size(), off, rel));
    return 0;
  }

  tl::expected<bool, int> has_data(const std::string& rel,
                                   std::uint64_t off) override
  {
    const Node* n = find(rel);
    if (n == &k_base_node)
      return m_base->has_data(rel, off);
    if (!n || n->kind != Kind::file)
      return tl::unexpected(ENOENT);
    for (const auto& [start, len] : n->data)
      if (off >= start && off < start + len)
        return true;
    if (!n->fresh && off < n->base_limit)
      return m_base->has_data(rel, off);
    return false;
  }

  int touch_atime(const std::string& rel) override
  {
    note("atime " + rel);
    return 0;
  }

  tl::expected<std::string, int> tmpfile(const std::string& dir) override
  {
    StoreStat p = stat(dir);
    if (!p.exists)
      return tl::unexpected(-ENOENT);
    if (!p.dir)
      return tl::unexpected(-ENOTDIR);
    std::string handle = fmt::format("#tmpfile{}", ++m_tmp_count);
    Node& n = m_nodes[handle];
    n = Node{Kind::file, true};
    n.ino = ++m_next_ino;
    note(fmt::format("tmpfile {} in {}", handle, dir));
    return handle;
  }

  int link_tmpfile(const std::string& handle, const std::string& rel) override
  {
    auto t = m_nodes.find(handle);
    if (t == m_nodes.end())
      return -EBADF;
    if (stat(rel).exists)
      return -EEXIST;
    StoreStat p = stat(parent_of(rel));
    if (!p.exists)
      return -ENOENT;
    if (!p.dir)
      return -ENOTDIR;
    m_nodes[rel] = std::move(t->second);
    m_nodes.erase(handle);
    note(fmt::format("link {} as {}", handle, rel));
    return 0;
  }

  void close_tmpfile(const std::string& handle) override
  {
    if (m_nodes.erase(handle) != 0)
      note("close " + handle);
  }

private:
  /// The node deciding rel: its own, or an ancestor that hides the base.
  const Node* find(const std::string& rel) const
  {
    auto it = m_nodes.find(rel);
    if (it != m_nodes.end() && it->second.kind != Kind::base)
      return &it->second;
    for (std::string p = parent_of(rel); !p.empty(); p = parent_of(p)) {
      auto a = m_nodes.find(p);
      if (a == m_nodes.end() || a->second.kind == Kind::base)
        continue;
      if (a->second.kind != Kind::dir || a->second.fresh)
        return nullptr; // removed, or made here: base entries are hidden
      break;
    }
    return m_base ? &k_base_node : nullptr;
  }

  Node& materialise(const std::string& rel)
  {
    const Node* n = find(rel);
    if (n != &k_base_node) {
      Node& slot = m_nodes[rel];
      if (!n)
        slot = Node{Kind::absent};
      return slot;
    }
    StoreStat s = m_base->stat(rel);
    Node fresh_node;
    fresh_node.kind = !s.exists ? Kind::absent : s.dir ? Kind::dir : Kind::file;
    fresh_node.size = s.size;
    fresh_node.ino = s.ino;
    Node& slot = m_nodes[rel];
    slot = fresh_node;
    return slot;
  }

  int make(const std::string& rel, Kind kind, const char* verb)
  {
    if (stat(rel).exists)
      return -EEXIST;
    StoreStat p = stat(parent_of(rel));
    if (!p.exists)
      return -ENOENT;
    if (!p.dir)
      return -ENOTDIR;
    m_nodes[rel] = Node{kind, true};
    m_nodes[rel].ino = ++m_next_ino;
    note(verb + rel);
    return 0;
  }

  std::unique_ptr<DirStore> m_base;
  std::map<std::string, Node> m_nodes;
  std::uint64_t m_tmp_count = 0;
  /// Inode numbers of what the overlay makes: above any a test cache holds.
  std::uint64_t m_next_ino = 0x10000000;
};

} // namespace

std::unique_ptr<Store> make_dir_store(const std::string& root)
{
  return std::make_unique<DirStore>(root);
}

std::unique_ptr<Store> make_overlay_store(const std::string& root)
{
  return std::make_unique<OverlayStore>(std::make_unique<DirStore>(root));
}

std::unique_ptr<Store> make_memory_store()
{
  return std::make_unique<OverlayStore>(nullptr);
}

} // namespace fsc::cachefiles
