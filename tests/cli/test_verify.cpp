// test_verify.cpp - `fsc verify` on a cache whose objects carry the aux an
// NFS client would have written for an origin tree, after each kind of
// change to that origin.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/writer.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/netfs/netfs.hpp>
#include <fsc/netfs/verify.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace fsc;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

const char* k_names[] = {"same",     "content", "mtime",  "ctime",
                         "truncate", "extend",  "delete", "rename",
                         "replace",  "corrupt", "holes"};

Bytes fh_of(std::size_t i) // a made-up 12-byte file handle per file
{
  return {1,    0,    6,   0, 0x11, 0x22, 0x33, 0x44, std::uint8_t(i),
          0xbb, 0xcc, 0xdd};
}

netfs::NfsAux aux_of(const std::string& path)
{
  struct statx sx;
  REQUIRE(statx(AT_FDCWD, path.c_str(), 0, STATX_BASIC_STATS, &sx) == 0);
  return {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec, sx.stx_ctime.tv_sec,
          sx.stx_ctime.tv_nsec, 0};
}

struct Setup {
  std::string cache, origin, map;
  std::map<std::string, std::string> obj; // origin name → object path
};

// An origin of 16 KiB files and a v1 NFSv3 cache holding their first 4 KiB.
Setup make(const TempDir& t)
{
  Setup s{t / "cache", t / "origin", t / "map.txt", {}};
  test::make_dirs(s.origin);
  cachefiles::Writer w(s.cache);
  auto nfs = w.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  netfs::NfsServerKey sk;
  sk.address = {127, 0, 0, 1};
  sk.port = 0;
  auto srv = w.add_v1(nfs, netfs::encode(sk), 0, {});
  auto sb = w.add_v1(srv, netfs::encode(netfs::NfsSuperKey{}), 0, {});
  std::ofstream map(s.map);
  for (std::size_t i = 0; i < std::size(k_names); ++i) {
    std::string path = s.origin + "/" + k_names[i];
    std::string body(16384, char('a' + i));
    test::write_file(path, body);
    auto aux = netfs::encode(aux_of(path));
    s.obj[k_names[i]] =
        w.add_v1(sb, fh_of(i), 1, aux, {body.substr(0, 4096), 0, 16384});
    map << to_hex(fh_of(i)) << " " << path << "\n";
  }
  // One object no origin file maps to.
  w.add_v1(sb, fh_of(99), 1, Bytes(40, 0), {"x", 0, 1});
  return s;
}

void change_origin(const Setup& s)
{
  auto p = [&](const char* n) { return s.origin + "/" + n; };
  usleep(20000); // so that new times differ from the recorded ones
  test::write_file(p("content"), std::string(16384, 'X'));
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1600000000, 5}};
  REQUIRE(utimensat(AT_FDCWD, p("mtime").c_str(), ts, 0) == 0);
  REQUIRE(chmod(p("ctime").c_str(), 0600) == 0);
  REQUIRE(truncate(p("truncate").c_str(), 100) == 0);
  REQUIRE(truncate(p("extend").c_str(), 100000) == 0);
  REQUIRE(unlink(p("delete").c_str()) == 0);
  REQUIRE(rename(p("rename").c_str(), p("renamed").c_str()) == 0);
  REQUIRE(unlink(p("replace").c_str()) == 0);
  test::write_file(p("replace"), std::string(16384, 'i'));
}

std::map<std::string, nlohmann::json> by_name(const Setup& s,
                                              const std::string& out)
{
  std::map<std::string, nlohmann::json> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    for (auto& [name, path] : s.obj)
      if (j["path"] == path)
        m[name] = j;
    if (j["key_hex"] == to_hex(fh_of(99)))
      m["unmapped"] = j;
  }
  return m;
}

std::string diff_fields(const nlohmann::json& j)
{
  std::string f;
  for (auto& d : j["differences"])
    f += (f.empty() ? "" : ",") + d["field"].get<std::string>();
  return f;
}

} // namespace

