// knfsd.cpp - Linux NFS server file handles: split, fsid, fileid.
#include <fsc/netfs/knfsd.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>

namespace fsc::netfs {

std::size_t knfsd_fsid_len(unsigned t)
{
  switch (t) {
  case fsid_dev:
    return 8;
  case fsid_num:
    return 4;
  case fsid_major_minor:
    return 12;
  case fsid_encode_dev:
    return 8;
  case fsid_uuid4_inum:
    return 8;
  case fsid_uuid8:
    return 8;
  case fsid_uuid16:
    return 16;
  case fsid_uuid16_inum:
    return 24;
  }
  return 0;
}

std::string knfsd_fsid_type_name(unsigned t)
{
  static const char* const names[] = {
      "FSID_DEV",        "FSID_NUM",   "FSID_MAJOR_MINOR", "FSID_ENCODE_DEV",
      "FSID_UUID4_INUM", "FSID_UUID8", "FSID_UUID16",      "FSID_UUID16_INUM"};
  if (t < std::size(names))
    return names[t];
  return fmt::format("fsid type {}", t);
}

std::string knfsd_fileid_type_name(unsigned t)
{
  switch (t) {
  case fileid_root:
    return "FILEID_ROOT";
  case fileid_ino32_gen:
    return "FILEID_INO32_GEN";
  case fileid_ino32_gen_parent:
    return "FILEID_INO32_GEN_PARENT";
  case fileid_xfs_ino64_gen:
    return "XFS 64-bit ino+gen (0x81)";
  case fileid_xfs_ino64_gen_parent:
    return "XFS 64-bit ino+gen+parent (0x82)";
  case 0x4d:
    return "FILEID_BTRFS_WITHOUT_PARENT";
  case 0x4e:
    return "FILEID_BTRFS_WITH_PARENT";
  case 0x4f:
    return "FILEID_BTRFS_WITH_PARENT_ROOT";
  case 0xff:
    return "FILEID_INVALID";
  }
  return fmt::format("fileid type {:#04x}", t);
}

tl::expected<KnfsdFh, std::string> decode_knfsd_fh(ByteView fh)
{
  if (fh.size() < 4)
    return tl::unexpected(fmt::format("{} bytes: too short", fh.size()));
  if (fh[0] == 0xca && fh.size() == 32)
    return tl::unexpected(
        std::string("a version-0 (NFSv2-era, 32-byte) knfsd handle"));
  if (fh[0] != 1)
    return tl::unexpected(fmt::format("version {:#04x}, not 1", fh[0]));
  if (fh[1] != 0)
    return tl::unexpected(fmt::format("auth type {}, not 0", fh[1]));
  KnfsdFh out;
  out.fsid_type = fh[2];
  out.fileid_type = fh[3];
  std::size_t n = knfsd_fsid_len(out.fsid_type);
  if (n == 0)
    return tl::unexpected(fmt::format("unknown fsid type {}", fh[2]));
  if (fh.size() < 4 + n)
    return tl::unexpected(fmt::format("{} bytes: too short for {} ({} bytes)",
                                      fh.size(),
                                      knfsd_fsid_type_name(out.fsid_type), n));
  // knfsd counts the handle in 4-byte words (fh_size / 4).
  if (fh.size() % 4 != 0)
    return tl::unexpected(
        fmt::format("{} bytes: not a whole number of words", fh.size()));
  out.fsid.assign(fh.begin() + 4, fh.begin() + long(4 + n));
  out.fileid.assign(fh.begin() + long(4 + n), fh.end());
  if (out.fileid_type == fileid_root && !out.fileid.empty())
    return tl::unexpected(std::string("FILEID_ROOT with fileid bytes"));
  return out;
}

Bytes encode(const KnfsdFh& fh)
{
  // Sized once and filled by index: GCC 12 at -O3 warns (-Warray-bounds,
  // falsely) on inserting into a vector built from an initializer list.
  Bytes out(4 + fh.fsid.size() + fh.fileid.size());
  out[0] = 1;
  out[1] = 0;
  out[2] = fh.fsid_type;
  out[3] = fh.fileid_type;
  std::copy(fh.fsid.begin(), fh.fsid.end(), out.begin() + 4);
  std::copy(fh.fileid.begin(), fh.fileid.end(),
            out.begin() + long(4 + fh.fsid.size()));
  return out;
}

std::optional<FileId> decode_fileid(unsigned t, ByteView b)
{
  auto u32 = [&](std::size_t word) {
    return std::uint32_t(load_le(b, 4 * word, 4));
  };
  FileId f;
  switch (t) {
  case fileid_ino32_gen:
  case fileid_ino32_gen_parent:
    if (b.size() != (t == fileid_ino32_gen ? 8u : 16u))
      return std::nullopt;
    f.ino = u32(0);
    f.gen = u32(1);
    if (t == fileid_ino32_gen_parent) {
      f.parent_ino = u32(2);
      f.parent_gen = u32(3);
    }
    return f;
  case fileid_xfs_ino64_gen:
  case fileid_xfs_ino64_gen_parent:
    if (b.size() != (t == fileid_xfs_ino64_gen ? 12u : 24u))
      return std::nullopt;
    f.ino = u32(0) | std::uint64_t(u32(1)) << 32;
    f.gen = u32(2);
    if (t == fileid_xfs_ino64_gen_parent) {
      f.parent_ino = u32(3) | std::uint64_t(u32(4)) << 32;
      f.parent_gen = u32(5);
    }
    return f;
  }
  return std::nullopt;
}

Bytes encode_fileid(KnfsdFileidType t, const FileId& f)
{
  Bytes out;
  const bool parent =
      t == fileid_ino32_gen_parent || t == fileid_xfs_ino64_gen_parent;
  if (t == fileid_ino32_gen || t == fileid_ino32_gen_parent) {
    store_le(out, f.ino & 0xffffffffu, 4);
    store_le(out, f.gen, 4);
    if (parent) {
      store_le(out, f.parent_ino.value_or(0) & 0xffffffffu, 4);
      store_le(out, f.parent_gen.value_or(0), 4);
    }
  } else if (t == fileid_xfs_ino64_gen || t == fileid_xfs_ino64_gen_parent) {
    // XFS writes the 64-bit inode as two host-order words, low word first.
    store_le(out, f.ino, 8);
    store_le(out, f.gen, 4);
    if (parent) {
      store_le(out, f.parent_ino.value_or(0), 8);
      store_le(out, f.parent_gen.value_or(0), 4);
    }
  }
  return out;
}

namespace {

// include/linux/kdev_t.h new_encode_dev: the 32-bit dev_t userspace sees.
std::uint32_t new_encode_dev(std::uint32_t major, std::uint32_t minor)
{
  return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

// uuid words XORed together, byte by byte (the kernel XORs host-order u32s
// and stores them back in host order, which is the same bytes).
Bytes fold(ByteView uuid, std::size_t to)
{
  Bytes out(to, 0);
  for (std::size_t i = 0; i < uuid.size(); ++i)
    out[i % to] ^= uuid[i];
  return out;
}

} // namespace

std::vector<Bytes> make_knfsd_fsid(const ExportIdentity& id, unsigned t)
{
  std::vector<Bytes> out;
  Bytes b;
  auto ino32 = std::uint32_t(id.root_ino);
  switch (t) {
  case fsid_dev:
    store_be(b, (id.dev_major << 16) | id.dev_minor, 4);
    store_le(b, ino32, 4);
    out.push_back(b);
    break;
  case fsid_num:
    if (id.fsid_num) {
      store_le(b, *id.fsid_num, 4);
      out.push_back(b);
    }
    break;
  case fsid_major_minor:
    store_be(b, id.dev_major, 4);
    store_be(b, id.dev_minor, 4);
    store_le(b, ino32, 4);
    out.push_back(b);
    break;
  case fsid_encode_dev:
    store_le(b, new_encode_dev(id.dev_major, id.dev_minor), 4);
    store_le(b, ino32, 4);
    out.push_back(b);
    break;
  case fsid_uuid4_inum:
  case fsid_uuid8:
  case fsid_uuid16:
  case fsid_uuid16_inum:
    for (auto& u : id.uuids) {
      b.clear();
      if (t == fsid_uuid4_inum) {
        store_le(b, ino32, 4);
        auto f = fold(u, 4);
        b.insert(b.end(), f.begin(), f.end());
      } else if (t == fsid_uuid8) {
        b = fold(u, 8);
      } else {
        if (t == fsid_uuid16_inum)
          store_le(b, id.root_ino, 8);
        b.insert(b.end(), u.begin(), u.end());
      }
      out.push_back(b);
    }
    break;
  }
  return out;
}

std::string describe_knfsd_fsid(unsigned t, ByteView f)
{
  if (f.size() != knfsd_fsid_len(t) || f.empty())
    return fmt::format("{} {}", knfsd_fsid_type_name(t), to_hex(f));
  auto le32 = [&](std::size_t off) { return load_le(f, off, 4); };
  switch (t) {
  case fsid_dev: {
    auto d = load_be(f, 0, 4);
    return fmt::format("device {}:{}, export inode {}", d >> 16, d & 0xffff,
                       le32(4));
  }
  case fsid_num:
    return fmt::format("fsid={}", le32(0));
  case fsid_major_minor:
    return fmt::format("device {}:{}, export inode {}", load_be(f, 0, 4),
                       load_be(f, 4, 4), le32(8));
  case fsid_encode_dev: {
    auto d = le32(0);
    return fmt::format("device {}:{}, export inode {}", (d & 0xfff00) >> 8,
                       (d & 0xff) | ((d >> 12) & 0xfff00), le32(4));
  }
  case fsid_uuid4_inum:
    return fmt::format("export inode {}, folded uuid {}", le32(0),
                       to_hex(f.subspan(4)));
  case fsid_uuid8:
    return fmt::format("folded uuid {}", to_hex(f));
  case fsid_uuid16:
    return fmt::format("uuid {}", to_hex(f));
  case fsid_uuid16_inum:
    return fmt::format("export inode {}, uuid {}", load_le(f, 0, 8),
                       to_hex(f.subspan(8)));
  }
  return to_hex(f);
}

bool parse_export_fsid(const std::string& text, ExportIdentity& id)
{
  if (!text.empty() && text.size() <= 10 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    auto n = std::stoull(text);
    if (n > 0xffffffffu)
      return false;
    id.fsid_num = std::uint32_t(n);
    return true;
  }
  std::string digits;
  for (char c : text) {
    if (c == '-' || c == ':')
      continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return false;
    digits += c;
  }
  Bytes u;
  if (digits.size() != 32 || !from_hex(digits, u))
    return false;
  id.uuids.insert(id.uuids.begin(), u);
  return true;
}

} // namespace fsc::netfs
