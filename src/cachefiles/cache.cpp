// cache.cpp - opening a cache root read-only and telling its format.
#include <fsc/cachefiles/cache.hpp>

#include <fsc/cachefiles/key.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/log.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fsc::cachefiles {
namespace {

int open_noatime(int dirfd, const char* name, int flags)
{
  int fd = openat(dirfd, name, flags | O_NOATIME);
  if (fd >= 0 || errno != EPERM)
    return fd;
  log::warn_once("noatime",
                 "not permitted to open with O_NOATIME (not the owner, no "
                 "CAP_FOWNER): reading may move atimes, which cull order "
                 "depends on");
  return openat(dirfd, name, flags);
}

// Names in a directory, "." and ".." left out.
std::vector<std::string> list_names(int dirfd)
{
  std::vector<std::string> out;
  // A new open of ".": reading dirfd itself would move its offset.
  Fd fd(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME));
  if (!fd)
    fd.reset(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return out;
  for (const DirEntry& e : DirReader(fd.get()))
    out.emplace_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

const char* format_name(Format f)
{
  switch (f) {
  case Format::v1:
    return "v1";
  case Format::v2:
    return "v2";
  case Format::empty:
    return "empty";
  case Format::mixed:
    return "mixed";
  case Format::unknown:
    return "unknown";
  }
  return "unknown";
}

// The path the kernel has for an open directory (what /proc shows).
static std::string fd_path(int fd, const std::string& fallback)
{
  char buf[PATH_MAX];
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n > 0 && buf[0] == '/')
    return std::string(buf, std::size_t(n));
  return realpath(fallback.c_str(), buf) ? std::string(buf) : fallback;
}

int open_dir_noatime(int dirfd, const char* name)
{
  return open_noatime(dirfd, name,
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int open_file_noatime(int dirfd, const char* name)
{
  return open_noatime(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

Format detect_format(int cache_fd)
{
  bool v1 = false, v2 = false, other = false;
  for (auto& n : list_names(cache_fd)) {
    if (parse_fanout(n) || n[0] == '+')
      v1 = true;
    else if (n[0] == 'I')
      v2 = true;
    else
      other = true;
  }
  if (v1 && v2)
    return Format::mixed;
  if (v1)
    return Format::v1;
  if (v2)
    return Format::v2;
  return other ? Format::unknown : Format::empty;
}

Cache Cache::open(const std::string& root)
{
  Cache c;
  c.m_root = root;
  // The root the admin names may be a symlink (/var/cache/fscache ->
  // /srv/fscache): it is followed; nothing below it ever is.
  c.m_root_fd.reset(
      open_noatime(AT_FDCWD, root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!c.m_root_fd) {
    int err = errno;
    if (err == ENOTDIR || err == ELOOP)
      throw Error("'" + root + "' is not a directory");
    throw_sys("cannot open cache directory", root, err);
  }
  c.m_real_root = fd_path(c.m_root_fd.get(), root);
  struct stat st;
  if (fstatat(c.m_root_fd.get(), "cache", &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    if (err == ENOENT)
      throw Error("'" + root +
                  "' is not a CacheFiles cache: it has no cache/ "
                  "directory");
    throw_sys("cannot stat", root + "/cache", err);
  }
  if (!S_ISDIR(st.st_mode))
    throw Error("'" + root +
                "/cache' is not a directory: not a CacheFiles "
                "cache");
  c.m_dev = st.st_dev;
  c.m_uid = st.st_uid;
  c.m_cache_fd.reset(open_dir_noatime(c.m_root_fd.get(), "cache"));
  if (!c.m_cache_fd)
    throw_sys("cannot open", root + "/cache", errno);
  c.m_format = detect_format(c.m_cache_fd.get());
  c.check_top();
  return c;
}

void Cache::check_top()
{
  auto label = read_xattr_fd(m_cache_fd.get());
  bool v2 = m_format == Format::v2;
  if (m_format == Format::mixed)
    m_problems.push_back({"mixed-format", "cache",
                          "cache/ holds both v1 fan-outs (@xx) and v2 volumes "
                          "(I...): no kernel writes both; one format per "
                          "cache"});
  if (!label) {
    // A v2 kernel does not label cache/, and a mixed one may have either.
    if (!((v2 || m_format == Format::mixed) && label.error() == ENODATA))
      m_problems.push_back(
          {"root-label", "cache",
           label.error() == ENODATA
               ? "cache/ has no user.CacheFiles.cache label "
                 "(the kernel writes \"C3\" at bind)"
               : "cannot read the label: " + errno_text(label.error())});
  } else if (to_string(*label) != k_root_label) {
    m_problems.push_back({"root-label", "cache",
                          "label is '" + to_hex(*label) +
                              "' (hex), not \"C3\": a v1 kernel "
                              "refuses to bind (EIO)"});
  }
  struct stat st;
  if (fstatat(m_root_fd.get(), "graveyard", &st, AT_SYMLINK_NOFOLLOW) != 0)
    m_problems.push_back(
        {"no-graveyard", "graveyard",
         "graveyard/ is missing (the kernel makes it at bind)"});
  else if (!S_ISDIR(st.st_mode))
    m_problems.push_back({"bad-graveyard", "graveyard",
                          "graveyard is not a directory: a kernel bind fails"});
  for (auto& n : list_names(m_root_fd.get())) {
    if (n == "cache" || n == "graveyard")
      continue;
    m_extras.push_back(n);
    if (n != "lost+found")
      m_problems.push_back({"unknown-entry", n,
                            "entry in the cache root that the kernel did not "
                            "make (it ignores it)"});
  }
}

} // namespace fsc::cachefiles
