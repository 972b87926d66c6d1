// test_verify_export.cpp - `fsc verify --origin EXPORT_DIR` on the NFS
// server: the cache's keys are knfsd handles built for real files of a temp
// export (fileid from name_to_handle_at, fsid as knfsd's mk_fsid writes
// it), found by open_by_handle_at (root) and by an index of the export.
#include <catch2/catch.hpp>

#include <cstddef>

#include <fsc/cachefiles/writer.hpp>
#include <fsc/netfs/netfs.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

using namespace fsc;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

Bytes aux_of(const std::string& path)
{
  struct statx sx;
  REQUIRE(statx(AT_FDCWD, path.c_str(), 0, STATX_BASIC_STATS, &sx) == 0);
  return netfs::encode(netfs::NfsAux{sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec,
                                     sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec,
                                     0});
}

// The fsid of an export of dir without fsid= or a uuid from mountd:
// FSID_ENCODE_DEV = new_encode_dev(st_dev), then the export's inode (u32).
Bytes fsid_encode_dev(const std::string& dir, unsigned major_delta = 0)
{
  struct stat st;
  REQUIRE(stat(dir.c_str(), &st) == 0);
  std::uint32_t maj = major(st.st_dev) + major_delta, min = minor(st.st_dev);
  Bytes b;
  store_le(b, (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12), 4);
  store_le(b, std::uint32_t(st.st_ino), 4);
  return b;
}

// What knfsd gives a client for path: version 1, auth 0, the fsid, then the
// fileid the filesystem's encode_fh writes (what name_to_handle_at returns).
Bytes knfsd_fh(std::uint8_t fsid_type, const Bytes& fsid,
               const std::string& path)
{
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* fh = reinterpret_cast<file_handle*>(buf);
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  REQUIRE(name_to_handle_at(AT_FDCWD, path.c_str(), fh, &mount_id, 0) == 0);
  INFO("fileid type " << fh->handle_type << ", " << fh->handle_bytes
                      << " bytes");
  // ext4, xfs (32-bit inodes), ... write FILEID_INO32_GEN: ino, generation.
  CHECK(fh->handle_type == 1);
  // Reserved first: GCC 12 warns (-Warray-bounds) on growing a vector made
  // from a 4-byte initializer list.
  Bytes out;
  out.reserve(4 + fsid.size() + fh->handle_bytes);
  for (std::uint8_t b : {std::uint8_t(1), std::uint8_t(0), fsid_type,
                         std::uint8_t(fh->handle_type)})
    out.push_back(b);
  out.insert(out.end(), fsid.begin(), fsid.end());
  // Through buf, not the flexible array member: GCC 12 -Warray-bounds
  // mistakes f_handle for a zero-length array.
  const auto* h = reinterpret_cast<const std::uint8_t*>(buf) +
                  offsetof(file_handle, f_handle);
  out.insert(out.end(), h, h + fh->handle_bytes);
  return out;
}

struct Setup {
  std::string cache, exp, outside;
  std::map<std::string, std::string> obj; // case name → object path
};

const char* k_cases[] = {"same",    "touched", "deleted",   "recreated",
                         "renamed", "foreign", "subexport", "fsid7",
                         "outside", "notknfsd"};

// An export dir of 16 KiB files, and a v1 NFSv3 cache holding their first
// 4 KiB under the keys a knfsd serving that dir would have given out.
Setup make(const TempDir& t)
{
  Setup s{t / "cache", t / "export", t / "outside", {}};
  test::make_dirs(s.exp + "/sub");
  test::make_dirs(s.outside);
  cachefiles::Writer w(s.cache);
  auto nfs = w.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  netfs::NfsServerKey sk;
  sk.address = {127, 0, 0, 1};
  auto srv = w.add_v1(nfs, netfs::encode(sk), 0, {});
  auto sb = w.add_v1(srv, netfs::encode(netfs::NfsSuperKey{}), 0, {});
  const Bytes fsid = fsid_encode_dev(s.exp);
  for (std::size_t i = 0; i < std::size(k_cases); ++i) {
    std::string name = k_cases[i];
    std::string path =
        (name == "outside" ? s.outside : s.exp + "/sub") + "/" + name;
    std::string body(16384, char('a' + i));
    test::write_file(path, body);
    Bytes key;
    if (name == "foreign") // the same file, but a handle of another device
      key = knfsd_fh(3, fsid_encode_dev(s.exp, 1), path);
    else if (name == "subexport") // from an export of export/sub
      key = knfsd_fh(3, fsid_encode_dev(s.exp + "/sub"), path);
    else if (name == "fsid7") // exported with fsid=7
      key = knfsd_fh(1, Bytes{7, 0, 0, 0}, path);
    else if (name == "notknfsd")
      key = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1, 2, 3, 4};
    else
      key = knfsd_fh(3, fsid, path);
    s.obj[name] =
        w.add_v1(sb, key, 1, aux_of(path), {body.substr(0, 4096), 0, 16384});
  }
  return s;
}

