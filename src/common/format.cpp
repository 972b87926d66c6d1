// format.cpp - human-readable sizes, times and hex.
#include <fsc/format.hpp>
#include <fsc/hex.hpp>

#include <fmt/format.h>

#include <array>
#include <climits>
#include <cstring>
#include <ctime>

namespace fsc {

std::string human_size(std::uint64_t bytes)
{
  static const char* const units[] = {"B",   "KiB", "MiB", "GiB",
                                      "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  double v = double(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

static std::string format_tm(std::int64_t sec)
{
  std::time_t t = std::time_t(sec);
  std::tm tm{};
  if (!gmtime_r(&t, &tm))
    return fmt::format("@{}", sec);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

std::string iso_time_s(std::int64_t sec) { return format_tm(sec) + "Z"; }

// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
// civil_from_days): once per object per timestamp in a scan, where gmtime_r
// and two formats were a tenth of `inspect --json=lines`.
static void civil(std::int64_t days, int& y, unsigned& m, unsigned& d)
{
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = int(yoe + era * 400 + (m <= 2));
}

namespace {

// "00".."99": two digits a step, for the times a scan prints per object.
constexpr auto k_pairs = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[std::size_t(2 * i)] = char('0' + i / 10);
    t[std::size_t(2 * i + 1)] = char('0' + i % 10);
  }
  return t;
}();

char* two_digits(char* o, unsigned v)
{
  std::memcpy(o, &k_pairs[2 * v], 2);
  return o + 2;
}

} // namespace

char* nine_digits(char* out, std::uint32_t v)
{
  out[0] = char('0' + v / 100000000);
  v %= 100000000;
  out = two_digits(out + 1, v / 1000000);
  out = two_digits(out, v / 10000 % 100);
  out = two_digits(out, v / 100 % 100);
  return two_digits(out, v % 100);
}

char* decimal(char* out, std::uint64_t v)
{
  if (v >= 1000000000) // the digits above the last nine, then those nine
    return nine_digits(decimal(out, v / 1000000000),
                       std::uint32_t(v % 1000000000));
  auto x = std::uint32_t(v);
  unsigned len = 1;
  for (std::uint32_t p = 10; len < 9 && x >= p; p *= 10)
    ++len;
  char* const end = out + len;
  char* o = end;
  for (; x >= 100; x /= 100) {
    o -= 2;
    std::memcpy(o, &k_pairs[2 * (x % 100)], 2);
  }
  if (x >= 10)
    std::memcpy(o - 2, &k_pairs[2 * x], 2);
  else
    o[-1] = char('0' + x);
  return end;
}

std::string_view iso_time(std::int64_t ns, IsoTimeBuf& out)
{
  std::int64_t sec = ns / 1000000000;
  std::int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --sec;
  }
  std::int64_t days = sec / 86400, tod = sec % 86400;
  if (tod < 0) {
    tod += 86400;
    --days;
  }
  // The date changes rarely between the times of one scan: kept per thread
  // (only dates of years 0-9999 are kept).
  thread_local std::int64_t cached_days = INT64_MIN;
  thread_local char cached_date[11];
  if (days != cached_days) {
    int y;
    unsigned mo, d;
    civil(days, y, mo, d);
    if (y < 0 || y > 9999) { // as gmtime_r and fmt would print it
      out.rare = format_tm(sec);
      if (frac != 0) {
        std::string f = fmt::format("{:09}", frac);
        while (!f.empty() && f.back() == '0')
          f.pop_back();
        out.rare += "." + f;
      }
      out.rare += "Z";
      return out.rare;
    }
    char* c = two_digits(cached_date, unsigned(y) / 100);
    c = two_digits(c, unsigned(y) % 100);
    *c++ = '-';
    c = two_digits(c, mo);
    *c++ = '-';
    c = two_digits(c, d);
    *c = 'T';
    cached_days = days;
  }
  char* const buf = out.text;
  std::memcpy(buf, cached_date, 11);
  char* o = two_digits(buf + 11, unsigned(tod / 3600));
  *o++ = ':';
  o = two_digits(o, unsigned(tod / 60 % 60));
  *o++ = ':';
  o = two_digits(o, unsigned(tod % 60));
  if (frac != 0) {
    *o++ = '.';
    o = nine_digits(o, std::uint32_t(frac));
    while (o[-1] == '0') // trailing zeros trimmed; frac != 0 stops it
      --o;
  }
  *o++ = 'Z';
  return std::string_view(buf, std::size_t(o - buf));
}

std::string iso_time(std::int64_t ns)
{
  IsoTimeBuf buf;
  return std::string(iso_time(ns, buf));
}

std::string human_age(std::int64_t s)
{
  if (s < 0)
    return "-" + human_age(-s);
  if (s < 120)
    return fmt::format("{}s", s);
  if (s < 7200)
    return fmt::format("{}m", s / 60);
  if (s < 2 * 86400)
    return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

std::string spaced_hex(ByteView b)
{
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i && i % 4 == 0)
      out += ' ';
    out += fmt::format("{:02x}", b[i]);
  }
  return out;
}

std::string printable_name(std::string_view name)
{
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
  }
  return out;
}

std::string to_hex(ByteView b)
{
  std::string out(b.size() * 2, '\0');
  hex_into(out.data(), b.data(), b.size());
  return out;
}

bool from_hex(std::string_view s, Bytes& out)
{
  out.clear();
  int hi = -1;
  for (char c : s) {
    if (c == ' ' || c == ':')
      continue;
    int v = hex_digit(c);
    if (v < 0)
      return false;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(std::uint8_t(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0;
}

} // namespace fsc
