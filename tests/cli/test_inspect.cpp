// test_inspect.cpp - `fsc inspect` end to end on real and constructed caches.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fsc/cachefiles/writer.hpp>
#include <fsc/netfs/netfs.hpp>

#include <nlohmann/json.hpp>
#include "json_records.hpp"

#include <sstream>
#include <unistd.h>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

static std::string real_v1(const TempDir& t)
{
  return fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-5.10-smoke/cache.tar.xz", t.path());
}

static std::string real_v2(const TempDir& t)
{
  return fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", t.path());
}

TEST_CASE("inspect summarises the real v1 cache", "[inspect][real]")
{
  TempDir t;
  auto root = real_v1(t);
  auto r = run_fsc({"inspect", root});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("format     v1") != std::string::npos);
  CHECK(r.out.find("objects    13 (5 index, 0 volume, 8 data)") !=
        std::string::npos);
  CHECK(r.out.find("problems   0") != std::string::npos);
}

TEST_CASE("inspect --json is one document with the summary", "[inspect][json]")
{
  TempDir t;
  auto root = real_v2(t);
  auto r = run_fsc({"--json", "inspect", root});
  REQUIRE(r.status == 0);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == 2);
  CHECK(doc["format"] == "v2");
  CHECK(doc["volumes"] == 3);
  CHECK(doc["data_objects"] == 8);
  CHECK(doc["netfs"]["nfs"]["data_objects"] == 8);
  CHECK(doc["problem_count"] == 0);
  // Totals per volume add up; the largest come first by allocated bytes,
  // each with its volume's and its own label.
  std::uint64_t in_groups = 0;
  for (auto& g : doc["groups"]) {
    CHECK(g["role"] == "NFS volume");
    in_groups += g["data_objects"].get<std::uint64_t>();
  }
  CHECK(in_groups == 8);
  auto& big = doc["largest"];
  REQUIRE(big.size() == 5);
  for (std::size_t i = 1; i < big.size(); ++i)
    CHECK(big[i - 1]["allocated"] >= big[i]["allocated"]);
  CHECK(big[0]["label"].get<std::string>().find("127.0.0.1") !=
        std::string::npos);
  CHECK(big[0]["label"].get<std::string>().find(" fh ") != std::string::npos);
}

TEST_CASE("inspect --json=lines streams one object per line", "[inspect][json]")
{
  TempDir t;
  auto root = real_v1(t);
  auto r = run_fsc({"--json=lines", "inspect", root});
  REQUIRE(r.status == 0);
  int entries = 0, summaries = 0;
  std::size_t pos = 0;
  while (pos < r.out.size()) {
    auto nl = r.out.find('\n', pos);
    auto line = nlohmann::json::parse(r.out.substr(pos, nl - pos));
    if (line["record"] == "entry")
      ++entries;
    else if (line["record"] == "summary")
      ++summaries;
    pos = nl + 1;
  }
  CHECK(entries == 13);
  CHECK(summaries == 1);
}

TEST_CASE("inspect --check is clean on real caches", "[inspect][check][real]")
{
  TempDir t;
  for (auto root : {real_v1(t)}) {
    auto r = run_fsc({"inspect", "--check", root});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("0 problems") != std::string::npos);
  }
  TempDir t2;
  auto r = run_fsc({"inspect", "--check", real_v2(t2)});
  CHECK(r.status == 0);
  TempDir t3;
  r = run_fsc({"inspect", "--check",
               fsc::test::extract_fixture(fsc::test::fixtures_dir() +
                                              "/real-6.12-smoke/cache.tar.xz",
                                          t3.path())});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("11 objects checked, 0 problems") != std::string::npos);
}

TEST_CASE("inspect --check reports a bad name and exits 1", "[inspect][check]")
{
  TempDir t;
  auto root = real_v1(t);
  fsc::test::write_file(root + "/cache/@4a/I03nfs/@95/Qbogus", "");
  auto r = run_fsc({"inspect", "--check", root});
  CHECK(r.status == 1);
  CHECK(r.out.find("bad-name") != std::string::npos);
  CHECK(r.out.find("Qbogus") != std::string::npos);
}

