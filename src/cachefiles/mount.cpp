// mount.cpp - binding a cache directory for the engine, and --into copies.
#include <fsc/cachefiles/mount.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/claim.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/error.hpp>
#include <fsc/fd.hpp>

#include <attr/libattr.h>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fsc::cachefiles {

namespace {

bool is_empty_dir(const std::string& path)
{
  Fd fd(open_dir_noatime(AT_FDCWD, path.c_str()));
  if (!fd)
    return false;
  // A directory that cannot be read is not taken for an empty one.
  DirReader names(fd.get());
  return !names.next() && names.error() == 0;
}

/// cachefiles_daemon_add_cache's directories and (before 5.17) the root
/// label.
void make_cache_dirs(const std::string& root, bool v2)
{
  for (const char* d : {"cache", "graveyard"}) {
    std::string p = root + "/" + d;
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
      throw_sys("cannot create", p, errno);
  }
  std::string cache = root + "/cache";
  if (v2)
    return;
  if (::lsetxattr(cache.c_str(), k_xattr_name, k_root_label.data(),
                  k_root_label.size(), XATTR_CREATE) != 0 &&
      errno != EEXIST)
    throw_sys("cannot label", cache, errno);
}

void check_cache(const std::string& root, bool v2)
{
  Cache c = Cache::open(root);
  if (v2 && c.format() == Format::v1)
    throw Error("'" + root +
                "' is a cache of a kernel before 5.17 (v1); the "
                "6.1 engine binds only v2 caches");
  if (v2 && c.format() != Format::mixed)
    return; // 5.17+ neither writes nor checks the label of cache/
  if (c.format() == Format::v2)
    throw Error("'" + root +
                "' is a cache of kernel 5.17 or later (v2); the "
                "engine is 4.19's and binds only v1 caches");
  if (c.format() == Format::mixed)
    throw Error("'" + root +
                "' holds both v1 and v2 objects; refusing to "
                "bind it");
  // cachefiles_check_object_type on cache/: "C3" or nothing (then set).
  auto label = read_xattr_at(c.root_fd(), "cache");
  if (label && to_string(*label) != std::string(k_root_label))
    throw Error("'" + root + "/cache' is labelled '" + to_string(*label) +
                "', not 'C3': the kernel would refuse to bind it (EIO)");
}

void copy_file(const std::string& src, const std::string& dst,
               const struct stat& st)
{
  Fd in(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME));
  if (!in)
    in.reset(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in)
    throw_sys("cannot read", src, errno);
  Fd out(::open(dst.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out)
    throw_sys("cannot create", dst, errno);
  // Copy data extents only, so holes stay holes.
  off_t pos = 0;
  std::vector<char> buf(1 << 16);
  bool ok = true;
  while (ok) {
    off_t d = ::lseek(in.get(), pos, SEEK_DATA);
    if (d < 0)
      break;
    off_t h = ::lseek(in.get(), d, SEEK_HOLE);
    for (off_t o = d; o < h && ok;) {
      ssize_t n = ::pread(in.get(), buf.data(),
                          std::min<off_t>(h - o, off_t(buf.size())), o);
      ok = n > 0 && ::pwrite(out.get(), buf.data(), size_t(n), o) == n;
      o += n > 0 ? n : 0;
    }
    pos = h;
  }
  ok = ok && ::ftruncate(out.get(), st.st_size) == 0;
  if (!ok)
    throw_sys("cannot copy", src, errno);
}

void copy_meta(const std::string& src, const std::string& dst,
               const struct stat& st)
{
  if (attr_copy_file(src.c_str(), dst.c_str(), nullptr, nullptr) != 0 &&
      errno != ENOTSUP)
    throw_sys("cannot copy the xattrs of", src, errno);
  ::chmod(dst.c_str(), st.st_mode & 07777);
  if (::geteuid() == 0)
    (void)::lchown(dst.c_str(), st.st_uid, st.st_gid);
  timespec t[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, dst.c_str(), t, AT_SYMLINK_NOFOLLOW);
}

// All names before any copy: the fds of a deep tree stay closed meanwhile.
std::vector<std::string> names_in(const std::string& dir)
{
  Fd fd(open_dir_noatime(AT_FDCWD, dir.c_str()));
  if (!fd)
    throw_sys("cannot read", dir, errno);
  std::vector<std::string> names;
  DirReader reader(fd.get());
  for (const DirEntry& e : reader)
    names.emplace_back(e.name);
  if (reader.error()) // a copy missing some objects must not pass for one
    throw_sys("cannot read", dir, reader.error());
  return names;
}

void copy_rec(const std::string& src, const std::string& dst)
{
  struct stat st;
  if (::lstat(src.c_str(), &st) != 0)
    throw_sys("cannot stat", src, errno);
  if (S_ISREG(st.st_mode)) {
    copy_file(src, dst, st);
    copy_meta(src, dst, st);
    return;
  }
  if (!S_ISDIR(st.st_mode))
    return; // symlinks and devices are not cache objects: not copied
  if (::mkdir(dst.c_str(), 0700) != 0)
    throw_sys("cannot create", dst, errno);
  for (const auto& n : names_in(src))
    copy_rec(src + "/" + n, dst + "/" + n);
  copy_meta(src, dst, st);
}

} // namespace

void copy_tree(const std::string& src, const std::string& dst)
{
  struct stat st;
  if (::lstat(dst.c_str(), &st) == 0)
    throw Error("'" + dst + "' already exists; --into makes a new copy");
  copy_rec(src, dst);
}

Mount Mount::bind(const std::string& root, const MountOptions& opt)
{
  Mount m;
  struct stat st;
  if (::stat(root.c_str(), &st) != 0)
    throw_sys("cannot bind", root, errno);
  if (!S_ISDIR(st.st_mode))
    throw Error("cannot bind '" + root + "': not a directory");
  bool fresh = is_empty_dir(root);
  const bool writing = opt.write || !opt.into.empty();
  if (!fresh) {
    check_cache(root, opt.v2);
    ClaimOptions co;
    co.what = "bind";
    co.force = opt.force;
    co.take_lock = opt.write && opt.into.empty();
    auto claim = claim_cache(root, co);
    if (!claim)
      raise(claim.error());
    if (claim->lock)
      m.m_lock.emplace(std::move(*claim->lock));
  }
  m.m_root = root;
  if (!opt.into.empty()) {
    copy_tree(root, opt.into);
    m.m_root = opt.into;
    m.m_mode = "into";
  } else if (opt.write) {
    m.m_mode = "write";
  }
  if (writing) {
    if (fresh || is_empty_dir(m.m_root))
      make_cache_dirs(m.m_root, opt.v2);
    if (!m.m_lock) { // a fresh cache, or the copy made by --into
      auto claim = claim_cache(m.m_root, ClaimOptions{});
      if (!claim)
        raise(claim.error());
      m.m_lock.emplace(std::move(*claim->lock));
    }
    m.m_store = make_dir_store(m.m_root);
  } else if (fresh) {
    m.m_store = make_memory_store();
  } else {
    m.m_store = make_overlay_store(m.m_root);
  }
  return m;
}

} // namespace fsc::cachefiles
