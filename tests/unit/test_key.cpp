// test_key.cpp - key cooking both ways, on the specs' worked examples, the
// kernel documentation's names and names a real kernel wrote.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/key.hpp>

#include <random>

using namespace fsc;
using namespace fsc::cachefiles;

static Bytes hex(const char* s)
{
  Bytes b;
  REQUIRE(from_hex(s, b));
  return b;
}

TEST_CASE("v1: the NFS primary index is @4a/I03nfs", "[key][v1]")
{
  auto c = cook_v1(as_bytes("nfs"), k_type_index);
  CHECK(c.fanout == "@4a");
  CHECK(c.name == "I03nfs");
  auto d = decode_name_v1("I03nfs");
  REQUIRE(d);
  CHECK(to_string(d->key) == "nfs");
  CHECK(d->type == k_type_index);
  CHECK_FALSE(d->encoded);
}

TEST_CASE("v1: other primary indices (computed fan-outs)", "[key][v1]")
{
  CHECK(cook_v1(as_bytes("afs"), 0).fanout == "@3d");
  CHECK(cook_v1(as_bytes("cifs"), 0).fanout == "@a9");
  CHECK(cook_v1(as_bytes("9p"), 0).fanout == "@ab");
  CHECK(cook_v1(as_bytes("ceph"), 0).fanout == "@a4");
}

TEST_CASE("v1: example 2, NFSv3 server index 192.168.1.2:2049", "[key][v1]")
{
  Bytes key = hex("0300 0000 00000000 0200 0801 c0a80102");
  auto c = cook_v1(key, k_type_index);
  CHECK(c.fanout == "@89");
  CHECK(c.name == "Jg0M0000000000800840ME6w0");
  auto d = decode_name_v1(c.name);
  REQUIRE(d);
  CHECK(d->key == key);
  CHECK(d->encoded);
  CHECK_FALSE(d->big_endian);
}

TEST_CASE("v1: names a real 5.10 kernel wrote", "[key][v1][real]")
{
  // NFSv3 and NFSv4.2 server indices of 127.0.0.1 (real-5.10-smoke).
  auto v3 = decode_name_v1("Jg0M000000000080000Mv00g0");
  REQUIRE(v3);
  CHECK(v3->key == hex("03000000000000000200 0000 7f000001"));
  CHECK(fanout_name(checksum_v1(v3->key)) == "@95");
  auto v4 = decode_name_v1("Jg00100002000080084Mv00g0");
  REQUIRE(v4);
  CHECK(v4->key == hex("0400000002000000 0200 0801 7f000001"));
  CHECK(fanout_name(checksum_v1(v4->key)) == "@a1");
  CHECK(cook_v1(v4->key, k_type_index).name == "Jg00100002000080084Mv00g0");
}

TEST_CASE("v1: example 3, a 20-byte file handle", "[key][v1]")
{
  Bytes key = hex("01000600112233445566778899aabbcc00000001");
  auto c = cook_v1(key, k_type_data);
  CHECK(c.fanout == "@4a");
  CHECK(c.name == "Ek0g00o00h8Oc4lBpTxoCGKbP00001000");
  auto d = decode_name_v1(c.name);
  REQUIRE(d);
  CHECK(d->key == key);
  CHECK(d->type == k_type_data);
}

TEST_CASE("v1: example 4, printable key with a two-digit length", "[key][v1]")
{
  std::string key(70, 'A');
  auto c = cook_v1(as_bytes(key), k_type_data);
  CHECK(c.fanout == "@0c");
  CHECK(c.name == "D16" + key);
  auto d = decode_name_v1(c.name);
  REQUIRE(d);
  CHECK(to_string(d->key) == key);
}

TEST_CASE("v1: the kernel documentation's examples decode", "[key][v1]")
{
  auto a = decode_name_v1("Ji000000000000000--fHg8hi8400");
  REQUIRE(a);
  CHECK(a->key.size() == 18);
  CHECK(a->key == hex("00000000000000000000ffffac1012490801"));
  CHECK(fanout_name(checksum_v1(a->key)) == "@30");
  auto b = decode_name_v1("Jo00000008400000000000000000000000400");
  REQUIRE(b);
  CHECK(b->key.size() == 24);
  CHECK(fanout_name(checksum_v1(b->key)) == "@22");
}

TEST_CASE("v1: malformed names say why", "[key][v1]")
{
  CHECK_FALSE(decode_name_v1(""));
  CHECK_FALSE(decode_name_v1("Xabc"));
  CHECK_FALSE(decode_name_v1("I04nfs"));       // length chars say 4
  CHECK_FALSE(decode_name_v1("Jg0M000"));      // not 1 + 4n
  CHECK_FALSE(decode_name_v1("Jg0M0000000!")); // not in the map
  CHECK_FALSE(decode_name_v1("I03n\x01s"));    // escaped byte in plain form
  auto e = decode_name_v1("I04nfs");
  CHECK(e.error().find("length") != std::string::npos);
}

TEST_CASE("v1: big-endian length prefixes are recognised", "[key][v1]")
{
  Bytes key = hex("0300000000000000 0200 0801 c0a80102");
  auto be = cook_v1(key, k_type_index, true);
  auto le = cook_v1(key, k_type_index, false);
  CHECK(be.fanout == le.fanout);
  CHECK(be.name != le.name);
  auto d = decode_name_v1(be.name);
  REQUIRE(d);
  CHECK(d->big_endian);
  CHECK(d->key == key);
}

