// graveyard.cpp - kernel-style burial and safe recursive removal.
#include <fsc/cachefiles/graveyard.hpp>

#include <fsc/cachefiles/cache.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fsc::cachefiles {
namespace {

std::vector<std::string> names_of(int fd)
{
  std::vector<std::string> out;
  int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
  if (dup_fd < 0)
    dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = dup_fd >= 0 ? fdopendir(dup_fd) : nullptr;
  if (!d) {
    if (dup_fd >= 0)
      close(dup_fd);
    return out;
  }
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..")
      out.push_back(std::move(n));
  }
  closedir(d);
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
  if (fd < 0 && errno == EACCES &&
      fchmodat(dirfd, name, 0700, 0) == 0)
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
    int sub = open_dir_noatime(fd, n.c_str());
    if (sub < 0) {
      u.readable = false;
      continue;
    }
    usage_walk(sub, dev, u);
    close(sub);
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

// The directory holding rel (below root_fd), opened one component at a time
// without following a symlink; -1 with errno set on failure.
int open_parent(int root_fd, const std::string& rel, std::string& name)
{
  int fd = dup(root_fd);
  std::size_t pos = 0;
  for (auto slash = rel.find('/'); fd >= 0 && slash != std::string::npos;
       slash = rel.find('/', pos)) {
    int next = open_dir_noatime(fd, rel.substr(pos, slash - pos).c_str());
    int saved = errno;
    close(fd);
    fd = next;
    errno = saved;
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
  int fd = open_parent(root_fd, rel, name);
  if (fd < 0) {
    b.err = errno;
    return b;
  }
  struct stat st;
  if (fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    b.err = errno;
  else
    b.err = bury_at(fd, name.c_str(), graveyard_fd, counter, &b.grave_name);
  if (b.err == 0)
    b.bytes = std::uint64_t(st.st_blocks) * 512;
  close(fd);
  return b;
}

std::uint64_t allocated_bytes(int root_fd, const std::string& rel)
{
  std::string name;
  int fd = open_parent(root_fd, rel, name);
  if (fd < 0)
    return 0;
  struct stat st;
  int rc = fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  close(fd);
  return rc == 0 ? std::uint64_t(st.st_blocks) * 512 : 0;
}

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
  int fd = open_for_removal(dirfd, name);
  if (fd < 0)
    return errno == ENOENT ? 0 : errno;
  int rc = 0;
  for (auto& n : names_of(fd)) {
    if (stop && stop()) {
      rc = EINTR;
      break;
    }
    if (int err = remove_tree_at(fd, n.c_str(), stats, stop)) {
      ++stats.errors;
      rc = err;
    }
  }
  close(fd);
  if (rc)
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
  int fd = open_dir_noatime(root_fd, "graveyard");
  if (fd < 0) {
    u.readable = errno == ENOENT;
    return u;
  }
  struct stat st;
  fstat(fd, &st);
  u.top_entries = names_of(fd).size();
  usage_walk(fd, st.st_dev, u);
  close(fd);
  return u;
}

} // namespace fsc::cachefiles
