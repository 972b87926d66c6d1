// json.cpp - streaming JSON writer.
#include <fsc/json.hpp>

#include <fsc/format.hpp>
#include <fsc/hex.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cmath>

namespace fsc {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is malformed.
static std::size_t utf8_seq(std::string_view s, std::size_t i)
{
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80)
    return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (cc & 0x3f);
  }
  static const std::uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

// Bytes from p up to the first that JSON must escape or that is not ASCII
// (a control character, '"', '\\', >= 0x80), eight at a time: names,
// paths and hex are nearly all plain.
static const char* plain_end(const char* p, const char* e)
{
#if defined(__SSE2__)
  // Sixteen at a time: as signed bytes, control characters and non-ASCII
  // are both below 0x20.
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  while (e - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i bad =
        _mm_or_si128(_mm_cmplt_epi8(v, space),
                     _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                  _mm_cmpeq_epi8(v, backslash)));
    if (const int m = _mm_movemask_epi8(bad))
      return p + __builtin_ctz(unsigned(m));
    p += 16;
  }
#endif
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  while (e - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t special = ((w - ones * 0x20) & ~w) // < 0x20
                                  | (w & highs)            // >= 0x80
                                  | zero_byte(w ^ (ones * '"')) |
                                  zero_byte(w ^ (ones * '\\'));
    if (special & highs)
      break; // the byte-wise loop below finds which one
    p += 8;
  }
  static constexpr auto special = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
      t[std::size_t(c)] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
    return t;
  }();
  while (p < e && !special[static_cast<unsigned char>(*p)])
    ++p;
  return p;
}

