// key.cpp - cooking keys into names and back (4.19 and 6.1 key.c).
#include <fsc/cachefiles/key.hpp>

#include <fmt/format.h>

#include <array>
#include <bit>
#include <optional>

namespace fsc::cachefiles {
namespace {

// cachefiles_charmap's inverse, as a table: cull's walk checks every
// character of every name.
constexpr std::array<std::int8_t, 256> k_map_index = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (std::size_t i = 0; i < k_cook_map.size(); ++i)
    t[static_cast<unsigned char>(k_cook_map[i])] = std::int8_t(i);
  return t;
}();

int map_index(char c) { return k_map_index[static_cast<unsigned char>(c)]; }

// Appends 4 map characters for a little-endian 24-bit group, low bits first.
void put_group(std::string& out, std::uint32_t acc)
{
  for (int i = 0; i < 4; ++i) {
    out += k_cook_map[acc & 63];
    acc >>= 6;
  }
}

// Decodes 4-char groups into bytes (3 per group, out holds them); false
// when a character is not in the map.
bool decode_groups(std::string_view s, std::uint8_t* out)
{
  for (std::size_t i = 0; i + 4 <= s.size(); i += 4) {
    std::uint32_t acc = 0;
    for (int k = 3; k >= 0; --k) {
      int v = map_index(s[i + std::size_t(k)]);
      if (v < 0)
        return false;
      acc = acc << 6 | std::uint32_t(v);
    }
    *out++ = std::uint8_t(acc);
    *out++ = std::uint8_t(acc >> 8);
    *out++ = std::uint8_t(acc >> 16);
  }
  return true;
}

char v1_letter(std::uint8_t type, bool encoded)
{
  if (type == k_type_index)
    return encoded ? 'J' : 'I';
  if (type == k_type_data)
    return encoded ? 'E' : 'D';
  return encoded ? 'T' : 'S';
}

// Why name (printable form) does not decode; empty when it does.
const char* printable_v1_error(std::string_view name)
{
  if (name.size() < 3)
    return "name too short for a printable key";
  int hi = map_index(name[1]), lo = map_index(name[2]);
  if (hi < 0 || lo < 0)
    return "length characters not in the key map";
  std::string_view key = name.substr(3);
  if (key.size() % 4096 != std::size_t(hi * 64 + lo))
    return "length";
  if (key.empty())
    return "empty key";
  if (!printable_key(as_bytes(key)))
    return "printable-form name holds a byte the cooker escapes";
  return "";
}

tl::expected<NameV1, std::string> decode_printable_v1(std::string_view name,
                                                      NameV1 r)
{
  std::string_view why = printable_v1_error(name);
  if (why == "length")
    return tl::unexpected(fmt::format(
        "length characters say {} bytes but the key has {}",
        map_index(name[1]) * 64 + map_index(name[2]), name.size() - 3));
  if (!why.empty())
    return tl::unexpected(std::string(why));
  r.key.assign(name.begin() + 3, name.end());
  return r;
}

// The key length of decoded groups when the length prefix (in the given
// byte order) fits them: the kernel pads with zeros only.
std::optional<std::size_t> prefix_length(ByteView raw, std::size_t groups,
                                         bool be)
{
  std::size_t len = be ? std::size_t(raw[0]) << 8 | raw[1]
                       : std::size_t(raw[1]) << 8 | raw[0];
  if (len == 0 || (len + 2 + 2) / 3 != groups || len + 2 > raw.size())
    return std::nullopt;
  for (std::size_t i = len + 2; i < raw.size(); ++i)
    if (raw[i] != 0)
      return std::nullopt;
  return len;
}

// An encoded name's body decoded into raw (at most 3 * 255 / 4 bytes): why
// it does not decode, or empty; be and len say how it does.
const char* encoded_v1_error(std::string_view name,
                             std::array<std::uint8_t, 192>& raw,
                             std::size_t& groups, bool& be, std::size_t& len)
{
  std::string_view body = name.substr(1);
  if (body.empty() || body.size() % 4 != 0)
    return "length";
  groups = body.size() / 4;
  if (groups * 3 > raw.size())
    return "encoded name longer than any the kernel makes";
  if (!decode_groups(body, raw.data()))
    return "character not in the key map";
  ByteView bytes(raw.data(), groups * 3);
  for (bool order : {false, true})
    if (auto l = prefix_length(bytes, groups, order)) {
      be = order;
      len = *l;
      return "";
    }
  return "encoded length prefix does not match the name's length";
}

tl::expected<NameV1, std::string> decode_encoded_v1(std::string_view name,
                                                    NameV1 r)
{
  std::array<std::uint8_t, 192> raw{};
  std::size_t groups = 0, len = 0;
  bool be = false;
  std::string_view why = encoded_v1_error(name, raw, groups, be, len);
  if (why == "length")
    return tl::unexpected(fmt::format(
        "encoded name length {} is not 1 + a multiple of 4", name.size()));
  if (!why.empty())
    return tl::unexpected(std::string(why));
  r.big_endian = be;
  r.key.assign(raw.begin() + 2, raw.begin() + 2 + std::ptrdiff_t(len));
  r.suspicious = printable_key(r.key);
  return r;
}

std::uint32_t hex_digits(std::uint32_t x)
{
  return x ? (std::uint32_t(std::bit_width(x)) + 3) / 4 : 0;
}

std::uint32_t word(ByteView padded, std::size_t i, bool be)
{
  return std::uint32_t(be ? load_be(padded, i, 4) : load_le(padded, i, 4));
}

Bytes pad4(ByteView key)
{
  Bytes b(key.begin(), key.end());
  b.resize((b.size() + 3) / 4 * 4, 0);
  return b;
}

tl::expected<NameV2, std::string> decode_hex_v2(std::string_view name, NameV2 r)
{
  bool be = name[0] == 'S';
  std::string_view rest = name.substr(1);
  for (;;) {
    auto comma = rest.find(',');
    std::string_view field = rest.substr(0, comma);
    if (field.size() > 8)
      return tl::unexpected(std::string("hex word longer than 8 digits"));
    if (field.size() > 1 && field[0] == '0')
      return tl::unexpected(std::string("hex word with a leading zero"));
    std::uint32_t v = 0;
    for (char c : field) {
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                       : -1;
      if (d < 0)
        return tl::unexpected(std::string("not a lower-case hex word"));
      v = v << 4 | std::uint32_t(d);
    }
    if (be)
      store_be(r.key, v, 4);
    else
      store_le(r.key, v, 4);
    if (comma == std::string_view::npos)
      break;
    rest = rest.substr(comma + 1);
  }
  if (cook_v2(r.key) != name)
    return tl::unexpected(
        std::string("hex name the cooker would not produce for its key"));
  return r;
}

tl::expected<NameV2, std::string> decode_base64_v2(std::string_view name,
                                                   NameV2 r)
{
  if (name.size() < 6 || (name.size() - 2) % 4 != 0)
    return tl::unexpected(std::string("base64 name of a wrong length"));
  int pad = name[1] - '0';
  if (pad < 0 || pad > 2)
    return tl::unexpected(std::string("pad digit is not 0, 1 or 2"));
  r.key.assign((name.size() - 2) / 4 * 3, 0);
  if (!decode_groups(name.substr(2), r.key.data()))
    return tl::unexpected(std::string("character not in the key map"));
  for (int i = 0; i < pad; ++i) {
    if (r.key.back() != 0)
      return tl::unexpected(std::string("non-zero bytes in the padding"));
    r.key.pop_back();
  }
  if (cook_v2(r.key) != name)
    return tl::unexpected(
        std::string("base64 name the cooker would not produce for its key"));
  return r;
}

} // namespace