TEST_CASE("inspect changes nothing: bytes, xattrs, atimes",
          "[inspect][readonly]")
{
  TempDir t;
  auto root = real_v1(t);
  auto before = fsc::test::snapshot(root);
  for (auto args : std::vector<std::vector<std::string>>{
           {"inspect", root},
           {"inspect", "--check", root},
           {"inspect", root, "--tree"},
           {"--json=lines", "inspect", root},
           {"inspect", root, "--object", "cache/@4a/I03nfs"}}) {
    auto r = run_fsc(args);
    CHECK(r.status == 0);
  }
  CHECK(fsc::test::snapshot(root) == before);
}

TEST_CASE("inspect on bad input: clear message, exit 2", "[inspect][errors]")
{
  TempDir t;
  auto r = run_fsc({"inspect", t / "missing"});
  CHECK(r.status == 2);
  CHECK(r.err.find("missing") != std::string::npos);
  r = run_fsc({"inspect", t.path()});
  CHECK(r.status == 2);
  CHECK(r.err.find("not a CacheFiles cache") != std::string::npos);
  r = run_fsc({"inspect", "--bogus"});
  CHECK(r.status == 64);
}

TEST_CASE("inspect --object decodes one data object", "[inspect]")
{
  TempDir t;
  auto root = real_v1(t);
  std::string obj = "cache/@4a/I03nfs/@95/Jg0M000000000080000Mv00g0";
  auto r = run_fsc({"inspect", root, "--object", obj});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("030000000000000002000000 7f000001") == std::string::npos);
  CHECK(r.out.find("0300 0000") == std::string::npos);
  CHECK(r.out.find("03000000 00000000 02000000 7f000001") != std::string::npos);
}

TEST_CASE("inspect --tree names each NFS level of a real cache",
          "[inspect][tree][real]")
{
  TempDir t;
  auto root = real_v1(t);
  auto r = run_fsc({"inspect", root, "--tree"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("netfs primary index \"nfs\"") != std::string::npos);
  CHECK(r.out.find("NFS server 127.0.0.1 (NFSv3, port unset)") !=
        std::string::npos);
  CHECK(r.out.find("NFS server 127.0.0.1:2049 (NFSv4.2)") != std::string::npos);
  CHECK(r.out.find("NFS superblock fsid d9ae72024b11456e:b85b7dd4ff90a3ad") !=
        std::string::npos);
  CHECK(r.out.find("aux mtime = 2023-11-21T12:13:20.506172662Z") !=
        std::string::npos);

  // The filter walks the decoded labels; --depth stops below the server.
  r = run_fsc(
      {"inspect", root, "--tree", "nfs/127.0.0.1:2049", "--depth", "1"});
  CHECK(r.status == 0);
  CHECK(r.out.find("NFSv4.2") != std::string::npos);
  CHECK(r.out.find("NFSv3") == std::string::npos);
  CHECK(r.out.find("NFS superblock") == std::string::npos);

  TempDir t2; // both fixtures unpack to fscache/
  auto v2 = real_v2(t2);
  r = run_fsc({"--json=lines", "inspect", v2, "--tree", "--depth", "0"});
  CHECK(r.status == 0);
  int volumes = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "volume") {
      ++volumes;
      CHECK(j["key"]["address"] == "127.0.0.1");
      CHECK(j["key"]["port"].is_number()); // quantities are numbers
      CHECK(j["key"]["rsize"].is_number());
      CHECK(j["key"]["s_flags"].is_string()); // flags stay hex text
    }
  }
  CHECK(volumes == 3);
}