TEST_CASE("verify: each change to the origin gets its verdict and field",
          "[verify]")
{
  TempDir t;
  auto s = make(t);
  auto r = run_fsc({"--json=lines", "verify", s.cache, "--origin-map", s.map});
  INFO(r.err);
  CHECK(r.status == 0); // an unmapped object is listed, not a failure
  auto v = by_name(s, r.out);
  for (auto n : k_names)
    CHECK(v[n]["verdict"] == "OKAY");
  CHECK(v["unmapped"]["verdict"] == "UNMAPPED");

  change_origin(s);
  // A cached byte flipped inside the cached extent; the origin unchanged.
  {
    int fd = open((s.cache + "/" + s.obj["corrupt"]).c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, "!", 1, 1000) == 1);
    close(fd);
  }
  auto before = test::snapshot(s.cache);
  auto before_origin = test::snapshot(s.origin);
  r = run_fsc(
      {"--json=lines", "verify", s.cache, "--origin-map", s.map, "--data"});
  CHECK(r.status == 1);
  v = by_name(s, r.out);
  CHECK(v["same"]["verdict"] == "OKAY");
  CHECK(v["content"]["verdict"] == "OBSOLETE");
  CHECK(diff_fields(v["content"]) == "mtime,ctime");
  CHECK(v["mtime"]["verdict"] == "OBSOLETE");
  CHECK(diff_fields(v["mtime"]) == "mtime,ctime");
  CHECK(v["mtime"]["differences"][0]["origin"].get<std::string>().find(
            "1600000000.000000005") != std::string::npos);
  CHECK(v["ctime"]["verdict"] == "OBSOLETE");
  CHECK(diff_fields(v["ctime"]) == "ctime");
  CHECK(v["truncate"]["verdict"] == "OBSOLETE");
  CHECK(v["extend"]["verdict"] == "OBSOLETE");
  CHECK(v["delete"]["verdict"] == "ORPHAN");
  CHECK(v["rename"]["verdict"] == "ORPHAN");
  CHECK(v["replace"]["verdict"] == "OBSOLETE");
  CHECK(v["corrupt"]["verdict"] == "CORRUPT");
  CHECK(v["corrupt"]["first_bad_offset"] == 1000);
  // Only the cached 4 KiB are compared: the origin's bytes past them differ
  // from the cache's holes and do not matter.
  CHECK(v["holes"]["verdict"] == "OKAY");
  CHECK(v["holes"]["bytes_compared"] == 4096);
  // Read-only: cache and origin unchanged, atimes included.
  CHECK(test::snapshot(s.cache) == before);
  CHECK(test::snapshot(s.origin) == before_origin);

  SECTION("--bury --dry-run changes nothing; --bury buries the stale")
  {
    r = run_fsc({"verify", s.cache, "--origin-map", s.map, "--data", "--bury",
                 "--dry-run"});
    CHECK(r.status == 1);
    CHECK(test::snapshot(s.cache) == before);
    r = run_fsc({"verify", s.cache, "--origin-map", s.map, "--data", "--bury"});
    INFO(r.out << r.err);
    CHECK(r.status == 1);
    struct stat st;
    CHECK(lstat((s.cache + "/" + s.obj["content"]).c_str(), &st) != 0);
    CHECK(lstat((s.cache + "/" + s.obj["corrupt"]).c_str(), &st) != 0);
    CHECK(lstat((s.cache + "/" + s.obj["same"]).c_str(), &st) == 0);
    // The next run sees only the healthy and the unmapped objects.
    r = run_fsc({"--json=lines", "verify", s.cache, "--origin-map", s.map});
    v = by_name(s, r.out);
    CHECK(v.count("content") == 0);
    CHECK(v["same"]["verdict"] == "OKAY");
  }
}

