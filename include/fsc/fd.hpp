// fd.hpp - an owning file descriptor, and the names in a directory read
// with getdents64 (one buffer for all reads, nothing allocated per name).
#pragma once

#include <dirent.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace fsc {

/// Owns one file descriptor and closes it exactly once. A negative value
/// (a failed open, or -errno) is held as "no fd" and never closed.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  Fd(Fd&& o) noexcept : m_fd(o.release()) {}
  Fd& operator=(Fd&& o) noexcept
  {
    reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  /// The fd (or the negative value held); still owned by this Fd.
  int get() const noexcept { return m_fd; }
  /// True when an fd is held.
  explicit operator bool() const noexcept { return m_fd >= 0; }
  /// Gives the fd up without closing it.
  int release() noexcept { return std::exchange(m_fd, -1); }
  /// Closes the fd held, if any, and holds fd instead. errno is kept, so
  /// that a function may fail with errno set while its Fds close.
  void reset(int fd = -1) noexcept;

private:
  int m_fd = -1;
};

/// One name in a directory; valid until the DirReader reads again.
struct DirEntry {
  const char* name = nullptr; ///< NUL-terminated, inside the reader's buffer
  unsigned char type = 0;     ///< DT_DIR, DT_REG, ...; DT_UNKNOWN when not told
};

/// The names of an open directory fd (not owned), from its current offset,
/// "." and ".." left out. next() returns nullptr at the end and when a read
/// fails; error() then tells which (0, or the errno of getdents64).
/// Also a range: `for (const DirEntry& e : reader)`, then check error().
class DirReader {
public:
  /// Size of the buffer a reader makes for itself.
  static constexpr std::size_t k_buffer_size = 32 * 1024;

  /// Reads fd into a buffer of its own (one allocation per reader).
  explicit DirReader(int fd);
  /// Reads fd into buf, which the caller keeps (a walk reuses one buffer
  /// for every directory); it must hold at least one entry (~300 bytes).
  DirReader(int fd, std::span<char> buf) noexcept;

  /// The next name, or nullptr at the end or on an error.
  const DirEntry* next()
  {
    for (;;) {
      if (m_pos >= m_len && !fill())
        return nullptr;
      // struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name.
      const char* rec = m_buf + m_pos;
      std::uint16_t reclen;
      std::memcpy(&reclen, rec + 16, sizeof reclen);
      m_pos += reclen;
      const char* name = rec + 19;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
        continue;
      m_entry.name = name;
      m_entry.type = static_cast<unsigned char>(rec[18]);
      return &m_entry;
    }
  }

  /// 0, or the errno of the read that ended the listing early.
  int error() const noexcept { return m_error; }

  struct Sentinel {};
  class Iterator {
  public:
    explicit Iterator(DirReader* r) : m_r(r), m_e(r->next()) {}
    const DirEntry& operator*() const { return *m_e; }
    const DirEntry* operator->() const { return m_e; }
    Iterator& operator++()
    {
      m_e = m_r->next();
      return *this;
    }
    bool operator==(Sentinel) const { return m_e == nullptr; }

  private:
    DirReader* m_r;
    const DirEntry* m_e;
  };
  Iterator begin() { return Iterator(this); }
  Sentinel end() const { return {}; }

private:
  /// Reads the next batch of entries; false at the end or on an error.
  bool fill();

  int m_fd;
  std::unique_ptr<char[]> m_own;
  char* m_buf = nullptr;
  std::size_t m_size = 0;
  std::size_t m_pos = 0, m_len = 0;
  int m_error = 0;
  bool m_done = false;
  DirEntry m_entry;
};

} // namespace fsc
