// units.cpp - parsing ages, sizes and percentages given by users.
#include <fsc/units.hpp>

#include <fsc/error.hpp>

#include <cctype>
#include <cmath>
#include <string>

namespace fsc {
namespace {

// Splits "12.5GiB" into 12.5 and "GiB"; false when no leading number.
bool split_number(std::string_view s, double& num, std::string& unit)
{
  std::size_t i = 0;
  bool digits = false, dot = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) ||
                          (s[i] == '.' && !dot))) {
    if (s[i] == '.')
      dot = true;
    else
      digits = true;
    ++i;
  }
  if (!digits)
    return false;
  try {
    num = std::stod(std::string(s.substr(0, i)));
  } catch (...) {
    return false;
  }
  unit.clear();
  for (char c : s.substr(i))
    unit += char(std::tolower(static_cast<unsigned char>(c)));
  return true;
}

} // namespace

std::chrono::seconds parse_age(std::string_view s)
{
  double n;
  std::string u;
  if (!split_number(s, n, u))
    throw Error("invalid age '" + std::string(s) +
                "': expected e.g. 90s, 12h, 30d");
  double mult;
  if (u.empty() || u == "s")
    mult = 1;
  else if (u == "m")
    mult = 60;
  else if (u == "h")
    mult = 3600;
  else if (u == "d")
    mult = 86400;
  else if (u == "w")
    mult = 7 * 86400;
  else
    throw Error("invalid age '" + std::string(s) +
                "': unit must be s, m, h, d or w");
  double v = n * mult;
  if (v > 1e15)
    throw Error("invalid age '" + std::string(s) + "': too large");
  return std::chrono::seconds(static_cast<std::int64_t>(std::llround(v)));
}

std::uint64_t parse_size(std::string_view s)
{
  double n;
  std::string u;
  if (!split_number(s, n, u))
    throw Error("invalid size '" + std::string(s) +
                "': expected e.g. 512M, 10G");
  if (!u.empty() && u.back() == 'b')
    u.pop_back();
  if (!u.empty() && u.back() == 'i')
    u.pop_back();
  static const std::string units = "kmgtpe";
  double mult = 1;
  if (u.size() == 1 && units.find(u[0]) != std::string::npos)
    mult = std::pow(1024.0, double(units.find(u[0]) + 1));
  else if (!u.empty())
    throw Error("invalid size '" + std::string(s) + "': unknown unit");
  double v = n * mult;
  if (v >= 1.8e19)
    throw Error("invalid size '" + std::string(s) + "': too large");
  return static_cast<std::uint64_t>(v);
}

unsigned parse_percent(std::string_view s)
{
  std::string_view t = s;
  if (!t.empty() && t.back() == '%')
    t.remove_suffix(1);
  if (t.empty() || t.size() > 3)
    throw Error("invalid percentage '" + std::string(s) + "'");
  unsigned v = 0;
  for (char c : t) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      throw Error("invalid percentage '" + std::string(s) + "'");
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 100)
    throw Error("invalid percentage '" + std::string(s) + "': above 100%");
  return v;
}

} // namespace fsc