TEST_CASE("verify: text report, bad maps and bad origins", "[verify][errors]")
{
  TempDir t;
  auto s = make(t);
  REQUIRE(unlink((s.origin + "/delete").c_str()) == 0);
  auto r = run_fsc({"verify", s.cache, "--origin-map", s.map});
  CHECK(r.status == 1);
  CHECK(r.out.find("ORPHAN") != std::string::npos);
  CHECK(r.out.find("the origin file is gone") != std::string::npos);
  CHECK(r.out.find("10 OKAY") != std::string::npos);

  test::write_file(t / "bad.map", "zz not-hex\n");
  r = run_fsc({"verify", s.cache, "--origin-map", t / "bad.map"});
  CHECK(r.status == 2);
  CHECK(r.err.find("bad.map:1") != std::string::npos);
  // Not an NFS mount: taken for an export directory on the server, whose
  // handles these made-up keys are not.
  r = run_fsc({"verify", s.cache, "--origin", s.origin});
  CHECK(r.status == 1); // nothing could be checked: no all-clear
  CHECK(r.out.find("not a Linux knfsd file handle") != std::string::npos);
  CHECK(r.out.find("12 UNMAPPED") != std::string::npos);
  r = run_fsc({"verify", s.cache});
  CHECK(r.status == 64); // a usage error: no origin given
}

TEST_CASE("verify: a v2 (6.1) cache, same aux inside struct cachefiles_xattr",
          "[verify][v2]")
{
  TempDir t;
  test::make_dirs(t / "origin");
  cachefiles::Writer w(t / "cache", false);
  auto vol = w.add_volume("nfs,3.0,2,,100007f,e0666721b7ea5003,,,3002c0,80000,"
                          "80000,2ee,3a98,1d4c,3a98,1",
                          {});
  std::ofstream map(t / "map.txt");
  std::vector<std::string> objs;
  for (std::size_t i = 0; i < 3; ++i) {
    std::string path = t / ("origin/f" + std::to_string(i));
    test::write_file(path, std::string(8192, char('a' + i)));
    cachefiles::XattrV2 x;
    x.object_size = 8192;
    x.aux = netfs::encode(aux_of(path));
    objs.push_back(w.add_v2(vol, fh_of(i), x,
                            {std::string(8192, char('a' + i)), 0, 8192}));
    map << to_hex(fh_of(i)) << " " << path << "\n";
  }
  map.close();
  usleep(20000);
  REQUIRE(chmod((t / "origin/f1").c_str(), 0600) == 0);
  REQUIRE(unlink((t / "origin/f2").c_str()) == 0);
  auto r = run_fsc({"--json=lines", "verify", t / "cache", "--origin-map",
                    t / "map.txt", "--data"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  std::map<std::string, std::string> verdict;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["record"] == "object")
      verdict[j["path"]] = j["verdict"];
  }
  CHECK(verdict[objs[0]] == "OKAY");
  CHECK(verdict[objs[1]] == "OBSOLETE");
  CHECK(verdict[objs[2]] == "ORPHAN");
}

TEST_CASE("verify: the NFS handle inside a real client's f_handle",
          "[verify][real]")
{
  // From the real 5.10 origin listing: name_to_handle_at on the client.
  Bytes h;
  REQUIRE(from_hex("000000003b3d00000040000024000100070159020000000000"
                   "00d9ae72024b11456eb85b7dd4ff90a3ad3b3d00004af8b50b0000",
                   h));
  auto fh = netfs::nfs_fh_from_handle(h);
  REQUIRE(fh);
  CHECK(to_hex(*fh) == "010007015902000000000000d9ae72024b11456eb85b7dd4ff90a3"
                       "ad3b3d00004af8b50b");
}

namespace {

std::map<std::string, nlohmann::json> records(const std::string& out)
{
  std::map<std::string, nlohmann::json> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("path"))
      m[j["path"]] = j;
  }
  return m;
}

} // namespace

