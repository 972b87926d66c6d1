// test_scan.cpp - the scanner on real kernel caches and on constructed trees
// with one anomaly each.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/object.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/writer.hpp>

#include "tree.hpp"

#include <map>
#include <mutex>
#include <set>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

using namespace fsc;
using namespace fsc::cachefiles;
using fsc::test::TempDir;

namespace {

struct Collected {
  std::map<EntryKind, int> kinds;
  std::multiset<std::string> problems; ///< "kind path"
  std::vector<ScanEntry> entries;
};

Collected collect(const std::string& root, ScanOptions opt = {})
{
  Cache c = Cache::open(root);
  Collected out;
  std::mutex mu;
  opt.fanouts = true;
  scan(c, opt, [&](const ScanEntry& e, unsigned) {
    std::lock_guard lock(mu);
    ++out.kinds[e.kind];
    for (auto& p : e.problems)
      out.problems.insert(p.kind + " " + p.path);
    out.entries.push_back(e);
  });
  for (auto& p : c.top_problems())
    out.problems.insert(p.kind + " " + p.path);
  return out;
}

bool has_problem(const Collected& c, const std::string& kind)
{
  for (auto& p : c.problems)
    if (p.rfind(kind + " ", 0) == 0)
      return true;
  return false;
}

Bytes hex(const char* s)
{
  Bytes b;
  REQUIRE(from_hex(s, b));
  return b;
}

// A small healthy v1 tree: nfs → server → superblock → 2 data files.
std::string small_v1(const TempDir& t)
{
  Writer w(t / "c");
  auto nfs = w.add_v1("cache", as_bytes("nfs"), 0, hex("00000000"));
  auto srv = w.add_v1(nfs, hex("0300000000000000 0200 0801 c0a80102"), 0, {});
  auto sb = w.add_v1(srv, Bytes(65, 0), 0, {});
  w.add_v1(sb, hex("0100060011223344"), 1, Bytes(40, 7), {"hello", 0, 5});
  w.add_v1(sb, hex("0100060055667788"), 1, Bytes(40, 8), {"x", 8192, 10000});
  return t / "c";
}

} // namespace

TEST_CASE("scan: the real 5.10 (v1) cache is clean", "[scan][real]")
{
  TempDir t;
  auto root = test::extract_fixture(
      test::fixtures_dir() + "/real-5.10-smoke/cache.tar.xz", t.path());
  Cache c = Cache::open(root);
  CHECK(c.format() == Format::v1);
  auto got = collect(root);
  CHECK(got.kinds[EntryKind::index] == 5);
  CHECK(got.kinds[EntryKind::data] == 8);
  CHECK(got.kinds[EntryKind::unknown] == 0);
  CHECK(got.problems.empty());
  for (auto& e : got.entries)
    if (e.kind == EntryKind::data) {
      CHECK(e.node->xattr.size() == 41);
      CHECK(e.node->xattr[0] == 1);
      CHECK(e.node->level == 3);
    }
}

