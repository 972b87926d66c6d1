// writer.cpp - making cache objects the way the kernel lays them out.
#include <fsc/cachefiles/writer.hpp>

#include <fsc/cachefiles/key.hpp>
#include <fsc/error.hpp>
#include <fsc/fd.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fsc::cachefiles {

Writer::Writer(std::string root, bool v1) : m_root(std::move(root))
{
  if (mkdir(m_root.c_str(), 0755) != 0 && errno != EEXIST)
    throw_sys("cannot create", m_root, errno);
  make_dir("cache", 0700);
  make_dir("graveyard", 0700);
  if (v1)
    set_xattr("cache", as_bytes(k_root_label));
}

void Writer::make_dir(const std::string& rel, unsigned mode)
{
  std::string p = m_root + "/" + rel;
  if (mkdir(p.c_str(), mode) != 0 && errno != EEXIST)
    throw_sys("cannot create directory", p, errno);
}

void Writer::make_file(const std::string& rel, const DataSpec& d)
{
  std::string p = m_root + "/" + rel;
  Fd fd(
      open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
  if (!fd)
    throw_sys("cannot create file", p, errno);
  bool ok = true;
  if (!d.bytes.empty())
    ok = pwrite(fd.get(), d.bytes.data(), d.bytes.size(), off_t(d.offset)) ==
         ssize_t(d.bytes.size());
  std::uint64_t size =
      std::max<std::uint64_t>(d.size, d.offset + d.bytes.size());
  if (ok && size)
    ok = ftruncate(fd.get(), off_t(size)) == 0;
  if (!ok)
    throw_sys("cannot write", p, errno);
}

void Writer::add_dir(const std::string& rel, unsigned mode)
{
  make_dir(rel, mode);
}

void Writer::add_file(const std::string& rel, const std::string& bytes)
{
  DataSpec d;
  d.bytes = bytes;
  make_file(rel, d);
}

void Writer::set_xattr(const std::string& rel, ByteView value)
{
  std::string p = m_root + "/" + rel;
  if (lsetxattr(p.c_str(), k_xattr_name, value.data(), value.size(), 0) != 0)
    throw_sys("cannot set xattr on", p, errno);
}

void Writer::set_times(const std::string& rel, std::int64_t atime_ns,
                       std::int64_t mtime_ns)
{
  auto ts = [](std::int64_t ns) {
    return ns < 0 ? timespec{0, UTIME_OMIT}
                  : timespec{ns / 1000000000, ns % 1000000000};
  };
  timespec t[2] = {ts(atime_ns), ts(mtime_ns)};
  std::string p = m_root + "/" + rel;
  if (utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW) != 0)
    throw_sys("cannot set times of", p, errno);
}

std::string Writer::add_v1(const std::string& parent, ByteView key,
                           std::uint8_t type, ByteView aux,
                           const DataSpec& data)
{
  CookedV1 c = cook_v1(key, type);
  make_dir(parent + "/" + c.fanout, 0);
  std::string rel = parent + "/" + c.fanout + "/" + c.name;
  if (type == k_type_index)
    make_dir(rel, 0);
  else
    make_file(rel, data);
  set_xattr(rel, encode_xattr_v1(type, aux));
  if (data.atime_ns >= 0 || data.mtime_ns >= 0)
    set_times(rel, data.atime_ns, data.mtime_ns);
  return rel;
}

std::string Writer::add_volume(const std::string& volume_key,
                               ByteView coherency)
{
  std::string rel = "cache/I" + volume_key;
  make_dir(rel, 0700);
  set_xattr(rel, encode_volume_xattr(coherency));
  return rel;
}

std::string Writer::add_v2(const std::string& volume, ByteView key,
                           const XattrV2& xattr, const DataSpec& data)
{
  std::string vkey = volume.substr(volume.rfind('/') + 2);
  std::string fan =
      fanout_name(std::uint8_t(cookie_hash(volume_hash(vkey), key)));
  make_dir(volume + "/" + fan, 0700);
  std::string rel = volume + "/" + fan + "/" + cook_v2(key);
  make_file(rel, data);
  set_xattr(rel, encode_xattr_v2(xattr));
  if (data.atime_ns >= 0 || data.mtime_ns >= 0)
    set_times(rel, data.atime_ns, data.mtime_ns);
  return rel;
}

} // namespace fsc::cachefiles
