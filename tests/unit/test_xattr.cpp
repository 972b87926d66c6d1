// test_xattr.cpp - xattr framing of both formats, on real kernel bytes.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/xattr.hpp>

using namespace fsc;
using namespace fsc::cachefiles;

static Bytes hex(const char* s)
{
  Bytes b;
  REQUIRE(from_hex(s, b));
  return b;
}

TEST_CASE("v1 xattr: type byte then aux", "[xattr][v1]")
{
  auto x = decode_xattr_v1(hex("0000000000"));
  REQUIRE(x);
  CHECK(x->type == 0);
  CHECK(x->aux == hex("00000000"));
  CHECK(encode_xattr_v1(0, x->aux) == hex("0000000000"));
  CHECK_FALSE(decode_xattr_v1(Bytes{}));
  CHECK_FALSE(decode_xattr_v1(Bytes(600, 1)));
}

TEST_CASE("v2 xattr: a real 6.1 NFSv4.2 object", "[xattr][v2][real]")
{
  // real-6.1-smoke: .../Infs,4.2,.../@cd/E010M11Il...gRdyky
  Bytes raw = hex("0000000000003039 0000000000000000 01 00"
                  "90585c6500000000 8d5dfb3400000000 45d8056b00000000"
                  "0076b01000000000 0276b0501176c11a");
  auto x = decode_xattr_v2(raw);
  REQUIRE(x);
  CHECK(x->object_size == 12345);
  CHECK(x->zero_point == 0);
  CHECK(x->type == 1);
  CHECK(x->content == 0);
  CHECK(x->aux.size() == 40);
  CHECK(encode_xattr_v2(*x) == raw);
  CHECK(content_name(x->content) == "no_data");
  CHECK_FALSE(decode_xattr_v2(hex("00000000")));
}

TEST_CASE("v2 volume xattr", "[xattr][v2]")
{
  auto v = decode_volume_xattr(hex("00000000"));
  REQUIRE(v);
  CHECK(v->reserved == 0);
  CHECK(v->coherency.empty());
  CHECK(encode_volume_xattr(hex("0102")) == hex("000000000102"));
  CHECK_FALSE(decode_volume_xattr(hex("0000")));
}
