// hex.hpp - one hex digit's value, for the parsers of names, ids and config;
// the two digits of each byte, for writers of keys and xattrs.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
#if defined(__SSE2__)
  // Sixteen bytes at a time: each nibble plus '0', plus 39 more above 9
  // ('a' - '0' - 10); high and low nibbles interleaved into digit pairs.
  const __m128i low4 = _mm_set1_epi8(0x0f);
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i zero = _mm_set1_epi8('0');
  const __m128i gap = _mm_set1_epi8('a' - '0' - 10);
  auto digits = [&](__m128i nib) {
    return _mm_add_epi8(_mm_add_epi8(nib, zero),
                        _mm_and_si128(_mm_cmpgt_epi8(nib, nine), gap));
  };
  auto sixteen = [&](const unsigned char* in, char* to) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    const __m128i hi = digits(_mm_and_si128(_mm_srli_epi16(v, 4), low4));
    const __m128i lo = digits(_mm_and_si128(v, low4));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm_unpacklo_epi8(hi, lo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to + 16),
                     _mm_unpackhi_epi8(hi, lo));
  };
  if (n >= 16) {
    // The last sixteen first, then the rest from the start: the overlap is
    // written twice with the same digits.
    sixteen(data + n - 16, out + 2 * n - 32);
    for (std::size_t i = 0; i + 16 < n; i += 16)
      sixteen(data + i, out + 2 * i);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i)
    std::memcpy(out + 2 * i, &hex_pairs[2 * std::size_t(data[i])], 2);
}

} // namespace fsc
