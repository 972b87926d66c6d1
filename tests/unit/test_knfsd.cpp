// test_knfsd.cpp - knfsd file handles: split into fsid and fileid, fsids an
// export would carry, fileids decoded to inode and generation.
#include <catch2/catch.hpp>

#include <fsc/netfs/knfsd.hpp>

using namespace fsc;
using namespace fsc::netfs;

namespace {

Bytes hex(const char* s)
{
  Bytes b;
  REQUIRE(from_hex(s, b));
  return b;
}

} // namespace

TEST_CASE("knfsd: a real 5.10 server's handle (ext4, subdirectory export)",
          "[knfsd]")
{
  // The NFS handle inside the real 5.10 client's f_handle (test_verify):
  // FSID_UUID16_INUM, FILEID_INO32_GEN; the client saw fileid 0x3d3b.
  auto fh = decode_knfsd_fh(hex("01000701"
                                "5902000000000000"
                                "d9ae72024b11456eb85b7dd4ff90a3ad"
                                "3b3d0000"
                                "4af8b50b"));
  REQUIRE(fh);
  CHECK(fh->fsid_type == fsid_uuid16_inum);
  CHECK(fh->fileid_type == fileid_ino32_gen);
  CHECK(fh->fsid.size() == 24);
  CHECK(describe_knfsd_fsid(fh->fsid_type, fh->fsid) ==
        "export inode 601, uuid d9ae72024b11456eb85b7dd4ff90a3ad");
  auto f = decode_fileid(fh->fileid_type, fh->fileid);
  REQUIRE(f);
  CHECK(f->ino == 0x3d3b);
  CHECK(f->gen == 0x0bb5f84a);
  CHECK_FALSE(f->parent_ino);
  CHECK(to_hex(encode(*fh)) == "01000701"
                               "5902000000000000"
                               "d9ae72024b11456eb85b7dd4ff90a3ad"
                               "3b3d0000"
                               "4af8b50b");

  ExportIdentity id;
  id.root_ino = 601;
  id.uuids.push_back(hex("d9ae72024b11456eb85b7dd4ff90a3ad"));
  auto want = make_knfsd_fsid(id, fsid_uuid16_inum);
  REQUIRE(want.size() == 1);
  CHECK(want[0] == fh->fsid);
}

TEST_CASE("knfsd: fsid lengths and what each names", "[knfsd]")
{
  CHECK(knfsd_fsid_len(fsid_dev) == 8);
  CHECK(knfsd_fsid_len(fsid_num) == 4);
  CHECK(knfsd_fsid_len(fsid_major_minor) == 12);
  CHECK(knfsd_fsid_len(fsid_encode_dev) == 8);
  CHECK(knfsd_fsid_len(fsid_uuid4_inum) == 8);
  CHECK(knfsd_fsid_len(fsid_uuid8) == 8);
  CHECK(knfsd_fsid_len(fsid_uuid16) == 16);
  CHECK(knfsd_fsid_len(fsid_uuid16_inum) == 24);
  CHECK(knfsd_fsid_len(8) == 0);

  ExportIdentity id;
  id.dev_major = 259;
  id.dev_minor = 300;        // > 255: new_encode_dev spreads it
  id.root_ino = 0x100000002; // only 32 bits fit the short forms
  id.fsid_num = 7;
  id.uuids.push_back(hex("d9ae72024b11456eb85b7dd4ff90a3ad"));
  auto one = [&](unsigned t) {
    auto v = make_knfsd_fsid(id, t);
    REQUIRE(v.size() == 1);
    CHECK(v[0].size() == knfsd_fsid_len(t));
    return to_hex(v[0]);
  };
  // BE((259 << 16) | 300), LE ino32.
  CHECK(one(fsid_dev) == "0103012c"
                         "02000000");
  CHECK(one(fsid_num) == "07000000");
  CHECK(one(fsid_major_minor) == "00000103"
                                 "0000012c"
                                 "02000000");
  // (minor & 0xff) | major << 8 | (minor & ~0xff) << 12 = 0x11032c.
  CHECK(one(fsid_encode_dev) == "2c031100"
                                "02000000");
  // The uuid's four words XORed; its halves XORed.
  CHECK(one(fsid_uuid4_inum) == "02000000"
                                "d574e915");
  CHECK(one(fsid_uuid8) == "61f50fd6b481e6c3");
  CHECK(one(fsid_uuid16) == "d9ae72024b11456eb85b7dd4ff90a3ad");
  CHECK(one(fsid_uuid16_inum) == "0200000001000000"
                                 "d9ae72024b11456eb85b7dd4ff90a3ad");

  CHECK(describe_knfsd_fsid(fsid_dev, hex("0103012c02000000")) ==
        "device 259:300, export inode 2");
  CHECK(describe_knfsd_fsid(fsid_encode_dev, hex("2c03110002000000")) ==
        "device 259:300, export inode 2");
  CHECK(
      describe_knfsd_fsid(fsid_major_minor, hex("000001030000012c02000000")) ==
      "device 259:300, export inode 2");
  CHECK(describe_knfsd_fsid(fsid_num, hex("07000000")) == "fsid=7");

  // Nothing to derive from: no fsid= and no uuid known.
  ExportIdentity bare;
  CHECK(make_knfsd_fsid(bare, fsid_num).empty());
  CHECK(make_knfsd_fsid(bare, fsid_uuid16).empty());
  CHECK(make_knfsd_fsid(bare, 9).empty());
}

