// test_cull.cpp - `fsc cull` end to end: plans, safety, cron conventions,
// and SIGKILL at random points of a run.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fsc/cachefiles/key.hpp>
#include <fsc/cachefiles/writer.hpp>
#include <fsc/cachefiles/xattr.hpp>

#include <nlohmann/json.hpp>
#include "json_records.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <random>
#include <set>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;
namespace cf = fsc::cachefiles;

namespace {

constexpr std::int64_t k_s = 1000000000;
constexpr std::int64_t k_base = 1700000000; // 2023-11-14, seconds

/// A v1 cache with valid names and xattrs: nfs primary index, one server
/// index, n data objects; object i has atime base + atime_step * i.
struct V1Cache {
  std::string root;
  std::vector<std::string> objects; ///< paths relative to root, index i
};

fsc::Bytes bytes_of(std::uint64_t v)
{
  fsc::Bytes b(8);
  for (int i = 0; i < 8; ++i)
    b[i] = std::uint8_t(v >> (8 * i));
  return b;
}

V1Cache make_v1(const std::string& root, int n, std::int64_t step = 10,
                std::int64_t base = k_base)
{
  V1Cache c;
  c.root = root;
  fsc::test::make_dirs(root + "/cache");
  fsc::test::make_dirs(root + "/graveyard");
  fsc::test::set_xattr(root + "/cache", fsc::Bytes{'C', '3'});
  const std::string nfs = root + "/cache/@4a/I03nfs";
  fsc::test::make_dirs(nfs);
  fsc::test::set_xattr(nfs, cf::encode_xattr_v1(0, fsc::Bytes{0, 0, 0, 0}));
  auto srv = cf::cook_v1(fsc::Bytes{2, 0, 8, 1, 192, 168, 1, 2}, 0);
  const std::string srv_dir = nfs + "/" + srv.fanout + "/" + srv.name;
  fsc::test::make_dirs(srv_dir);
  fsc::test::set_xattr(srv_dir, cf::encode_xattr_v1(0, {}));
  for (int i = 0; i < n; ++i) {
    auto o = cf::cook_v1(bytes_of(0x1000 + std::uint64_t(i) * 7919), 1);
    std::string rel = "cache/@4a/I03nfs/" + srv.fanout + "/" + srv.name + "/" +
                      o.fanout + "/" + o.name;
    std::string p = root + "/" + rel;
    fsc::test::make_dirs(root + "/" + rel.substr(0, rel.rfind('/')));
    fsc::test::write_file(p, std::string(100 + i, 'x'));
    fsc::test::set_xattr(p, cf::encode_xattr_v1(1, fsc::Bytes{1, 2, 3, 4}));
    fsc::test::set_times(p, (base + step * i) * k_s, (base - 100) * k_s);
    c.objects.push_back(rel);
  }
  return c;
}

bool exists(const std::string& p)
{
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

std::set<std::string> surviving(const V1Cache& c)
{
  std::set<std::string> s;
  for (auto& o : c.objects)
    if (exists(c.root + "/" + o))
      s.insert(o);
  return s;
}

std::vector<std::string> lines_of(const std::string& s)
{
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl - pos));
    if (nl == std::string::npos)
      break;
    pos = nl + 1;
  }
  return out;
}

const std::map<std::string, std::string> k_env = {{"FSC_DIR", ""}};

