// graveyard.cpp - kernel-style burial and safe recursive removal.
#include <fsc/cachefiles/graveyard.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/fd.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fsc::cachefiles {
namespace {

// All names first: removing entries while reading the directory could
// make getdents64 skip some.
std::vector<std::string> names_of(int fd)
{
  std::vector<std::string> out;
  // A new open of ".": reading fd itself would move its offset.
  Fd self(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME));
  if (!self)
    self.reset(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!self)
    return out;
  for (const DirEntry& e : DirReader(self.get()))
    out.emplace_back(e.name);
  return out;
}

// Opens a directory to empty it; a mode-0 directory the caller owns is made
// searchable first (the kernel creates them so, and only root could enter).
int open_for_removal(int dirfd, const char* name)
{
  int fd = openat(dirfd, name,
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM)
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd;
}

void usage_walk(int fd, dev_t dev, GraveyardUsage& u)
{
  for (auto& n : names_of(fd)) {
    struct stat st;
    if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    u.bytes += std::uint64_t(st.st_blocks) * 512;
    if (!S_ISDIR(st.st_mode) || st.st_dev != dev) {
      ++u.files;
      continue;
    }
    ++u.dirs;
    Fd sub(open_dir_noatime(fd, n.c_str()));
    if (!sub) {
      u.readable = false;
      continue;
    }
    usage_walk(sub.get(), dev, u);
  }
}

} // namespace

std::string graveyard_name(std::uint32_t seconds, std::uint32_t counter)
{
  return fmt::format("{:08x}{:08x}", seconds, counter);
}

int bury_at(int dirfd, const char* name, int graveyard_fd,
            std::uint32_t& counter, std::string* new_name)
{
  for (int tries = 0; tries < 1000; ++tries) {
    std::string target =
        graveyard_name(std::uint32_t(std::time(nullptr)), ++counter);
    if (renameat2(dirfd, name, graveyard_fd, target.c_str(),
                  RENAME_NOREPLACE) == 0) {
      if (new_name)
        *new_name = target;
      return 0;
    }
    if (errno != EEXIST)
      return errno;
  }
  return EEXIST;
}

namespace {

// A ".." anywhere in rel would climb out of the directory it is below.
bool climbs(const std::string& rel)
{
  for (std::size_t pos = 0;; ++pos) {
    const std::size_t end = std::min(rel.find('/', pos), rel.size());
    if (rel.compare(pos, end - pos, "..") == 0)
      return true;
    if (end == rel.size())
      return false;
    pos = end;
  }
}

// The directory holding rel (below root_fd), opened one component at a time
// without following a symlink; no fd, with errno set, on failure (EINVAL
// for a rel that climbs out with "..").
Fd open_parent(int root_fd, const std::string& rel, std::string& name)
{
  if (climbs(rel)) {
    errno = EINVAL;
    return Fd();
  }
  Fd fd(dup(root_fd));
  std::size_t pos = 0;
  for (auto slash = rel.find('/'); fd && slash != std::string::npos;
       slash = rel.find('/', pos)) {
    fd = Fd(open_dir_noatime(fd.get(), rel.substr(pos, slash - pos).c_str()));
    pos = slash + 1;
  }
  name = rel.substr(pos);
  return fd;
}

} // namespace

Burial bury_path(int root_fd, const std::string& rel, int graveyard_fd,
                 std::uint32_t& counter)
{
  Burial b;
  std::string name;
  Fd fd = open_parent(root_fd, rel, name);
  if (!fd) {
    b.err = errno;
    return b;
  }
  struct stat st;
  if (fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    b.err = errno;
  else
    b.err =
        bury_at(fd.get(), name.c_str(), graveyard_fd, counter, &b.grave_name);
  if (b.err == 0)
    b.bytes = std::uint64_t(st.st_blocks) * 512;
  return b;
}

std::uint64_t allocated_bytes(int root_fd, const std::string& rel)
{
  std::string name;
  Fd fd = open_parent(root_fd, rel, name);
  struct stat st;
  if (!fd || fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return 0;
  return std::uint64_t(st.st_blocks) * 512;
}

namespace {

// Removes everything inside dirfd/name; 0, or the last error (EINTR when
// stopped), with the directory itself left.
int empty_dir(int dirfd, const char* name, ReapStats& stats,
              const std::function<bool()>& stop)
{
  Fd fd(open_for_removal(dirfd, name));
  if (!fd)
    return errno == ENOENT ? 0 : errno;
  int rc = 0;
  for (auto& n : names_of(fd.get())) {
    if (stop && stop())
      return EINTR;
    if (int err = remove_tree_at(fd.get(), n.c_str(), stats, stop)) {
      ++stats.errors;
      rc = err;
    }
  }
  return rc;
}

} // namespace

int remove_tree_at(int dirfd, const char* name, ReapStats& stats,
                   const std::function<bool()>& stop)
{
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? 0 : errno;
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dirfd, name, 0) != 0)
      return errno == ENOENT ? 0 : errno;
    ++stats.files;
    stats.bytes += std::uint64_t(st.st_blocks) * 512;
    return 0;
  }
  struct stat parent;
  if (fstat(dirfd, &parent) == 0 && parent.st_dev != st.st_dev)
    return EXDEV; // another file system is mounted here: never enter it
  if (int rc = empty_dir(dirfd, name, stats, stop))
    return rc;
  if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
    return errno == ENOENT ? 0 : errno;
  ++stats.dirs;
  stats.bytes += std::uint64_t(st.st_blocks) * 512;
  return 0;
}

ReapStats reap_graveyard(int graveyard_fd, const std::function<bool()>& stop)
{
  ReapStats stats;
  for (auto& n : names_of(graveyard_fd)) {
    if (stop && stop())
      break;
    if (remove_tree_at(graveyard_fd, n.c_str(), stats, stop) != 0)
      ++stats.errors;
  }
  return stats;
}

GraveyardUsage graveyard_usage(int root_fd)
{
  GraveyardUsage u;
  Fd fd(open_dir_noatime(root_fd, "graveyard"));
  if (!fd) {
    u.readable = errno == ENOENT;
    return u;
  }
  struct stat st;
  fstat(fd.get(), &st);
  u.top_entries = names_of(fd.get()).size();
  usage_walk(fd.get(), st.st_dev, u);
  return u;
}

} // namespace fsc::cachefiles