bool printable_key_byte(std::uint8_t c)
{
  return (c >= 0x21 && c <= 0x2e) || (c >= 0x30 && c <= 0x7f);
}

bool printable_key(ByteView key)
{
  for (auto c : key)
    if (!printable_key_byte(c))
      return false;
  return true;
}

std::uint8_t checksum_v1(ByteView key)
{
  unsigned sum = unsigned(key.size() & 0xff) + unsigned(key.size() >> 8);
  for (auto c : key)
    sum += c;
  return std::uint8_t(sum);
}

CookedV1 cook_v1(ByteView key, std::uint8_t type, bool big_endian)
{
  CookedV1 out;
  out.fanout = fanout_name(checksum_v1(key));
  const std::size_t len = key.size();
  if (printable_key(key)) {
    out.name += v1_letter(type, false);
    out.name += k_cook_map[(len >> 6) & 63];
    out.name += k_cook_map[len & 63];
    out.name.append(key.begin(), key.end());
    return out;
  }
  Bytes raw;
  if (big_endian)
    store_be(raw, len, 2);
  else
    store_le(raw, len, 2);
  raw.insert(raw.end(), key.begin(), key.end());
  raw.resize(raw.size() + 3, 0);
  const std::size_t groups = (len + 2 + 2) / 3;
  out.name += v1_letter(type, true);
  for (std::size_t g = 0; g < groups; ++g)
    put_group(out.name, std::uint32_t(load_le(raw, g * 3, 3)));
  return out;
}

std::optional<std::uint8_t> v1_type_of_letter(char letter)
{
  switch (letter) {
  case 'I':
  case 'J':
    return k_type_index;
  case 'D':
  case 'E':
    return k_type_data;
  case 'S':
  case 'T':
    return 2;
  default:
    return std::nullopt;
  }
}

bool name_decodes_v1(std::string_view name)
{
  if (name.empty())
    return false;
  switch (name[0]) {
  case 'I':
  case 'D':
  case 'S':
    return *printable_v1_error(name) == 0;
  case 'J':
  case 'E':
  case 'T': {
    std::array<std::uint8_t, 192> raw{};
    std::size_t groups = 0, len = 0;
    bool be = false;
    return *encoded_v1_error(name, raw, groups, be, len) == 0;
  }
  default:
    return false;
  }
}