/// fsc cull with a private (empty) config so the host's cachefilesd.conf
/// does not matter.
std::vector<std::string> cull_args(const TempDir& t,
                                   std::vector<std::string> extra)
{
  fsc::test::write_file(t / "empty.conf", "");
  std::vector<std::string> a = {"cull", "--config", t / "empty.conf"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

} // namespace

TEST_CASE("cull --dry-run prints the plan and changes nothing", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 20);
  auto before = fsc::test::snapshot(c.root);
  auto r = run_fsc(cull_args(t, {"-n", "--max-objects", "15", c.root}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto ls = lines_of(r.out);
  REQUIRE(ls.size() == 6);
  for (int i = 0; i < 5; ++i) {
    CHECK(ls[std::size_t(i)].rfind("would remove " + c.objects[std::size_t(i)],
                                   0) == 0);
  }
  CHECK(ls[5].rfind("would cull 5 objects", 0) == 0);
  CHECK(fsc::test::snapshot(c.root) == before);
}

TEST_CASE("cull removes the oldest, silently, and tidies up", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 20);
  auto r = run_fsc(cull_args(t, {"--max-objects", "15", c.root}));
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
  std::set<std::string> want(c.objects.begin() + 5, c.objects.end());
  CHECK(surviving(c) == want);
  // graveyard emptied; root, cache/, primary index kept
  CHECK(fsc::test::snapshot(c.root + "/graveyard").size() <= 1);
  CHECK(exists(c.root + "/cache/@4a/I03nfs"));
  // no empty fan-out is left behind
  for (auto& o : c.objects) {
    std::string fan = c.root + "/" + o.substr(0, o.rfind('/'));
    if (exists(fan)) {
      bool any = false;
      for (auto& w : want)
        any |= w.rfind(o.substr(0, o.rfind('/')) + "/", 0) == 0;
      CHECK(any);
    }
  }
  // the result is a clean cache for fsc inspect --check
  auto chk = run_fsc({"inspect", "--check", c.root});
  INFO(chk.out);
  CHECK(chk.status == 0);
}

TEST_CASE("cull -v prints one line per removal and a summary", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 10);
  auto r = run_fsc(cull_args(t, {"-v", "--max-objects", "7", c.root}));
  REQUIRE(r.status == 0);
  auto ls = lines_of(r.out);
  REQUIRE(ls.size() == 4);
  CHECK(ls[0].rfind("removed " + c.objects[0], 0) == 0);
  CHECK(ls[3].rfind("culled 3 objects, ", 0) == 0);
  CHECK(ls[3].find(" freed in ") != std::string::npos);
  auto q = run_fsc(cull_args(t, {"-q", "--max-objects", "5", c.root}));
  CHECK(q.status == 0);
  CHECK(q.out.empty());
  CHECK(q.err.empty());
}

TEST_CASE("cull --older-than removes everything older, by the second", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 10, 86400, k_base); // one object per day
  // --older-than is relative to now; the tree is years old: all older
  auto r = run_fsc(cull_args(t, {"--json", "--older-than", "1d", c.root}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto d = nlohmann::json::parse(r.out);
  CHECK(d["schema"] == 2);
  CHECK(d["culled"] == 10);
  CHECK(records(d, "victim").size() == 10);
  CHECK(records(d, "victim")[0]["action"] == "removed");
  CHECK(surviving(c).empty());
}

TEST_CASE("cull breaks ties within a second by path, last first", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 6, 0); // all the same atime
  auto r = run_fsc(cull_args(t, {"-n", "--max-objects", "3", c.root}));
  REQUIRE(r.status == 0);
  std::vector<std::string> sorted = c.objects;
  std::sort(sorted.rbegin(), sorted.rend());
  auto ls = lines_of(r.out);
  REQUIRE(ls.size() == 4);
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(ls[i].rfind("would remove " + sorted[i] + " ", 0) == 0);
}

TEST_CASE("cull --by mtime orders by mtime", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 4);
  // reverse the mtime order
  for (std::size_t i = 0; i < 4; ++i)
    fsc::test::set_times(c.root + "/" + c.objects[i], k_base * k_s,
                         (k_base - std::int64_t(i)) * k_s);
  auto r = run_fsc(
      cull_args(t, {"-n", "--by", "mtime", "--max-objects", "3", c.root}));
  REQUIRE(r.status == 0);
  CHECK(lines_of(r.out)[0].rfind("would remove " + c.objects[3], 0) == 0);
}

TEST_CASE("cull empties a graveyard left by an interrupted run", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 3);
  fsc::test::write_file(c.root + "/graveyard/0000000100000001", "old");
  fsc::test::write_file(c.root + "/graveyard/0000000100000002/@12/Efoo", "x");
  auto r = run_fsc(cull_args(t, {"--max-objects", "3", c.root}));
  CHECK(r.status == 0);
  CHECK_FALSE(exists(c.root + "/graveyard/0000000100000001"));
  CHECK_FALSE(exists(c.root + "/graveyard/0000000100000002"));
  CHECK(surviving(c).size() == 3);
}

