// lock.cpp - flock on the cache root directory.
#include <fsc/cachefiles/lock.hpp>

#include <fsc/error.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>

namespace fsc::cachefiles {
namespace {

Fd open_root(const std::string& root)
{
  Fd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    throw_sys("cannot open cache directory", root, errno);
  return fd;
}

} // namespace

std::optional<CacheLock> CacheLock::try_acquire(const std::string& root)
{
  Fd fd = open_root(root);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
    return CacheLock(std::move(fd));
  if (errno == EWOULDBLOCK)
    return std::nullopt;
  throw_sys("cannot lock", root, errno);
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

} // namespace fsc::cachefiles
