// key.hpp - cooking index keys into file names and back, both formats.
//
// v1 (kernels < 5.17, fs/cachefiles/key.c of 4.19): "@xx/<letter><...>" where
// xx is a byte sum and the name is either the printable key with a 2-char
// length, or the 2-byte length prefix + key in a 64-char base64 variant.
// v2 (5.17+): one name per data object, placed by a hash of volume + key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include <fsc/bytes.hpp>

namespace fsc::cachefiles {

/// Cookie types as fscache numbers them (include/linux/fscache.h).
inline constexpr std::uint8_t k_type_index = 0;
inline constexpr std::uint8_t k_type_data = 1;

/// Longest index key fscache accepts (fscache_acquire_cookie).
inline constexpr std::size_t k_max_key_v1 = 255;

/// The 64-character map of key.c: 0-9 a-z A-Z _ -.
inline constexpr std::string_view k_cook_map =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";

/// True when c is in key.c's "file char" map (0x21-0x2e, 0x30-0x7f).
bool printable_key_byte(std::uint8_t c);

/// True when every byte of key is printable_key_byte().
bool printable_key(ByteView key);

// ---- v1 -------------------------------------------------------------------

/// A v1 cooked key: the fan-out directory and the object's name in it.
struct CookedV1 {
  std::string fanout; ///< "@xx"
  std::string name;   ///< "I03nfs", "Jg0M0...", "E..."
};

/// Byte sum of the 2-byte length prefix and the key (the @xx value).
std::uint8_t checksum_v1(ByteView key);

/// Cooks key the way 4.19 cachefiles_cook_key() does on a little-endian host
/// (big_endian = true: as a big-endian host would). type is the cookie type.
CookedV1 cook_v1(ByteView key, std::uint8_t type, bool big_endian = false);

/// What a v1 object name says.
struct NameV1 {
  char letter = 0;         ///< I D S J E T
  std::uint8_t type = 0;   ///< 0 index (I/J), 1 data (D/E), 2 special (S/T)
  bool encoded = false;    ///< J/E/T (base64 of length prefix + key)
  bool big_endian = false; ///< length prefix decoded big-endian
  bool suspicious = false; ///< encoded key that is all printable
  Bytes key;
};

/// The cookie type a v1 name's first letter stands for (I/J index, D/E
/// data, S/T special), or nullopt.
std::optional<std::uint8_t> v1_type_of_letter(char letter);

/// Decodes a v1 object name; the error says why it does not decode.
tl::expected<NameV1, std::string> decode_name_v1(std::string_view name);

/// decode_name_v1(name) succeeds, found without allocating (cull's walk
/// asks it of every file).
bool name_decodes_v1(std::string_view name);

/// "@xx" → xx, or nullopt when not exactly "@" + two lower-case hex digits.
std::optional<std::uint8_t> parse_fanout(std::string_view name);

/// "@xx" for a byte value.
std::string fanout_name(std::uint8_t v);

// ---- v2 -------------------------------------------------------------------

/// How a v2 data-file name encodes its key.
enum class EncodingV2 : char {
  printable = 'D', ///< key verbatim
  hex_be = 'S',    ///< comma-separated big-endian hex words
  hex_le = 'T',    ///< comma-separated little-endian hex words
  base64 = 'E',    ///< pad digit + base64 of the key alone
};

/// Longest v2 object key (BUG_ON(keylen > NAME_MAX - 3) in key.c).
inline constexpr std::size_t k_max_key_v2 = 252;

/// Cooks a v2 data object name (6.1 cachefiles_cook_key).
std::string cook_v2(ByteView key);

struct NameV2 {
  EncodingV2 encoding = EncodingV2::printable;
  Bytes key; ///< for S/T: the padded words (length a multiple of 4)
};

/// Decodes a v2 data object name; the error says why it does not decode.
tl::expected<NameV2, std::string> decode_name_v2(std::string_view name);

/// fscache_hash() of 5.17+: LE 32-bit words of a 4-byte padded buffer.
std::uint32_t fscache_hash(std::uint32_t salt, ByteView padded);

/// The volume hash of a volume key string (the directory name minus "I").
std::uint32_t volume_hash(std::string_view volume_key);

/// The cookie key hash: fscache_hash(volume_hash, key zero-padded to 4).
std::uint32_t cookie_hash(std::uint32_t vol_hash, ByteView key);

} // namespace fsc::cachefiles