TEST_CASE("knfsd: fileid types", "[knfsd]")
{
  auto f = decode_fileid(fileid_ino32_gen_parent, hex("0c000000"
                                                      "78563412"
                                                      "02000000"
                                                      "01000000"));
  REQUIRE(f);
  CHECK(*f == FileId{12, 0x12345678, 2, 1});
  // XFS with 64-bit inode numbers: lo, hi, gen (fs/xfs/xfs_export.h).
  f = decode_fileid(fileid_xfs_ino64_gen, hex("05000000"
                                              "01000000"
                                              "09000000"));
  REQUIRE(f);
  CHECK(f->ino == 0x100000005);
  CHECK(f->gen == 9);
  f = decode_fileid(fileid_xfs_ino64_gen_parent, hex("05000000"
                                                     "01000000"
                                                     "09000000"
                                                     "80000000"
                                                     "00000000"
                                                     "01000000"));
  REQUIRE(f);
  CHECK(f->parent_ino == 0x80u);
  CHECK(f->parent_gen == 1u);
  // Wrong lengths and types fsc does not decode.
  CHECK_FALSE(decode_fileid(fileid_ino32_gen, hex("0c000000")));
  CHECK_FALSE(
      decode_fileid(fileid_ino32_gen, hex("0c000000780000000000000000")));
  CHECK_FALSE(decode_fileid(0x4d, Bytes(20, 1)));
  CHECK(knfsd_fileid_type_name(0x4d) == "FILEID_BTRFS_WITHOUT_PARENT");
  CHECK(knfsd_fileid_type_name(0x97) == "fileid type 0x97");
}

TEST_CASE("knfsd: fileids encoded as the exporting file systems write them",
          "[knfsd]")
{
  // The real 5.10 server's ext4 fileid, and the vectors decoded above.
  CHECK(encode_fileid(fileid_ino32_gen, {0x3d3b, 0x0bb5f84a}) ==
        hex("3b3d0000"
            "4af8b50b"));
  CHECK(encode_fileid(fileid_ino32_gen_parent, {12, 0x12345678, 2, 1}) ==
        hex("0c000000"
            "78563412"
            "02000000"
            "01000000"));
  CHECK(encode_fileid(fileid_xfs_ino64_gen, {0x100000005, 9}) ==
        hex("05000000"
            "01000000"
            "09000000"));
  FileId xfs{0x100000005, 9, 0x80, 1};
  const Bytes b = encode_fileid(fileid_xfs_ino64_gen_parent, xfs);
  CHECK(b == hex("05000000"
                 "01000000"
                 "09000000"
                 "80000000"
                 "00000000"
                 "01000000"));
  CHECK(decode_fileid(fileid_xfs_ino64_gen_parent, b) == xfs);
  // No parent given: zeros, as a fileid written without one would not be.
  CHECK(encode_fileid(fileid_ino32_gen_parent, {12, 3}) == hex("0c000000"
                                                               "03000000"
                                                               "00000000"
                                                               "00000000"));
  // A 32-bit type keeps the low word of a 64-bit inode.
  CHECK(encode_fileid(fileid_ino32_gen, {0x100000005, 9}) == hex("05000000"
                                                                 "09000000"));
  CHECK(encode_fileid(fileid_root, {2, 0}).empty());
}

TEST_CASE("knfsd: handles that are not version-1 knfsd handles", "[knfsd]")
{
  auto why = [](const char* h) {
    auto r = decode_knfsd_fh(hex(h));
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK(why("0100") == "2 bytes: too short");
  CHECK(why("02000101") == "version 0x02, not 1");
  CHECK(why("01010101") == "auth type 1, not 0");
  CHECK(why("0100090100000000") == "unknown fsid type 9");
  CHECK(why("01000601"
            "00112233") == "8 bytes: too short for FSID_UUID16 (16 bytes)");
  CHECK(why("01000101"
            "07000000"
            "0c0000") == "11 bytes: not a whole number of words");
  CHECK(why("01000100"
            "07000000"
            "0c000000") == "FILEID_ROOT with fileid bytes");
  Bytes old(32, 0);
  old[0] = 0xca;
  auto r = decode_knfsd_fh(old);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("version-0") != std::string::npos);
  // The export root: FILEID_ROOT, no fileid.
  auto root = decode_knfsd_fh(hex("01000100"
                                  "07000000"));
  REQUIRE(root);
  CHECK(root->fileid.empty());
}

TEST_CASE("knfsd: --fsid takes fsid=N or a UUID", "[knfsd]")
{
  ExportIdentity id;
  CHECK(parse_export_fsid("0", id));
  CHECK(id.fsid_num == 0u);
  CHECK(parse_export_fsid("4294967295", id));
  CHECK(id.fsid_num == 0xffffffffu);
  CHECK_FALSE(parse_export_fsid("4294967296", id));
  CHECK(parse_export_fsid("d9ae7202-4b11-456e-b85b-7dd4ff90a3ad", id));
  REQUIRE(id.uuids.size() == 1);
  CHECK(to_hex(id.uuids[0]) == "d9ae72024b11456eb85b7dd4ff90a3ad");
  CHECK_FALSE(parse_export_fsid("root", id));
  CHECK_FALSE(parse_export_fsid("d9ae7202", id));
  CHECK_FALSE(parse_export_fsid("", id));
}