TEST_CASE("cull is busy (75, quietly) while another holds the lock", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 3);
  int fd = open(c.root.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto r = run_fsc(cull_args(t, {"--max-objects", "1", c.root}));
  CHECK(r.status == 75);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
  auto w = run_fsc(cull_args(t, {"--wait=1", "--max-objects", "1", c.root}));
  CHECK(w.status == 75);
  close(fd);
  auto ok = run_fsc(cull_args(t, {"--wait", "--max-objects", "1", c.root}));
  CHECK(ok.status == 0);
  CHECK(surviving(c).size() == 1);
}

TEST_CASE("cull never follows symlinks or leaves the cache", "[cull][safety]")
{
  TempDir t;
  auto c = make_v1(t / "c", 4);
  // an old file outside, linked from inside under an object-like name, and
  // a fan-out that is a symlink to a directory outside holding old objects
  fsc::test::write_file(t / "outside/Eold", "precious");
  fsc::test::set_times(t / "outside/Eold", 1000 * k_s, 1000 * k_s);
  std::string fan =
      c.root + "/" + c.objects[0].substr(0, c.objects[0].rfind('/'));
  REQUIRE(symlink((t / "outside/Eold").c_str(), (fan + "/Ezzlink").c_str()) ==
          0);
  std::string idx = fan.substr(0, fan.rfind('/'));
  REQUIRE(symlink((t / "outside").c_str(), (idx + "/@ee").c_str()) == 0);
  auto r = run_fsc(cull_args(t, {"--older-than", "1s", c.root}));
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(surviving(c).empty());
  CHECK(exists(t / "outside/Eold"));
  CHECK(exists(fan + "/Ezzlink"));
  CHECK(exists(idx + "/@ee"));
}

TEST_CASE("cull leaves unrecognised entries alone", "[cull][safety]")
{
  TempDir t;
  auto c = make_v1(t / "c", 2);
  std::string fan =
      c.root + "/" + c.objects[0].substr(0, c.objects[0].rfind('/'));
  fsc::test::write_file(fan + "/notes.txt", "mine");
  fsc::test::set_times(fan + "/notes.txt", 1000 * k_s, 1000 * k_s);
  fsc::test::write_file(c.root + "/cache/stray", "x");
  fsc::test::make_dirs(c.root + "/lost+found");
  auto r = run_fsc(cull_args(t, {"--older-than", "1s", c.root}));
  CHECK(r.status == 0);
  CHECK(surviving(c).empty());
  CHECK(exists(fan + "/notes.txt"));
  CHECK(exists(c.root + "/cache/stray"));
  CHECK(exists(c.root + "/lost+found"));
}

TEST_CASE("cull refuses a bound cache unless --force", "[cull][bound]")
{
  TempDir t;
  auto c = make_v1(t / "c", 3);
  // a fake /proc: pid 4242 holds /dev/cachefiles and sits in the cache
  fsc::test::make_dirs(t / "proc/4242/fd");
  fsc::test::write_file(t / "proc/4242/comm", "cachefilesd\n");
  REQUIRE(symlink("/dev/cachefiles", (t / "proc/4242/fd/3").c_str()) == 0);
  REQUIRE(symlink((c.root + "/cache").c_str(), (t / "proc/4242/cwd").c_str()) ==
          0);
  std::map<std::string, std::string> env = {{"FSC_PROC_ROOT", t / "proc"}};
  auto r = run_fsc(cull_args(t, {"--max-objects", "1", c.root}), env);
  CHECK(r.status == 2);
  CHECK(r.err.find("refusing to cull") != std::string::npos);
  CHECK(r.err.find("inuse") != std::string::npos);
  CHECK(surviving(c).size() == 3);
  auto f =
      run_fsc(cull_args(t, {"--force", "--max-objects", "1", c.root}), env);
  CHECK(f.status == 0);
  CHECK(f.err.find("warning") != std::string::npos);
  CHECK(surviving(c).size() == 1);
}

TEST_CASE("cull: usage errors are 64, journald gets priorities", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 3);
  CHECK(run_fsc(cull_args(t, {"--older-than", "3 weeks", c.root})).status ==
        64);
  CHECK(run_fsc(cull_args(t, {"--min-free", "100", c.root})).status == 64);
  CHECK(run_fsc(cull_args(t, {"--apparent", c.root})).status == 64);
  CHECK(run_fsc(cull_args(t, {"--bcull", "9", c.root})).status == 64);
  CHECK(run_fsc(cull_args(t, {"--by", "ctime", c.root})).status == 64);
  // goal that cannot be met: a warning with <4> under journald, exit 1
  auto r =
      run_fsc(cull_args(t, {"--max-size", "0", "--min-free", "99", c.root}),
              {{"JOURNAL_STREAM", "1:2"}});
  CHECK(r.status == 1);
  CHECK(r.err.rfind("<4>", 0) == 0);
}

