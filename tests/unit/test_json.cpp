// test_json.cpp - the streaming JSON writer against nlohmann's parser.
#include <catch2/catch.hpp>

#include <fsc/format.hpp>
#include <fsc/json.hpp>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <ctime>
#include <random>
#include <vector>

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

TEST_CASE("JsonWriter escapes every byte of random strings as nlohmann reads "
          "them back",
          "[json]")
{
  std::mt19937 rng(11);
  // Mostly plain text, so the eight-at-a-time path meets a special byte at
  // every position of its word.
  const std::string specials = "\"\\\n\x01\x1f\x7f\xc3\xa9\xff";
  for (int round = 0; round < 5000; ++round) {
    std::string s(rng() % 40, 'a');
    for (auto& c : s)
      c = char('a' + rng() % 26);
    if (!s.empty() && rng() % 4)
      s[rng() % s.size()] = specials[rng() % specials.size()];
    fsc::JsonWriter j(nullptr);
    j.value(s);
    const auto back = nlohmann::json::parse(j.text()).get<std::string>();
    INFO(s);
    if (fsc::valid_utf8(s))
      REQUIRE(back == s);
    else // each bad byte is U+FFFD; the rest is kept
      REQUIRE(back.find("\xef\xbf\xbd") != std::string::npos);
  }
  fsc::JsonWriter j(nullptr);
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  j.hex(bytes, sizeof bytes);
  CHECK(j.text() == "\"000fa5ff\"");
}

TEST_CASE("iso_time agrees with gmtime_r for any instant", "[json]")
{
  std::mt19937_64 rng(5);
  auto reference = [](std::int64_t ns) {
    std::int64_t sec = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
      frac += 1000000000;
      --sec;
    }
    std::time_t t = sec;
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::string s = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (frac) {
      std::string f = fmt::format("{:09}", frac);
      while (f.back() == '0')
        f.pop_back();
      s += "." + f;
    }
    return s + "Z";
  };
  for (std::int64_t ns : {std::int64_t(0), std::int64_t(-1),
                          std::int64_t(951782400) * 1000000000, // 2000-02-29
                          std::int64_t(9000000000) * 1000000000 + 5}) {
    INFO(ns);
    CHECK(fsc::iso_time(ns) == reference(ns));
  }
  for (int i = 0; i < 20000; ++i) {
    // All the years nanoseconds reach (1678-2262), whole seconds now and then.
    std::int64_t sec = std::int64_t(rng() % 18000000000ull) - 9000000000;
    std::int64_t ns = sec * 1000000000 +
                      (i % 3 ? std::int64_t(rng() % 1000000000) : 0);
    INFO(ns);
    REQUIRE(fsc::iso_time(ns) == reference(ns));
  }
  // Runs within one day and across midnight and a year's end (iso_time
  // keeps the last date), with another day asked for in between.
  const std::int64_t new_year = std::int64_t(1704067200) * 1000000000;
  for (std::int64_t step : {std::int64_t(1), std::int64_t(999999937),
                            std::int64_t(3600) * 1000000000 + 7}) {
    for (int i = -40; i < 40; ++i) {
      const std::int64_t ns = new_year + i * step;
      INFO(ns);
      REQUIRE(fsc::iso_time(ns) == reference(ns));
      if (i == 0)
        CHECK(fsc::iso_time(std::int64_t(9000000000) * 1000000000) ==
              reference(std::int64_t(9000000000) * 1000000000));
    }
  }
}

TEST_CASE("decimal() writes what std::to_chars writes", "[json]")
{
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> vals = {0, 9, 10, 99, 100, 999999999, 1000000000,
                                     18446744073709551615ull};
  for (std::uint64_t p = 1; p < 10000000000000000000ull; p *= 10) {
    vals.push_back(p - 1);
    vals.push_back(p);
    vals.push_back(p + 1);
  }
  for (int i = 0; i < 100000; ++i)
    vals.push_back(rng() >> (rng() % 64));
  for (auto v : vals) {
    char a[24], b[24];
    const std::string_view mine(a, std::size_t(fsc::decimal(a, v) - a));
    const std::string_view std_(b, std::size_t(std::to_chars(b, b + 24, v).ptr - b));
    INFO(v);
    REQUIRE(mine == std_);
  }
  fsc::JsonWriter j(nullptr);
  j.begin_array();
  for (std::int64_t v : {std::int64_t(0), std::int64_t(-1), INT64_MIN, INT64_MAX})
    j.value(v);
  j.end_array();
  CHECK(j.text() ==
        "[0,-1,-9223372036854775808,9223372036854775807]");
}

TEST_CASE("hex: every length and byte, with and without a prefix", "[json]")
{
  std::mt19937 rng(3);
  for (std::size_t n = 0; n < 80; ++n) {
    std::vector<unsigned char> b(n);
    for (auto& c : b)
      c = static_cast<unsigned char>(rng());
    if (n == 64)
      for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<unsigned char>(i * 4 + 3); // every nibble value
    std::string want = "\"fh ";
    for (auto c : b)
      want += fmt::format("{:02x}", c);
    want += "\"";
    fsc::JsonWriter j(nullptr);
    j.hex(b.data(), b.size(), "fh ");
    INFO(n);
    CHECK(j.text() == want);
  }
}

TEST_CASE("short strings: a byte to escape is found wherever it sits", "[json]")
{
  // The checks of 4-16 bytes load two overlapping words: put each special
  // byte at each position of each length and compare with nlohmann.
  for (std::size_t n = 1; n <= 20; ++n)
    for (std::size_t at = 0; at < n; ++at)
      for (char c : {'"', '\\', '\n', '\x01', '\x7f', '\x80'}) {
        std::string s(n, 'x');
        s[at] = c;
        fsc::JsonWriter j(nullptr);
        j.begin_object();
        j.field("k", s);
        j.key(s);
        j.value(1);
        j.end_object();
        INFO(n << " " << at << " " << int(c));
        auto doc = nlohmann::json::parse(j.text());
        const std::string want =
            c == '\x80' ? std::string(s).replace(at, 1, "\xef\xbf\xbd") : s;
        CHECK(doc["k"] == want);
        CHECK(doc.contains(want));
      }
}

TEST_CASE("literal keys and plain values write the same text", "[json]")
{
  fsc::JsonWriter a(nullptr), b(nullptr);
  a.begin_object();
  a.field("atime", 5);
  a.key("kind");
  a.plain_value("data");
  a.end_object();
  b.begin_object();
  b.field(std::string_view("atime"), 5);
  b.key(std::string_view("kind"));
  b.value(std::string_view("data"));
  b.end_object();
  CHECK(a.text() == b.text());
  CHECK(a.text() == R"({"atime":5,"kind":"data"})");
}
