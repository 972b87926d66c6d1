// test_bound.cpp - evidence that a cache is live, read from a fake /proc.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/bound.hpp>

#include "tree.hpp"

#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace fsc::cachefiles;
using fsc::test::TempDir;

namespace {

/// A fake /proc/<pid> with comm, cwd and fd links; fds maps fd → target.
struct FakeProc {
  std::string root;

  void process(const std::string& pid, const std::string& comm,
               const std::string& cwd,
               const std::vector<std::string>& fds = {}) const
  {
    const std::string dir = root + "/" + pid;
    fsc::test::make_dirs(dir + "/fd");
    if (!comm.empty())
      fsc::test::write_file(dir + "/comm", comm + "\n");
    REQUIRE(symlink(cwd.c_str(), (dir + "/cwd").c_str()) == 0);
    for (std::size_t i = 0; i < fds.size(); ++i)
      REQUIRE(symlink(fds[i].c_str(),
                      (dir + "/fd/" + std::to_string(i + 3)).c_str()) == 0);
  }
};

struct Fixture {
  TempDir t;
  std::string cache = t / "fscache";
  FakeProc proc{t / "proc"};
  Fixture()
  {
    fsc::test::make_dirs(cache + "/cache/@4a");
    fsc::test::make_dirs(t / "elsewhere");
    fsc::test::make_dirs(proc.root);
  }
};

bool mentions(const std::vector<std::string>& lines, const std::string& what)
{
  for (auto& l : lines)
    if (l.find(what) != std::string::npos)
      return true;
  return false;
}

struct ProcRootEnv { // FSC_PROC_ROOT for one scope
  explicit ProcRootEnv(const char* v)
  {
    if (v)
      setenv("FSC_PROC_ROOT", v, 1);
    else
      unsetenv("FSC_PROC_ROOT");
  }
  ~ProcRootEnv() { unsetenv("FSC_PROC_ROOT"); }
};

} // namespace

TEST_CASE("bound: no process, no daemon, no evidence", "[bound]")
{
  Fixture f;
  BindState s = detect_binding(f.cache, f.proc.root);
  CHECK(!s.bound);
  CHECK(!s.daemon_running);
  CHECK(s.evidence.empty());
  CHECK(s.users.empty());
}

TEST_CASE("bound: a daemon working inside the cache binds it", "[bound]")
{
  Fixture f;
  f.proc.process("4242", "cachefilesd", f.cache + "/cache/@4a",
                 {"/dev/null", "/dev/cachefiles"});
  BindState s = detect_binding(f.cache, f.proc.root);
  CHECK(s.bound);
  CHECK(s.daemon_running);
  REQUIRE(s.evidence.size() == 1);
  CHECK(s.evidence[0] == "cachefilesd (pid 4242) holds /dev/cachefiles and "
                         "has '" +
                             f.cache + "/cache/@4a' open");
}

TEST_CASE("bound: an open fd inside the cache is evidence too", "[bound]")
{
  Fixture f;
  f.proc.process("17", "cachefilesd", f.t / "elsewhere",
                 {"/dev/cachefiles", f.cache + "/cache/@4a"});
  BindState s = detect_binding(f.cache, f.proc.root);
  CHECK(s.bound);
  CHECK(mentions(s.evidence, "has '" + f.cache + "/cache/@4a' open"));
}

TEST_CASE("bound: a daemon of another cache runs, this one is not bound",
          "[bound]")
{
  Fixture f;
  // A sibling whose name starts with the cache's: not inside it.
  fsc::test::make_dirs(f.cache + "2/cache");
  f.proc.process("99", "cachefilesd", f.cache + "2/cache", {"/dev/cachefiles"});
  BindState s = detect_binding(f.cache, f.proc.root);
  CHECK(!s.bound);
  CHECK(s.daemon_running);
  CHECK(mentions(s.evidence, "(for another cache, it seems)"));
  // Unless its configuration names this directory (here by a symlink).
  REQUIRE(symlink(f.cache.c_str(), (f.t / "conf-dir").c_str()) == 0);
  BindState c = detect_binding(f.cache, f.proc.root, f.t / "conf-dir");
  CHECK(c.bound);
  CHECK(mentions(c.evidence, "its configuration names this directory"));
}

TEST_CASE("bound: other processes inside the cache are users, not daemons",
          "[bound]")
{
  Fixture f;
  f.proc.process("300", "bash", f.cache + "/cache");
  f.proc.process("301", "", f.t / "elsewhere", {f.cache + "/cache/@4a"});
  BindState s = detect_binding(f.cache, f.proc.root);
  CHECK(!s.bound);
  CHECK(!s.daemon_running);
  CHECK(s.users.size() == 2);
  CHECK(mentions(s.users, "bash (pid 300) has '" + f.cache + "/cache' open"));
  CHECK(mentions(s.users, "? (pid 301)")); // no comm: still counted
}

TEST_CASE("bound: the cache named through a symlink is the same cache",
          "[bound]")
{
  Fixture f;
  REQUIRE(symlink(f.cache.c_str(), (f.t / "link").c_str()) == 0);
  f.proc.process("4242", "cachefilesd", f.cache + "/cache",
                 {"/dev/cachefiles"});
  CHECK(detect_binding(f.t / "link", f.proc.root).bound);
}

TEST_CASE("bound: fsc itself and entries that are not pids are skipped",
          "[bound]")
{
  Fixture f;
  f.proc.process(std::to_string(getpid()), "fsc", f.cache + "/cache",
                 {"/dev/cachefiles"});
  f.proc.process("self", "fsc", f.cache + "/cache", {"/dev/cachefiles"});
  fsc::test::make_dirs(f.proc.root + "/sys");
  BindState s = detect_binding(f.cache, f.proc.root);
  CHECK(!s.bound);
  CHECK(!s.daemon_running);
  CHECK(s.users.empty());
}

TEST_CASE("proc_root: $FSC_PROC_ROOT when set and not empty", "[bound]")
{
  {
    ProcRootEnv e("/tmp/fake-proc");
    CHECK(proc_root() == "/tmp/fake-proc");
  }
  {
    ProcRootEnv e("");
    CHECK(proc_root() == "/proc");
  }
  ProcRootEnv e(nullptr);
  CHECK(proc_root() == "/proc");
}
