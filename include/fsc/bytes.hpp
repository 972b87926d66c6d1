// bytes.hpp - byte buffers and fixed-width integer loads/stores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fsc {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// Little-endian load of N bytes (N <= 8) at off; caller checks bounds.
inline std::uint64_t load_le(ByteView b, std::size_t off, std::size_t n)
{
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v |= std::uint64_t(b[off + i]) << (8 * i);
  return v;
}

/// Big-endian load of N bytes (N <= 8) at off; caller checks bounds.
inline std::uint64_t load_be(ByteView b, std::size_t off, std::size_t n)
{
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | b[off + i];
  return v;
}

inline void store_le(Bytes& out, std::uint64_t v, std::size_t n)
{
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(std::uint8_t(v >> (8 * i)));
}

inline void store_be(Bytes& out, std::uint64_t v, std::size_t n)
{
  for (std::size_t i = n; i-- > 0;)
    out.push_back(std::uint8_t(v >> (8 * i)));
}

/// Lower-case hex of a byte range, no separators.
std::string to_hex(ByteView b);

/// Parses hex (spaces and colons ignored); false on odd length or bad digit.
bool from_hex(std::string_view s, Bytes& out);

inline ByteView as_bytes(std::string_view s)
{
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string to_string(ByteView b)
{
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

} // namespace fsc
