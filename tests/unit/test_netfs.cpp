// test_netfs.cpp - per-netfs key/aux codecs against the spec's worked
// examples and the bytes real 5.10 and 6.1 kernels wrote.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/netfs/describe.hpp>
#include <fsc/netfs/json.hpp>
#include <fsc/netfs/netfs.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <sstream>

using namespace fsc;
using namespace fsc::netfs;

namespace {

Bytes hex(const char* s)
{
  Bytes b;
  REQUIRE(from_hex(s, b));
  return b;
}

std::string field(const std::vector<Field>& fs, const std::string& name)
{
  for (auto& f : fs)
    if (f.name == name)
      return f.text;
  return "(absent)";
}

} // namespace

TEST_CASE("NFS server keys as a real 5.10 kernel wrote them", "[netfs][nfs]")
{
  NfsServerKey v3;
  v3.version = 3;
  v3.port = 0; // NFSv3 without port= stores 0
  v3.address = {127, 0, 0, 1};
  CHECK(encode(v3) == hex("0300 0000 00000000 0200 0000 7f000001"));
  NfsServerKey v42 = v3;
  v42.version = 4;
  v42.minor = 2;
  v42.port = 2049;
  CHECK(encode(v42) == hex("0400 0000 02000000 0200 0801 7f000001"));

  auto d = decode_v1("nfs", 1, false, encode(v42), {});
  CHECK(d.role == "NFS server");
  CHECK(d.label == "127.0.0.1:2049 (NFSv4.2)");
  d = decode_v1("nfs", 1, false, encode(v3), {});
  CHECK(d.label == "127.0.0.1 (NFSv3, port unset)");

  SECTION("the pre-4.19.114 layout and IPv6")
  {
    NfsServerKey old = v42;
    old.has_minor = false;
    old.minor = 0;
    CHECK(encode(old).size() == 10);
    auto back = decode_nfs_server(encode(old));
    REQUIRE(back);
    CHECK_FALSE(back->has_minor);
    NfsServerKey six = v42;
    six.family = 10;
    six.address = Bytes(16, 0);
    six.address[15] = 1;
    CHECK(decode_v1("nfs", 1, false, encode(six), {}).label ==
          "[::1]:2049 (NFSv4.2)");
  }
  SECTION("a key that fits no layout says so")
  {
    CHECK_FALSE(decode_v1("nfs", 1, false, hex("0300"), {}).error.empty());
  }
}

TEST_CASE("NFS superblock and aux round-trip", "[netfs][nfs]")
{
  NfsSuperKey k;
  k.fsid_major = 0xc3e681b4d60ff561;
  k.flags = 0x3002c0;
  k.rsize = k.wsize = 524288;
  k.acregmin = 750;
  k.acregmax = 15000;
  k.acdirmin = 7500;
  k.acdirmax = 15000;
  auto bytes = encode(k);
  CHECK(bytes.size() == 65); // no fsc=: one NUL byte of uniquifier
  auto back = decode_nfs_super(bytes);
  REQUIRE(back);
  CHECK(back->fsid_major == k.fsid_major);
  CHECK(back->acdirmin == 7500);
  CHECK(encode(*back) == bytes);
  k.uniq = "vm1";
  CHECK(encode(k).size() == 67);
  CHECK(decode_v1("nfs", 2, false, encode(k), {}).label.find("fsc=vm1") !=
        std::string::npos);

  NfsAux a{1700568800, 506172662, 1795563101, 900000000, 0};
  auto ab = encode(a);
  CHECK(ab.size() == 40);
  CHECK(decode_nfs_aux(ab) == a);
  CHECK(check_nfs_aux(ab, a) == Coherency::okay);
  NfsAux later = a;
  later.mtime_nsec += 1;
  CHECK(check_nfs_aux(ab, later) == Coherency::obsolete);
  CHECK(check_nfs_aux(Bytes(39, 0), a) == Coherency::obsolete);
}

