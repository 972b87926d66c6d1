// lock.hpp - the advisory lock fsc's mutating verbs take on the cache root.
#pragma once

#include <fsc/fd.hpp>

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

  CacheLock(CacheLock&&) noexcept = default;
  CacheLock& operator=(CacheLock&&) noexcept = default;

  int fd() const { return m_fd.get(); }

private:
  explicit CacheLock(Fd fd) : m_fd(std::move(fd)) {}
  Fd m_fd;
};

} // namespace fsc::cachefiles