void change_export(const Setup& s)
{
  auto p = [&](const char* n) { return s.exp + "/sub/" + n; };
  // ext4 stamps times from a coarse clock: without a pause the rename's new
  // ctime can equal the one recorded at creation, and "renamed" is OKAY.
  usleep(20000);
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1600000000, 5}};
  REQUIRE(utimensat(AT_FDCWD, p("touched").c_str(), ts, 0) == 0);
  REQUIRE(unlink(p("deleted").c_str()) == 0);
  // A new file of the same name: another inode, or the same one reused with
  // a new generation (ext4 hands out the freed inode again).
  REQUIRE(unlink(p("recreated").c_str()) == 0);
  test::write_file(p("recreated"), std::string(16384, 'd'));
  REQUIRE(rename(p("renamed").c_str(), (s.exp + "/renamed-to").c_str()) == 0);
}

std::map<std::string, nlohmann::json> by_case(const Setup& s,
                                              const std::string& out)
{
  std::map<std::string, nlohmann::json> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    for (auto& [name, path] : s.obj)
      if (j["path"] == path)
        m[name] = j;
  }
  return m;
}

std::string note(const nlohmann::json& j)
{
  return j.contains("note") ? j["note"].get<std::string>() : "";
}

// Whether this process may open files by handle (CAP_DAC_READ_SEARCH;
// root in a container may lack it): tried on dir's own handle.
bool privileged(const std::string& dir)
{
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* fh = reinterpret_cast<file_handle*>(buf);
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dfd >= 0);
  REQUIRE(name_to_handle_at(dfd, "", fh, &mount_id, AT_EMPTY_PATH) == 0);
  int fd = open_by_handle_at(dfd, fh, O_PATH | O_CLOEXEC);
  if (fd >= 0)
    close(fd);
  close(dfd);
  return fd >= 0;
}

} // namespace

TEST_CASE("verify --origin EXPORT: knfsd handles to the export's files",
          "[verify][export]")
{
  TempDir t;
  auto s = make(t);
  change_export(s);
  auto before = test::snapshot(s.cache);
  auto before_export = test::snapshot(s.exp);

  std::vector<std::string> methods{"index"};
  if (privileged(s.exp))
    methods.insert(methods.begin(), {"auto", "handle"});
  else {
    WARN("no CAP_DAC_READ_SEARCH: the open_by_handle_at path is not tested");
    // Asked for by name, it is refused rather than quietly replaced.
    auto r = run_fsc(
        {"verify", s.cache, "--origin", s.exp, "--origin-method", "handle"});
    CHECK(r.status == 2);
    CHECK(r.err.find("CAP_DAC_READ_SEARCH") != std::string::npos);
  }
  for (const auto& m : methods) {
    INFO("--origin-method " << m);
    auto r = run_fsc({"--json=lines", "verify", s.cache, "--origin", s.exp,
                      "--origin-method", m, "--data"});
    INFO(r.out << r.err);
    CHECK(r.status == 1);
    auto v = by_case(s, r.out);
    REQUIRE(v.size() == std::size(k_cases));
    const std::string method = m == "index" ? "index" : "open_by_handle_at";
    for (auto& [name, j] : v)
      CHECK(j["origin_method"] == method);

    CHECK(v["same"]["verdict"] == "OKAY");
    CHECK(v["same"]["origin"] == s.exp + "/sub/same");
    CHECK(v["same"]["bytes_compared"] == 4096);
    CHECK(v["touched"]["verdict"] == "OBSOLETE");
    CHECK(v["touched"]["differences"][0]["field"] == "mtime");
    CHECK(v["deleted"]["verdict"] == "ORPHAN");
    CHECK(v["recreated"]["verdict"] == "ORPHAN");
    // The handle follows the file, not its name; but rename(2) sets the
    // file's ctime, which the NFS aux holds: the client drops its copy.
    CHECK(v["renamed"]["verdict"] == "OBSOLETE");
    CHECK(v["renamed"]["differences"][0]["field"] == "ctime");
    CHECK(v["renamed"]["origin"] == s.exp + "/renamed-to");

    CHECK(v["foreign"]["verdict"] == "UNMAPPED");
    CHECK(note(v["foreign"]).find("another export or filesystem") !=
          std::string::npos);
    CHECK(v["subexport"]["verdict"] == "UNMAPPED");
    CHECK(v["fsid7"]["verdict"] == "UNMAPPED");
    CHECK(note(v["fsid7"]).find("fsid=7") != std::string::npos);
    CHECK(note(v["fsid7"]).find("--fsid") != std::string::npos);
    CHECK(v["notknfsd"]["verdict"] == "UNMAPPED");
    CHECK(note(v["notknfsd"]).find("not a Linux knfsd file handle") !=
          std::string::npos);
    // A file of the same filesystem outside the export: open_by_handle_at
    // finds it and sees where it is; the index only knows it is not inside.
    if (m == "index") {
      CHECK(v["outside"]["verdict"] == "ORPHAN");
      CHECK(note(v["outside"]).find("moved out of the export") !=
            std::string::npos);
    } else {
      CHECK(v["outside"]["verdict"] == "UNMAPPED");
      CHECK(note(v["outside"]).find("but not under it") != std::string::npos);
    }
  }
  // Read-only: cache and export unchanged, atimes included.
  CHECK(test::snapshot(s.cache) == before);
  CHECK(test::snapshot(s.exp) == before_export);
}

