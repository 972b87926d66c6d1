// test_fd.cpp - the owning Fd and the directory reader on real directories.
#include <catch2/catch.hpp>

#include <fsc/fd.hpp>

#include "tree.hpp"

#include <cerrno>
#include <fcntl.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using fsc::DirEntry;
using fsc::DirReader;
using fsc::Fd;
using fsc::test::TempDir;

namespace {

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

Fd open_dir(const std::string& path)
{
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  return fd;
}

std::set<std::string> names_of(DirReader& r)
{
  std::set<std::string> out;
  for (const DirEntry& e : r)
    CHECK(out.insert(e.name).second); // each name once
  return out;
}

} // namespace

TEST_CASE("Fd: closes once, moves, releases, resets", "[fd]")
{
  TempDir t;
  fsc::test::write_file(t / "f", "x");
  int raw = open((t / "f").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  {
    Fd a(raw);
    CHECK(a);
    CHECK(a.get() == raw);
    Fd b(std::move(a));
    CHECK(!a);
    CHECK(b.get() == raw);
    CHECK(is_open(raw));
  }
  CHECK(!is_open(raw)); // closed by b, and a had nothing to close

  raw = open((t / "f").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  int kept;
  {
    Fd c(raw);
    kept = c.release();
    CHECK(!c);
  }
  CHECK(kept == raw);
  CHECK(is_open(raw));

  Fd d(raw);
  int other = open((t / "f").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(other >= 0);
  errno = ENOENT;
  d.reset(other); // closes raw, keeps errno for a caller that reports it
  CHECK(errno == ENOENT);
  CHECK(!is_open(raw));
  CHECK(is_open(other));
  d = Fd(-EACCES); // a -errno is held, never closed
  CHECK(!is_open(other));
  CHECK(!d);
  CHECK(d.get() == -EACCES);
}

TEST_CASE("DirReader: names and types, without . and ..", "[fd]")
{
  TempDir t;
  fsc::test::make_dirs(t / "d/sub");
  fsc::test::write_file(t / "d/file", "x");
  fsc::test::write_file(t / "d/.hidden", "x");
  fsc::test::write_file(t / "d/..x", "x");
  REQUIRE(symlink("file", (t / "d/link").c_str()) == 0);
  Fd fd = open_dir(t / "d");
  DirReader r(fd.get());
  std::set<std::string> names;
  for (const DirEntry& e : r) {
    names.insert(e.name);
    const std::string n = e.name;
    // ext4, xfs, btrfs and tmpfs say; others may leave it to a stat.
    if (e.type == DT_UNKNOWN)
      continue;
    if (n == "sub")
      CHECK(e.type == DT_DIR);
    else if (n == "link")
      CHECK(e.type == DT_LNK);
    else
      CHECK(e.type == DT_REG);
  }
  CHECK(r.error() == 0);
  CHECK(names ==
        std::set<std::string>{"sub", "file", ".hidden", "..x", "link"});
  // At the end it stays at the end, without asking the kernel again.
  CHECK(r.next() == nullptr);
  CHECK(r.error() == 0);
}

TEST_CASE("DirReader: an empty directory has no names", "[fd]")
{
  TempDir t;
  fsc::test::make_dirs(t / "empty");
  Fd fd = open_dir(t / "empty");
  DirReader r(fd.get());
  CHECK(r.next() == nullptr);
  CHECK(r.error() == 0);
}

TEST_CASE("DirReader: a directory larger than one buffer, read in a next() "
          "loop and into a caller's small buffer",
          "[fd]")
{
  TempDir t;
  fsc::test::make_dirs(t / "big");
  // 3000 names of ~60 bytes: about 240 KiB of records, many buffers full.
  std::set<std::string> made;
  for (int i = 0; i < 3000; ++i) {
    std::string n = "object-" + std::to_string(i) + std::string(48, 'x');
    fsc::test::write_file(t / ("big/" + n), "");
    made.insert(n);
  }
  SECTION("own buffer")
  {
    Fd fd = open_dir(t / "big");
    DirReader r(fd.get());
    std::set<std::string> seen;
    while (const DirEntry* e = r.next())
      CHECK(seen.insert(e->name).second);
    CHECK(r.error() == 0);
    CHECK(seen == made);
  }
  SECTION("caller's buffer of 1 KiB")
  {
    Fd fd = open_dir(t / "big");
    char buf[1024];
    DirReader r(fd.get(), buf);
    CHECK(names_of(r) == made);
    CHECK(r.error() == 0);
  }
}

TEST_CASE("DirReader: reads from the fd's offset; rewound, all again", "[fd]")
{
  TempDir t;
  for (int i = 0; i < 10; ++i)
    fsc::test::write_file(t / ("d/f" + std::to_string(i)), "");
  Fd fd = open_dir(t / "d");
  DirReader first(fd.get());
  CHECK(names_of(first).size() == 10);
  DirReader after(fd.get());
  CHECK(after.next() == nullptr); // the offset is at the end
  REQUIRE(lseek(fd.get(), 0, SEEK_SET) == 0);
  DirReader again(fd.get());
  CHECK(names_of(again).size() == 10);
}

TEST_CASE("DirReader: an fd that is not a directory is an error, not an "
          "empty listing",
          "[fd]")
{
  TempDir t;
  fsc::test::write_file(t / "file", "not a directory");
  Fd file(open((t / "file").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(file);
  DirReader r(file.get());
  CHECK(r.next() == nullptr);
  CHECK(r.error() == ENOTDIR);
  for (const DirEntry& e : r)
    FAIL("a name from a file: " << e.name);
  CHECK(r.error() == ENOTDIR);

  DirReader closed(-1);
  CHECK(closed.next() == nullptr);
  CHECK(closed.error() == EBADF);
}