TEST_CASE("verify --data: a v2 object's padding past object_size is not "
          "compared with the origin",
          "[verify][v2][data]")
{
  // 6.1 rounds a data file up to 4096 bytes: an origin of 5000 bytes is
  // cached in an 8192-byte file whose tail is zero padding.
  TempDir t;
  test::make_dirs(t / "origin");
  cachefiles::Writer w(t / "cache", false);
  auto vol = w.add_volume("nfs,3.0,2,,100007f,e0666721b7ea5003,,,3002c0,80000,"
                          "80000,2ee,3a98,1d4c,3a98,1",
                          {});
  std::ofstream map(t / "map.txt");
  std::vector<std::string> objs;
  for (std::size_t i = 0; i < 3; ++i) {
    std::string path = t / ("origin/f" + std::to_string(i));
    std::string body(5000, char('a' + i));
    test::write_file(path, body);
    cachefiles::XattrV2 x;
    x.object_size = body.size();
    x.aux = netfs::encode(aux_of(path));
    std::string cached = body + std::string(8192 - body.size(), '\0');
    if (i == 1)
      cached[6000] = 'X'; // garbage in the padding
    if (i == 2)
      cached[100] = 'X'; // a real corruption
    objs.push_back(w.add_v2(vol, fh_of(i), x, {cached, 0, 8192}));
    map << to_hex(fh_of(i)) << " " << path << "\n";
  }
  map.close();
  auto r = run_fsc({"--json=lines", "verify", t / "cache", "--origin-map",
                    t / "map.txt", "--data"});
  INFO(r.out << r.err);
  auto rec = records(r.out);
  CHECK(rec[objs[0]]["verdict"] == "OKAY");
  CHECK(rec[objs[0]]["bytes_compared"] == 5000);
  CHECK_FALSE(rec[objs[0]].contains("padding_nonzero_offset"));
  CHECK(rec[objs[1]]["verdict"] == "OKAY");
  CHECK(rec[objs[1]]["padding_nonzero_offset"] == 6000);
  CHECK(rec[objs[2]]["verdict"] == "CORRUPT");
  CHECK(rec[objs[2]]["first_bad_offset"] == 100);
  r = run_fsc({"verify", t / "cache", "--origin-map", t / "map.txt", "--data"});
  CHECK(r.out.find("non-zero byte in the padding past the object's size, at "
                   "offset 6000") != std::string::npos);
}

