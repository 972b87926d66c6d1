// fd.cpp - closing owned fds, and reading directories with getdents64.
#include <fsc/fd.hpp>

#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

namespace fsc {

void Fd::reset(int fd) noexcept
{
  if (m_fd >= 0) {
    const int saved = errno;
    ::close(m_fd);
    errno = saved;
  }
  m_fd = fd;
}

DirReader::DirReader(int fd)
    : m_fd(fd), m_own(std::make_unique_for_overwrite<char[]>(k_buffer_size)),
      m_buf(m_own.get()), m_size(k_buffer_size)
{
}

DirReader::DirReader(int fd, std::span<char> buf) noexcept
    : m_fd(fd), m_buf(buf.data()), m_size(buf.size())
{
}

bool DirReader::fill()
{
  // Once the end or an error is seen, never ask the kernel again.
  if (m_done)
    return false;
  const long n = syscall(SYS_getdents64, m_fd, m_buf, m_size);
  if (n <= 0) {
    m_error = n < 0 ? errno : 0;
    m_done = true;
    return false;
  }
  m_pos = 0;
  m_len = std::size_t(n);
  return true;
}

} // namespace fsc