bool valid_utf8(std::string_view s)
{
  for (std::size_t i = 0; i < s.size();) {
    // ASCII in words of eight.
    if (s.size() - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!(w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    std::size_t n = utf8_seq(s, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}


void JsonWriter::begin_object()
{
  before_value();
  raw('{');
  m_first.push_back(true);
}

void JsonWriter::end_object()
{
  assert(!m_first.empty() && !m_after_key);
  m_first.pop_back();
  raw('}');
  maybe_flush();
}

void JsonWriter::begin_array()
{
  before_value();
  raw('[');
  m_first.push_back(true);
}

void JsonWriter::end_array()
{
  assert(!m_first.empty() && !m_after_key);
  m_first.pop_back();
  raw(']');
  maybe_flush();
}

void JsonWriter::key(std::string_view k)
{
  assert(!m_after_key);
  if (!plain_string(k, "\":")) {
    value(k);
    raw(':');
  }
  m_after_key = true;
}

// Whether none of the n bytes at p needs escaping: plain_end() for the
// short strings (keys, numbers as text) that make most of a record, with
// two overlapping loads instead of a loop.
static bool all_plain(const char* p, std::size_t n)
{
#if defined(__SSE2__)
  // Both overlapping loads in one register, checked as plain_end() does.
  auto plain16 = [](__m128i v) {
    const __m128i bad = _mm_or_si128(
        _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return _mm_movemask_epi8(bad) == 0;
  };
  if (n >= 8 && n <= 16) {
    long long a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
    return plain16(_mm_set_epi64x(b, a));
  }
  if (n >= 4 && n < 8) {
    int a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    return plain16(_mm_set_epi32(0x61616161, 0x61616161, b, a)); // "aaaa" pads
  }
#else
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  auto special = [](std::uint64_t w) {
    auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
    return (((w - ones * 0x20) & ~w) | (w & highs) |
            zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))) &
           highs;
  };
  if (n >= 8 && n <= 16) {
    std::uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
    return !special(a) && !special(b);
  }
  if (n >= 4 && n < 8) {
    std::uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    return !special(std::uint64_t(a) << 32 | b);
  }
#endif
  return plain_end(p, p + n) == p + n;
}

bool JsonWriter::literal_key_ok(const char* k, std::size_t n)
{
  return std::strlen(k) == n && all_plain(k, n);
}

// A string with nothing to escape, with its quotes (and what follows the
// closing one) in one append: most keys and values of a record.
bool JsonWriter::plain_string(std::string_view s, std::string_view close)
{
  if (!all_plain(s.data(), s.size()))
    return false;
  before_value();
  // Appends, not a resize: that zeroed the bytes before they were written.
  const std::size_t n = s.size();
  char* o = room(1 + n + close.size());
  *o = '"';
  copy(o + 1, s.data(), n);
  copy(o + 1 + n, close.data(), close.size());
  return true;
}

void JsonWriter::value(std::string_view s)
{
  if (plain_string(s, "\""))
    return;
  before_value();
  raw("\"");
  for (std::size_t i = 0; i < s.size();) {
    // Plain ASCII goes out in runs: most names and values are all plain.
    const char* run = plain_end(s.data() + i, s.data() + s.size());
    if (run > s.data() + i) {
      const auto n = std::size_t(run - (s.data() + i));
      raw(std::string_view(s.data() + i, n));
      i += n;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t n = utf8_seq(s, i);
      if (n == 0) {
        raw("\xef\xbf\xbd"); // U+FFFD
        ++i;
      } else {
        raw(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
    case '"':
      raw("\\\"");
      break;
    case '\\':
      raw("\\\\");
      break;
    case '\n':
      raw("\\n");
      break;
    case '\r':
      raw("\\r");
      break;
    case '\t':
      raw("\\t");
      break;
    case '\b':
      raw("\\b");
      break;
    case '\f':
      raw("\\f");
      break;
    default:
      if (c < 0x20)
        raw(fmt::format("\\u{:04x}", c));
      else
        raw(char(c));
    }
    ++i;
  }
  raw("\"");
}

void JsonWriter::value(bool b)
{
  before_value();
  raw(b ? "true" : "false");
}

// Numbers are written in place: room for the longest, then the text's end
// moved back to where the digits end.
void JsonWriter::value(std::int64_t v)
{
  before_value();
  char* o = room(21);
  char* end = v < 0 ? decimal(o + 1, ~std::uint64_t(v) + 1) : decimal(o, v);
  if (v < 0)
    *o = '-';
  m_len -= std::size_t(o + 21 - end);
}

void JsonWriter::value(std::uint64_t v)
{
  before_value();
  char* o = room(20);
  m_len -= std::size_t(o + 20 - decimal(o, v));
}

void JsonWriter::hex(const unsigned char* data, std::size_t n,
                     std::string_view prefix)
{
  // Straight into the text: keys and xattrs of every object of a scan go
  // through here.
  assert(all_plain(prefix.data(), prefix.size()));
  before_value();
  char* o = room(2 + prefix.size() + 2 * n);
  *o++ = '"';
  copy(o, prefix.data(), prefix.size());
  o += prefix.size();
  hex_into(o, data, n);
  o[2 * n] = '"';
}

void JsonWriter::plain_value(std::string_view s)
{
  assert(all_plain(s.data(), s.size()));
  before_value();
  char* o = room(s.size() + 2);
  *o = '"';
  copy(o + 1, s.data(), s.size());
  o[s.size() + 1] = '"';
}

void JsonWriter::value(double v)
{
  before_value();
  if (!std::isfinite(v))
    raw("null");
  else
    raw(fmt::format("{}", v));
}

void JsonWriter::null()
{
  before_value();
  raw("null");
}

void JsonWriter::name_value(std::string_view k, std::string_view raw_name)
{
  if (plain_string(raw_name, "\"")) // ASCII: valid UTF-8, no _hex field
    return;
  value(raw_name);
  if (!valid_utf8(raw_name)) {
    key(std::string(k) + "_hex");
    std::string hex;
    for (unsigned char c : raw_name)
      hex += fmt::format("{:02x}", c);
    value(hex);
  }
}

void JsonWriter::grow(std::size_t n)
{
  m_buf.resize(std::max(2 * m_buf.size(), m_len + n + 256));
}

void JsonWriter::reset()
{
  m_len = 0;
  m_first.clear();
  m_after_key = false;
}

void JsonWriter::resume_object() { m_first.push_back(false); }

void JsonWriter::end_line()
{
  raw('\n');
  flush();
}

void JsonWriter::maybe_flush()
{
  if (m_out && m_len >= 1 << 16)
    flush();
}

void JsonWriter::flush()
{
  if (!m_out || m_len == 0)
    return;
  std::fwrite(m_buf.data(), 1, m_len, m_out);
  m_len = 0;
}

} // namespace fsc