namespace {

// A v1 NFS cache: server, superblock, then n data objects with good aux.
struct SmallV1 {
  std::string root, sb;
  std::vector<std::string> data;
};

SmallV1 small_v1(const std::string& root, std::size_t n)
{
  using namespace fsc;
  SmallV1 c{root, {}, {}};
  cachefiles::Writer w(root);
  auto nfs = w.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  netfs::NfsServerKey sk;
  sk.address = {127, 0, 0, 1};
  auto srv = w.add_v1(nfs, netfs::encode(sk), 0, {});
  c.sb = w.add_v1(srv, netfs::encode(netfs::NfsSuperKey{}), 0, {});
  for (std::size_t i = 0; i < n; ++i) {
    Bytes fh{1,
             0,
             6,
             0,
             0x11,
             0x22,
             0x33,
             0x44,
             std::uint8_t(i),
             std::uint8_t(i >> 8),
             0xcc,
             0xdd};
    c.data.push_back(w.add_v1(c.sb, fh, 1, Bytes(40, 1),
                              {std::string(100 + i, 'x'), 0, 100 + i}));
  }
  return c;
}

} // namespace

TEST_CASE("inspect --check: an aux too short for its netfs is bad-xattr",
          "[inspect][check]")
{
  TempDir t;
  auto c = small_v1(t / "c", 2);
  fsc::cachefiles::Writer w(c.root);
  fsc::Bytes fh{1, 0, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  auto bad = w.add_v1(c.sb, fh, 1, fsc::Bytes{0x07}, {"y", 0, 1});
  auto r = run_fsc({"inspect", "--check", c.root});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("bad-xattr") != std::string::npos);
  CHECK(r.out.find(bad) != std::string::npos);
  CHECK(r.out.find("aux of 1 bytes, not the 40") != std::string::npos);
  CHECK(r.out.find("1 problem\n") != std::string::npos);
  // The object view says the same.
  r = run_fsc({"inspect", "--object", bad, c.root});
  CHECK(r.status == 1);
  CHECK(r.out.find("bad-xattr") != std::string::npos);
}

TEST_CASE("inspect --check --json lists every problem or says it capped",
          "[inspect][check][json]")
{
  TempDir t;
  auto c = small_v1(t / "c", 1);
  const std::string dir = c.root + "/" + c.sb;
  for (int i = 0; i < 1100; ++i)
    fsc::test::write_file(dir + "/Qbogus" + std::to_string(i), "");
  auto r = run_fsc({"inspect", "--check", "--json", c.root});
  REQUIRE(r.status == 1);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["problem_count"] == 1100);
  CHECK(records(doc, "problem").size() == 1000);
  CHECK(doc["problems_listed"] == 1000);
  CHECK(doc["problems_capped_by"] == "--max-problems");
  r = run_fsc({"inspect", "--check", "--json", "--max-problems", "0", c.root});
  doc = nlohmann::json::parse(r.out);
  CHECK(records(doc, "problem").size() == 1100);
  CHECK(!doc.contains("problems_capped_by"));
  r = run_fsc({"inspect", "--check", c.root});
  CHECK(r.out.find("... and 100 more (--max-problems 0 lists all)") !=
        std::string::npos);
}

TEST_CASE("inspect --config takes the cache from the config's dir; --top -1 "
          "lists all",
          "[inspect][config]")
{
  TempDir t;
  auto c = small_v1(t / "c", 7);
  fsc::test::write_file(t / "conf", "dir " + c.root + "\ntag x\nbrun 20%\n");
  auto r = run_fsc({"inspect", "--config", t / "conf"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("cache      " + c.root + "\n") != std::string::npos);
  CHECK(r.out.find("brun 20%") != std::string::npos);
  r = run_fsc({"inspect", "--top", "-1", c.root});
  CHECK(r.out.find("largest 7 (") != std::string::npos);
  CHECK(r.out.find("oldest 7 (") != std::string::npos);
  r = run_fsc({"inspect", "--top", "2", c.root});
  CHECK(r.out.find("largest 2 (") != std::string::npos);
}

TEST_CASE("inspect --threads 128 sizes its per-worker state by the workers",
          "[inspect]")
{
  TempDir t;
  auto c = small_v1(t / "c", 600);
  auto r = run_fsc({"--json", "inspect", "--threads", "128", c.root});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["data_objects"] == 600);
}

