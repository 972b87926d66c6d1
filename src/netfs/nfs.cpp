// nfs.cpp - NFS index keys and aux (v1-netfs.md §2, v2-ondisk.md §7.1).
#include <fsc/netfs/netfs.hpp>

#include "common.hpp"

#include <fmt/format.h>

namespace fsc::netfs {

Bytes encode(const NfsServerKey& k)
{
  Bytes out;
  store_le(out, k.version, 2);
  if (k.has_minor) {
    store_le(out, 0, 2); // the inner hdr struct keeps its alignment
    store_le(out, k.minor, 4);
  }
  store_le(out, k.family, 2);
  store_be(out, k.port, 2);
  out.insert(out.end(), k.address.begin(), k.address.end());
  return out;
}

std::optional<NfsServerKey> decode_nfs_server(ByteView key)
{
  // 16/28 bytes: 4.19.114+ with minorversion; 10/22: the older layout.
  NfsServerKey k;
  std::size_t off = 2;
  if (key.size() == 16 || key.size() == 28) {
    k.minor = std::uint32_t(load_le(key, 4, 4));
    off = 8;
  } else if (key.size() == 10 || key.size() == 22) {
    k.has_minor = false;
  } else {
    return std::nullopt;
  }
  k.version = std::uint16_t(load_le(key, 0, 2));
  k.family = std::uint16_t(load_le(key, off, 2));
  k.port = std::uint16_t(load_be(key, off + 2, 2));
  k.address.assign(key.begin() + long(off) + 4, key.end());
  const bool v4 = k.family == 2 && k.address.size() == 4;
  const bool v6 = k.family == 10 && k.address.size() == 16;
  if (!v4 && !v6)
    return std::nullopt;
  return k;
}

Bytes encode(const NfsSuperKey& k)
{
  Bytes out;
  store_le(out, k.s_flags, 8);
  store_le(out, k.fsid_major, 8);
  store_le(out, k.fsid_minor, 8);
  for (auto v : {k.flags, k.rsize, k.wsize, k.acregmin, k.acregmax, k.acdirmin,
                 k.acdirmax})
    store_le(out, v, 4);
  store_le(out, 0, 4); // padding before the auth flavor
  store_le(out, k.flavor, 4);
  out.push_back(std::uint8_t(k.uniq.size()));
  out.insert(out.end(), k.uniq.begin(), k.uniq.end());
  store_le(out, 0, 3); // struct tail
  return out;
}

std::optional<NfsSuperKey> decode_nfs_super(ByteView key)
{
  if (key.size() < 65)
    return std::nullopt;
  NfsSuperKey k;
  k.s_flags = load_le(key, 0, 8);
  k.fsid_major = load_le(key, 8, 8);
  k.fsid_minor = load_le(key, 16, 8);
  std::uint32_t* u32[] = {&k.flags,    &k.rsize,    &k.wsize,   &k.acregmin,
                          &k.acregmax, &k.acdirmin, &k.acdirmax};
  for (std::size_t i = 0; i < 7; ++i)
    *u32[i] = std::uint32_t(load_le(key, 24 + 4 * i, 4));
  k.flavor = std::uint32_t(load_le(key, 56, 4));
  std::size_t ulen = key[60];
  if (key.size() != 64 + ulen)
    return std::nullopt;
  k.uniq = to_string(key.subspan(61, ulen));
  return k;
}

Bytes encode(const NfsAux& a)
{
  Bytes out;
  for (std::int64_t v : {a.mtime_sec, a.mtime_nsec, a.ctime_sec, a.ctime_nsec})
    store_le(out, std::uint64_t(v), 8);
  store_le(out, a.change_attr, 8);
  return out;
}

std::optional<NfsAux> decode_nfs_aux(ByteView aux)
{
  if (aux.size() != 40)
    return std::nullopt;
  NfsAux a;
  a.mtime_sec = std::int64_t(load_le(aux, 0, 8));
  a.mtime_nsec = std::int64_t(load_le(aux, 8, 8));
  a.ctime_sec = std::int64_t(load_le(aux, 16, 8));
  a.ctime_nsec = std::int64_t(load_le(aux, 24, 8));
  a.change_attr = load_le(aux, 32, 8);
  return a;
}

namespace {

// nfs_append_int: ",%llx", or a bare "," for 0.
void append_int(std::string& key, std::uint64_t v)
{
  key += v ? fmt::format(",{:x}", v) : ",";
}

} // namespace

std::string encode_nfs_volume(const NfsServerKey& server,
                              const NfsSuperKey& super)
{
  std::string key = fmt::format("nfs,{}.{},{:x}", server.version, server.minor,
                                server.family);
  // The port and address words are their network-order bytes read as host
  // (little-endian) integers: port 2049 prints as 108.
  append_int(key, std::uint16_t(server.port >> 8 | server.port << 8));
  for (std::size_t i = 0; i + 4 <= server.address.size(); i += 4)
    append_int(key, load_le(server.address, i, 4));
  for (std::uint64_t v :
       {super.fsid_major, super.fsid_minor, super.s_flags,
        std::uint64_t(super.flags), std::uint64_t(super.rsize),
        std::uint64_t(super.wsize), std::uint64_t(super.acregmin),
        std::uint64_t(super.acregmax), std::uint64_t(super.acdirmin),
        std::uint64_t(super.acdirmax), std::uint64_t(super.flavor)})
    append_int(key, v);
  // A v1 key's uniquifier is one NUL byte when fsc= gave none; 6.1 then
  // appends nothing.
  if (!super.uniq.empty() && super.uniq != std::string(1, '\0'))
    key += "," + super.uniq;
  return key;
}

Coherency check_nfs_aux(ByteView stored, const NfsAux& expected)
{
  auto a = decode_nfs_aux(stored);
  return a && *a == expected ? Coherency::okay : Coherency::obsolete;
}

namespace {

std::string server_label(const NfsServerKey& k)
{
  std::string addr = address_text(k.family, k.address);
  std::string where = k.family == 10 ? "[" + addr + "]" : addr;
  std::string vers = k.version == 4 && k.has_minor
                         ? fmt::format("v4.{}", k.minor)
                         : fmt::format("v{}", k.version);
  if (k.port == 0) // NFSv3 mounts without port= store 0
    return fmt::format("{} (NFS{}, port unset)", where, vers);
  return fmt::format("{}:{} (NFS{})", where, k.port, vers);
}

std::string jiffies(std::uint32_t j)
{
  // CONFIG_HZ is not in the key; 250 is Debian's and RHEL's is 1000.
  return fmt::format("{} jiffies ({} s at HZ=250, {} s at HZ=1000)", j,
                     j / 250.0, j / 1000.0);
}

Field jiffies_field(const char* name, std::uint64_t j)
{
  return num(name, j, jiffies(std::uint32_t(j)));
}

void super_fields(Decoded& d, const NfsSuperKey& k)
{
  d.key = {{"s_flags", fmt::format("{:#x}", k.s_flags)},
           {"fsid", fmt::format("{:x}:{:x}", k.fsid_major, k.fsid_minor)},
           {"mount_flags", fmt::format("{:#x}", k.flags)},
           num("rsize", k.rsize),
           num("wsize", k.wsize),
           num("acregmin", k.acregmin, jiffies(k.acregmin)),
           num("acregmax", k.acregmax, jiffies(k.acregmax)),
           num("acdirmin", k.acdirmin, jiffies(k.acdirmin)),
           num("acdirmax", k.acdirmax, jiffies(k.acdirmax)),
           num("auth_flavor", k.flavor),
           {"uniquifier", k.uniq == std::string(1, '\0')
                              ? "(none)"
                              : "\"" + printable(k.uniq) + "\""}};
  d.label = fmt::format("fsid {:x}:{:x} rsize {} wsize {}", k.fsid_major,
                        k.fsid_minor, k.rsize, k.wsize);
  if (k.uniq != std::string(1, '\0'))
    d.label += " fsc=" + printable(k.uniq);
}

} // namespace

void nfs_aux_fields(Decoded& d, ByteView aux)
{
  auto a = decode_nfs_aux(aux);
  if (!a) {
    d.aux_error = fmt::format("aux of {} bytes, not the 40 of "
                              "nfs_fscache_inode_auxdata",
                              aux.size());
    return;
  }
  // Moved in, not copied from a list: once per object of a scan.
  d.aux.clear();
  d.aux.reserve(3);
  d.aux.push_back({"mtime", timespec_text(a->mtime_sec, a->mtime_nsec), {}});
  d.aux.push_back({"ctime", timespec_text(a->ctime_sec, a->ctime_nsec), {}});
  d.aux.push_back(num("change_attr", a->change_attr,
                      a->change_attr ? "" : "0 (NFSv2/v3)"));
}

void decode_nfs_v1(Decoded& d, int depth, bool data, ByteView key, ByteView aux)
{
  if (depth == 1) {
    d.role = "NFS server";
    auto k = decode_nfs_server(key);
    if (!k) {
      d.error = fmt::format("server key of {} bytes fits no nfs_server_key",
                            key.size());
      return;
    }
    d.label = server_label(*k);
    d.key = {num("nfsversion", k->version),
             k->has_minor ? num("minorversion", k->minor)
                          : Field{"minorversion", "(pre-4.19.114 layout)", {}},
             {"family", k->family == 2 ? "AF_INET" : "AF_INET6"},
             num("port", k->port),
             {"address", address_text(k->family, k->address)}};
  } else if (depth == 2) {
    d.role = "NFS superblock";
    // 4.19.0-4.19.123 keyed by the whole struct, with 32 bytes of kernel
    // pointers first: such an index is never found again after a remount.
    bool stale_layout = key.size() >= 97 && !decode_nfs_super(key);
    auto k = decode_nfs_super(stale_layout ? key.subspan(32) : key);
    if (!k) {
      d.error = fmt::format("superblock key of {} bytes fits no "
                            "nfs_fscache_key",
                            key.size());
      return;
    }
    super_fields(d, *k);
    if (stale_layout)
      d.key.push_back({"note", "pre-4.19.124 key with kernel pointers: "
                               "unreachable after a remount"});
  } else if (depth == 3 && data) {
    d.role = k_nfs_file_role;
    std::string hex = to_hex(key);
    d.label.reserve(3 + hex.size());
    d.label = "fh ";
    d.label += hex;
    d.key.clear();
    d.key.reserve(2);
    d.key.push_back({"file_handle", std::move(hex), {}});
    d.key.push_back(num("fh_bytes", key.size()));
    nfs_aux_fields(d, aux);
  }
}

void decode_nfs_volume(Decoded& d, std::string_view vkey)
{
  // nfs,<vers>.<minor>,<family>,<port>,<addr...>,<fsid.major>,<fsid.minor>,
  // <s_flags>,<flags>,<rsize>,<wsize>,<acregmin>,<acregmax>,<acdirmin>,
  // <acdirmax>,<flavor>[,<uniq>] with 0 printed as an empty field and port
  // and address as raw network-order words read as host integers.
  auto f = split_commas(vkey);
  d.role = "NFS volume";
  if (f.size() < 16) {
    d.error =
        fmt::format("NFS volume key has {} fields, want at least 16", f.size());
    return;
  }
  const bool v6 = f[2] == "a";
  const std::size_t nwords = v6 ? 4 : 1;
  if (f.size() < 15 + nwords) {
    d.error = "NFS volume key too short for an IPv6 address";
    return;
  }
  auto hexv = [](const std::string& s) {
    return s.empty() ? 0 : std::stoull(s, nullptr, 16);
  };
  try {
    Bytes addr;
    for (std::size_t i = 0; i < nwords; ++i)
      store_le(addr, hexv(f[4 + i]), 4); // raw be32 words, LE host
    std::uint16_t raw_port = std::uint16_t(hexv(f[3]));
    std::uint16_t port = std::uint16_t((raw_port >> 8) | (raw_port << 8));
    std::size_t at = 4 + nwords;
    std::string where = address_text(v6 ? 10 : 2, addr);
    d.label = port ? fmt::format("{}:{} (NFSv{})",
                                 v6 ? "[" + where + "]" : where, port, f[1])
                   : fmt::format("{} (NFSv{}, port unset)", where, f[1]);
    d.key = {{"version", f[1]},
             {"family", v6 ? "AF_INET6" : "AF_INET"},
             num("port", port),
             {"address", where},
             {"fsid", fmt::format("{:x}:{:x}", hexv(f[at]), hexv(f[at + 1]))},
             {"s_flags", fmt::format("{:#x}", hexv(f[at + 2]))},
             {"mount_flags", fmt::format("{:#x}", hexv(f[at + 3]))},
             num("rsize", hexv(f[at + 4])),
             num("wsize", hexv(f[at + 5])),
             jiffies_field("acregmin", hexv(f[at + 6])),
             jiffies_field("acregmax", hexv(f[at + 7])),
             jiffies_field("acdirmin", hexv(f[at + 8])),
             jiffies_field("acdirmax", hexv(f[at + 9])),
             num("auth_flavor", hexv(f[at + 10]))};
    if (f.size() > at + 11)
      d.key.push_back({"uniquifier", printable(f[at + 11])});
    if (hexv(f[at]) == 0 && hexv(f[at + 1]) == 0)
      d.label += " (no fsid: NFSv4 pseudo-root)";
  } catch (const std::exception&) {
    d.error = "NFS volume key has a field that is not hex";
  }
}

} // namespace fsc::netfs
