// json.hpp - a streaming JSON writer (RFC 8259) that never builds a DOM.
#pragma once

#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fsc {

/// True when s is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);

/// Writes JSON to a FILE* (or into a string when out is null) as it goes.
/// Commas and nesting are tracked; misuse (a value where a key is due) is a
/// logic error caught by assertions in debug builds.
class JsonWriter {
public:
  explicit JsonWriter(std::FILE* out) : m_out(out) {}
  ~JsonWriter() { flush(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view k);
  /// A key written in the source (a string literal): plain by construction,
  /// so copied without the escaping check that most of a record's keys
  /// went through.
  template <std::size_t N> void key(const char (&k)[N])
  {
    literal_key(k);
  }
  /// The key k followed by suffix ("atime" "_ns"), both literals.
  template <std::size_t N, std::size_t M>
  void key(const char (&k)[N], const char (&suffix)[M])
  {
    assert(!m_after_key && literal_key_ok(k, N - 1) &&
           literal_key_ok(suffix, M - 1));
    before_value();
    char* o = room(N + M + 1);
    o[0] = '"';
    std::memcpy(o + 1, k, N - 1);
    std::memcpy(o + N, suffix, M - 1);
    o[N + M - 1] = '"';
    o[N + M] = ':';
    m_after_key = true;
  }

  void value(std::string_view s); ///< bytes; invalid UTF-8 becomes U+FFFD
  void value(const char* s) { value(std::string_view(s)); }
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(bool b);
  void value(std::int64_t v);
  void value(std::uint64_t v);
  void value(int v) { value(std::int64_t(v)); }
  void value(unsigned v) { value(std::uint64_t(v)); }
  void value(long long v) { value(std::int64_t(v)); }
  void value(unsigned long long v) { value(std::uint64_t(v)); }
  void value(double v);
  void null();
  /// Text fsc made of plain ASCII itself (times, names from its own
  /// tables): written without the escaping check, asserted in debug builds.
  void plain_value(std::string_view s);
  /// Bytes as a string of lowercase hex digits, after prefix (plain text).
  void hex(const unsigned char* data, std::size_t n,
           std::string_view prefix = {});

  template <class T> void field(std::string_view k, const T& v)
  {
    key(k);
    value(v);
  }
  template <std::size_t N, class T> void field(const char (&k)[N], const T& v)
  {
    literal_key(k);
    value(v);
  }

  /// A file name or other raw bytes: k as a string, plus k_hex when the
  /// bytes are not valid UTF-8 (so nothing is ever lost).
  void name_field(std::string_view k, std::string_view raw)
  {
    key(k);
    name_value(k, raw);
  }
  template <std::size_t N>
  void name_field(const char (&k)[N], std::string_view raw)
  {
    literal_key(k);
    name_value(k, raw);
  }

  /// Ends one document of a --json=lines stream: newline, then flush.
  void end_line();

  /// Pushes buffered text to the FILE*.
  void flush();

  /// The text so far when writing to a string (out == nullptr).
  std::string_view text() const { return {m_buf.data(), m_len}; }

  /// Moves the buffered text out (for writers shared through a lock).
  std::string take_text()
  {
    m_buf.resize(m_len);
    m_len = 0;
    return std::exchange(m_buf, {});
  }

  /// Forgets the text and nesting so far (keeping the buffer's memory).
  void reset();

  /// Goes on inside an object whose "{" and first fields were written
  /// elsewhere: the next key gets its comma; end_object() closes it.
  void resume_object();

private:
  void before_value()
  {
    if (m_after_key) {
      m_after_key = false;
      return;
    }
    if (!m_first.empty()) {
      if (!m_first.back())
        raw(',');
      m_first.back() = false;
    }
  }
  /// Written inline: the length is known where it is called, so the copy
  /// is a few moves.
  template <std::size_t N> void literal_key(const char (&k)[N])
  {
    assert(!m_after_key && literal_key_ok(k, N - 1)); // a literal, not a buffer
    before_value();
    char* o = room(N + 2);
    o[0] = '"';
    std::memcpy(o + 1, k, N - 1);
    o[N] = '"';
    o[N + 1] = ':';
    m_after_key = true;
  }
  static bool literal_key_ok(const char* k, std::size_t n);
  /// name_field()'s value, after its key k.
  void name_value(std::string_view k, std::string_view raw);
  bool plain_string(std::string_view s, std::string_view close);
  /// n bytes at the end of the text, to be written: m_buf is kept longer
  /// than the text (m_len), so appending neither zeroes nor checks twice.
  char* room(std::size_t n)
  {
    if (m_buf.size() - m_len < n)
      grow(n);
    char* p = m_buf.data() + m_len;
    m_len += n;
    return p;
  }
  void grow(std::size_t n);
  void raw(std::string_view s)
  {
    if (!s.empty())
      copy(room(s.size()), s.data(), s.size());
  }
  /// memcpy, but the short copies of keys and small values (most of a
  /// record) inline: two overlapping loads instead of a call.
  static void copy(char* dst, const char* src, std::size_t n)
  {
    if (n >= 8 && n <= 16) {
      std::uint64_t a, b;
      std::memcpy(&a, src, 8);
      std::memcpy(&b, src + n - 8, 8);
      std::memcpy(dst, &a, 8);
      std::memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
      std::uint32_t a, b;
      std::memcpy(&a, src, 4);
      std::memcpy(&b, src + n - 4, 4);
      std::memcpy(dst, &a, 4);
      std::memcpy(dst + n - 4, &b, 4);
    } else if (n < 4) {
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = src[i];
    } else {
      std::memcpy(dst, src, n);
    }
  }
  void raw(char c) { *room(1) = c; }
  void maybe_flush();

  std::FILE* m_out;
  std::string m_buf;     ///< the text, then unwritten room
  std::size_t m_len = 0; ///< the text's length
  std::vector<std::uint8_t> m_first; ///< per open container: no element yet
  bool m_after_key = false;
};

} // namespace fsc
