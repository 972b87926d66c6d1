// test_inspect_v2.cpp - `fsc inspect` on caches of kernels 5.17+ (v2): the
// real 6.1 cache, constructed anomalies, mixtures, and the read-only promise.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/writer.hpp>
#include <fsc/cachefiles/xattr.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <nlohmann/json.hpp>
#include "json_records.hpp"

#include <set>
#include <sstream>

using namespace fsc;
using namespace fsc::cachefiles;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

std::string real_v2(const TempDir& t)
{
  return test::extract_fixture(
      test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", t.path());
}

const char* k_volume =
    "nfs,4.2,2,108,100007f,,,,,80000,80000,2ee,3a98,1d4c,3a98,1";

Bytes key_bytes() // an NFSv4 file handle, as 6.1 uses it for the cookie key
{
  return Bytes{0x01, 0x00, 0x06, 0x00, 0x11, 0x22,
               0x33, 0x44, 0xaa, 0xbb, 0xcc, 0xdd};
}

XattrV2 good_xattr()
{
  XattrV2 x;
  x.object_size = 10;
  x.content = 2; // CACHEFILES_CONTENT_ALL: the whole object is present
  x.aux = Bytes(40, 1);
  return x;
}

// Problem kinds of `inspect --check --json=lines`, one record per line.
std::set<std::string> problem_kinds(const std::string& out)
{
  std::set<std::string> kinds;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded())
      continue;
    if (j.contains("problems")) // an entry's own
      for (auto& p : j["problems"])
        kinds.insert(p.value("kind", ""));
    if (j.value("record", "") == "problem")
      kinds.insert(j.value("kind", ""));
  }
  return kinds;
}

} // namespace

TEST_CASE("inspect summarises the real v2 cache", "[inspect][v2][real]")
{
  TempDir t;
  auto root = real_v2(t);
  auto r = run_fsc({"inspect", root});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("format     v2") != std::string::npos);
  CHECK(r.out.find("objects    11 (0 index, 3 volume, 8 data)") !=
        std::string::npos);
  CHECK(r.out.find("problems   0") != std::string::npos);
}

TEST_CASE("inspect --object shows a v2 object's size, zero point, content "
          "and extents",
          "[inspect][v2]")
{
  TempDir t;
  Writer w(t / "c", false);
  auto vol = w.add_volume(k_volume, {});
  auto x = good_xattr();
  x.object_size = 8192 + 10;
  x.zero_point = 4096;
  auto obj = w.add_v2(vol, key_bytes(), x, {"0123456789", 8192, 8192 + 10});
  auto r = run_fsc({"inspect", t / "c", "--object", obj});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("object_size    8202") != std::string::npos);
  CHECK(r.out.find("zero_point     4096") != std::string::npos);
  CHECK(r.out.find("content        all") != std::string::npos);
  CHECK(r.out.find("key        12 bytes: 01000600 11223344 aabbccdd") !=
        std::string::npos);
  // Only the written tail holds data: the first 8 KiB are a hole.
  CHECK(r.out.find("[8192, 8202)") != std::string::npos);
  CHECK(r.out.find("[0, ") == std::string::npos);
}

TEST_CASE("inspect --check names each v2 anomaly", "[inspect][v2][check]")
{
  TempDir t;
  Writer w(t / "c", false);
  auto vol = w.add_volume(k_volume, {});
  auto obj = w.add_v2(vol, key_bytes(), good_xattr(), {"0123456789", 0, 10});
  auto path = t / "c/" + obj;
  auto check = [&] {
    auto r = run_fsc({"--json=lines", "inspect", "--check", t / "c"});
    INFO(r.err);
    return std::make_pair(r.status, problem_kinds(r.out));
  };
  REQUIRE(check() == std::make_pair(0, std::set<std::string>{}));

  SECTION("content byte out of range")
  {
    auto x = good_xattr();
    x.content = 9;
    test::set_xattr(path, encode_xattr_v2(x));
    CHECK(check() == std::make_pair(1, std::set<std::string>{"bad-content"}));
  }
  SECTION("zero_point beyond object_size")
  {
    auto x = good_xattr();
    x.zero_point = 11;
    test::set_xattr(path, encode_xattr_v2(x));
    CHECK(check() ==
          std::make_pair(1, std::set<std::string>{"bad-zero-point"}));
  }
  SECTION("object_size larger than the file")
  {
    auto x = good_xattr();
    x.object_size = 1 << 20;
    test::set_xattr(path, encode_xattr_v2(x));
    CHECK(check() == std::make_pair(1, std::set<std::string>{"short-data"}));
  }
  SECTION("xattr of the wrong length")
  {
    auto bytes = encode_xattr_v2(good_xattr());
    bytes.resize(12); // shorter than struct cachefiles_xattr
    test::set_xattr(path, bytes);
    CHECK(check() == std::make_pair(1, std::set<std::string>{"bad-xattr"}));
  }
  SECTION("a file left in the graveyard (tmpfile + link interrupted)")
  {
    test::write_file(t / "c/graveyard/x1234", "stale");
    CHECK(check() ==
          std::make_pair(1, std::set<std::string>{"graveyard-not-empty"}));
  }
}

TEST_CASE("inspect refuses a v1/v2 mixture except to --check it",
          "[inspect][v2][errors]")
{
  TempDir t;
  auto root = real_v2(t);
  test::make_dirs(root + "/cache/@4a", 0700);
  auto r = run_fsc({"inspect", root});
  CHECK(r.status == 2);
  CHECK(r.err.find("both v1 fan-outs") != std::string::npos);
  CHECK(r.err.find(root) != std::string::npos);
  r = run_fsc({"--json=lines", "inspect", "--check", root});
  CHECK(r.status == 1);
  CHECK(problem_kinds(r.out).count("mixed-format") == 1);
}

TEST_CASE("inspect changes nothing on a v2 cache", "[inspect][v2][readonly]")
{
  TempDir t;
  auto root = real_v2(t);
  std::string obj;
  for (auto& [path, st] : test::snapshot(root))
    if (path.find("/E") != std::string::npos)
      obj = path.substr(path.find("cache/"));
  REQUIRE(!obj.empty());
  auto before = test::snapshot(root);
  for (auto args : std::vector<std::vector<std::string>>{
           {"inspect", root},
           {"inspect", "--check", root},
           {"inspect", root, "--tree"},
           {"--json=lines", "inspect", root},
           {"--json", "inspect", root, "--tree"},
           {"inspect", root, "--object", obj}}) {
    auto r = run_fsc(args);
    INFO(args.back() << ": " << r.err);
    CHECK(r.status == 0);
  }
  CHECK(test::snapshot(root) == before);
}
