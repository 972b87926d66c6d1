// test_graveyard.cpp - burial, reaping and counting the graveyard on real
// directories: kernel names, nothing followed through a symlink, nothing
// outside the cache touched.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/fd.hpp>

#include "tree.hpp"

#include <cerrno>
#include <ctime>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace fsc::cachefiles;
using fsc::Fd;
using fsc::test::TempDir;

namespace {

bool exists(const std::string& path)
{
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

Fd open_dir(const std::string& path)
{
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  return fd;
}

/// A cache root with graveyard/ and, beside the root, a directory that
/// links inside the cache point at: it must survive everything.
struct Yard {
  TempDir t;
  std::string root = t / "c";
  std::string grave = t / "c/graveyard";
  std::string outside = t / "outside";
  Yard()
  {
    fsc::test::make_dirs(root + "/cache");
    fsc::test::make_dirs(grave);
    fsc::test::write_file(outside + "/keep", std::string(4096, 'k'));
  }
};

} // namespace

TEST_CASE("graveyard_name: 32-bit seconds and counter, 8 hex digits each",
          "[graveyard]")
{
  CHECK(graveyard_name(0x5f5e1000, 1) == "5f5e100000000001");
  CHECK(graveyard_name(0, 0xffffffff) == "00000000ffffffff");
}

TEST_CASE("bury_at: never replaces a grave, moves the counter past it",
          "[graveyard]")
{
  Yard y;
  fsc::test::write_file(y.root + "/cache/Eobj", "data");
  // Graves for this second and the next already hold counters 1 and 2.
  const auto now = std::uint32_t(std::time(nullptr));
  for (std::uint32_t s : {now, now + 1})
    for (std::uint32_t c : {1u, 2u})
      fsc::test::write_file(y.grave + "/" + graveyard_name(s, c), "old");
  Fd cache = open_dir(y.root + "/cache");
  Fd grave = open_dir(y.grave);
  std::uint32_t counter = 0;
  std::string name;
  REQUIRE(bury_at(cache.get(), "Eobj", grave.get(), counter, &name) == 0);
  CHECK(counter == 3);
  CHECK(name.substr(8) == "00000003");
  CHECK(!exists(y.root + "/cache/Eobj"));
  CHECK(exists(y.grave + "/" + name));
  for (std::uint32_t c : {1u, 2u}) // the old graves are untouched
    CHECK(exists(y.grave + "/" + graveyard_name(now, c)));
  CHECK(bury_at(cache.get(), "Eobj", grave.get(), counter) == ENOENT);
}

TEST_CASE("bury_path: a symlink as the object is buried itself, its target "
          "stays",
          "[graveyard]")
{
  Yard y;
  REQUIRE(symlink(y.outside.c_str(), (y.root + "/cache/Eobj").c_str()) == 0);
  Fd root = open_dir(y.root);
  Fd grave = open_dir(y.grave);
  std::uint32_t counter = 0;
  Burial b = bury_path(root.get(), "cache/Eobj", grave.get(), counter);
  REQUIRE(b.err == 0);
  struct stat st;
  REQUIRE(lstat((y.grave + "/" + b.grave_name).c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(exists(y.outside + "/keep"));
}

TEST_CASE("bury_path and allocated_bytes stay inside the cache root",
          "[graveyard]")
{
  Yard y;
  Fd root = open_dir(y.root);
  Fd grave = open_dir(y.grave);
  std::uint32_t counter = 0;
  for (const char* rel : {"../outside/keep", "cache/../../outside/keep",
                          "cache/..", "/outside/keep"}) {
    INFO(rel);
    CHECK(allocated_bytes(root.get(), rel) == 0);
    Burial b = bury_path(root.get(), rel, grave.get(), counter);
    CHECK(b.err != 0);
    if (std::string(rel).find("..") != std::string::npos)
      CHECK(b.err == EINVAL);
    CHECK(b.grave_name.empty());
    CHECK(exists(y.outside + "/keep"));
  }
  CHECK(exists(y.root + "/cache"));
}

TEST_CASE("reap_graveyard: empties it depth first, counts what went",
          "[graveyard]")
{
  Yard y;
  fsc::test::write_file(y.grave + "/0000000100000001", std::string(8192, 'a'));
  // A buried index: a tree, with a mode-0 directory as the kernel makes.
  const std::string idx = y.grave + "/0000000100000002";
  fsc::test::write_file(idx + "/@4a/Eone", std::string(4096, 'b'));
  fsc::test::write_file(idx + "/@4b/Etwo", "c");
  fsc::test::make_dirs(idx + "/@4c", 0);
  Fd grave = open_dir(y.grave);
  ReapStats s = reap_graveyard(grave.get());
  CHECK(s.errors == 0);
  CHECK(s.files == 3);
  CHECK(s.dirs == 4); // the index and its three fan-outs
  CHECK(s.bytes >= 8192 + 4096);
  CHECK(exists(y.grave)); // the graveyard itself stays
  CHECK(!exists(y.grave + "/0000000100000001"));
  CHECK(!exists(idx));
}

TEST_CASE("reap_graveyard: a symlink is removed, never followed", "[graveyard]")
{
  Yard y;
  REQUIRE(symlink(y.outside.c_str(), (y.grave + "/0000000100000001").c_str()) ==
          0);
  fsc::test::make_dirs(y.grave + "/0000000100000002");
  REQUIRE(symlink(y.outside.c_str(),
                  (y.grave + "/0000000100000002/link").c_str()) == 0);
  Fd grave = open_dir(y.grave);
  ReapStats s = reap_graveyard(grave.get());
  CHECK(s.errors == 0);
  CHECK(s.files == 2); // the two links
  CHECK(s.dirs == 1);
  CHECK(!exists(y.grave + "/0000000100000001"));
  CHECK(exists(y.outside + "/keep"));
}

TEST_CASE("reap_graveyard: stop() leaves the rest for the next run",
          "[graveyard]")
{
  Yard y;
  fsc::test::write_file(y.grave + "/0000000100000001/@4a/Eone", "x");
  fsc::test::write_file(y.grave + "/0000000100000002", "y");
  Fd grave = open_dir(y.grave);
  ReapStats none = reap_graveyard(grave.get(), [] { return true; });
  CHECK(none.files + none.dirs == 0);
  CHECK(exists(y.grave + "/0000000100000001/@4a/Eone"));
  // Stopped inside a tree: what was not emptied is not removed.
  ReapStats part;
  int calls = 0;
  int rc = remove_tree_at(grave.get(), "0000000100000001", part,
                          [&] { return ++calls > 1; });
  CHECK(rc == EINTR);
  CHECK(exists(y.grave + "/0000000100000001"));
  // And missing is not an error: someone else reaped it.
  ReapStats again;
  CHECK(remove_tree_at(grave.get(), "no-such", again) == 0);
  CHECK(again.files + again.dirs + again.errors == 0);
}

TEST_CASE("graveyard_usage: counts without changing anything", "[graveyard]")
{
  Yard y;
  fsc::test::write_file(y.grave + "/0000000100000001", std::string(8192, 'a'));
  fsc::test::write_file(y.grave + "/0000000100000002/@4a/Eone",
                        std::string(4096, 'b'));
  REQUIRE(symlink(y.outside.c_str(), (y.grave + "/0000000100000003").c_str()) ==
          0);
  fsc::test::set_times(y.grave + "/0000000100000001", 1000000000000000000,
                       1000000000000000000);
  // The snapshot's readlink moves the link's atime once (relatime): let it
  // settle before the snapshot that counts.
  fsc::test::snapshot(y.t.path());
  const auto before = fsc::test::snapshot(y.t.path());
  Fd root = open_dir(y.root);
  GraveyardUsage u = graveyard_usage(root.get());
  CHECK(u.readable);
  CHECK(u.top_entries == 3);
  CHECK(u.files == 3); // the file, Eone and the link (not what it points at)
  CHECK(u.dirs == 2);
  CHECK(u.bytes >= 8192 + 4096);
  CHECK(fsc::test::snapshot(y.t.path()) == before);
}

TEST_CASE("graveyard_usage: missing is empty, a symlink or a file is "
          "unreadable",
          "[graveyard]")
{
  Yard y;
  Fd root = open_dir(y.root);
  REQUIRE(rmdir(y.grave.c_str()) == 0);
  GraveyardUsage missing = graveyard_usage(root.get());
  CHECK(missing.readable);
  CHECK(missing.top_entries == 0);
  REQUIRE(symlink(y.outside.c_str(), y.grave.c_str()) == 0);
  GraveyardUsage link = graveyard_usage(root.get());
  CHECK(!link.readable);
  CHECK(link.files == 0); // outside/keep is not counted
  REQUIRE(unlink(y.grave.c_str()) == 0);
  fsc::test::write_file(y.grave, "not a directory");
  CHECK(!graveyard_usage(root.get()).readable);
}
