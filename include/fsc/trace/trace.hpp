// trace.hpp - kernel trace text, read and written: ftrace `trace` /
// `trace_pipe` output and `trace-cmd report` output, for the 4.19 (5.10)
// and 6.1 fscache/cachefiles events (../shared/spec/v1-tracepoints.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fsc::trace {

/// One event line, split into the ftrace prefix and the event's own text.
/// Views point into the line the parser was given.
struct Line {
  std::string_view task;
  int pid = 0;
  int cpu = 0;
  std::string_view flags; ///< "...." / "....." ("" from trace-cmd)
  std::int64_t ts_ns = 0; ///< timestamp in nanoseconds
  std::string_view event; ///< "fscache_cookie"
  std::string_view body;  ///< what TP_printk printed
};

/// What one input line is.
enum class Kind { event, comment, lost, blank, malformed };

struct Parsed {
  Kind kind = Kind::malformed;
  Line line;              ///< for events
  std::uint64_t lost = 0; ///< for `[LOST N EVENTS]` / `CPU:N [LOST N EVENTS]`
                          ///< and trace-cmd's `[N EVENTS DROPPED]`; 0:
                          ///< unknown (`[LOST EVENTS]`)
  int lost_cpu = -1;      ///< the N of `CPU:N`, -1 when not printed
  std::string why;        ///< for malformed lines
};

/// Parses one line of ftrace text or trace-cmd report output (no newline).
Parsed parse_line(std::string_view text);

/// parse_line without its fast path for the common shape: the reference
/// the fast path is tested against.
Parsed parse_line_general(std::string_view text);

/// The body's `key=value` fields and the words that are not fields (the
/// reason, e.g. "GET obj"), in order.
struct Fields {
  std::vector<std::pair<std::string_view, std::string_view>> kv;
  std::string words; ///< non key=value tokens joined by one space
  std::optional<std::string_view> get(std::string_view key) const;
};
Fields split_fields(std::string_view body);

/// Formats a line as the kernel's trace file prints it
/// ("%16s-%-7d [%03d] %s %5lu.%06lu: event: body").
std::string format_line(const Line& l);

/// Reads lines from a file (plain, .gz or .xz, by content) or stdin ("-")
/// in bounded memory.
class LineReader {
public:
  /// Throws fsc::Error naming the file when it cannot be opened.
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// The next line without its newline; false at the end. Throws fsc::Error
  /// on a read error, or a decompression error before any data. A
  /// compressed input that ends early (`cat trace_pipe | xz` stopped with
  /// ^C) or turns corrupt after some data ends after its last whole line:
  /// truncated() is then true, and a warning naming the file and the line
  /// is logged once.
  bool next(std::string_view& line);
  std::uint64_t line_number() const { return m_lineno; }
  std::uint64_t bytes() const { return m_bytes; }
  /// The input ended early; the lines handed out are all that decoded.
  bool truncated() const { return !m_truncated.empty(); }
  /// Why it ended early ("unexpected end of the xz data"), or "".
  const std::string& truncation() const { return m_truncated; }

  struct Source; ///< a decoder of the input (defined in reader.cpp)

private:
  bool fill();
  void stop_early();
  std::unique_ptr<Source> m_src;
  std::string m_path;
  std::string m_truncated;
  std::vector<char> m_buf;
  std::size_t m_pos = 0, m_end = 0;
  bool m_eof = false;
  std::string m_carry;     // a line longer than the buffer, being read
  std::string m_carry_out; // such a line, handed out
  std::uint64_t m_lineno = 0, m_bytes = 0;
};

} // namespace fsc::trace