TEST_CASE("verify --data: a v1 file with zeros past the origin's end is OKAY",
          "[verify][data]")
{
  TempDir t;
  auto s = make(t);
  // Rewrite one object's data file: 16 KiB of origin data plus a zeroed
  // allocated tail (a 5.10 cache file extended past the origin's EOF).
  std::string body(16384, char('a'));
  std::string file = s.cache + "/" + s.obj["same"];
  {
    int fd = open(file.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    std::string all = body + std::string(4096, '\0');
    REQUIRE(pwrite(fd, all.data(), all.size(), 0) == ssize_t(all.size()));
    close(fd);
  }
  auto r = run_fsc(
      {"--json=lines", "verify", s.cache, "--origin-map", s.map, "--data"});
  INFO(r.out << r.err);
  auto rec = records(r.out);
  CHECK(rec[s.obj["same"]]["verdict"] == "OKAY");
  CHECK(rec[s.obj["same"]]["bytes_compared"] == 16384);
}

TEST_CASE("verify: NFSv4.2 objects are judged by the v4 rule without a flag",
          "[verify][v2][nfs4]")
{
  TempDir t;
  test::make_dirs(t / "origin");
  cachefiles::Writer w(t / "cache", false);
  auto vol = w.add_volume("nfs,4.2,2,,100007f,e0666721b7ea5003,,,3002c0,"
                          "80000,80000,2ee,3a98,1d4c,3a98,1",
                          {});
  std::ofstream map(t / "map.txt");
  std::vector<std::string> objs;
  for (std::size_t i = 0; i < 4; ++i) {
    std::string path = t / ("origin/f" + std::to_string(i));
    test::write_file(path, "data");
    auto aux = aux_of(path);
    auto sec = std::uint64_t(aux.ctime_sec), ns = std::uint64_t(aux.ctime_nsec);
    switch (i) {
    case 0:
      aux.change_attr = (sec << 30) + ns + 2;
      break; // 6.1 knfsd
    case 1:
      aux.change_attr = (sec << 32) | ns;
      break; // 5.10 on ext4
    case 2:
      aux.change_attr = 0xdeadbeef;
      break; // opaque server
    case 3:
      aux.change_attr = (sec << 30) + ns + 2;
      break; // changed below
    }
    cachefiles::XattrV2 x;
    x.object_size = 4;
    x.aux = netfs::encode(aux);
    objs.push_back(w.add_v2(vol, fh_of(i), x, {"data", 0, 4096}));
    map << to_hex(fh_of(i)) << " " << path << "\n";
  }
  map.close();
  usleep(20000);
  REQUIRE(chmod((t / "origin/f3").c_str(), 0600) == 0);
  auto r = run_fsc(
      {"--json=lines", "verify", t / "cache", "--origin-map", t / "map.txt"});
  INFO(r.out << r.err);
  auto rec = records(r.out);
  CHECK(rec[objs[0]]["verdict"] == "OKAY");
  CHECK(rec[objs[0]]["checked"] == "change attribute: ctime part checked");
  CHECK(rec[objs[1]]["verdict"] == "OKAY");
  CHECK(rec[objs[1]]["checked"] == "change attribute: ctime part checked");
  CHECK(rec[objs[2]]["verdict"] == "OKAY");
  CHECK(rec[objs[3]]["verdict"] == "OBSOLETE");
  r = run_fsc({"-v", "verify", t / "cache", "--origin-map", t / "map.txt"});
  CHECK(r.out.find("(change attribute: ctime part checked)") !=
        std::string::npos);
}

TEST_CASE("verify: an origin that is a FIFO is UNREADABLE, without hanging",
          "[verify][errors]")
{
  TempDir t;
  auto s = make(t);
  REQUIRE(unlink((s.origin + "/same").c_str()) == 0);
  REQUIRE(mkfifo((s.origin + "/same").c_str(), 0600) == 0);
  REQUIRE(unlink((s.origin + "/content").c_str()) == 0);
  REQUIRE(symlink("mtime", (s.origin + "/content").c_str()) == 0);
  auto r = run_fsc(
      {"--json=lines", "verify", s.cache, "--origin-map", s.map, "--data"});
  INFO(r.out << r.err);
  auto rec = records(r.out);
  CHECK(rec[s.obj["same"]]["verdict"] == "UNREADABLE");
  CHECK(rec[s.obj["same"]]["note"] == "the origin is not a regular file");
  CHECK(rec[s.obj["content"]]["verdict"] == "UNREADABLE");
}

TEST_CASE("verify: nothing checked is exit 1, reasons counted once",
          "[verify][errors]")
{
  TempDir t;
  auto s = make(t);
  test::write_file(t / "empty.map", "# no entries\n");
  auto r = run_fsc({"verify", s.cache, "--origin-map", t / "empty.map"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("0 of 12 objects checked") != std::string::npos);
  // One line for the 12 objects, with the count.
  CHECK(r.out.find("UNMAPPED   12 objects: no origin file has this file "
                   "handle") != std::string::npos);
  auto first = r.out.find("no origin file has this file handle");
  CHECK(r.out.find("no origin file has this file handle", first + 1) ==
        std::string::npos);
  // -v lists them one by one.
  r = run_fsc({"-v", "verify", s.cache, "--origin-map", t / "empty.map"});
  CHECK(r.status == 1);
  std::size_t n = 0;
  for (auto p = r.out.find("UNMAPPED   cache/"); p != std::string::npos;
       p = r.out.find("UNMAPPED   cache/", p + 1))
    ++n;
  CHECK(n == 12);
  // JSON says how many were checked, in the document and at the end of the
  // lines stream.
  r = run_fsc({"--json", "verify", s.cache, "--origin-map", t / "empty.map"});
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["checked"] == 0);
  CHECK(doc["objects"] == 12);
  r = run_fsc(
      {"--json=lines", "verify", s.cache, "--origin-map", t / "empty.map"});
  auto last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  auto sum = nlohmann::json::parse(last);
  CHECK(sum["record"] == "summary");
  CHECK(sum["verdicts"]["UNMAPPED"] == 12);
}

TEST_CASE("verify --bury says what it buried, and a failed bury its errno",
          "[verify][bury]")
{
  TempDir t;
  auto s = make(t);
  change_origin(s);
  auto before = test::snapshot(s.cache);
  auto r = run_fsc(
      {"verify", s.cache, "--origin-map", s.map, "--bury", "--dry-run"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("would bury\n") != std::string::npos);
  CHECK(r.out.find("would bury 8 objects (") != std::string::npos);
  CHECK(test::snapshot(s.cache) == before);

  r = run_fsc({"--json", "verify", s.cache, "--origin-map", s.map, "--bury"});
  CHECK(r.status == 1);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["buried"] == 8);
  CHECK(doc["bury_failed"] == 0);
  CHECK(doc["buried_bytes"].get<std::uint64_t>() > 0);
  std::size_t in_grave = 0;
  for (auto& o : doc["records"])
    if (o.contains("graveyard_name")) {
      struct stat st;
      CHECK(o["bury"] == "buried");
      CHECK(lstat((s.cache + "/graveyard/" +
                   o["graveyard_name"].get<std::string>())
                      .c_str(),
                  &st) == 0);
      ++in_grave;
    }
  CHECK(in_grave == 8);
}

TEST_CASE("verify --bury: a bury that fails gives its errno and exit 2",
          "[verify][bury]")
{
  TempDir t;
  auto s = make(t);
  change_origin(s);
  // The stale objects' directory cannot be written: EACCES as a user; as
  // root (permissions do not stop it) a file mounted over an object: EBUSY.
  const std::string obj = s.cache + "/" + s.obj["content"];
  const std::string dir = obj.substr(0, obj.rfind('/'));
  bool mounted = false;
  if (geteuid() == 0) {
    mounted =
        std::system(
            ("mount --bind /dev/null '" + obj + "' 2>/dev/null").c_str()) == 0;
    if (!mounted) {
      WARN("cannot bind-mount here: the failed-bury case is not run");
      return;
    }
  } else {
    REQUIRE(chmod(dir.c_str(), 0500) == 0);
  }
  auto r = run_fsc({"verify", s.cache, "--origin-map", s.map, "--bury"});
  auto rj = run_fsc(
      {"--json=lines", "verify", s.cache, "--origin-map", s.map, "--bury"});
  if (mounted)
    CHECK(std::system(("umount '" + obj + "'").c_str()) == 0);
  else
    chmod(dir.c_str(), 0700);
  INFO(r.out << r.err);
  CHECK(r.status == 2);
  CHECK(r.out.find(mounted ? "bury failed: Device or resource busy"
                           : "bury failed: Permission denied") !=
        std::string::npos);
  CHECK(r.out.find("failed to bury") != std::string::npos);
  CHECK(rj.out.find(mounted ? "\"bury_errno\":16" : "\"bury_errno\":13") !=
        std::string::npos);
}

TEST_CASE("fsc: usage errors exit 64; a bare --json takes no value",
          "[cli][usage]")
{
  TempDir t;
  auto s = make(t);
  auto r = run_fsc({"bogus"});
  CHECK(r.status == 64);
  CHECK(r.err.find("unknown verb 'bogus'") != std::string::npos);
  r = run_fsc({"verify", s.cache, "--origin", s.origin, "--origin-map", s.map});
  CHECK(r.status == 64);
  r = run_fsc({"verify", s.cache, "--origin-map", s.map, "--dry-run"});
  CHECK(r.status == 64);
  r = run_fsc({"replay"});
  CHECK(r.status == 64);
  // fsc-inspect(8)'s own example: --json before the verb and a directory.
  r = run_fsc({"inspect", "--check", "--json", s.cache});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(nlohmann::json::parse(r.out).contains("schema"));
  r = run_fsc({"--json", "verify", s.cache, "--origin-map", s.map});
  CHECK(nlohmann::json::parse(r.out)["objects"] == 12);
}

TEST_CASE("verify --bury on a cache another fsc holds: busy, 75, as cull",
          "[verify][bury]")
{
  TempDir t;
  auto s = make(t);
  change_origin(s);
  auto before = test::snapshot(s.cache);
  int fd = open(s.cache.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto r = run_fsc({"verify", s.cache, "--origin-map", s.map, "--bury"});
  close(fd);
  CHECK(r.status == 75);
  CHECK(test::snapshot(s.cache) == before);
}