TEST_CASE("v1 and v2: random keys round-trip", "[key]")
{
  std::mt19937 rng(1234);
  int failures = 0;
  for (int i = 0; i < 5000 && failures < 5; ++i) {
    std::size_t len = 1 + rng() % 180;
    Bytes key(len);
    bool printable = rng() % 4 == 0;
    for (auto& b : key)
      b = std::uint8_t(printable ? 0x30 + rng() % 0x4f : rng() % 256);
    std::uint8_t type = std::uint8_t(rng() % 3);
    auto c = cook_v1(key, type);
    auto d = decode_name_v1(c.name);
    bool good = d && d->key == key && d->type == type &&
                cook_v1(d->key, type).name == c.name;
    auto n2 = cook_v2(key);
    auto d2 = decode_name_v2(n2);
    // Hex names keep whole words: the key comes back zero-padded.
    Bytes want = key;
    if (d2 && (d2->encoding == EncodingV2::hex_be ||
               d2->encoding == EncodingV2::hex_le))
      want.resize((key.size() + 3) / 4 * 4, 0);
    good = good && d2 && d2->key == want && cook_v2(d2->key) == n2;
    if (!good) {
      ++failures;
      FAIL_CHECK("round trip failed for key " << to_hex(key) << ": v1 "
                                              << c.name << ", v2 " << n2);
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("v2: worked examples (hashes as corrected by the real kernel)",
          "[key][v2]")
{
  // 9.1: NFSv3 volume and a 28-byte knfsd handle.
  std::string vol = "nfs,3.0,2,108,201a8c0,1234,,1,4000,100000,100000,bb8,"
                    "ea60,7530,ea60,1";
  CHECK(volume_hash(vol) == 0x4aa2a3bf);
  Bytes fh = hex("01000601 00112233445566778899aabbccddeeff 0c000000 6b4e2a1f");
  CHECK(cook_v2(fh) == "E210w110g4yc3hlpSt8CFGXOsTK-f30000HVAav000");
  CHECK(cookie_hash(0x4aa2a3bf, fh) == 0x6e229fd9);
  // 9.2: AFS vnode, big-endian hex.
  CHECK(volume_hash("afs,example.com,20000001") == 0x46ad46a0);
  Bytes vn = hex("0000002a 00000007 00000000 00000000");
  CHECK(cook_v2(vn) == "S2a,7,,");
  CHECK(cookie_hash(0x46ad46a0, vn) == 0x41f348c8);
  // 9.3: 9P inode, little-endian hex.
  CHECK(volume_hash("9p,testtag,vm1") == 0xac4de718);
  Bytes qid = hex("4523010000000000");
  CHECK(cook_v2(qid) == "T12345,");
  CHECK(cookie_hash(0xac4de718, qid) == 0x8260b9ef);
  // 9.4: CIFS inode.
  CHECK(volume_hash("cifs,192.168.1.2:445,data") == 0xe98b9b98);
  Bytes cifs = hex("2e1f000000000000");
  CHECK(cook_v2(cifs) == "T1f2e,");
  CHECK((cookie_hash(0xe98b9b98, cifs) & 0xff) == 0xe6);
  // 9.5
  CHECK(cook_v2(as_bytes("hello")) == "Dhello");
}

TEST_CASE("v2: malformed names say why", "[key][v2]")
{
  CHECK_FALSE(decode_name_v2("X1"));
  CHECK_FALSE(decode_name_v2("E3abcd"));     // pad digit 3
  CHECK_FALSE(decode_name_v2("E0abc"));      // not 2 + 4n
  CHECK_FALSE(decode_name_v2("S123456789")); // word of 9 digits
  CHECK_FALSE(decode_name_v2("S0a"));        // leading zero
  CHECK_FALSE(decode_name_v2("SAB"));        // upper case
}

TEST_CASE("v2: a base64 name the cooker would not write is refused",
          "[key][v2]")
{
  // Found by fuzz_names: "M110" decodes, but its 3 bytes cook to another name.
  auto d = decode_name_v2("E0M110");
  REQUIRE_FALSE(d);
  CHECK(d.error().find("would not produce") != std::string::npos);
}

TEST_CASE("name_decodes_v1 agrees with decode_name_v1", "[key][v1]")
{
  std::vector<std::string> names = {"",
                                    "E",
                                    "Q03nfs",
                                    "I03nfs",
                                    "I04nfs",
                                    "D01\x01",
                                    "E!not-base64",
                                    "Eabc",
                                    std::string(300, 'E')};
  for (std::uint32_t n = 1; n < 40; ++n) {
    Bytes key;
    for (std::uint32_t i = 0; i < n; ++i)
      key.push_back(std::uint8_t(i * 37 + n));
    for (std::uint8_t type : {0, 1, 2}) {
      std::string good = cook_v1(key, type).name;
      names.push_back(good);
      names.push_back(cook_v1(key, type, true).name);
      std::string cut = good.substr(0, good.size() - 1);
      names.push_back(cut);
      std::string flipped = good;
      flipped[flipped.size() / 2] = '!';
      names.push_back(flipped);
      std::string longer = good + "0000";
      names.push_back(longer);
    }
  }
  for (const auto& n : names) {
    INFO(n);
    CHECK(name_decodes_v1(n) == bool(decode_name_v1(n)));
  }
}
