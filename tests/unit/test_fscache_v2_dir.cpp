// test_fscache_v2_dir.cpp - the 6.1 engine's CacheFiles backend on a real
// directory: NFS file c=00000002 of the real 6.1 smoke trace replayed into
// an empty cache (same lines as 6.1 but for inode numbers, same name and
// xattr), the 8 objects of the smoke cache reproduced byte for byte, a
// coherent object found again, stale ones replaced or buried as 6.1 does,
// a read-only snapshot left unchanged, and `fsc inspect --check` clean.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fsc/cachefiles/store.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/fscache/v2/cachefiles_backend.hpp>
#include <fsc/fscache/v2/engine.hpp>
#include <fsc/trace/trace.hpp>
#include <fsc/trace/writer_v2.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <vector>

using namespace fsc::fscache::v2;
using fsc::Bytes;
namespace fs = std::filesystem;

namespace {

/// An in-memory FILE (a base, so that it exists before the writer).
struct MemStream {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  MemStream() = default;
  ~MemStream()
  {
    std::fclose(f);
    std::free(buf);
  }
  MemStream(const MemStream&) = delete;
  MemStream& operator=(const MemStream&) = delete;
};

/// The trace as "event: body" lines.
class Lines : private MemStream, public fsc::trace::FtraceWriterV2 {
public:
  Lines() : FtraceWriterV2(MemStream::f) {}

  std::vector<std::string> printks;
  void printk(std::string_view s) override { printks.emplace_back(s); }

