// find_byte.hpp - the first of a few bytes in a span, eight bytes a step:
// trace lines are split at spaces, colons and equals signs millions of
// times, and a test per byte was a large part of reading them.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace fsc::trace {

/// The first byte in [p, e) equal to a, b or c; e when there is none.
inline const char* find_byte(const char* p, const char* e, char a, char b,
                             char c)
{
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t ones = 0x0101010101010101ull;
    constexpr std::uint64_t highs = ones * 0x80;
    // The high bit of each zero byte of x (a false one can only follow a
    // true one, so the lowest is exact).
    auto zeros = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
    const std::uint64_t fa = ones * std::uint8_t(a), fb = ones * std::uint8_t(b),
                        fc = ones * std::uint8_t(c);
    for (; e - p >= 8; p += 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (const std::uint64_t m = zeros(w ^ fa) | zeros(w ^ fb) | zeros(w ^ fc))
        return p + (std::countr_zero(m) >> 3);
    }
  }
  while (p < e && *p != a && *p != b && *p != c)
    ++p;
  return p;
}

/// The first byte in [p, e) that is not a space; e when all are. ftrace
/// pads task names, pids and timestamps with runs of spaces.
inline const char* skip_spaces(const char* p, const char* e)
{
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t spaces = 0x2020202020202020ull;
    for (; e - p >= 8; p += 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (const std::uint64_t x = w ^ spaces)
        return p + (std::countr_zero(x) >> 3);
    }
  }
  while (p < e && *p == ' ')
    ++p;
  return p;
}

/// The end of [b, e) without its trailing spaces.
inline const char* skip_spaces_back(const char* b, const char* e)
{
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t spaces = 0x2020202020202020ull;
    for (; e - b >= 8; e -= 8) {
      std::uint64_t w;
      std::memcpy(&w, e - 8, 8);
      if (const std::uint64_t x = w ^ spaces)
        return e - (std::countl_zero(x) >> 3);
    }
  }
  while (e > b && e[-1] == ' ')
    --e;
  return e;
}

} // namespace fsc::trace
