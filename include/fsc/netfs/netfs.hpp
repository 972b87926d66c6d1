// netfs.hpp - what each network filesystem puts in index keys and aux data:
// decoders to named fields and encoders to the kernel's exact bytes, for
// 4.19 ("v1") index trees and 6.1 ("v2") volumes. Layouts: ../shared/spec/
// v1-netfs.md and v2-ondisk.md §7. Integers are in the writing host's order;
// fsc assumes a little-endian host (x86-64, arm64), as every layout here.
#pragma once

#include <fsc/bytes.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fsc::netfs {

/// One decoded key or aux field. Counts, sizes, versions and ports carry
/// their number (JSON shows it as a number); identifiers, flags and handles
/// stay text (hex), so 64-bit values survive a reader's doubles.
struct Field {
  std::string name;
  std::string text;                    ///< as people read it
  std::optional<std::uint64_t> number; ///< set when the field is a quantity
};

/// A quantity field: text is the decimal number unless given.
Field num(std::string name, std::uint64_t v, std::string text = {});

/// One object's key and aux, decoded.
struct Decoded {
  std::string role;  ///< "NFS server", "AFS vnode", ... ("" when unknown)
  std::string label; ///< what the tree shows for this level
  std::vector<Field> key;
  std::vector<Field> aux;
  std::string error; ///< set when the key does not fit the expected layout
  /// Set when the aux does not fit the netfs's layout: its check_aux (4.19
  /// and 6.x alike) calls such an object obsolete at the next lookup.
  std::string aux_error;
};

/// A v1 object `depth` levels below cache/ (0: the netfs primary index, whose
/// key is the netfs name), in the tree of primary index `netfs`.
Decoded decode_v1(std::string_view netfs, int depth, bool data, ByteView key,
                  ByteView aux);

/// A v2 volume ("nfs,4.2,2,108,...") and its coherency bytes.
Decoded decode_v2_volume(std::string_view volume_key, ByteView coherency);

/// A v2 data object (cookie key, netfs aux) in the given volume.
Decoded decode_v2_object(std::string_view volume_key, ByteView key,
                         ByteView aux);

/// The netfs a v2 volume key belongs to: its text up to the first comma.
std::string_view volume_netfs(std::string_view volume_key);

// ---- NFS -------------------------------------------------------------------

/// struct nfs_server_key (4.19.114+: with minorversion and 2 pad bytes).
struct NfsServerKey {
  std::uint16_t version = 3;
  std::uint32_t minor = 0;
  std::uint16_t family = 2;  ///< AF_INET 2, AF_INET6 10
  std::uint16_t port = 2049; ///< host order here; stored big-endian
  Bytes address;             ///< 4 or 16 bytes, network order
  bool has_minor = true;     ///< false: the 4.19.0-4.19.113 layout
};
Bytes encode(const NfsServerKey& k);
std::optional<NfsServerKey> decode_nfs_server(ByteView key);

/// struct nfs_fscache_key.key (64-bit layout) + uniquifier.
struct NfsSuperKey {
  std::uint64_t s_flags = 0;
  std::uint64_t fsid_major = 0, fsid_minor = 0;
  std::uint32_t flags = 0;
  std::uint32_t rsize = 0, wsize = 0;
  std::uint32_t acregmin = 0, acregmax = 0, acdirmin = 0, acdirmax = 0;
  std::uint32_t flavor = 1;
  std::string uniq = std::string(1, '\0'); ///< no fsc=: one NUL byte
};
Bytes encode(const NfsSuperKey& k);
std::optional<NfsSuperKey> decode_nfs_super(ByteView key);

/// The role of an NFS file object (both formats).
inline constexpr std::string_view k_nfs_file_role = "NFS file";

/// struct nfs_fscache_inode_auxdata, 40 bytes (v1 and 6.1 alike).
struct NfsAux {
  std::int64_t mtime_sec = 0, mtime_nsec = 0;
  std::int64_t ctime_sec = 0, ctime_nsec = 0;
  std::uint64_t change_attr = 0; ///< NFSv4 only; 0 for v2/v3
  bool operator==(const NfsAux&) const = default;
};
Bytes encode(const NfsAux& a);
std::optional<NfsAux> decode_nfs_aux(ByteView aux);

/// The 6.1 volume key of a mount ("nfs,4.2,2,108,201a8c0,1234,,..."): the
/// server's and superblock's fields in hex, 0 as an empty field, port and
/// address as their network-order bytes read as host integers, and the
/// uniquifier only when fsc= gave one (v2-ondisk §7.1).
std::string encode_nfs_volume(const NfsServerKey& server,
                              const NfsSuperKey& super);

// ---- AFS -------------------------------------------------------------------

struct AfsVnodeKey {
  std::uint32_t vnode = 0, unique = 0;
};
Bytes encode(const AfsVnodeKey& k);
Bytes encode_afs_volume(std::uint32_t vid);
Bytes encode_afs_aux(std::uint64_t data_version);

/// 5.17+ AFS: the volume key "afs,<cell>,<vid hex>", and the vnode key and
/// aux with the 4.19 fields big-endian (v2-ondisk §7.2: recalled, not
/// verified on a kernel).
std::string encode_afs_volume_v2(std::string_view cell, std::uint32_t vid);
Bytes encode_afs_vnode_v2(const AfsVnodeKey& k);
Bytes encode_afs_aux_v2(std::uint64_t data_version);

/// Coherency verdict of a netfs check_aux (4.19 never says NEEDS_UPDATE).
enum class Coherency { okay, needs_update, obsolete };
const char* coherency_name(Coherency c);

/// 4.19 nfs_fscache_inode_check_aux: length 40 and all bytes equal.
Coherency check_nfs_aux(ByteView stored, const NfsAux& expected);

} // namespace fsc::netfs
