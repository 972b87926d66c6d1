// test_export.cpp - finding origin files on an NFS server's export from the
// knfsd handles its clients cached, on a real directory of this machine.
#include <catch2/catch.hpp>

#include <fsc/error.hpp>
#include <fsc/netfs/export.hpp>
#include <fsc/netfs/knfsd.hpp>

#include "tree.hpp"

#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace fsc;
using namespace fsc::netfs;
using fsc::test::TempDir;

namespace {

/// The fileid name_to_handle_at gives for path, with its type.
struct Handle {
  unsigned type = 0;
  Bytes fileid;
};

Handle handle_of(const std::string& path)
{
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* fh = reinterpret_cast<file_handle*>(buf);
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  REQUIRE(name_to_handle_at(AT_FDCWD, path.c_str(), fh, &mount_id, 0) == 0);
  auto* p = reinterpret_cast<const std::uint8_t*>(fh->f_handle);
  return {unsigned(fh->handle_type), Bytes(p, p + fh->handle_bytes)};
}

/// What knfsd would hand a client for path in the export of `origin`.
Bytes knfsd_key(const ExportOrigin& origin, const Handle& h,
                unsigned fsid_type = fsid_encode_dev)
{
  auto fsids = make_knfsd_fsid(origin.identity(), fsid_type);
  REQUIRE(!fsids.empty());
  KnfsdFh fh;
  fh.fsid_type = std::uint8_t(fsid_type);
  fh.fileid_type = std::uint8_t(h.type);
  fh.fsid = fsids[0];
  fh.fileid = h.fileid;
  return encode(fh);
}

std::string real(const std::string& p)
{
  char buf[PATH_MAX];
  REQUIRE(realpath(p.c_str(), buf));
  return buf;
}

/// An export with files at two depths, a symlink and a FIFO.
struct Export {
  TempDir t;
  std::string dir = t / "export";
  Export()
  {
    fsc::test::write_file(dir + "/top.txt", "top");
    fsc::test::write_file(dir + "/sub/deep/file.bin", "deep");
    REQUIRE(symlink("top.txt", (dir + "/link").c_str()) == 0);
    REQUIRE(mkfifo((dir + "/fifo").c_str(), 0600) == 0);
  }
};

} // namespace

TEST_CASE("export: the index finds files by inode and generation", "[export]")
{
  Export e;
  ExportOrigin origin(e.dir, ExportMethod::index);
  CHECK(origin.export_method() == ExportMethod::index);
  CHECK(origin.method() == "index");
  CHECK(origin.indexed_files() == 0); // walked only when first needed
  const Handle top = handle_of(e.dir + "/top.txt");
  const Handle deep = handle_of(e.dir + "/sub/deep/file.bin");
  Located a = origin.locate(knfsd_key(origin, top));
  CHECK(a.verdict == Verdict::okay);
  CHECK(a.path == real(e.dir) + "/top.txt");
  CHECK(!a.fd); // the index gives a path to open
  Located b = origin.locate(knfsd_key(origin, deep));
  CHECK(b.verdict == Verdict::okay);
  CHECK(b.path == real(e.dir) + "/sub/deep/file.bin");
  // Regular files only: the symlink and the FIFO are not origins.
  CHECK(origin.indexed_files() == 2);
}

TEST_CASE("export: a deleted file, or its inode reused, is an orphan",
          "[export]")
{
  Export e;
  fsc::test::write_file(e.dir + "/gone", "x");
  const Handle gone = handle_of(e.dir + "/gone");
  REQUIRE(unlink((e.dir + "/gone").c_str()) == 0);
  ExportOrigin origin(e.dir, ExportMethod::index);
  Located l = origin.locate(knfsd_key(origin, gone));
  CHECK(l.verdict == Verdict::orphan);
  CHECK(l.note.find("no file under") != std::string::npos);

  Handle top = handle_of(e.dir + "/top.txt");
  auto f = decode_fileid(top.type, top.fileid);
  if (!f) {
    WARN("this file system's handles are not (inode, generation); skipped");
    return;
  }
  // The same inode with another generation: the file the client cached was
  // deleted and its inode given to another.
  f->gen ^= 1;
  top.fileid = encode_fileid(KnfsdFileidType(top.type), *f);
  Located r = origin.locate(knfsd_key(origin, top));
  CHECK(r.verdict == Verdict::orphan);
  CHECK(r.note.find("inode reused") != std::string::npos);
}

