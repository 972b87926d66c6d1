// reader.cpp - lines from plain, gzip or xz files (told by their magic
// bytes, not their names) or stdin, through a fixed buffer.
#include <fsc/trace/trace.hpp>

#include <fsc/error.hpp>
#include <fsc/log.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <fcntl.h>
#include <lzma.h>
#include <unistd.h>
#include <zlib.h>

namespace fsc::trace {

struct LineReader::Source {
  virtual ~Source() = default;
  /// Bytes read into buf (0 at the end); throws fsc::Error.
  virtual std::size_t read(char* buf, std::size_t n) = 0;
  /// After read() gave 0: why the data ended before its end ("" if not).
  std::string early_end;
  std::uint64_t produced = 0; ///< decoded bytes handed out
};

namespace {

constexpr std::size_t k_buf = 1 << 20;

struct Plain : LineReader::Source {
  int fd;
  std::string path;
  std::string head; // magic bytes already read
  Plain(int f, std::string p, std::string h)
      : fd(f), path(std::move(p)), head(std::move(h))
  {
  }
  ~Plain() override
  {
    if (fd > 0)
      close(fd);
  }
  std::size_t read(char* buf, std::size_t n) override
  {
    if (!head.empty()) {
      std::size_t k = std::min(n, head.size());
      std::memcpy(buf, head.data(), k);
      head.erase(0, k);
      return k;
    }
    for (;;) {
      ssize_t r = ::read(fd, buf, n);
      if (r >= 0)
        return std::size_t(r);
      if (errno != EINTR)
        throw_sys("cannot read", path, errno);
    }
  }
};

struct Xz : LineReader::Source {
  std::unique_ptr<Plain> raw;
  lzma_stream s = LZMA_STREAM_INIT;
  std::vector<std::uint8_t> in = std::vector<std::uint8_t>(1 << 16);
  bool raw_eof = false, done = false;
  explicit Xz(std::unique_ptr<Plain> r) : raw(std::move(r))
  {
    if (start() != LZMA_OK)
      throw Error("'" + raw->path + "': cannot start the xz decoder");
  }
  lzma_ret start()
  {
#if LZMA_VERSION >= 50040002
    // Blocks of a multi-threaded xz (xz -T0) decode in parallel; one block
    // decodes as before.
    lzma_mt mt{};
    mt.flags = LZMA_CONCATENATED;
    mt.threads =
        std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    mt.memlimit_threading = 1ull << 30;
    mt.memlimit_stop = UINT64_MAX;
    return lzma_stream_decoder_mt(&s, &mt);
#else
    return lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED);
#endif
  }
  ~Xz() override { lzma_end(&s); }
  std::size_t read(char* buf, std::size_t n) override
  {
    if (done)
      return 0;
    s.next_out = reinterpret_cast<std::uint8_t*>(buf);
    s.avail_out = n;
    while (s.avail_out == n) {
      if (s.avail_in == 0 && !raw_eof) {
        s.avail_in = raw->read(reinterpret_cast<char*>(in.data()), in.size());
        s.next_in = in.data();
        raw_eof = s.avail_in == 0;
      }
      lzma_ret r = lzma_code(&s, raw_eof ? LZMA_FINISH : LZMA_RUN);
      if (r == LZMA_STREAM_END) {
        done = true;
        break;
      }
      if (r == LZMA_OK)
        continue;
      // Keep what decoded: a capture stopped with ^C ends mid-block.
      done = true;
      if (r == LZMA_BUF_ERROR && raw_eof)
        early_end = "unexpected end of the xz data";
      else if (produced + (n - s.avail_out) > 0)
        early_end =
            "corrupt xz data (liblzma error " + std::to_string(int(r)) + ")";
      else
        throw Error("'" + raw->path + "': corrupt xz data (liblzma error " +
                    std::to_string(int(r)) + ")");
      break;
    }
    produced += n - s.avail_out;
    return n - s.avail_out;
  }
};

struct Gz : LineReader::Source {
  gzFile f;
  std::string path;
  Gz(int fd, std::string p) : f(gzdopen(fd, "rb")), path(std::move(p))
  {
    if (!f)
      throw Error("'" + path + "': cannot start the gzip decoder");
    gzbuffer(f, 1 << 16);
  }
  ~Gz() override { gzclose(f); }
  std::size_t read(char* buf, std::size_t n) override
  {
    int r = gzread(f, buf, unsigned(n));
    int e = 0;
    const char* msg = gzerror(f, &e);
    if (r < 0 && produced == 0)
      throw Error("'" + path + "': corrupt gzip data (" + msg + ")");
    if (r < 0) // keep what decoded
      early_end = std::string("corrupt gzip data (") + msg + ")";
    else if (r == 0 && e == Z_BUF_ERROR) // zlib reads a cut file silently
      early_end = "unexpected end of the gzip data";
    if (r <= 0)
      return 0;
    produced += std::size_t(r);
    return std::size_t(r);
  }
};

/// Decodes on a second thread, a few chunks ahead of the parser, so that
/// reading a compressed trace costs what decompressing it costs.
struct Ahead : LineReader::Source {
  static constexpr std::size_t k_chunk = 1 << 20, k_chunks = 4;
  std::unique_ptr<LineReader::Source> inner;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<char>> ready, spare;
  bool finished = false, stopping = false;
  std::exception_ptr error;
  std::vector<char> cur;
  std::size_t cur_pos = 0;
  std::thread worker; // last: starts once the rest is built

