// lock.hpp - the advisory lock fsc's mutating verbs take on the cache root.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

namespace fsc::cachefiles {

/// flock(LOCK_EX) on the cache root directory: no file is created in the
/// cache. Released on destruction.
class CacheLock {
public:
  /// Non-blocking attempt; nullopt when another process holds it.
  /// Throws fsc::Error when the root cannot be opened.
  static std::optional<CacheLock> try_acquire(const std::string& root);

  /// Waits up to timeout for the lock; a zero timeout waits forever.
  static std::optional<CacheLock> acquire_for(const std::string& root,
                                              std::chrono::seconds timeout);

  CacheLock(CacheLock&& o) noexcept : m_fd(o.m_fd) { o.m_fd = -1; }
  CacheLock& operator=(CacheLock&& o) noexcept
  {
    std::swap(m_fd, o.m_fd);
    return *this;
  }
  CacheLock(const CacheLock&) = delete;
  ~CacheLock();

  int fd() const { return m_fd; }

private:
  explicit CacheLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

} // namespace fsc::cachefiles
