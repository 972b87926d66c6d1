// knfsd.hpp - the file handles a Linux NFS server (knfsd) gives out, which
// NFS clients use as the keys of cached data objects: version-1 struct
// knfsd_fh (fs/nfsd/nfsfh.h) = 4 header bytes, an fsid naming the export
// (mk_fsid, key_len) and a fileid written by the exporting filesystem's
// encode_fh (include/linux/exportfs.h). Layouts: ../shared/spec/
// v1-netfs.md §7. Words are in the server's order (little-endian assumed).
#pragma once

#include <fsc/bytes.hpp>

#include <tl/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fsc::netfs {

/// enum nfsd_fsid.
enum KnfsdFsidType : std::uint8_t {
  fsid_dev = 0,         ///< BE (major << 16 | minor), export root ino
  fsid_num = 1,         ///< fsid=N from /etc/exports
  fsid_major_minor = 2, ///< BE major, BE minor, export root ino
  fsid_encode_dev = 3,  ///< new_encode_dev(dev), export root ino
  fsid_uuid4_inum = 4,  ///< export root ino, uuid folded to 4 bytes
  fsid_uuid8 = 5,       ///< uuid folded to 8 bytes
  fsid_uuid16 = 6,      ///< uuid
  fsid_uuid16_inum = 7, ///< export root ino (u64), uuid
};

/// enum fid_type values fsc decodes to an inode and generation.
enum KnfsdFileidType : std::uint8_t {
  fileid_root = 0,             ///< the export root itself, no fileid bytes
  fileid_ino32_gen = 1,        ///< u32 ino, u32 gen
  fileid_ino32_gen_parent = 2, ///< + u32 parent ino, u32 parent gen
  fileid_xfs_ino64_gen = 0x81, ///< u32 ino lo, u32 ino hi, u32 gen (XFS)
  fileid_xfs_ino64_gen_parent = 0x82, ///< + parent ino lo, hi, gen
};

/// Bytes of the fsid of a type (key_len); 0 for a type knfsd does not know.
std::size_t knfsd_fsid_len(unsigned fsid_type);

/// "FSID_DEV", ... or "fsid type N".
std::string knfsd_fsid_type_name(unsigned fsid_type);

/// "FILEID_INO32_GEN", ... or "fileid type 0xNN".
std::string knfsd_fileid_type_name(unsigned fileid_type);

/// A version-1 knfsd handle split into its parts.
struct KnfsdFh {
  std::uint8_t fsid_type = 0;
  std::uint8_t fileid_type = 0;
  Bytes fsid;   ///< knfsd_fsid_len(fsid_type) bytes
  Bytes fileid; ///< the rest: what name_to_handle_at returns on the server
};

/// Splits a handle; the error says why it is not a version-1 knfsd handle.
tl::expected<KnfsdFh, std::string> decode_knfsd_fh(ByteView fh);

/// The handle's bytes (the inverse of decode_knfsd_fh).
Bytes encode(const KnfsdFh& fh);

/// The inode a fileid names, and its generation (and the parent's, when the
/// export uses subtree_check).
struct FileId {
  std::uint64_t ino = 0;
  std::uint32_t gen = 0;
  std::optional<std::uint64_t> parent_ino;
  std::optional<std::uint32_t> parent_gen;
  bool operator==(const FileId&) const = default;
};

/// Decodes a fileid of a type listed in KnfsdFileidType (exact length);
/// nullopt for other types (btrfs, udf, fat...) or a wrong length.
std::optional<FileId> decode_fileid(unsigned fileid_type, ByteView fileid);

/// The fileid bytes an exporting file system writes (the inverse of
/// decode_fileid): the 32-bit types keep the low 32 bits of the inodes, the
/// parent types an unset parent as 0; FILEID_ROOT has none.
Bytes encode_fileid(KnfsdFileidType type, const FileId& f);

/// What identifies an export directory in the fsids of its handles.
struct ExportIdentity {
  std::uint32_t dev_major = 0, dev_minor = 0; ///< of its filesystem
  std::uint64_t root_ino = 0;                 ///< of the exported directory
  std::optional<std::uint32_t> fsid_num;      ///< fsid=N, when known
  std::vector<Bytes> uuids;                   ///< 16-byte candidates
};

/// The fsid knfsd writes for this export with this fsid type (mk_fsid), one
/// per uuid candidate for the uuid types; empty when it cannot be derived
/// (FSID_NUM without fsid_num, a uuid type without uuids, unknown type).
std::vector<Bytes> make_knfsd_fsid(const ExportIdentity& id,
                                   unsigned fsid_type);

/// The fsid in words: "device 8:1, export inode 2", "fsid=7", "uuid ...".
std::string describe_knfsd_fsid(unsigned fsid_type, ByteView fsid);

/// Parses --fsid: a decimal number (fsid=N) or a UUID (32 hex digits,
/// dashes allowed) into id; false when it is neither.
bool parse_export_fsid(const std::string& text, ExportIdentity& id);

} // namespace fsc::netfs