TEST_CASE("cull default mode follows the kernel's limits", "[cull]")
{
  TempDir t;
  auto c = make_v1(t / "c", 5);
  // limits no file system can meet: culling is on, everything goes
  fsc::test::write_file(t / "greedy.conf",
                        "frun 99%\nfcull 98%\nbrun 99%\nbcull 98%\n");
  auto r =
      run_fsc({"--json", "cull", "--config", t / "greedy.conf", "-n", c.root});
  auto d = nlohmann::json::parse(r.out);
  CHECK(d["thresholds_used"] == true);
  CHECK(d["limits"]["brun_pct"] == 99);
  CHECK(d["culled"] == 5);
  // and limits that are met: nothing to do, and no scan
  fsc::test::write_file(t / "lax.conf",
                        "bstop 0%\nbcull 1%\nfstop 0%\nfcull 1%\n"
                        "brun 2%\nfrun 2%\n");
  auto n = run_fsc({"--json", "cull", "--config", t / "lax.conf", c.root});
  d = nlohmann::json::parse(n.out);
  CHECK(n.status == 0);
  CHECK(d["culled"] == 0);
  CHECK(d["passes"] == 0);
  // command-line limits win over the config
  auto o = run_fsc({"--json", "cull", "--config", t / "lax.conf", "--brun",
                    "99", "--bcull", "98", "-n", c.root});
  d = nlohmann::json::parse(o.out);
  CHECK(d["limits"]["brun_pct"] == 99);
  CHECK(d["culled"] == 5);
}

TEST_CASE("cull on the real kernel caches", "[cull][real]")
{
  for (const char* fx : {"real-5.10-smoke", "real-6.1-smoke"}) {
    TempDir t;
    auto root = fsc::test::extract_fixture(
        fsc::test::fixtures_dir() + "/" + fx + "/cache.tar.xz", t.path());
    // The plan names each victim as an admin knows it: server or volume,
    // then the NFS file handle.
    auto plan = run_fsc(cull_args(t, {"-n", "--max-objects", "3", root}));
    REQUIRE(plan.status == 0);
    auto ls = lines_of(plan.out);
    REQUIRE(ls.size() == 6);
    for (std::size_t i = 0; i < 5; ++i) {
      INFO(ls[i]);
      CHECK(ls[i].find("127.0.0.1") != std::string::npos);
      CHECK(ls[i].find(" fh 01000") != std::string::npos);
    }
    auto r = run_fsc(cull_args(t, {"--json", "--max-objects", "3", root}));
    INFO(fx << r.err);
    REQUIRE(r.status == 0);
    auto d = nlohmann::json::parse(r.out);
    CHECK(d["objects"] == 8);
    CHECK(d["culled"] == 5);
    for (auto& v : records(d, "victim"))
      CHECK(v["label"].get<std::string>().find(" fh 01000") !=
            std::string::npos);
    auto chk = run_fsc({"inspect", "--check", root});
    INFO(chk.out);
    CHECK(chk.status == 0);
  }
}

TEST_CASE("cull on a v2 cache: oldest first, volumes kept, dry run inert",
          "[cull][v2]")
{
  TempDir t;
  fsc::cachefiles::Writer w(t / "c", false);
  auto vol = w.add_volume("nfs,4.2,2,108,100007f,,,,,80000,80000,2ee,3a98,"
                          "1d4c,3a98,1",
                          {});
  std::vector<std::string> paths; // oldest first
  const std::int64_t s = 1000000000;
  for (int i = 0; i < 12; ++i) {
    fsc::cachefiles::XattrV2 x;
    x.object_size = 5;
    x.aux = fsc::Bytes(40, std::uint8_t(i));
    fsc::Bytes key = {1, 0, 6, 0, std::uint8_t(i), 0x22, 0x33, 0x44};
    paths.push_back(
        w.add_v2(vol, key, x,
                 {"hello", 0, 5, (1700000000 + i * 60) * s, 1600000000 * s}));
  }
  auto before = fsc::test::snapshot(t / "c");
  auto r = run_fsc(cull_args(t, {"--dry-run", "--max-objects", "7", t / "c"}));
  CHECK(r.status == 0);
  CHECK(fsc::test::snapshot(t / "c") == before);
  for (int i = 0; i < 12; ++i)
    CHECK((r.out.find(paths[std::size_t(i)]) != std::string::npos) == (i < 5));

  r = run_fsc(cull_args(t, {"--max-objects", "7", t / "c"}));
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.empty()); // cron: silent on success
  for (int i = 0; i < 12; ++i)
    CHECK(exists(t / "c/" + paths[std::size_t(i)]) == (i >= 5));
  CHECK(exists(t / "c/" + vol));
  auto chk = run_fsc({"inspect", "--check", t / "c"});
  INFO(chk.out);
  CHECK(chk.status == 0);
}