TEST_CASE("AFS, CIFS, 9P and Ceph worked examples", "[netfs]")
{
  CHECK(decode_v1("afs", 1, false, as_bytes("example.com"), {}).label ==
        "cell example.com");
  CHECK(encode_afs_volume(0x20000001) == hex("01000020"));
  CHECK(decode_v1("afs", 2, false, hex("01000020"), {}).label ==
        "volume 0x20000001 (536870913)");
  AfsVnodeKey vn{42, 7};
  CHECK(encode(vn) == hex("2a000000 07000000 00000000 00000000"));
  auto d = decode_v1("afs", 3, true, encode(vn), encode_afs_aux(5));
  CHECK(d.label == "vnode 42 unique 7");
  CHECK(field(d.aux, "data_version") == "5");

  d = decode_v1("cifs", 1, false, hex("020001bdc0a80102"), {});
  CHECK(d.label == "192.168.1.2:445");
  d = decode_v1("cifs", 2, false, as_bytes("data"), hex("8000000000000000"));
  CHECK(field(d.aux, "resource_id") == "0x80");
  d = decode_v1("cifs", 3, true, hex("2e1f000000000000"),
                hex("0066ee5f00000000 6466ee5f00000000 0065cd1d 00000000 "
                    "0010000000000000"));
  CHECK(d.label == "uniqueid 0x1f2e");
  CHECK(field(d.aux, "eof") == "4096");
  CHECK(field(d.aux, "last_write_time").find("1609459200.500000000") !=
        std::string::npos);

  d = decode_v1("9p", 2, true, hex("4523010000000000"), hex("0066ee5f"));
  CHECK(d.label == "qid.path 0x12345");
  CHECK(field(d.aux, "qid_version") == "0x5fee6600");

  d = decode_v1("ceph", 1, false, hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"), {});
  CHECK(d.label == "fsid 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
  auto ino = hex("0100000000010000 feffffffffffffff");
  d = decode_v1("ceph", 2, true, ino,
                hex("0700000000000000 0066ee5f00000000 0065cd1d00000000"));
  CHECK(d.label == "ino 0x10000000001");
  CHECK(field(d.aux, "note") == "(absent)");
  Bytes buggy = ino;
  buggy.insert(buggy.end(), {1, 2, 3, 4, 0, 0, 0, 0});
  d = decode_v1("ceph", 2, true, ino, buggy);
  CHECK(field(d.aux, "note").find("relinquish bug") != std::string::npos);
}

TEST_CASE("6.1 NFS volume keys decode (raw network-order words)", "[netfs][v2]")
{
  auto d = decode_v2_volume("nfs,4.2,2,108,100007f,a98dc7a742f740bb,"
                            "aadd2d106390265b,,,80000,80000,2ee,3a98,1d4c,"
                            "3a98,1",
                            {});
  CHECK(d.error.empty());
  CHECK(d.label == "127.0.0.1:2049 (NFSv4.2)");
  CHECK(field(d.key, "fsid") == "a98dc7a742f740bb:aadd2d106390265b");
  CHECK(field(d.key, "rsize") == "524288");
  d = decode_v2_volume("nfs,3.0,2,,100007f,e0666721b7ea5003,,,3002c0,80000,"
                       "80000,2ee,3a98,1d4c,3a98,1",
                       {});
  CHECK(d.label == "127.0.0.1 (NFSv3.0, port unset)");
  CHECK(field(d.key, "mount_flags") == "0x3002c0");
  d = decode_v2_volume("nfs,4.2,2,108,100007f,,,,,80000,80000,2ee,3a98,1d4c,"
                       "3a98,1",
                       {});
  CHECK(d.label.find("pseudo-root") != std::string::npos);
  CHECK_FALSE(decode_v2_volume("nfs,4.2,2", {}).error.empty());
}

TEST_CASE("6.1 NFS volume keys encode as the spec's example and real kernels",
          "[netfs][v2]")
{
  NfsServerKey srv;
  srv.version = 3;
  srv.minor = 0;
  srv.port = 2049;
  srv.address = hex("c0a80102");
  NfsSuperKey sb;
  sb.fsid_major = 0x1234;
  sb.s_flags = 1;
  sb.flags = 0x4000;
  sb.rsize = sb.wsize = 0x100000;
  sb.acregmin = 3000;
  sb.acregmax = 60000;
  sb.acdirmin = 30000;
  sb.acdirmax = 60000;
  // v2-ondisk §9.1.
  CHECK(encode_nfs_volume(srv, sb) ==
        "nfs,3.0,2,108,201a8c0,1234,,1,4000,100000,100000,bb8,ea60,7530,"
        "ea60,1");
  // The real 6.1.176 machine's keys (NFSv3 mounts store no port).
  srv.address = hex("7f000001");
  srv.port = 0;
  sb = NfsSuperKey{};
  sb.fsid_major = 0xe0666721b7ea5003;
  sb.flags = 0x3002c0;
  sb.rsize = sb.wsize = 0x80000;
  sb.acregmin = 0x2ee;
  sb.acregmax = sb.acdirmax = 0x3a98;
  sb.acdirmin = 0x1d4c;
  CHECK(encode_nfs_volume(srv, sb) ==
        "nfs,3.0,2,,100007f,e0666721b7ea5003,,,3002c0,80000,80000,2ee,3a98,"
        "1d4c,3a98,1");
  srv.version = 4;
  srv.minor = 2;
  srv.port = 2049;
  sb.fsid_major = 0xa98dc7a742f740bb;
  sb.fsid_minor = 0xaadd2d106390265b;
  sb.flags = 0;
  const std::string v42 = encode_nfs_volume(srv, sb);
  CHECK(v42 == "nfs,4.2,2,108,100007f,a98dc7a742f740bb,aadd2d106390265b,,,"
               "80000,80000,2ee,3a98,1d4c,3a98,1");
  CHECK(decode_v2_volume(v42, {}).label == "127.0.0.1:2049 (NFSv4.2)");
  // fsc= appends its tag; an IPv6 server prints four address words.
  sb.uniq = "tag1";
  CHECK(encode_nfs_volume(srv, sb).ends_with(",3a98,1,tag1"));
  srv.family = 10;
  srv.address = hex("fe800000000000000000000000000001");
  sb.uniq = std::string(1, '\0');
  auto v6 = encode_nfs_volume(srv, sb);
  CHECK(v6.starts_with("nfs,4.2,a,108,80fe,,,1000000,a98dc7a742f740bb,"));
  CHECK(decode_v2_volume(v6, {}).label == "[fe80::1]:2049 (NFSv4.2)");
}

TEST_CASE("5.17+ AFS keys as the spec's worked example", "[netfs][v2]")
{
  // v2-ondisk §9.2: big-endian vnode words.
  CHECK(encode_afs_volume_v2("example.com", 0x20000001) ==
        "afs,example.com,20000001");
  CHECK(encode_afs_vnode_v2({42, 7}) ==
        hex("0000002a 00000007 00000000 00000000"));
  CHECK(encode_afs_aux_v2(5) == hex("0000000000000005"));
}

// Every data object of a real cache: its key is an origin file's handle and
// its aux holds that file's times, as the origin listing recorded them.
static void check_real(const char* fixture, const char* origin)
{
  test::TempDir t;
  auto root = test::extract_fixture(
      test::fixtures_dir() + "/" + fixture + "/cache.tar.xz", t.path());
  std::map<std::string, nlohmann::json> by_fh;
  auto listing = test::run_prog(
      {"xz", "-dc", test::fixtures_dir() + "/" + fixture + "/" + origin});
  std::istringstream in(listing.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("nfs_fh_hex") && j["nfs_fh_hex"].is_string())
      by_fh[j["nfs_fh_hex"]] = j;
  }
  REQUIRE(!by_fh.empty());
  auto cache = cachefiles::Cache::open(root);
  std::mutex mu;
  int matched = 0, data = 0;
  cachefiles::scan(cache, {}, [&](const cachefiles::ScanEntry& e, unsigned) {
    if (e.kind != cachefiles::EntryKind::data)
      return;
    std::lock_guard lock(mu);
    ++data;
    auto it = by_fh.find(to_hex(e.node->key));
    if (it == by_fh.end())
      return; // a file of the other mount (v4.2): not in this listing
    Bytes aux;
    if (cache.format() == cachefiles::Format::v2)
      aux = cachefiles::decode_xattr_v2(e.node->xattr)->aux;
    else
      aux = cachefiles::decode_xattr_v1(e.node->xattr)->aux;
    auto a = decode_nfs_aux(aux);
    REQUIRE(a);
    INFO(it->second["path"]);
    CHECK(a->mtime_sec * 1000000000 + a->mtime_nsec ==
          it->second["mtime_ns"].get<std::int64_t>());
    ++matched;
  });
  CHECK(data == 8);
  CHECK(matched >= 4);
}

TEST_CASE("real caches: keys are origin file handles, aux their mtimes",
          "[netfs][real]")
{
  check_real("real-5.10-smoke", "origin-client-v3.jsonl.xz");
  check_real("real-6.1-smoke", "origin-client-v3.jsonl.xz");
}

TEST_CASE("netfs: NFS aux times read as ISO time and seconds.nanoseconds",
          "[netfs]")
{
  auto le = [](fsc::Bytes& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      b.push_back(std::uint8_t(v >> (8 * i)));
  };
  fsc::Bytes aux;
  le(aux, 1757790643); // mtime
  le(aux, 5);
  le(aux, std::uint64_t(-1)); // ctime: one second before the epoch
  le(aux, 999999999);
  le(aux, 42); // change_attr
  auto d = fsc::netfs::decode_v1("nfs", 3, true, fsc::Bytes(8, 1), aux);
  std::map<std::string, std::string> text;
  for (auto& f : d.aux)
    text[f.name] = f.text;
  CHECK(text["mtime"] == "2025-09-13T19:10:43.000000005Z (1757790643.000000005)");
  CHECK(text["ctime"] == "1969-12-31T23:59:59.999999999Z (-1.999999999)");
  aux[8] = 0xff; // nanoseconds of mtime past 10^9
  aux[9] = 0xff;
  aux[10] = 0xff;
  aux[11] = 0xff;
  d = fsc::netfs::decode_v1("nfs", 3, true, fsc::Bytes(8, 1), aux);
  for (auto& f : d.aux)
    text[f.name] = f.text;
  CHECK(text["mtime"] == "1757790643.4294967295 (nanoseconds out of range)");
}

namespace {

Bytes to_bytes(std::string_view s)
{
  auto v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

std::string entry_json(const cachefiles::ScanEntry& e, bool via_describe)
{
  JsonWriter j(nullptr);
  j.begin_object();
  entry_fields(j, e, via_describe);
  j.end_object();
  return std::string(j.text());
}

std::shared_ptr<cachefiles::Node> make_node(cachefiles::EntryKind kind,
                                            Bytes key, Bytes xattr,
                                            std::shared_ptr<const cachefiles::Node> parent)
{
  auto n = std::make_shared<cachefiles::Node>();
  n->kind = kind;
  n->key = std::move(key);
  n->xattr = std::move(xattr);
  n->has_xattr = !n->xattr.empty();
  n->parent = std::move(parent);
  n->level = n->parent ? n->parent->level + 1 : 0;
  return n;
}

Bytes nfs_aux(std::int64_t mtime_s, std::int64_t mtime_ns, std::uint64_t change)
{
  return encode(NfsAux{mtime_s, mtime_ns, mtime_s + 1, 7, change});
}

} // namespace

// entry_fields() writes an NFS file straight from its bytes; the same
// object through describe() must give the same text, byte for byte.
TEST_CASE("NFS files: the direct JSON equals describe()'s", "[netfs][json]")
{
  using cachefiles::EntryKind;
  int compared = 0;
  auto same = [&](const cachefiles::ScanEntry& e) {
    INFO(e.path);
    CHECK(entry_json(e, false) == entry_json(e, true));
    ++compared;
  };
  // Real caches of both formats.
  for (const char* fx : {"real-5.10-smoke", "real-6.1-smoke", "real-6.12-smoke"}) {
    test::TempDir t;
    auto root = test::extract_fixture(
        test::fixtures_dir() + "/" + fx + "/cache.tar.xz", t.path());
    auto cache = cachefiles::Cache::open(root);
    cachefiles::ScanOptions so;
    so.ordered = true;
    int files = 0;
    cachefiles::scan(cache, so, [&](const cachefiles::ScanEntry& e, unsigned) {
      same(e);
      if (e.node && nfs_file(*e.node))
        ++files;
    });
    CHECK(files >= 4);
  }
  // Made ones: odd times, every v2 content byte, a short aux (no fast
  // path), another netfs.
  auto top = make_node(EntryKind::index, {'n', 'f', 's'}, {}, nullptr);
  auto srv = make_node(EntryKind::index, Bytes(24, 1), {}, top);
  auto sb = make_node(EntryKind::index, Bytes(97, 2), {}, srv);
  auto vol = make_node(EntryKind::volume, to_bytes("nfs,4.2,2,108,201a8c0,1234,,"),
                       {}, nullptr);
  auto afs = make_node(EntryKind::volume, to_bytes("afs,example.org,2000000"), {},
                       nullptr);
  std::vector<Bytes> auxes = {nfs_aux(1757790643, 5, 0),
                              nfs_aux(-1, 999999999, 42),
                              nfs_aux(5, 1000000000, ~0ull),
                              nfs_aux(253402300800, 0, 1), // year 10000
                              Bytes(39, 0)};
  for (auto& aux : auxes) {
    cachefiles::ScanEntry e;
    e.kind = EntryKind::data;
    e.path = "cache/x";
    e.node = make_node(EntryKind::data, Bytes(28, 0xab),
                       cachefiles::encode_xattr_v1(1, aux), sb);
    same(e);
    for (std::uint8_t content = 0; content < 6; ++content) {
      cachefiles::XattrV2 x{1ull << 40, 4096, 1, content, aux};
      e.node = make_node(EntryKind::data, Bytes(28, 0xcd),
                         cachefiles::encode_xattr_v2(x), vol);
      same(e);
      e.node = make_node(EntryKind::data, Bytes(8, 0xef),
                         cachefiles::encode_xattr_v2(x), afs);
      same(e);
    }
  }
  CHECK(compared > 60);
}