  /// Lines written since the last call.
  std::vector<std::string> fresh()
  {
    std::fflush(f);
    std::vector<std::string> out;
    std::string_view all(buf, len);
    all = all.substr(m_seen);
    m_seen = len;
    while (!all.empty()) {
      std::size_t nl = all.find('\n');
      std::string_view l = all.substr(0, nl);
      all = nl == std::string_view::npos ? std::string_view{}
                                         : all.substr(nl + 1);
      auto p = fsc::trace::parse_line(l);
      if (p.kind == fsc::trace::Kind::event)
        out.push_back(std::string(p.line.event) + ": " +
                      std::string(p.line.body));
    }
    return out;
  }

private:
  std::size_t m_seen = 0;
};

std::size_t count(const std::vector<std::string>& ls, const std::string& sub)
{
  std::size_t n = 0;
  for (const auto& l : ls)
    n += l.find(sub) != std::string::npos;
  return n;
}

Bytes hex(std::string_view h)
{
  Bytes b;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    b.push_back(static_cast<std::uint8_t>(
        std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return b;
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

/// user.CacheFiles.cache of path (no follow), empty when absent.
Bytes xattr_of(const std::string& path)
{
  Bytes b(512);
  ssize_t n =
      lgetxattr(path.c_str(), "user.CacheFiles.cache", b.data(), b.size());
  b.resize(n < 0 ? 0 : std::size_t(n));
  return b;
}

unsigned mode_of(const std::string& path)
{
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode;
}

std::uint64_t ino_of(const std::string& path)
{
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_ino;
}

const std::string k_vol_v3 = "nfs,3.0,2,,100007f,e0666721b7ea5003,,,3002c0,"
                             "80000,80000,2ee,3a98,1d4c,3a98,1";
const std::string k_vol_v4 = "nfs,4.2,2,108,100007f,a98dc7a742f740bb,"
                             "aadd2d106390265b,,,80000,80000,2ee,3a98,1d4c,"
                             "3a98,1";
const std::string k_vol_v4_root = "nfs,4.2,2,108,100007f,,,,,80000,80000,"
                                  "2ee,3a98,1d4c,3a98,1";

/// An engine on a cache directory through a Store, with a virtual clock for
/// graveyard names.
struct DirRig {
  std::unique_ptr<fsc::cachefiles::Store> store;
  Lines rec;
  CacheFilesBackend be;
  Engine e;
  explicit DirRig(std::unique_ptr<fsc::cachefiles::Store> s)
      : store(std::move(s)), be(*store, [] { return 0x6560f000U; }), e(be, rec)
  {
    REQUIRE(e.add_cache() == 0);
  }
  VolumeId volume(const std::string& key)
  {
    VolumeId v = e.acquire_volume(key);
    e.run();
    REQUIRE(v != 0);
    return v;
  }
  /// One NFS open-read-close of a file the server sent whole: lookup,
  /// every page written, commit at relinquish.
  CookieId whole_file(VolumeId v, const Bytes& key, const Bytes& aux,
                      std::uint64_t size, bool write = true)
  {
    CookieId c = e.acquire_cookie(v, key, aux, size);
    REQUIRE(c != 0);
    e.use_cookie(c, false);
    e.run();
    if (write) {
      OpId op = e.begin_write(c);
      e.run();
      for (std::uint64_t pos = 0; pos < size; pos += 4096)
        CHECK(e.write(op, pos, 4096) > 0);
      e.end_operation(op);
    }
    e.unuse_cookie(c, &aux, &size);
    e.relinquish_cookie(c, false);
    e.run();
    return c;
  }
};

std::unique_ptr<fsc::cachefiles::Store> dir_store(const std::string& root)
{
  return fsc::cachefiles::make_dir_store(root);
}

/// The 8 cookies of the smoke run (cookies.txt: c=00000002..9 with their
/// volume, key and aux) and each file's size (the origin listing).
struct SmokeCookie {
  std::string volume;
  Bytes key, aux;
  std::uint64_t size = 0;
};

std::vector<SmokeCookie> smoke_cookies()
{
  std::map<std::string, std::uint64_t> size_of_fh;
  {
    fsc::trace::LineReader in(fsc::test::fixtures_dir() +
                              "/real-6.1-smoke/origin-client-v3.jsonl.xz");
    std::string_view l;
    while (in.next(l)) {
      auto j = nlohmann::json::parse(l);
      if (j["type"] == "f" && j.contains("nfs_fh_hex") &&
          j["nfs_fh_hex"].is_string())
        size_of_fh[j["nfs_fh_hex"].get<std::string>()] =
            j["size"].get<std::uint64_t>();
    }
  }
  std::ifstream in(fsc::test::fixtures_dir() + "/real-6.1-smoke/cookies.txt");
  std::vector<SmokeCookie> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string c, v, ref, act, acc, st, fl, key, aux;
    if (!(ls >> c >> v >> ref >> act >> acc >> st >> fl >> key >> aux))
      continue;
    if (st != "A")
      continue;     // the 8 files read (the other 196 were only looked up)
    key.pop_back(); // "key, aux"
    // Volumes in the order the mounts acquired them: V=1 the NFSv3
    // export, V=2 the NFSv4 pseudo-root, V=3 the NFSv4 export.
    SmokeCookie s;
    s.volume = v == "00000001" ? k_vol_v3 : k_vol_v4;
    s.key = hex(key);
    s.aux = hex(aux);
    REQUIRE(size_of_fh.count(key) == 1); // the key is the file handle
    s.size = size_of_fh[key];
    out.push_back(s);
  }
  return out;
}

} // namespace

TEST_CASE("v2 dir: c=00000002 of the real 6.1 smoke trace replayed into a "
          "directory",
          "[fscache_v2][v2dir]")
{
  struct Real {
    std::string task, text;
  };
  std::vector<Real> real;
  fsc::trace::LineReader in(fsc::test::fixtures_dir() +
                            "/real-6.1-smoke/ftrace.txt.xz");
  std::string_view raw;
  while (in.next(raw)) {
    auto p = fsc::trace::parse_line(raw);
    if (p.kind != fsc::trace::Kind::event)
      continue;
    std::string body(p.line.body);
    if (body.find("c=00000002 ") == std::string::npos &&
        body.find("o=00000001 ") == std::string::npos)
      continue;
    real.push_back(
        {std::string(p.line.task), std::string(p.line.event) + ": " + body});
  }
  REQUIRE(real.size() == 1829);

  Bytes key = hex("010007015b01000000000000a98dc7a742f740bbaadd2d106390265b"
                  "083b000070f56253");
  Bytes aux = hex("10ff53650000000015cd5b070000000045d8056b00000000006436"
                  "10000000000000000000000000");
  const std::uint64_t size = 0x100000;

  fsc::test::TempDir tmp;
  DirRig r(dir_store(tmp.path()));
  VolumeId v = r.volume(k_vol_v3);
  r.rec.fresh();

  // The calls of the in-memory replay (test_fscache_v2.cpp), one operation
  // per task.
  CookieId c = 0;
  std::map<std::string, OpId> op_of;
  std::map<std::string, int> io_of;
  std::uint64_t page = 0;
  for (std::size_t i = 0; i < real.size(); ++i) {
    const std::string& t = real[i].text;
    const std::string& task = real[i].task;
    if (t.find("NEW acq") != std::string::npos) {
      c = r.e.acquire_cookie(v, key, aux, size);
    } else if (t.find("fscache_active") == 0 &&
               t.find(" USE ") != std::string::npos) {
      r.e.run();
      r.e.use_cookie(c, false);
    } else if (t.find("BEGIN io_read") != std::string::npos) {
      r.e.run();
      op_of[task] = r.e.begin_read(c);
      CHECK(r.e.read(op_of[task], page++ * 4096, 4096) == -ENODATA);
    } else if (t.find("BEGIN io_writ") != std::string::npos) {
      r.e.run();
      op_of[task] = r.e.begin_write(c);
    } else if (t.find("GET ioreq") != std::string::npos) {
      auto s = real[i + 1].text;
      auto pos = std::stoull(s.substr(s.find(" s=") + 3), nullptr, 16);
      io_of[task] = r.e.write(op_of[task], pos, 4096, false);
    } else if (t.find("PUT ioreq") != std::string::npos) {
      r.e.complete_write(io_of[task]);
    } else if (t.find("END   io      ") != std::string::npos) {
      r.e.end_operation(op_of[task]);
    } else if (t.find("UNUSE") != std::string::npos) {
      r.e.run();
      r.e.unuse_cookie(c, &aux, &size);
    } else if (t.find("fscache_relinquish") == 0) {
      r.e.run();
      r.e.relinquish_cookie(c, false);
    }
  }
  r.e.run();
  REQUIRE(c == 2);
  CHECK(r.e.check_counts().empty());

  // Line for line as 6.1, inode numbers aside (ours are the directory's).
  static const std::regex ino("B=[0-9a-f]+");
  std::vector<std::string> ours;
  for (auto& l : r.rec.fresh())
    if (l.find("c=00000002 ") != std::string::npos ||
        l.find("o=00000001 ") != std::string::npos)
      ours.push_back(std::regex_replace(l, ino, "B=*"));
  std::size_t n = std::min(ours.size(), real.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::string want = std::regex_replace(real[i].text, ino, "B=*");
    if (ours[i] != want) {
      INFO("line " << i << ": real: " << want);
      INFO("line " << i << ": ours: " << ours[i]);
      CHECK(ours[i] == want);
      break;
    }
  }
  CHECK(ours.size() == real.size());

  // The tree: the real cache's volume directory, fan-out, name and xattr.
  const std::string vol = tmp / ("cache/I" + k_vol_v3);
  const std::string file =
      vol + "/@e3/E010M11Il000000000FSUNDaQZ0JHGtT24z1F9rxMe000sRbSk";
  CHECK(CacheFilesBackend::path_of(k_vol_v3, key) ==
        file.substr(tmp.path().size() + 1));
  CHECK(xattr_of(vol) == hex("00000000"));
  CHECK(mode_of(vol) == (S_IFDIR | 0700));
  CHECK(mode_of(vol + "/@e3") == (S_IFDIR | 0700));
  CHECK(mode_of(tmp / "cache") == (S_IFDIR | 0700));
  CHECK(mode_of(tmp / "graveyard") == (S_IFDIR | 0700));
  CHECK(mode_of(file) == S_IFREG); // 6.1's tmpfiles are mode 0
  CHECK(fs::file_size(file) == size);
  CHECK(xattr_of(file) ==
        hex("00000000001000000000000000000000010010ff53650000000015cd5b07"
            "0000000045d8056b0000000000643610000000000000000000000000"));
  std::size_t fanouts = 0;
  for (const auto& e : fs::directory_iterator(vol)) {
    (void)e;
    ++fanouts;
  }
  CHECK(fanouts == 256); // all made at volume acquisition
  CHECK(fs::is_empty(tmp / "graveyard"));
}

TEST_CASE("v2 dir: the 8 objects of the real 6.1 smoke cache reproduced",
          "[fscache_v2][v2dir]")
{
  auto cookies = smoke_cookies();
  REQUIRE(cookies.size() == 8);

  fsc::test::TempDir tmp;
  const std::string ours = tmp / "ours";
  fsc::test::make_dirs(ours, 0755);
  {
    DirRig r(dir_store(ours));
    std::map<std::string, VolumeId> vols;
    for (const auto& k : {k_vol_v3, k_vol_v4_root, k_vol_v4})
      vols[k] = r.volume(k);
    for (const auto& s : cookies)
      r.whole_file(vols[s.volume], s.key, s.aux, s.size);
    for (const auto& [k, v] : vols)
      r.e.relinquish_volume(v);
    r.e.run();
    CHECK(r.e.check_counts().empty());
    CHECK(r.be.live_objects() == 0);
  }

  fsc::test::make_dirs(tmp / "real", 0755);
  const std::string real = fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", tmp / "real");

  // Every volume directory and data file of the real cache, with its mode,
  // size and xattr bytes; and no data file of ours that 6.1 did not make.
  std::set<std::string> real_files, our_files;
  std::size_t checked_dirs = 0;
  for (auto it = fs::recursive_directory_iterator(real + "/cache");
       it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().string().substr(real.size() + 1);
    if (it->is_regular_file())
      real_files.insert(rel);
    else if (it.depth() == 0) {
      INFO(rel);
      REQUIRE(fs::is_directory(ours + "/" + rel));
      CHECK(mode_of(ours + "/" + rel) == mode_of(it->path().string()));
      CHECK(xattr_of(ours + "/" + rel) == xattr_of(it->path().string()));
      ++checked_dirs;
    }
  }
  CHECK(checked_dirs == 3);
  CHECK(real_files.size() == 8);
  for (auto it = fs::recursive_directory_iterator(ours + "/cache");
       it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file())
      our_files.insert(it->path().string().substr(ours.size() + 1));
  CHECK(our_files == real_files);
  for (const auto& rel : real_files) {
    INFO(rel);
    if (!fs::exists(ours + "/" + rel))
      continue;
    CHECK(mode_of(ours + "/" + rel) == mode_of(real + "/" + rel));
    CHECK(fs::file_size(ours + "/" + rel) == fs::file_size(real + "/" + rel));
    Bytes x = xattr_of(ours + "/" + rel);
    CHECK(x.size() == 58);
    CHECK(x == xattr_of(real + "/" + rel));
  }

  // The checker finds nothing wrong in what the backend wrote.
  auto res = fsc::test::run_fsc({"inspect", ours, "--check"});
  INFO(res.out << res.err);
  CHECK(res.status == 0);
}

TEST_CASE("v2 dir: a coherent object is used again, a stale one replaced",
          "[fscache_v2][v2dir]")
{
  fsc::test::TempDir tmp;
  DirRig r(dir_store(tmp.path()));
  VolumeId v = r.volume("test,vol");
  const Bytes key = bytes("file-1");
  const std::string path =
      tmp / CacheFilesBackend::path_of("test,vol", bytes("file-1"));
  r.whole_file(v, key, bytes("aux-0001"), 10000);
  REQUIRE(fs::exists(path));
  const std::uint64_t ino = ino_of(path);
  CHECK(fs::file_size(path) == 12288); // round_up(10000, 4096)

  // Found coherent: no tmpfile, the same inode, data readable.
  r.rec.fresh();
  CookieId c = r.e.acquire_cookie(v, key, bytes("aux-0001"), 10000);
  r.e.use_cookie(c, false);
  r.e.run();
  auto l = r.rec.fresh();
  CHECK(count(l, "cachefiles_coherency: o=00000002 OK       B=") == 1);
  CHECK(count(l, "cachefiles_tmpfile") == 0);
  CHECK(r.e.cookie_info(c).state == CookieState::active);
  OpId op = r.e.begin_read(c);
  CHECK(r.e.read(op, 4096, 4096) == 0);
  r.e.end_operation(op);
  const Bytes aux = bytes("aux-0001");
  const std::uint64_t sz = 10000;
  r.e.unuse_cookie(c, &aux, &sz);
  r.e.relinquish_cookie(c, false);
  r.e.run();
  CHECK(ino_of(path) == ino);
  CHECK(count(r.rec.fresh(), "cachefiles_link") == 0);

  // Changed on the server (new aux): BAD aux, a new tmpfile, and at the
  // commit the stale file is unlinked and the new one linked in its place.
  r.whole_file(v, key, bytes("aux-0002"), 10000);
  l = r.rec.fresh();
  CHECK(count(l, "BAD aux ") == 1);
  CHECK(count(l, "w=stale") == 1);
  CHECK(count(l, "cachefiles_link") == 1);
  REQUIRE(fs::exists(path));
  CHECK(ino_of(path) != ino);
  auto x = fsc::cachefiles::decode_xattr_v2(xattr_of(path));
  REQUIRE(x);
  CHECK(x->aux == bytes("aux-0002"));
  CHECK(x->object_size == 10000);

  // Invalidation: the old name goes at once, the new file comes at commit.
  const std::uint64_t ino2 = ino_of(path);
  c = r.e.acquire_cookie(v, key, bytes("aux-0002"), 10000);
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.invalidate(c, bytes("aux-0003"), 5000);
  r.e.run();
  CHECK_FALSE(fs::exists(path));
  const Bytes aux3 = bytes("aux-0003");
  const std::uint64_t sz3 = 5000;
  r.e.unuse_cookie(c, &aux3, &sz3);
  r.e.relinquish_cookie(c, false);
  r.e.run();
  REQUIRE(fs::exists(path));
  CHECK(ino_of(path) != ino2);
  CHECK(fs::file_size(path) == 8192);
  CHECK(mode_of(path) == S_IFREG);

  // Retired: the file is deleted.
  c = r.e.acquire_cookie(v, key, aux3, 5000);
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, true);
  r.e.run();
  CHECK_FALSE(fs::exists(path));
  CHECK(fs::is_empty(tmp / "graveyard"));
  CHECK(r.e.check_counts().empty());
}

TEST_CASE("v2 dir: a mismatched volume and a weird object go to graveyard/",
          "[fscache_v2][v2dir]")
{
  fsc::test::TempDir tmp;
  fsc::test::make_dirs(tmp / "cache/Itest,vol/@00", 0700);
  fsc::test::make_dirs(tmp / "graveyard", 0700);
  fsc::test::set_xattr(tmp / "cache/Itest,vol", hex("00000000aa"));
  fsc::test::write_file(tmp / "cache/Itest,vol/@00/old", "x");
  {
    DirRig r(dir_store(tmp.path()));
    r.rec.fresh();
    VolumeId v = r.volume("test,vol");
    auto l = r.rec.fresh();
    // 4 + 0 bytes expected, 5 there: getxattr says ERANGE, no burial.
    CHECK(count(l, "VOL BAD xatt") == 1);
    CHECK_FALSE(r.e.volume_info(v).cache_priv);
    CHECK(fs::is_empty(tmp / "graveyard"));
    r.e.relinquish_volume(v);
    r.e.run();
  }
  // Same length, other coherency data: buried under "%08x%08x".
  fsc::test::set_xattr(tmp / "cache/Itest,vol", hex("00000001"));
  {
    DirRig r(dir_store(tmp.path()));
    r.rec.fresh();
    VolumeId v = r.volume("test,vol");
    auto l = r.rec.fresh();
    CHECK(count(l, "VOL BAD resv") == 1);
    CHECK(count(l, "cachefiles_rename: o=ffffffff B=") == 1);
    CHECK(count(l, "w=volume_weird") == 1);
    CHECK(r.e.volume_info(v).cache_priv);
    CHECK(fs::exists(tmp / "graveyard/6560f00000000001/@00/old"));
    CHECK(xattr_of(tmp / "cache/Itest,vol") == hex("00000000"));
    CHECK_FALSE(fs::exists(tmp / "cache/Itest,vol/@00/old"));

    // A directory where a data file belongs: buried (w=weird), then made.
    const Bytes key = bytes("file-1");
    const std::string path = tmp / CacheFilesBackend::path_of("test,vol", key);
    fsc::test::make_dirs(path, 0700);
    r.whole_file(v, key, bytes("aux"), 4096);
    l = r.rec.fresh();
    CHECK(count(l, "w=weird") == 1);
    CHECK(fs::is_regular_file(path));
    CHECK(fs::is_directory(tmp / "graveyard/6560f00000000002"));
    // A symlink there is unlinked, never followed.
    fs::remove(path);
    fs::create_symlink(tmp / "graveyard", path);
    r.whole_file(v, key, bytes("aux"), 4096);
    CHECK(fs::is_regular_file(fs::symlink_status(path)));
    CHECK(fs::is_directory(tmp / "graveyard/6560f00000000002"));
    // A volume key with '/' never reaches outside cache/.
    VolumeId bad = r.e.acquire_volume("x/../../../escape");
    r.e.run();
    if (bad != 0)
      CHECK_FALSE(r.e.volume_info(bad).cache_priv);
    CHECK_FALSE(fs::exists(tmp / "escape"));
    CHECK_FALSE(fs::exists(tmp / "cache/Ix"));
    CHECK(r.e.check_counts().empty());
  }
}

TEST_CASE("v2 dir: a replay over a read-only snapshot of the real cache "
          "changes nothing",
          "[fscache_v2][v2dir]")
{
  auto cookies = smoke_cookies();
  fsc::test::TempDir tmp;
  const std::string real = fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", tmp.path());
  auto before = fsc::test::snapshot(real);
  auto overlay = fsc::cachefiles::make_overlay_store(real);
  fsc::cachefiles::Store& st = *overlay;
  {
    DirRig r(std::move(overlay));
    std::map<std::string, VolumeId> vols;
    for (const auto& k : {k_vol_v3, k_vol_v4})
      vols[k] = r.volume(k);
    auto l = r.rec.fresh();
    CHECK(count(l, "VOL OK      ") == 2);
    for (const auto& s : cookies)
      r.whole_file(vols[s.volume], s.key, s.aux, s.size, false);
    l = r.rec.fresh();
    // Every object of the real cache is found coherent and reused.
    CHECK(count(l, "cachefiles_coherency: o=") == 16); // 8 OK + 8 SET ok
    CHECK(count(l, " OK       B=") == 8);
    CHECK(count(l, "cachefiles_tmpfile") == 0);
    // And one new object: made in the overlay only.
    r.whole_file(vols[k_vol_v3], bytes("new-file"), bytes("aux"), 4096);
    CHECK(st.stat(CacheFilesBackend::path_of(k_vol_v3, bytes("new-file"))).reg);
    CHECK(r.e.check_counts().empty());
  }
  CHECK(fsc::test::snapshot(real) == before);
}

TEST_CASE("v2 dir: random call sequences with faults leave a clean cache",
          "[fscache_v2][v2dir]")
{
  using Fault = CacheFilesBackend::Fault;
  std::mt19937_64 rng(20261203);
  for (int seq = 0; seq < 100; ++seq) {
    INFO("sequence " << seq);
    auto frng = std::make_shared<std::mt19937_64>(rng());
    const unsigned pct = seq % 3 == 0 ? 0 : 5;
    fsc::test::TempDir tmp;
    DirRig r(dir_store(tmp.path()));
    VolumeId v = r.volume("test,vol");
    r.be.set_faults([frng, pct](Fault f, std::uint32_t) {
      if (pct == 0 || (*frng)() % 100 >= pct)
        return 0;
      return f == Fault::lookup && (*frng)() % 4 == 0 ? -EIO : -ENOMEM;
    });
    struct H {
      CookieId c = 0;
      int n_active = 0;
    };
    std::vector<H> hs(3);
    auto aux = [&rng] { return bytes("aux-000" + std::to_string(rng() % 3)); };
    const int steps = 10 + static_cast<int>(rng() % 40);
    for (int step = 0; step < steps; ++step) {
      const std::size_t i = rng() % hs.size();
      H& h = hs[i];
      const Bytes key = bytes("key-" + std::to_string(i));
      const bool live = h.c != 0 && !r.e.cookie_info(h.c).acquire_pending;
      switch (rng() % 8) {
      case 0:
        if (h.c == 0)
          h.c = r.e.acquire_cookie(v, key, aux(), rng() % 3 * 4096);
        break;
      case 1:
        if (live) {
          r.e.use_cookie(h.c, rng() % 3 == 0);
          ++h.n_active;
          r.e.run();
        }
        break;
      case 2:
        if (live && h.n_active > 0) {
          Bytes a = aux();
          std::uint64_t size = rng() % 3 * 4096;
          r.e.unuse_cookie(h.c, rng() % 2 ? &a : nullptr, &size);
          --h.n_active;
        }
        break;
      case 3:
        if (live) {
          while (h.n_active > 0) {
            r.e.unuse_cookie(h.c);
            --h.n_active;
          }
          r.e.relinquish_cookie(h.c, rng() % 4 == 0);
          h.c = 0;
        }
        break;
      case 4:
        if (live)
          r.e.invalidate(h.c, aux(), rng() % 3 * 4096);
        break;
      case 5:
        if (live && h.n_active > 0) {
          r.e.run();
          OpId op = r.e.begin_write(h.c);
          r.e.run();
          if (r.e.op_info(op).status == OpInfo::ready) {
            r.e.write(op, rng() % 2 * 4096, 4096);
            r.e.read(op, 0, 4096);
          }
          r.e.end_operation(op);
        }
        break;
      case 6:
        r.e.advance(11 * k_ns_per_s); // idle cookies leave the LRU
        break;
      default:
        r.e.run();
        break;
      }
    }
    r.e.run();
    for (H& h : hs)
      if (h.c != 0) {
        while (h.n_active-- > 0)
          r.e.unuse_cookie(h.c);
        r.e.relinquish_cookie(h.c, false);
      }
    r.e.relinquish_volume(v);
    r.e.run();
    auto bad = r.e.check_counts();
    INFO((bad.empty() ? std::string() : bad[0]));
    CHECK(bad.empty());
    CHECK(r.be.live_objects() == 0);
    // Every data file is a committed object at its 6.1 place: mode 0, an
    // 18 + 8 byte xattr. A failed setxattr (a fault) is still linked, as
    // cachefiles_commit_object() does: then there is no xattr at all.
    for (std::size_t i = 0; i < hs.size(); ++i) {
      std::string p = tmp / CacheFilesBackend::path_of(
                                "test,vol", bytes("key-" + std::to_string(i)));
      if (!fs::exists(p))
        continue;
      CHECK(mode_of(p) == S_IFREG);
      Bytes raw = xattr_of(p);
      if (pct != 0 && raw.empty())
        continue;
      auto x = fsc::cachefiles::decode_xattr_v2(raw);
      REQUIRE(x);
      CHECK(x->aux.size() == 8);
    }
    std::size_t files = 0;
    for (auto it = fs::recursive_directory_iterator(tmp / "cache");
         it != fs::recursive_directory_iterator(); ++it)
      files += it->is_regular_file();
    CHECK(files <= hs.size());
    if (pct == 0 && seq % 2 == 0) {
      auto res = fsc::test::run_fsc({"inspect", tmp.path(), "--check"});
      INFO(res.out << res.err);
      CHECK(res.status == 0);
    }
  }
}

TEST_CASE("v2 dir: without b08968f196d4 (shorten-length) a shrink grows "
          "the file on disk",
          "[fscache_v2][v2dir][unfix]")
{
  for (bool fixed : {true, false}) {
    fsc::test::TempDir tmp;
    DirRig r(dir_store(tmp.path()));
    Fixes f;
    f.shorten_length = fixed;
    r.e.set_fixes(f);
    VolumeId v = r.volume("test,vol");
    const Bytes key = bytes("file-1");
    const std::string path =
        tmp / CacheFilesBackend::path_of("test,vol", key);
    CookieId c = r.e.acquire_cookie(v, key, bytes("aux-0001"), 16384);
    r.e.use_cookie(c, true);
    r.e.run();
    r.e.resize_cookie(c, 5000);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
    INFO("fixed " << fixed);
    REQUIRE(fs::exists(path));
    CHECK(fs::file_size(path) == (fixed ? 8192U : 5000U + 8192U));
  }
}