TEST_CASE("export: handles of another export, of its root, or not knfsd's",
          "[export]")
{
  Export e;
  ExportOrigin origin(e.dir, ExportMethod::index);
  const Handle top = handle_of(e.dir + "/top.txt");

  KnfsdFh other;
  other.fsid_type = fsid_encode_dev;
  other.fileid_type = std::uint8_t(top.type);
  other.fsid = make_knfsd_fsid(origin.identity(), fsid_encode_dev)[0];
  other.fsid[4] ^= 0xff; // another export root inode
  other.fileid = top.fileid;
  Located o = origin.locate(encode(other));
  CHECK(o.verdict == Verdict::unmapped);
  CHECK(o.note.find("another export") != std::string::npos);

  // fsid=N in /etc/exports cannot be checked without --fsid.
  KnfsdFh num = other;
  num.fsid_type = fsid_num;
  num.fsid = {7, 0, 0, 0};
  Located n = origin.locate(encode(num));
  CHECK(n.verdict == Verdict::unmapped);
  CHECK(n.note.find("give --fsid") != std::string::npos);
  ExportOrigin seven(e.dir, ExportMethod::index, "7");
  Located s = seven.locate(encode(num));
  CHECK(s.verdict == Verdict::okay);
  CHECK(s.path == real(e.dir) + "/top.txt");

  KnfsdFh root = other;
  root.fsid = make_knfsd_fsid(origin.identity(), fsid_encode_dev)[0];
  root.fileid_type = fileid_root;
  root.fileid.clear();
  Located r = origin.locate(encode(root));
  CHECK(r.verdict == Verdict::unmapped);
  CHECK(r.note.find("root directory") != std::string::npos);

  Located g = origin.locate(Bytes{2, 0, 0, 0, 1, 2, 3, 4});
  CHECK(g.verdict == Verdict::unmapped);
  CHECK(g.note.find("not a Linux knfsd file handle") != std::string::npos);
}

TEST_CASE("export: a fileid fsc cannot decode is matched byte for byte",
          "[export]")
{
  Export e;
  ExportOrigin origin(e.dir, ExportMethod::index);
  Handle odd{0x4d, Bytes{1, 2, 3, 4, 5, 6, 7, 8}}; // a btrfs-like type
  Located l = origin.locate(knfsd_key(origin, odd));
  CHECK(l.verdict == Verdict::unmapped);
  CHECK(l.note.find("is not understood") != std::string::npos);
}

TEST_CASE("export: open_by_handle_at when permitted, else a clear refusal",
          "[export]")
{
  Export e;
  std::optional<ExportOrigin> origin;
  try {
    origin.emplace(e.dir, ExportMethod::open_by_handle);
  } catch (const Error& err) {
    // Without CAP_DAC_READ_SEARCH: the refusal says what is missing.
    CHECK(std::string(err.what()).find("CAP_DAC_READ_SEARCH") !=
          std::string::npos);
    ExportOrigin automatic(e.dir, ExportMethod::automatic);
    CHECK(automatic.export_method() == ExportMethod::index);
    return;
  }
  CHECK(origin->method() == "open_by_handle_at");
  Located l = origin->locate(knfsd_key(*origin, handle_of(e.dir + "/top.txt")));
  CHECK(l.verdict == Verdict::okay);
  CHECK(l.path == real(e.dir) + "/top.txt");
  REQUIRE(l.fd);
  char buf[4] = {};
  CHECK(pread(l.fd.get(), buf, 3, 0) == 3);
  CHECK(std::string(buf) == "top");
  // A directory's handle names no file.
  Located d = origin->locate(knfsd_key(*origin, handle_of(e.dir + "/sub")));
  CHECK(d.verdict == Verdict::unmapped);
  CHECK(d.note.find("directory") != std::string::npos);
  CHECK(origin->indexed_files() == 0); // no walk was needed
}

TEST_CASE("export: what cannot be an export is refused", "[export]")
{
  TempDir t;
  CHECK_THROWS_AS(ExportOrigin(t / "missing", ExportMethod::index), Error);
  fsc::test::write_file(t / "file", "x");
  CHECK_THROWS_AS(ExportOrigin(t / "file", ExportMethod::index), Error);
  fsc::test::make_dirs(t / "dir");
  CHECK_THROWS_AS(ExportOrigin(t / "dir", ExportMethod::index, "not-an-fsid"),
                  Error);
  CHECK(!is_nfs_mount(t.path()));
  CHECK_THROWS_AS(is_nfs_mount(t / "missing"), Error);
}