TEST_CASE("scan: the real 6.1 (v2) cache is clean", "[scan][real]")
{
  TempDir t;
  auto root = test::extract_fixture(
      test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", t.path());
  Cache c = Cache::open(root);
  CHECK(c.format() == Format::v2);
  auto got = collect(root);
  CHECK(got.kinds[EntryKind::volume] == 3);
  CHECK(got.kinds[EntryKind::data] == 8);
  CHECK(got.problems.empty()); // every object sits in the @xx its hash says
  for (auto& e : got.entries)
    if (e.kind == EntryKind::data)
      CHECK(e.node->xattr.size() == 58);
}

TEST_CASE("scan: one and two threads see the same entries", "[scan]")
{
  TempDir t;
  auto root = small_v1(t);
  ScanOptions one;
  one.threads = 1;
  ScanOptions two;
  two.threads = 2;
  auto a = collect(root, one), b = collect(root, two);
  CHECK(a.entries.size() == b.entries.size());
  CHECK(a.kinds == b.kinds);
  CHECK(a.problems.empty());
}

TEST_CASE("scan: ordered mode is depth-first in name order", "[scan]")
{
  TempDir t;
  auto root = small_v1(t);
  ScanOptions o;
  o.ordered = true;
  auto got = collect(root, o);
  std::vector<std::string> paths;
  for (auto& e : got.entries)
    paths.push_back(e.path);
  for (std::size_t i = 1; i < paths.size(); ++i) {
    // A parent always comes before its children.
    auto slash = paths[i].rfind('/');
    auto parent = paths[i].substr(0, slash);
    if (parent != "cache")
      CHECK(std::find(paths.begin(), paths.begin() + long(i), parent) !=
            paths.begin() + long(i));
  }
}

TEST_CASE("scan: each anomaly is reported with its class", "[scan][check]")
{
  TempDir t;
  auto root = small_v1(t);
  Cache c0 = Cache::open(root);
  std::string nfs = "cache/@4a/I03nfs";

  SECTION("entry in the wrong fan-out")
  {
    test::make_dirs(root + "/" + nfs + "/@00", 0);
    REQUIRE(rename((root + "/" + nfs + "/@89").c_str(),
                   (root + "/" + nfs + "/@00/x").c_str()) == 0);
    REQUIRE(
        rename((root + "/" + nfs + "/@00/x/Jg0M0000000000800840ME6w0").c_str(),
               (root + "/" + nfs + "/@00/Jg0M0000000000800840ME6w0").c_str()) ==
        0);
    CHECK(has_problem(collect(root), "bad-fanout"));
  }
  SECTION("name that does not decode")
  {
    test::write_file(root + "/" + nfs + "/@89/Jzz", "");
    CHECK(has_problem(collect(root), "bad-name"));
  }
  SECTION("missing xattr")
  {
    Writer w(root);
    auto p = w.add_v1(nfs, as_bytes("plainkey"), 1, {});
    REQUIRE(lremovexattr((root + "/" + p).c_str(), "user.CacheFiles.cache") ==
            0);
    CHECK(has_problem(collect(root), "no-xattr"));
  }
  SECTION("xattr type byte against the name")
  {
    Writer w(root);
    auto p = w.add_v1(nfs, as_bytes("plainkey"), 1, {});
    test::set_xattr(root + "/" + p, hex("00"));
    CHECK(has_problem(collect(root), "bad-xattr"));
  }
  SECTION("a directory where a data file belongs")
  {
    auto cooked = cook_v1(as_bytes("dirdata"), 1);
    test::make_dirs(root + "/" + nfs + "/" + cooked.fanout + "/" + cooked.name,
                    0700);
    test::set_xattr(root + "/" + nfs + "/" + cooked.fanout + "/" + cooked.name,
                    hex("01"));
    CHECK(has_problem(collect(root), "type-mismatch"));
  }
  SECTION("object below a data object")
  {
    auto cooked = cook_v1(as_bytes("dirdata"), 1);
    std::string d = nfs + "/" + cooked.fanout + "/" + cooked.name;
    test::make_dirs(root + "/" + d, 0700);
    test::set_xattr(root + "/" + d, hex("01"));
    Writer w(root);
    w.add_v1(d, as_bytes("child"), 1, {});
    CHECK(has_problem(collect(root), "object-under-data"));
  }
  SECTION("symlink and unknown entries")
  {
    REQUIRE(symlink("/etc", (root + "/" + nfs + "/@89/link").c_str()) == 0);
    test::write_file(root + "/cache/stray", "");
    auto got = collect(root);
    CHECK(has_problem(got, "symlink"));
    CHECK(has_problem(got, "unknown-entry"));
  }
  SECTION("files owned by someone else")
  {
    Writer w(root);
    auto p = w.add_v1(nfs, as_bytes("owned"), 1, {});
    if (geteuid() != 0) {
      WARN("skipped: chown needs root");
      return;
    }
    REQUIRE(lchown((root + "/" + p).c_str(), 4242, 4242) == 0);
    CHECK(has_problem(collect(root), "foreign-owner"));
  }
  SECTION("root label")
  {
    test::set_xattr(root + "/cache", as_bytes("C2"));
    CHECK(has_problem(collect(root), "root-label"));
  }
}

TEST_CASE("scan: a name that does not decode still counts and is descended",
          "[scan][check]")
{
  TempDir t;
  auto root = small_v1(t);
  std::string nfs = root + "/cache/@4a/I03nfs";
  // An index whose name has a bad length, holding a healthy data object.
  REQUIRE(rename((nfs + "/@89").c_str(), (nfs + "/@12").c_str()) == 0);
  REQUIRE(rename((nfs + "/@12/Jg0M0000000000800840ME6w0").c_str(),
                 (nfs + "/@12/Jg0M0000000000800840ME6w").c_str()) == 0);
  auto got = collect(root);
  CHECK(has_problem(got, "bad-name"));
  CHECK_FALSE(has_problem(got, "bad-fanout")); // unknowable without a key
  CHECK(got.kinds[EntryKind::index] == 3);
  CHECK(got.kinds[EntryKind::data] == 2);
  bool seen = false;
  for (auto& e : got.entries)
    if (e.name == "Jg0M0000000000800840ME6w") {
      seen = true;
      CHECK_FALSE(e.node->key_ok);
      CHECK(e.node->key.empty());
    }
  CHECK(seen);
}

TEST_CASE("scan: v2 anomalies", "[scan][check][v2]")
{
  TempDir t;
  Writer w(t / "c", false);
  auto vol = w.add_volume(
      "nfs,3.0,2,,100007f,1,,,0,80000,80000,2ee,3a98,1d4c,3a98,1", {});
  XattrV2 x;
  x.object_size = 10;
  x.content = 2;
  x.aux = Bytes(40, 1);
  auto obj = w.add_v2(vol, hex("0100060011223344aabbccdd"), x,
                      {"0123456789", 0, 4096});
  CHECK(collect(t / "c").problems.empty());

  SECTION("wrong fan-out")
  {
    auto name = obj.substr(obj.rfind('/') + 1);
    test::make_dirs(t / "c/" + vol + "/@ff", 0700);
    std::string moved = t / "c/" + vol + "/@ff/" + name;
    if (obj.find("/@ff/") == std::string::npos) {
      REQUIRE(rename((t / "c/" + obj).c_str(), moved.c_str()) == 0);
      CHECK(has_problem(collect(t / "c"), "bad-fanout"));
    }
  }
  SECTION("short xattr, dirty content, zero_point beyond size")
  {
    test::set_xattr(t / "c/" + obj, hex("0000"));
    CHECK(has_problem(collect(t / "c"), "bad-xattr"));
    x.content = 4;
    x.zero_point = 11;
    test::set_xattr(t / "c/" + obj, encode_xattr_v2(x));
    auto got = collect(t / "c");
    CHECK(has_problem(got, "dirty"));
    CHECK(has_problem(got, "bad-zero-point"));
  }
  SECTION("a v1 fan-out in a v2 cache makes it mixed")
  {
    test::make_dirs(t / "c/cache/@4a", 0700);
    CHECK(Cache::open(t / "c").format() == Format::mixed);
  }
}

TEST_CASE("scan and describe_path change no atime", "[scan][readonly]")
{
  TempDir t;
  auto root = small_v1(t);
  auto before = test::snapshot(root);
  collect(root);
  Cache c = Cache::open(root);
  auto info = describe_path(c, "cache/@4a/I03nfs");
  CHECK(info.entry.kind == EntryKind::index);
  CHECK(test::snapshot(root) == before);
}

TEST_CASE("data_extents reports holes as absent", "[scan]")
{
  TempDir t;
  test::write_file(t / "f", "data", 65536, 262144);
  int fd = open((t / "f").c_str(), O_RDONLY);
  auto ex = data_extents(fd, 262144);
  close(fd);
  REQUIRE(ex.size() == 1);
  CHECK(ex[0].start <= 65536);
  CHECK(ex[0].end >= 65540);
  CHECK(ex[0].end <= 262144);
}

TEST_CASE("Cache::open refuses what is not a cache", "[scan]")
{
  TempDir t;
  CHECK_THROWS_WITH(Cache::open(t / "missing"),
                    Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(Cache::open(t.path()), Catch::Contains("no cache/"));
  test::write_file(t / "file", "");
  CHECK_THROWS_WITH(Cache::open(t / "file"),
                    Catch::Contains("not a directory"));
}
