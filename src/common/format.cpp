// format.cpp - human-readable sizes, times and hex.
#include <fsc/format.hpp>
#include <fsc/hex.hpp>

#include <fmt/format.h>

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

std::string iso_time(std::int64_t ns)
{
  std::int64_t sec = ns / 1000000000;
  std::int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --sec;
  }
  std::string s = format_tm(sec);
  if (frac != 0) {
    std::string f = fmt::format("{:09}", frac);
    while (!f.empty() && f.back() == '0')
      f.pop_back();
    s += "." + f;
  }
  return s + "Z";
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
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (auto c : b) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
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
