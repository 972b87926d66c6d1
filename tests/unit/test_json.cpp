// test_json.cpp - the streaming JSON writer against nlohmann's parser.
#include <catch2/catch.hpp>

#include <fsc/json.hpp>

#include <nlohmann/json.hpp>

TEST_CASE("JsonWriter writes nested documents nlohmann parses", "[json]")
{
  fsc::JsonWriter j(nullptr);
  j.begin_object();
  j.field("schema", 1);
  j.field("name", "a \"quoted\"\\ name\n\x01");
  j.field("neg", std::int64_t(-5));
  j.field("big", std::uint64_t(18446744073709551615ull));
  j.field("flag", true);
  j.key("list");
  j.begin_array();
  j.value(1);
  j.null();
  j.begin_object();
  j.end_object();
  j.end_array();
  j.end_object();
  auto doc = nlohmann::json::parse(j.text());
  CHECK(doc["schema"] == 1);
  CHECK(doc["name"] == "a \"quoted\"\\ name\n\x01");
  CHECK(doc["neg"] == -5);
  CHECK(doc["big"].get<std::uint64_t>() == 18446744073709551615ull);
  CHECK(doc["flag"] == true);
  CHECK(doc["list"].size() == 3);
  CHECK(doc["list"][1].is_null());
}

TEST_CASE("invalid UTF-8 names become U+FFFD plus a hex field", "[json]")
{
  fsc::JsonWriter j(nullptr);
  j.begin_object();
  j.name_field("path", std::string("a\xff"
                                   "b",
                                   3));
  j.name_field("ok", "caf\xc3\xa9");
  j.end_object();
  auto doc = nlohmann::json::parse(j.text());
  CHECK(doc["path"] == "a\xef\xbf\xbd"
                       "b");
  CHECK(doc["path_hex"] == "61ff62");
  CHECK(doc["ok"] == "caf\xc3\xa9");
  CHECK_FALSE(doc.contains("ok_hex"));
}

TEST_CASE("valid_utf8 rejects overlongs and surrogates", "[json]")
{
  CHECK(fsc::valid_utf8("plain"));
  CHECK(fsc::valid_utf8("\xe2\x82\xac"));
  CHECK_FALSE(fsc::valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(fsc::valid_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(fsc::valid_utf8("\xe2\x82"));         // truncated
  CHECK_FALSE(fsc::valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
}
