// hex.hpp - one hex digit's value, for the parsers of names, ids and config;
// the two digits of each byte, for writers of keys and xattrs.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

namespace fsc {

/// 0-15 for 0-9, a-f, A-F; -1 for anything else.
constexpr int hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// The two lower-case digits of each byte value, at 2 * byte.
inline constexpr std::array<char, 512> hex_pairs = [] {
  std::array<char, 512> t{};
  const char* digits = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    t[std::size_t(2 * b)] = digits[b >> 4];
    t[std::size_t(2 * b + 1)] = digits[b & 15];
  }
  return t;
}();

/// Writes 2 * n digits of data to out.
inline void hex_into(char* out, const unsigned char* data, std::size_t n)
{
  for (std::size_t i = 0; i < n; ++i)
    std::memcpy(out + 2 * i, &hex_pairs[2 * std::size_t(data[i])], 2);
}

} // namespace fsc
