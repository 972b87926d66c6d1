// lock.cpp - flock on the cache root directory.
#include <fsc/cachefiles/lock.hpp>

#include <fsc/error.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace fsc::cachefiles {
namespace {

int open_root(const std::string& root)
{
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw_sys("cannot open cache directory", root, errno);
  return fd;
}

} // namespace

std::optional<CacheLock> CacheLock::try_acquire(const std::string& root)
{
  int fd = open_root(root);
  if (flock(fd, LOCK_EX | LOCK_NB) == 0)
    return CacheLock(fd);
  int err = errno;
  close(fd);
  if (err == EWOULDBLOCK)
    return std::nullopt;
  throw_sys("cannot lock", root, err);
}

std::optional<CacheLock> CacheLock::acquire_for(const std::string& root,
                                                std::chrono::seconds timeout)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto l = try_acquire(root))
      return l;
    if (timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

CacheLock::~CacheLock()
{
  if (m_fd >= 0)
    close(m_fd);
}

} // namespace fsc::cachefiles
