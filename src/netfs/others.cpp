// others.cpp - AFS, CIFS, 9P and Ceph index keys and aux in 4.19
// (v1-netfs.md §3-§6). All integers are host (little-endian) order except
// the CIFS port and address.
#include <fsc/netfs/netfs.hpp>

#include "common.hpp"

#include <fmt/format.h>

namespace fsc::netfs {
namespace {

// error: the Decoded's key error or aux error.
bool want_size(std::string& error, const char* what, ByteView b, std::size_t n)
{
  if (b.size() == n)
    return true;
  error = fmt::format("{} of {} bytes, want {}", what, b.size(), n);
  return false;
}

std::string uuid_text(ByteView b)
{
  auto h = to_hex(b.first(16));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20);
}

} // namespace

Bytes encode(const AfsVnodeKey& k)
{
  Bytes out;
  store_le(out, k.vnode, 4);
  store_le(out, k.unique, 4);
  store_le(out, 0, 8); // vnode_id_ext[2]
  return out;
}

Bytes encode_afs_volume(std::uint32_t vid)
{
  Bytes out;
  store_le(out, vid, 4);
  return out;
}

Bytes encode_afs_aux(std::uint64_t data_version)
{
  Bytes out;
  store_le(out, data_version, 8);
  return out;
}

std::string encode_afs_volume_v2(std::string_view cell, std::uint32_t vid)
{
  return fmt::format("afs,{},{:x}", cell, vid);
}

Bytes encode_afs_vnode_v2(const AfsVnodeKey& k)
{
  Bytes out;
  store_be(out, k.vnode, 4);
  store_be(out, k.unique, 4);
  store_be(out, 0, 8); // vnode_id_ext[2]
  return out;
}

Bytes encode_afs_aux_v2(std::uint64_t data_version)
{
  Bytes out;
  store_be(out, data_version, 8);
  return out;
}

void decode_afs_v1(Decoded& d, int depth, bool data, ByteView key, ByteView aux)
{
  if (depth == 1) {
    d.role = "AFS cell";
    d.label = "cell " + printable(to_string(key));
    d.key = {{"cell", printable(to_string(key))}};
  } else if (depth == 2) {
    d.role = "AFS volume";
    if (!want_size(d.error, "volume key", key, 4))
      return;
    auto vid = load_le(key, 0, 4);
    d.label = fmt::format("volume {:#x} ({})", vid, vid);
    d.key = {{"vid", fmt::format("{:#x}", vid)}};
  } else if (depth == 3 && data) {
    d.role = "AFS vnode";
    if (!want_size(d.error, "vnode key", key, 16))
      return;
    auto vnode = load_le(key, 0, 4), uniq = load_le(key, 4, 4);
    d.label = fmt::format("vnode {} unique {}", vnode, uniq);
    d.key = {num("vnode", vnode),
             num("unique", uniq),
             {"vnode_ext",
              fmt::format("{},{}", load_le(key, 8, 4), load_le(key, 12, 4))}};
    if (want_size(d.aux_error, "aux", aux, 8))
      d.aux = {num("data_version", load_le(aux, 0, 8))};
  }
}

void decode_cifs_v1(Decoded& d, int depth, bool data, ByteView key,
                    ByteView aux)
{
  if (depth == 1) {
    d.role = "CIFS server";
    if (key.size() != 8 && key.size() != 20) {
      d.error = fmt::format("server key of {} bytes, want 8 or 20", key.size());
      return;
    }
    int family = int(load_le(key, 0, 2));
    auto port = load_be(key, 2, 2);
    auto addr = address_text(family, key.subspan(4));
    d.label =
        fmt::format("{}:{}", family == 10 ? "[" + addr + "]" : addr, port);
    d.key = {{"family", family == 10 ? "AF_INET6" : "AF_INET"},
             num("port", port),
             {"address", addr}};
  } else if (depth == 2) {
    d.role = "CIFS share";
    d.label = "share " + printable(to_string(key));
    d.key = {{"share", printable(to_string(key))}};
    if (want_size(d.aux_error, "share aux", aux, 8))
      d.aux = {{"resource_id", fmt::format("{:#x}", load_le(aux, 0, 8))}};
  } else if (depth == 3 && data) {
    d.role = "CIFS inode";
    if (!want_size(d.error, "inode key", key, 8))
      return;
    d.label = fmt::format("uniqueid {:#x}", load_le(key, 0, 8));
    d.key = {{"uniqueid", fmt::format("{:#x}", load_le(key, 0, 8))}};
    if (!want_size(d.aux_error, "inode aux", aux, 32))
      return;
    d.aux = {
        {"last_write_time", timespec_text(std::int64_t(load_le(aux, 0, 8)),
                                          std::int64_t(load_le(aux, 16, 4)))},
        {"last_change_time", timespec_text(std::int64_t(load_le(aux, 8, 8)),
                                           std::int64_t(load_le(aux, 20, 4)))},
        num("eof", load_le(aux, 24, 8))};
  }
}

void decode_9p_v1(Decoded& d, int depth, bool data, ByteView key, ByteView aux)
{
  if (depth == 1) {
    d.role = "9P session";
    d.label = "cachetag " + printable(to_string(key));
    d.key = {{"cachetag", printable(to_string(key))}};
  } else if (depth == 2 && data) {
    d.role = "9P inode";
    if (!want_size(d.error, "inode key", key, 8))
      return;
    d.label = fmt::format("qid.path {:#x}", load_le(key, 0, 8));
    d.key = {{"qid_path", fmt::format("{:#x}", load_le(key, 0, 8))}};
    if (want_size(d.aux_error, "aux", aux, 4))
      d.aux = {{"qid_version", fmt::format("{:#x}", load_le(aux, 0, 4))}};
  }
}

void decode_ceph_v1(Decoded& d, int depth, bool data, ByteView key,
                    ByteView aux)
{
  if (depth == 1) {
    d.role = "Ceph fsid";
    if (key.size() < 16) {
      d.error =
          fmt::format("fsid key of {} bytes, want 16 or more", key.size());
      return;
    }
    d.label = "fsid " + uuid_text(key);
    d.key = {{"fsid", uuid_text(key)}};
    if (key.size() > 16)
      d.key.push_back({"uniquifier", printable(to_string(key.subspan(16)))});
  } else if (depth == 2 && data) {
    d.role = "Ceph inode";
    if (!want_size(d.error, "inode key", key, 16))
      return;
    auto ino = load_le(key, 0, 8), snap = load_le(key, 8, 8);
    d.label = fmt::format(
        "ino {:#x}{}", ino,
        snap == 0xfffffffffffffffe ? "" : fmt::format(" snap {:#x}", snap));
    d.key = {{"ino", fmt::format("{:#x}", ino)},
             {"snap", snap == 0xfffffffffffffffe ? "head (CEPH_NOSNAP)"
                                                 : fmt::format("{:#x}", snap)}};
    if (!want_size(d.aux_error, "aux", aux, 24))
      return;
    d.aux = {num("version", load_le(aux, 0, 8)),
             {"mtime", timespec_text(std::int64_t(load_le(aux, 8, 8)),
                                     std::int64_t(load_le(aux, 16, 8)))}};
    // 4.19 hands &ci->i_vino to relinquish as the aux: ino and snap where
    // version and mtime belong mark an object the next lookup discards.
    if (std::equal(key.begin(), key.end(), aux.begin()))
      d.aux.push_back({"note", "aux holds the inode key (4.19 relinquish "
                               "bug): stale, discarded at next lookup"});
  }
}

} // namespace fsc::netfs
