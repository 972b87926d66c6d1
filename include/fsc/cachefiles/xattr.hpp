// xattr.hpp - the user.CacheFiles.cache attribute of both formats.
#pragma once

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include <fsc/bytes.hpp>

namespace fsc::cachefiles {

/// The one xattr name CacheFiles uses everywhere.
inline constexpr const char* k_xattr_name = "user.CacheFiles.cache";

/// The root index label written at bind ("C3").
inline constexpr std::string_view k_root_label = "C3";

/// Largest value the v1 kernel reads back (check_object_xattr's buffer).
inline constexpr std::size_t k_max_xattr_v1 = 512 + 1;

/// v1 object xattr: type byte then aux, no length field.
struct XattrV1 {
  std::uint8_t type = 0;
  Bytes aux;
};

tl::expected<XattrV1, std::string> decode_xattr_v1(ByteView raw);

/// decode_xattr_v1() without the copy: aux is a view of raw.
struct XattrV1View {
  std::uint8_t type = 0;
  ByteView aux;
};
tl::expected<XattrV1View, std::string> view_xattr_v1(ByteView raw);
Bytes encode_xattr_v1(std::uint8_t type, ByteView aux);

/// v2 content byte (enum cachefiles_content).
enum class Content : std::uint8_t {
  no_data = 0,
  single = 1,
  all = 2,
  backfs_map = 3,
  dirty = 4,
};

/// "no_data", "single", "all", "backfs_map", "dirty" or "unknown(N)".
std::string content_name(std::uint8_t c);

/// v2 data object xattr (struct cachefiles_xattr, packed, big-endian sizes).
struct XattrV2 {
  std::uint64_t object_size = 0;
  std::uint64_t zero_point = 0;
  std::uint8_t type = 1;
  std::uint8_t content = 0;
  Bytes aux;
};

inline constexpr std::size_t k_xattr_v2_header = 18;

tl::expected<XattrV2, std::string> decode_xattr_v2(ByteView raw);

/// decode_xattr_v2() without the copy: aux is a view of raw.
struct XattrV2View {
  std::uint64_t object_size = 0;
  std::uint64_t zero_point = 0;
  std::uint8_t type = 1;
  std::uint8_t content = 0;
  ByteView aux;
};
tl::expected<XattrV2View, std::string> view_xattr_v2(ByteView raw);
Bytes encode_xattr_v2(const XattrV2& x);

/// v2 volume directory xattr: BE32 reserved (0) then coherency bytes.
struct VolumeXattr {
  std::uint32_t reserved = 0;
  Bytes coherency;
};

tl::expected<VolumeXattr, std::string> decode_volume_xattr(ByteView raw);
Bytes encode_volume_xattr(ByteView coherency);

/// Reads the CacheFiles xattr of name inside dirfd without following links.
/// Returns the bytes, or the errno (ENODATA when absent).
tl::expected<Bytes, int> read_xattr_at(int dirfd, const std::string& name);

/// Reads the CacheFiles xattr of an open fd.
tl::expected<Bytes, int> read_xattr_fd(int fd);

/// Sets the CacheFiles xattr on an open fd (flags: XATTR_CREATE/REPLACE/0).
int write_xattr_fd(int fd, ByteView value, int flags);

} // namespace fsc::cachefiles
