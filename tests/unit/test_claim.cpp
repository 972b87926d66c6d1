// test_claim.cpp - the claim on a cache (binding, lock), burial by path and
// the graveyard, on real directories.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/claim.hpp>
#include <fsc/cachefiles/graveyard.hpp>

#include "tree.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace fsc::cachefiles;
using fsc::test::TempDir;

namespace {

// A fake /proc where pid 4242 holds /dev/cachefiles with its cwd at dir.
std::string fake_daemon(const TempDir& t, const std::string& dir)
{
  const std::string proc = t / "proc";
  fsc::test::make_dirs(proc + "/4242/fd");
  fsc::test::write_file(proc + "/4242/comm", "cachefilesd\n");
  REQUIRE(symlink("/dev/cachefiles", (proc + "/4242/fd/3").c_str()) == 0);
  REQUIRE(symlink(dir.c_str(), (proc + "/4242/cwd").c_str()) == 0);
  return proc;
}

struct ProcRoot { // sets FSC_PROC_ROOT for one scope
  explicit ProcRoot(const std::string& p)
  {
    setenv("FSC_PROC_ROOT", p.c_str(), 1);
  }
  ~ProcRoot() { unsetenv("FSC_PROC_ROOT"); }
};

} // namespace

TEST_CASE("claim: lock taken once, busy for the second, free again after",
          "[claim]")
{
  TempDir t;
  fsc::test::make_dirs(t / "c/cache");
  ProcRoot none(t / "noproc");
  auto first = claim_cache(t / "c", {});
  REQUIRE(first);
  REQUIRE(first->lock);
  auto second = claim_cache(t / "c", {});
  REQUIRE(!second);
  CHECK(second.error().kind == Refusal::Kind::busy);
  ClaimOptions dry;
  dry.dry_run = true;
  auto d = claim_cache(t / "c", dry);
  REQUIRE(d);
  CHECK(!d->lock); // a dry run takes no lock and is never busy
  first = tl::unexpected(Refusal{Refusal::Kind::busy, ""}); // drops the lock
  CHECK(claim_cache(t / "c", {}));
  try {
    raise(second.error());
    FAIL("raise returned");
  } catch (const fsc::Refused& e) {
    CHECK(e.code() == fsc::exit_code::busy);
  }
}

TEST_CASE("claim: a bound cache is refused unless forced; the refusal says "
          "why",
          "[claim]")
{
  TempDir t;
  fsc::test::make_dirs(t / "c/cache");
  ProcRoot p(fake_daemon(t, t / "c/cache"));
  ClaimOptions opt;
  opt.what = "cull";
  auto r = claim_cache(t / "c", opt);
  REQUIRE(!r);
  CHECK(r.error().kind == Refusal::Kind::bound);
  CHECK(r.error().message.find("refusing to cull") != std::string::npos);
  CHECK(r.error().message.find("cachefilesd (pid 4242)") != std::string::npos);
  opt.force = true;
  auto f = claim_cache(t / "c", opt);
  REQUIRE(f);
  CHECK(f->binding.bound);
  CHECK(f->lock);
  // Through a symlink to the cache: the same directory, the same answer.
  REQUIRE(symlink((t / "c").c_str(), (t / "link").c_str()) == 0);
  opt.force = false;
  auto l = claim_cache(t / "link", opt);
  REQUIRE(!l);
  CHECK(l.error().kind == Refusal::Kind::bound);
}

TEST_CASE("bury_path: kernel-style name, bytes, never through a symlink",
          "[graveyard]")
{
  TempDir t;
  fsc::test::make_dirs(t / "c/cache/@4a/I03nfs/@01");
  fsc::test::make_dirs(t / "c/graveyard");
  fsc::test::write_file(t / "c/cache/@4a/I03nfs/@01/Eobj",
                        std::string(8192, 'x'));
  int root = open((t / "c").c_str(), O_RDONLY | O_DIRECTORY);
  int grave = open((t / "c/graveyard").c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(root >= 0);
  REQUIRE(grave >= 0);
  std::uint32_t counter = 7;
  CHECK(allocated_bytes(root, "cache/@4a/I03nfs/@01/Eobj") >= 8192);
  Burial b = bury_path(root, "cache/@4a/I03nfs/@01/Eobj", grave, counter);
  CHECK(b.err == 0);
  CHECK(b.bytes >= 8192);
  CHECK(b.grave_name.size() == 16);
  CHECK(b.grave_name.substr(8) == "00000008");
  struct stat st;
  CHECK(lstat((t / "c/graveyard/" + b.grave_name).c_str(), &st) == 0);
  CHECK(lstat((t / "c/cache/@4a/I03nfs/@01/Eobj").c_str(), &st) != 0);
  // Gone already: the errno, nothing buried.
  b = bury_path(root, "cache/@4a/I03nfs/@01/Eobj", grave, counter);
  CHECK(b.err == ENOENT);
  CHECK(b.grave_name.empty());
  // A directory on the way swapped for a symlink to elsewhere: ELOOP/ENOTDIR,
  // and the file elsewhere stays.
  fsc::test::make_dirs(t / "elsewhere");
  fsc::test::write_file(t / "elsewhere/Eobj", "keep");
  REQUIRE(rename((t / "c/cache/@4a/I03nfs/@01").c_str(),
                 (t / "c/moved").c_str()) == 0);
  REQUIRE(symlink((t / "elsewhere").c_str(),
                  (t / "c/cache/@4a/I03nfs/@01").c_str()) == 0);
  b = bury_path(root, "cache/@4a/I03nfs/@01/Eobj", grave, counter);
  CHECK((b.err == ELOOP || b.err == ENOTDIR));
  CHECK(lstat((t / "elsewhere/Eobj").c_str(), &st) == 0);
  close(root);
  close(grave);
}