  explicit Ahead(std::unique_ptr<LineReader::Source> in)
      : inner(std::move(in)), worker([this] { run(); })
  {
  }
  ~Ahead() override
  {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    worker.join();
  }

  void run()
  {
    for (;;) {
      std::vector<char> buf;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || ready.size() < k_chunks; });
        if (stopping)
          return;
        if (!spare.empty()) {
          buf = std::move(spare.front());
          spare.pop_front();
        }
      }
      buf.resize(k_chunk);
      std::size_t n = 0;
      try {
        n = inner->read(buf.data(), buf.size());
      } catch (...) {
        std::lock_guard lock(mu);
        error = std::current_exception();
        finished = true;
        cv.notify_all();
        return;
      }
      buf.resize(n);
      std::lock_guard lock(mu);
      if (n == 0) {
        finished = true;
      } else {
        ready.push_back(std::move(buf));
      }
      cv.notify_all();
      if (n == 0)
        return;
    }
  }

  std::size_t read(char* out, std::size_t n) override
  {
    while (cur_pos == cur.size()) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !ready.empty() || finished; });
      if (ready.empty()) {
        if (error)
          std::rethrow_exception(error);
        early_end = inner->early_end;
        return 0;
      }
      spare.push_back(std::move(cur));
      cur = std::move(ready.front());
      ready.pop_front();
      cur_pos = 0;
      cv.notify_all();
    }
    const std::size_t k = std::min(n, cur.size() - cur_pos);
    std::memcpy(out, cur.data() + cur_pos, k);
    cur_pos += k;
    produced += k;
    return k;
  }
};

} // namespace

LineReader::LineReader(const std::string& path) : m_path(path), m_buf(k_buf)
{
  int fd = path == "-" ? 0 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw_sys("cannot open trace", path, errno);
  char magic[6] = {};
  ssize_t n = 0;
  while (n < 6) {
    ssize_t r = ::read(fd, magic + n, std::size_t(6 - n));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += r;
  }
  if (n == 6 && std::memcmp(magic,
                            "\xfd"
                            "7zXZ\0",
                            6) == 0) {
    auto xz = std::make_unique<Xz>(
        std::make_unique<Plain>(fd, path, std::string(magic, 6)));
    // Not ahead of a pipe: a reader that stops early (replay at its first
    // divergence) would wait for a worker blocked on a pipe that never
    // ends.
    if (path == "-")
      m_src = std::move(xz);
    else
      m_src = std::make_unique<Ahead>(std::move(xz));
  } else if (n >= 2 && magic[0] == '\x1f' && magic[1] == '\x8b') {
    // zlib must see the magic: rewind when the input can, else refuse.
    if (lseek(fd, 0, SEEK_SET) != 0)
      throw Error("'" + path +
                  "': gzip input must be a file, not a pipe "
                  "(use zcat ... | fsc refs -)");
    m_src = std::make_unique<Ahead>(std::make_unique<Gz>(fd, path));
  } else {
    m_src =
        std::make_unique<Plain>(fd, path, std::string(magic, std::size_t(n)));
  }
}

LineReader::~LineReader() = default;

bool LineReader::fill()
{
  if (m_eof)
    return false;
  // Keep the unfinished tail at the front.
  std::size_t tail = m_end - m_pos;
  std::memmove(m_buf.data(), m_buf.data() + m_pos, tail);
  m_pos = 0;
  m_end = tail;
  std::size_t r = m_src->read(m_buf.data() + m_end, m_buf.size() - m_end);
  m_bytes += r;
  m_end += r;
  if (r == 0)
    m_eof = true;
  return r > 0;
}

bool LineReader::next(std::string_view& line)
{
  for (;;) {
    auto* begin = m_buf.data() + m_pos;
    auto* nl = static_cast<char*>(std::memchr(begin, '\n', m_end - m_pos));
    if (nl) {
      ++m_lineno;
      std::string_view here(begin, std::size_t(nl - begin));
      m_pos = std::size_t(nl - m_buf.data()) + 1;
      if (!m_carry.empty()) {
        m_carry.append(here);
        here = m_carry;
        m_carry_out.swap(m_carry);
        m_carry.clear();
        line = m_carry_out;
        return true;
      }
      line = here;
      return true;
    }
    if (m_pos == 0 && m_end == m_buf.size()) {
      // A line longer than the buffer: keep it aside and go on.
      m_carry.append(m_buf.data(), m_end);
      m_pos = m_end;
    }
    if (!fill()) {
      if (!m_src->early_end.empty()) {
        stop_early();
        return false;
      }
      if (m_end > m_pos || !m_carry.empty()) { // last line without newline
        ++m_lineno;
        m_carry.append(m_buf.data() + m_pos, m_end - m_pos);
        m_pos = m_end;
        m_carry_out.swap(m_carry);
        m_carry.clear();
        line = m_carry_out;
        return true;
      }
      return false;
    }
  }
}

// The data ended early: the unfinished line is cut and not handed out.
void LineReader::stop_early()
{
  if (!m_truncated.empty())
    return;
  m_truncated = m_src->early_end;
  m_pos = m_end;
  m_carry.clear();
  log::warn_once("truncated:" + m_path,
                 fmt::format("'{}': input truncated after line {} ({}): the "
                             "lines before it are read, the rest is lost",
                             m_path, m_lineno, m_truncated));
}

} // namespace fsc::trace
