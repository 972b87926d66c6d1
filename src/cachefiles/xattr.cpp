// xattr.cpp - user.CacheFiles.cache framing for v1 and v2, and raw access.
#include <fsc/cachefiles/xattr.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <sys/xattr.h>
#include <unistd.h>

namespace fsc::cachefiles {

tl::expected<XattrV1View, std::string> view_xattr_v1(ByteView raw)
{
  if (raw.empty())
    return tl::unexpected(std::string("zero-length xattr"));
  if (raw.size() > k_max_xattr_v1)
    return tl::unexpected(
        fmt::format("xattr of {} bytes is longer than the kernel reads ({})",
                    raw.size(), k_max_xattr_v1));
  return XattrV1View{raw[0], raw.subspan(1)};
}

tl::expected<XattrV1, std::string> decode_xattr_v1(ByteView raw)
{
  return view_xattr_v1(raw).map([](const XattrV1View& v) {
    return XattrV1{v.type, Bytes(v.aux.begin(), v.aux.end())};
  });
}

Bytes encode_xattr_v1(std::uint8_t type, ByteView aux)
{
  // Sized up front: vector::insert into a 1-element vector trips GCC 12's
  // -Warray-bounds false positive at -O3.
  Bytes out(1 + aux.size());
  out[0] = type;
  std::copy(aux.begin(), aux.end(), out.begin() + 1);
  return out;
}

std::string content_name(std::uint8_t c)
{
  switch (Content(c)) {
  case Content::no_data:
    return "no_data";
  case Content::single:
    return "single";
  case Content::all:
    return "all";
  case Content::backfs_map:
    return "backfs_map";
  case Content::dirty:
    return "dirty";
  }
  return fmt::format("unknown({})", c);
}

tl::expected<XattrV2View, std::string> view_xattr_v2(ByteView raw)
{
  if (raw.size() < k_xattr_v2_header)
    return tl::unexpected(fmt::format(
        "xattr of {} bytes is shorter than the 18-byte header", raw.size()));
  if (raw.size() > k_xattr_v2_header + 255)
    return tl::unexpected(fmt::format(
        "xattr of {} bytes holds more than 255 bytes of aux", raw.size()));
  XattrV2View x;
  x.object_size = load_be(raw, 0, 8);
  x.zero_point = load_be(raw, 8, 8);
  x.type = raw[16];
  x.content = raw[17];
  x.aux = raw.subspan(k_xattr_v2_header);
  return x;
}

tl::expected<XattrV2, std::string> decode_xattr_v2(ByteView raw)
{
  return view_xattr_v2(raw).map([](const XattrV2View& v) {
    return XattrV2{v.object_size, v.zero_point, v.type, v.content,
                   Bytes(v.aux.begin(), v.aux.end())};
  });
}

Bytes encode_xattr_v2(const XattrV2& x)
{
  Bytes out;
  store_be(out, x.object_size, 8);
  store_be(out, x.zero_point, 8);
  out.push_back(x.type);
  out.push_back(x.content);
  out.insert(out.end(), x.aux.begin(), x.aux.end());
  return out;
}

tl::expected<VolumeXattr, std::string> decode_volume_xattr(ByteView raw)
{
  if (raw.size() < 4)
    return tl::unexpected(
        fmt::format("volume xattr of {} bytes is shorter than 4", raw.size()));
  VolumeXattr v;
  v.reserved = std::uint32_t(load_be(raw, 0, 4));
  v.coherency.assign(raw.begin() + 4, raw.end());
  return v;
}

Bytes encode_volume_xattr(ByteView coherency)
{
  Bytes out(4 + coherency.size(), 0);
  std::copy(coherency.begin(), coherency.end(), out.begin() + 4);
  return out;
}

namespace {

// Reads with a buffer big enough for any CacheFiles value; grows on ERANGE
// so that over-long (corrupt) values are still reported with their size.
template <class Get> tl::expected<Bytes, int> read_grow(Get get)
{
  Bytes buf(1024);
  for (;;) {
    ssize_t n = get(buf.data(), buf.size());
    if (n >= 0) {
      buf.resize(std::size_t(n));
      return buf;
    }
    if (errno != ERANGE || buf.size() >= (1u << 20))
      return tl::unexpected(errno);
    buf.resize(buf.size() * 8);
  }
}

} // namespace

tl::expected<Bytes, int> read_xattr_at(int dirfd, const std::string& name)
{
  // Path-based call through /proc/self/fd: works for mode-0 files that a
  // non-owner could not open, and never follows a final symlink.
  std::string path = fmt::format("/proc/self/fd/{}/{}", dirfd, name);
  return read_grow([&](std::uint8_t* p, std::size_t n) {
    return lgetxattr(path.c_str(), k_xattr_name, p, n);
  });
}

tl::expected<Bytes, int> read_xattr_fd(int fd)
{
  return read_grow([&](std::uint8_t* p, std::size_t n) {
    return fgetxattr(fd, k_xattr_name, p, n);
  });
}

int write_xattr_fd(int fd, ByteView value, int flags)
{
  if (fsetxattr(fd, k_xattr_name, value.data(), value.size(), flags) == 0)
    return 0;
  return errno;
}

} // namespace fsc::cachefiles