tl::expected<NameV1, std::string> decode_name_v1(std::string_view name)
{
  if (name.empty())
    return tl::unexpected(std::string("empty name"));
  NameV1 r;
  r.letter = name[0];
  switch (name[0]) {
  case 'I':
    r.type = k_type_index;
    return decode_printable_v1(name, r);
  case 'D':
    r.type = k_type_data;
    return decode_printable_v1(name, r);
  case 'S':
    r.type = 2;
    return decode_printable_v1(name, r);
  case 'J':
    r.type = k_type_index;
    r.encoded = true;
    return decode_encoded_v1(name, r);
  case 'E':
    r.type = k_type_data;
    r.encoded = true;
    return decode_encoded_v1(name, r);
  case 'T':
    r.type = 2;
    r.encoded = true;
    return decode_encoded_v1(name, r);
  default:
    return tl::unexpected(fmt::format(
        "first character '{}' is not a type letter (I D S J E T)", name[0]));
  }
}

std::optional<std::uint8_t> parse_fanout(std::string_view name)
{
  if (name.size() != 3 || name[0] != '@')
    return std::nullopt;
  int v = 0;
  for (char c : name.substr(1)) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (d < 0)
      return std::nullopt;
    v = v * 16 + d;
  }
  return std::uint8_t(v);
}

std::string fanout_name(std::uint8_t v) { return fmt::format("@{:02x}", v); }

std::string cook_v2(ByteView key)
{
  if (printable_key(key))
    return "D" + to_string(key);
  const Bytes padded = pad4(key);
  std::size_t nbe = 0, nle = 0;
  for (std::size_t i = 0; i < padded.size(); i += 4) {
    nbe += 1 + hex_digits(word(padded, i, true));
    nle += 1 + hex_digits(word(padded, i, false));
  }
  const std::size_t groups = (key.size() + 2) / 3;
  const std::size_t pad = groups * 3 - key.size();
  const std::size_t b64len = 2 + groups * 4;
  if (nbe < b64len || nle < b64len) {
    const bool be = nbe <= nle;
    std::string out;
    char sep = be ? 'S' : 'T';
    for (std::size_t i = 0; i < padded.size(); i += 4) {
      out += sep;
      if (std::uint32_t x = word(padded, i, be))
        out += fmt::format("{:x}", x);
      sep = ',';
    }
    return out;
  }
  std::string out = "E";
  out += char('0' + pad);
  Bytes raw(key.begin(), key.end());
  raw.resize(groups * 3, 0);
  for (std::size_t g = 0; g < groups; ++g)
    put_group(out, std::uint32_t(load_le(raw, g * 3, 3)));
  return out;
}

tl::expected<NameV2, std::string> decode_name_v2(std::string_view name)
{
  if (name.size() < 2)
    return tl::unexpected(std::string("name too short"));
  NameV2 r;
  switch (name[0]) {
  case 'D':
    r.encoding = EncodingV2::printable;
    r.key.assign(name.begin() + 1, name.end());
    if (!printable_key(r.key))
      return tl::unexpected(
          std::string("printable-form name holds a byte the cooker escapes"));
    return r;
  case 'S':
    r.encoding = EncodingV2::hex_be;
    return decode_hex_v2(name, r);
  case 'T':
    r.encoding = EncodingV2::hex_le;
    return decode_hex_v2(name, r);
  case 'E':
    r.encoding = EncodingV2::base64;
    return decode_base64_v2(name, r);
  default:
    return tl::unexpected(fmt::format(
        "first character '{}' is not an encoding letter (D S T E)", name[0]));
  }
}

std::uint32_t fscache_hash(std::uint32_t salt, ByteView padded)
{
  auto h32 = [](std::uint32_t v) { return v * 0x61C88647u; };
  std::uint32_t x = 0, y = salt;
  for (std::size_t i = 0; i + 4 <= padded.size(); i += 4) {
    x ^= std::uint32_t(load_le(padded, i, 4));
    y ^= x;
    x = std::rotl(x, 7);
    x += y;
    y = std::rotl(y, 20);
    y *= 9;
  }
  return h32(y ^ h32(x));
}

std::uint32_t volume_hash(std::string_view volume_key)
{
  Bytes buf;
  buf.push_back(std::uint8_t(volume_key.size()));
  buf.insert(buf.end(), volume_key.begin(), volume_key.end());
  buf.push_back(0);
  buf.resize((buf.size() + 3) / 4 * 4, 0);
  return fscache_hash(0, buf);
}

std::uint32_t cookie_hash(std::uint32_t vol_hash, ByteView key)
{
  return fscache_hash(vol_hash, pad4(key));
}

} // namespace fsc::cachefiles