TEST_CASE("verify --origin EXPORT: --fsid, the sub-export, text report",
          "[verify][export]")
{
  TempDir t;
  auto s = make(t);
  REQUIRE(unlink((s.exp + "/sub/deleted").c_str()) == 0);

  // With the export's fsid= the fsid=7 handle maps; the others carry
  // FSID_ENCODE_DEV and still map by device and inode.
  auto r = run_fsc({"--json=lines", "verify", s.cache, "--origin", s.exp,
                    "--origin-method", "index", "--fsid", "7"});
  INFO(r.out << r.err);
  auto v = by_case(s, r.out);
  CHECK(v["fsid7"]["verdict"] == "OKAY");
  CHECK(v["same"]["verdict"] == "OKAY");

  // Verifying against export/sub: only the handle of that export maps.
  r = run_fsc({"--json=lines", "verify", s.cache, "--origin", s.exp + "/sub",
               "--origin-method", "index"});
  v = by_case(s, r.out);
  CHECK(v["subexport"]["verdict"] == "OKAY");
  CHECK(v["same"]["verdict"] == "UNMAPPED");
  CHECK(note(v["same"]).find("export inode") != std::string::npos);

  // Text: the method is named, the findings listed, the summary counted.
  r = run_fsc(
      {"verify", s.cache, "--origin", s.exp, "--origin-method", "index"});
  CHECK(r.status == 1);
  CHECK(r.out.find("origin: export " + s.exp +
                   ", files found by an index of the export") !=
        std::string::npos);
  CHECK(r.out.find("ORPHAN") != std::string::npos);
  CHECK(r.out.find("no file under " + s.exp + " has inode") !=
        std::string::npos);
  CHECK(r.out.find("4 OKAY") != std::string::npos);
  if (privileged(s.exp)) {
    r = run_fsc({"verify", s.cache, "--origin", s.exp});
    CHECK(r.out.find("files found with open_by_handle_at") !=
          std::string::npos);
    r = run_fsc({"--json", "verify", s.cache, "--origin", s.exp});
    CHECK(nlohmann::json::parse(r.out)["origin_method"] == "open_by_handle_at");
  }

  r = run_fsc({"verify", s.cache, "--origin", s.exp, "--fsid", "root"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--fsid 'root'") != std::string::npos);
  r = run_fsc({"verify", s.cache, "--origin", t / "nowhere"});
  CHECK(r.status == 2);
  CHECK(r.err.find("cannot open origin") != std::string::npos);
}

TEST_CASE("verify --origin EXPORT --bury buries what is stale",
          "[verify][export]")
{
  TempDir t;
  auto s = make(t);
  change_export(s);
  auto before = test::snapshot(s.cache);
  auto r = run_fsc({"verify", s.cache, "--origin", s.exp, "--origin-method",
                    "index", "--bury", "--dry-run"});
  CHECK(r.status == 1);
  CHECK(test::snapshot(s.cache) == before);
  r = run_fsc({"verify", s.cache, "--origin", s.exp, "--origin-method", "index",
               "--bury"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  struct stat st;
  for (auto gone : {"touched", "deleted", "recreated", "renamed"})
    CHECK(lstat((s.cache + "/" + s.obj[gone]).c_str(), &st) != 0);
  for (auto kept : {"same", "foreign"})
    CHECK(lstat((s.cache + "/" + s.obj[kept]).c_str(), &st) == 0);
}