namespace {

pid_t spawn_fsc(const std::vector<std::string>& args)
{
  std::vector<char*> argv;
  std::string bin = std::getenv("FSC_BIN");
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

} // namespace

TEST_CASE("cull survives SIGKILL at random points", "[cull][kill]")
{
  const char* env = std::getenv("FSC_CULL_KILL_POINTS");
  const int points = env ? std::atoi(env) : 25; // the full run: 200
  const int n = 300, keep = 100;
  TempDir t;
  std::mt19937 rng(12345);
  // how long a whole run takes, to spread the kill points over it
  auto c0 = make_v1(t / "probe", n, 3);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(
      run_fsc(cull_args(t, {"--max-objects", std::to_string(keep), c0.root}))
          .status == 0);
  const auto whole = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count();
  const std::set<std::string> want(c0.objects.end() - keep, c0.objects.end());
  REQUIRE(surviving(c0) == want);
  for (int i = 0; i < points; ++i) {
    INFO("kill point " << i);
    std::string dir = t / ("k" + std::to_string(i));
    auto c = make_v1(dir, n, 3);
    auto args = cull_args(t, {"--max-objects", std::to_string(keep), c.root});
    pid_t pid = spawn_fsc(args);
    REQUIRE(pid > 0);
    std::uniform_int_distribution<long> d(0, long(whole));
    usleep(useconds_t(d(rng)));
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    // only planned victims are gone
    auto left = surviving(c);
    CHECK(std::includes(left.begin(), left.end(), want.begin(), want.end()));
    // The layout is sound; a victim killed between its rename and its
    // unlink waits in the graveyard, as the kernel's own buried objects do.
    auto chk = run_fsc({"--json", "inspect", "--check", c.root});
    INFO(chk.out);
    auto doc = nlohmann::json::parse(chk.out);
    for (auto& p : records(doc, "problem"))
      CHECK(p["kind"] == "graveyard-not-empty");
    CHECK(chk.status == (records(doc, "problem").empty() ? 0 : 1));
    // the next run finishes the job
    auto r = run_fsc(args);
    CHECK(r.status == 0);
    CHECK(surviving(c) == want);
    CHECK(run_fsc({"inspect", "--check", c.root}).status == 0);
    fsc::test::run_prog({"rm", "-rf", dir});
  }
}

TEST_CASE("cull never plans an object whose name --check calls bad-name",
          "[cull][safety]")
{
  TempDir t;
  auto c = make_v1(t / "c", 2);
  std::string fan =
      c.root + "/" + c.objects[0].substr(0, c.objects[0].rfind('/'));
  // Starts like a data object (E: base64 key) but does not decode.
  const std::string bad = fan + "/E!not-base64";
  fsc::test::write_file(bad, "old");
  fsc::test::set_xattr(bad, cf::encode_xattr_v1(1, fsc::Bytes{1, 2, 3, 4}));
  fsc::test::set_times(bad, 1000 * k_s, 1000 * k_s);
  auto check = run_fsc({"inspect", "--check", c.root});
  REQUIRE(check.out.find("bad-name") != std::string::npos);
  auto r = run_fsc(cull_args(t, {"--max-objects", "0", "--dry-run", c.root}));
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("E!not-base64") == std::string::npos);
  CHECK(r.out.find("would cull 2 objects") != std::string::npos);
  r = run_fsc(cull_args(t, {"--max-objects", "0", c.root}));
  CHECK(r.status == 0);
  CHECK(surviving(c).empty());
  CHECK(exists(bad));
}