TEST_CASE("inspect --tree FILTER: one syntax for v1 and v2, exact parts",
          "[inspect][tree]")
{
  TempDir t;
  auto v1 = real_v1(t);
  TempDir t2;
  auto v2 = real_v2(t2);
  auto count = [](const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
      ++n;
    return n;
  };
  // The README's example: only the server at 127.0.0.1 with no port (the
  // NFSv3 mount), not 127.0.0.1:2049.
  auto r = run_fsc({"inspect", v1, "--tree=nfs/127.0.0.1"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("NFS server 127.0.0.1 (NFSv3") != std::string::npos);
  CHECK(r.out.find("127.0.0.1:2049") == std::string::npos);
  CHECK(count(r.out, "NFS file fh") == 4);
  r = run_fsc({"inspect", v2, "--tree=nfs/127.0.0.1"});
  CHECK(r.status == 0);
  CHECK(r.out.find("NFS volume 127.0.0.1 (NFSv3") != std::string::npos);
  CHECK(r.out.find("127.0.0.1:2049") == std::string::npos);
  CHECK(count(r.out, "NFS file fh") == 4);
  r = run_fsc({"inspect", v2, "--tree=nfs/127.0.0.1:2049"});
  CHECK(r.status == 0);
  CHECK(count(r.out, "NFS volume 127.0.0.1:2049") == 2);
  CHECK(count(r.out, "NFS file fh") == 4);
  for (auto& root : {v1, v2}) {
    r = run_fsc({"inspect", root, "--tree=nfs/10.0.0.1"});
    CHECK(r.status == 1);
    CHECK(r.err.find("matches 'nfs/10.0.0.1'") != std::string::npos);
    CHECK(r.out.find("NFS") == std::string::npos);
  }
}

TEST_CASE("inspect --object: absolute paths whatever CACHE's spelling, the "
          "top entries, a symlinked root",
          "[inspect][object]")
{
  TempDir t;
  auto c = small_v1(t / "c", 2);
  const std::string abs_obj = c.root + "/" + c.data[0];
  // CACHE relative (run from its parent), the object absolute.
  char cwd[4096];
  REQUIRE(getcwd(cwd, sizeof cwd));
  REQUIRE(chdir(t.path().c_str()) == 0);
  auto r = run_fsc({"inspect", "c", "--object", abs_obj});
  REQUIRE(chdir(cwd) == 0);
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("path       " + c.data[0]) != std::string::npos);
  for (const char* top : {"cache", "graveyard"}) {
    r = run_fsc({"inspect", c.root, "--object", top});
    CHECK(r.status == 0);
    CHECK(r.out.find(std::string("path       ") + top) != std::string::npos);
    CHECK(r.out.find("no entry") == std::string::npos);
  }
  r = run_fsc({"inspect", c.root, "--object", c.root + "/graveyard"});
  CHECK(r.status == 0);
  // A root that is a symlink to the cache (/var/cache/fscache -> /srv/...).
  REQUIRE(symlink(c.root.c_str(), (t / "link").c_str()) == 0);
  r = run_fsc({"inspect", t / "link"});
  CHECK(r.status == 0);
  CHECK(r.out.find("objects    5 (3 index, 0 volume, 2 data)") !=
        std::string::npos);
  r = run_fsc({"inspect", t / "link", "--object", abs_obj});
  CHECK(r.status == 0);
  r = run_fsc({"inspect", t / "link", "--object", t / "link/" + c.data[1]});
  CHECK(r.status == 0);
  // Outside the cache: refused with the reason.
  r = run_fsc({"inspect", c.root, "--object", t / "elsewhere"});
  CHECK(r.status == 2);
  CHECK(r.err.find("not inside the cache") != std::string::npos);
}
