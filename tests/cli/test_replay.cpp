// test_replay.cpp - `fsc replay`: the engine bound to real directories.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fsc/bytes.hpp>
#include <fsc/trace/trace.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include "json_records.hpp"
#include <set>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <vector>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

#define INFO1(x) INFO(fsc::test::one_line((std::ostringstream() << x).str()))

std::string scenario(const std::string& rel)
{
  return std::string(std::getenv("FSC_SOURCE_ROOT")) + "/tests/scenarios/" +
         rel;
}

std::string write_scenario(const TempDir& t, const std::string& text)
{
  std::string p = t / "s.fsc";
  std::ofstream(p) << text;
  return p;
}

bool empty_dir(const std::string& p)
{
  DIR* d = opendir(p.c_str());
  int n = 0;
  while (dirent* e = readdir(d))
    n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
  closedir(d);
  return n == 0;
}

std::string real_510(const TempDir& t)
{
  return fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-5.10-smoke/cache.tar.xz", t.path());
}

std::string real_510_trace()
{
  return fsc::test::fixtures_dir() + "/real-5.10-smoke/ftrace.txt.xz";
}

/// A trace's lines (decompressed).
std::vector<std::string> read_trace(const std::string& path)
{
  std::vector<std::string> out;
  fsc::trace::LineReader r(path);
  std::string_view l;
  while (r.next(l))
    out.emplace_back(l);
  return out;
}

void write_trace(const std::string& path, const std::vector<std::string>& lines)
{
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines)
    out << l << '\n';
}

const char* const k_fixes[] = {
    "1-attach-ref-at-init",      "2-dead-state-work",
    "3-clear-writes-on-disable", "4-submit-checks-live",
    "5-cancel-everywhere",       "6-duplicate-detection",
    "7-size-passed-in",          "8-drop-clears-looking-up",
    "9-collision-tests-old"};

} // namespace

TEST_CASE("replay: a lifecycle on a new cache, read-only by default")
{
  TempDir t;
  std::string cache = t / "cache";
  fsc::test::make_dirs(cache);
  auto r = run_fsc({"replay", cache, scenario("lifecycle.fsc")});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("0 failed") != std::string::npos);
  CHECK(r.out.find("would change on disk") != std::string::npos);
  CHECK(empty_dir(cache)); // nothing written
}

TEST_CASE("replay: each 4.19 fix passes, and fails when turned off")
{
  for (const char* name : k_fixes) {
    std::string fix = std::string(name).substr(2);
    TempDir t;
    fsc::test::make_dirs(t / "c");
    auto on = run_fsc(
        {"replay", t / "c", scenario(std::string("fixes/") + name + ".fsc")});
    INFO1(name << "\n" << on.out << on.err);
    CHECK(on.status == 0);
    auto off = run_fsc({"replay", t / "c",
                        scenario(std::string("fixes/") + name + ".fsc"),
                        "--unfix", fix});
    INFO1(off.out << off.err);
    CHECK(off.status == 1);
    bool reported = off.out.find("failed:") != std::string::npos ||
                    off.out.find("findings:") != std::string::npos;
    CHECK(reported);
  }
}

TEST_CASE("replay: same scenario and seed give identical trace bytes")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  std::string s = scenario("lifecycle.fsc");
  for (const char* seed : {"0", "7"}) {
    REQUIRE(run_fsc({"replay", t / "c", s, "--seed", seed, "--trace",
                     t / "a.trace"})
                .status == 0);
    REQUIRE(run_fsc({"replay", t / "c", s, "--seed", seed, "--trace",
                     t / "b.trace"})
                .status == 0);
    std::string a = fsc::test::read_file(t / "a.trace");
    CHECK(a.size() > 1000);
    CHECK(a == fsc::test::read_file(t / "b.trace"));
  }
}

TEST_CASE("replay: other seeds are other legal orders of the same run")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  std::set<std::string> traces;
  for (int seed = 0; seed < 12; ++seed) {
    auto r = run_fsc({"replay", t / "c", scenario("lifecycle.fsc"), "--seed",
                      std::to_string(seed), "--trace", t / "x.trace"});
    INFO1("seed " << seed << r.out);
    CHECK(r.status == 0);
    traces.insert(fsc::test::read_file(t / "x.trace"));
  }
  CHECK(traces.size() > 1);
}

TEST_CASE("replay --into: the copy holds what 4.19 would write, inspect "
          "--check is clean")
{
  TempDir t;
  fsc::test::make_dirs(t / "empty");
  std::string s = write_scenario(t, R"(register nfs version=0
acquire srv index nfs key=hex:0400000002000000020008017f000001 name=NFS.server
acquire f data srv key=hex:00112233445566778899 aux="aux-bytes" size=5000
write f 0 data="hello"
)");
  auto r = run_fsc({"replay", t / "empty", s, "--into", t / "copy"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(empty_dir(t / "empty"));
  auto c = run_fsc({"inspect", t / "copy", "--check"});
  INFO1(c.out << c.err);
  CHECK(c.status == 0);
  auto j = run_fsc({"inspect", t / "copy", "--json=lines"});
  bool found = false;
  std::istringstream lines(j.out);
  for (std::string l; std::getline(lines, l);) {
    auto d = nlohmann::json::parse(l);
    if (d.value("kind", "") != "data")
      continue;
    found = true;
    CHECK(d["key_hex"] == "00112233445566778899");
    CHECK(d["xattr_hex"] == "01" + fsc::to_hex(fsc::as_bytes("aux-bytes")));
    CHECK(d["mode"] == "100000"); // CacheFiles creates files with mode 0
    CHECK(d["size"] == 5000);
  }
  CHECK(found);
  struct stat st;
  REQUIRE(stat((t / "copy/cache/@4a/I03nfs").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0);
}

TEST_CASE("replay: read-only over a real 5.10 cache changes nothing")
{
  TempDir t;
  std::string root = real_510(t);
  auto before = fsc::test::snapshot(root);
  auto r =
      run_fsc({"replay", root, scenario("real-5.10-lookup.fsc"), "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(fsc::test::snapshot(root) == before);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["cache_mode"] == "read-only");
  CHECK(records(j, "failure").empty());
  bool unlink = false;
  for (auto& c : records(j, "change"))
    unlink |= c["message"].get<std::string>().rfind("unlink ", 0) == 0;
  CHECK(unlink); // the stale object would be buried
}

TEST_CASE("replay --write buries the stale object of a real 5.10 cache")
{
  TempDir t;
  std::string root = real_510(t);
  auto r =
      run_fsc({"replay", root, scenario("real-5.10-lookup.fsc"), "--write"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  std::string g = root +
                  "/cache/@4a/I03nfs/@a1/Jg00100002000080084Mv00g0/"
                  "@9d/J1100000000000UmhhIA0OVqSJeaA-jtvrxb000000002000080wX"
                  "2000oG300Mk7000CW0000000040000g000000000/@fb/"
                  "EA0g00sg0p900000000gSKaD0b5hhKxXmZhZ-geqHJQ300QPqfn40";
  struct stat st;
  REQUIRE(lstat(g.c_str(), &st) == 0);
  CHECK(st.st_size == 12345);
  CHECK(st.st_blocks == 0); // recreated empty: the old data was buried
  char buf[128];
  ssize_t n = lgetxattr(g.c_str(), "user.CacheFiles.cache", buf, sizeof buf);
  REQUIRE(n == 41);
  CHECK(buf[0] == 1);
  CHECK(run_fsc({"inspect", root, "--check"}).status == 0);
}

TEST_CASE("replay: the refcount journal reads back with fsc refs")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  REQUIRE(run_fsc({"replay", t / "c", scenario("lifecycle.fsc"), "--refs",
                   t / "refs.txt"})
              .status == 0);
  auto r = run_fsc({"refs", t / "refs.txt", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(records(j, "finding").empty());
  CHECK(j["malformed"] == 0);
}

TEST_CASE("replay: fsc refs finds the over-put of an unfixed 4.19 in the "
          "journal")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  auto run =
      run_fsc({"replay", t / "c", scenario("fixes/1-attach-ref-at-init.fsc"),
               "--unfix", "attach-ref-at-init", "--refs", t / "refs.txt"});
  CHECK(run.status == 1);
  auto r = run_fsc({"refs", t / "refs.txt", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 1);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(records(j, "finding").size() == 1);
  CHECK(j["finding_count"] == 1);
  CHECK(records(j, "finding")[0]["kind"] == "over-put");
  CHECK(records(j, "finding")[0]["message"].get<std::string>().find(
            "PUT nbf on a count of 0") != std::string::npos);
}

TEST_CASE("replay: bad scenarios name file, line and column")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"register nfs\nacquire f data nfs\n", "s.fsc:2:1: acquire needs key="},
      {"register nfs\nfrobnicate x\n", "s.fsc:2:1: expected a call"},
      {"register nfs\nacquire f data nfs key=hex:zz\n", "s.fsc:2:24:"},
      {"register nfs\nexpect f state NOPE\n", "s.fsc:2:16: expected a state"},
      {"fault lookup_object EWHAT\n", "s.fsc:1:21: expected an errno"},
      {"acquire f data nfs key=\"unterminated\n",
       "s.fsc:1:24: expected a closing"},
      {"register nfs\nread nfs x\n", "s.fsc:2:10: expected a page number"},
      {"fixes -no-such-fix\n", "s.fsc:1:7: unknown fix"},
  };
  for (const auto& c : cases) {
    std::string s = write_scenario(t, c.text);
    auto r = run_fsc({"replay", t / "c", s});
    INFO1(c.text << "\n" << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.want) != std::string::npos);
  }
}

TEST_CASE("replay: refuses what is not a cache, or a v2 cache for 4.19")
{
  TempDir t;
  std::string s = write_scenario(t, "register nfs\n");
  fsc::test::make_dirs(t / "junk/sub");
  auto r = run_fsc({"replay", t / "junk", s});
  CHECK(r.status == 2);
  CHECK(r.err.find("junk") != std::string::npos);
  fsc::test::make_dirs(t / "v2");
  std::string v2 = fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", t / "v2");
  // A v2 cache gets the 6.1 engine, whose dialect has no `register`; and
  // the 4.19 engine asked for is refused (test_replay_v2_scenario.cpp).
  r = run_fsc({"replay", v2, s});
  CHECK(r.status == 2);
  CHECK(r.err.find("the 6.1 dialect: 6.1 engine for v2 cache") !=
        std::string::npos);
  r = run_fsc({"replay", v2, s, "--engine", "4.19"});
  CHECK(r.status == 64);
  CHECK(r.err.find("v2 cache") != std::string::npos);
  // A v1 cache whose cache/ carries another label: the kernel says EIO.
  fsc::test::make_dirs(t / "odd/cache/@4a");
  fsc::test::make_dirs(t / "odd/graveyard");
  fsc::test::set_xattr(t / "odd/cache", fsc::as_bytes("C2"));
  r = run_fsc({"replay", t / "odd", s});
  CHECK(r.status == 2);
  CHECK(r.err.find("not 'C3'") != std::string::npos);
}

TEST_CASE("replay --stats prints /proc/fs/fscache/stats lines")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  auto r = run_fsc({"replay", t / "c", scenario("lifecycle.fsc"), "--stats"});
  CHECK(r.status == 0);
  CHECK(r.out.find("FS-Cache statistics\nCookies: idx=2 dat=1 spc=0\n") !=
        std::string::npos);
  CHECK(r.out.find("Acquire: n=3 nul=0 noc=0 ok=3 nbf=0 oom=0") !=
        std::string::npos);
}

TEST_CASE("replay --from-trace: the engine's own trace replays identically")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  REQUIRE(run_fsc({"replay", t / "c", scenario("lifecycle.fsc"), "--trace",
                   t / "run.trace"})
              .status == 0);
  auto r = run_fsc({"replay", "--from-trace", t / "run.trace", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["compared"].get<int>() > 40);
  CHECK(j["calls"] == 12);
}

TEST_CASE("replay --from-trace: a cache withdrawn under acquired cookies and "
          "bound again replays identically")
{
  // cachefilesd stopped and started with NFS mounted (the kernel suite's
  // cull phase on 5.10): the withdrawal's KILLs come before the root's
  // ABRT, and the new cache's root object may take the old one's address.
  TempDir t;
  fsc::test::make_dirs(t / "c");
  auto run = run_fsc({"replay", t / "c", scenario("rebind.fsc"), "--trace",
                      t / "run.trace"});
  INFO1(run.out << run.err);
  REQUIRE(run.status == 0);
  auto r = run_fsc({"replay", "--from-trace", t / "run.trace", "--json",
                    "--save-scenario", t / "rebuilt.fsc"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["compared"].get<int>() >= 100);
  // Withdrawn where the first object was queued for its KILL (not at the
  // root's ABRT, after the other objects had died), bound again before the
  // second file's acquire.
  const std::string sc = fsc::test::read_file(t / "rebuilt.fsc");
  const auto w = sc.find("withdraw &"), b = sc.find("\nbind\n");
  REQUIRE(w != std::string::npos);
  REQUIRE(b != std::string::npos);
  CHECK(w < b);
  CHECK(sc.find("relinquish", w) > b);
  CHECK(sc.find("withdraw &", b) != std::string::npos);
}

TEST_CASE("replay --from-trace: a lookup refused for want of space is "
          "rebuilt as a fault of the space check")
{
  // The kernel suite's fault phase on 5.10: a full cache disk makes
  // cachefiles_has_space() refuse a negative lookup's mkdir or create
  // (no cachefiles_create line), and the object fails (LCFL ev=5). The
  // trace says nothing more; the rebuild places the fault.
  TempDir t;
  fsc::test::make_dirs(t / "c");
  const std::string sc = write_scenario(t, R"(register nfs version=0
acquire srv index nfs key=hex:0002000000000000 name=NFS.server
acquire sb index srv key="sb-key" name=NFS.super
acquire f1 data sb key=hex:0102030405060708 aux="a" size=6000 name=NFS.fh disabled
acquire f2 data sb key=hex:0102030405060709 aux="a" size=6000 name=NFS.fh disabled
enable f1
fault space cookie=f2 ENOBUFS
enable f2
read f1 0
read f2 0
relinquish f1
relinquish f2
withdraw
)");
  auto run = run_fsc({"replay", t / "c", sc, "--trace", t / "run.trace"});
  INFO1(run.out << run.err);
  REQUIRE(run.status == 0);
  REQUIRE(fsc::test::read_file(t / "run.trace").find("LCFL WORK OOB ev=5") !=
          std::string::npos);
  auto r = run_fsc({"replay", "--from-trace", t / "run.trace", "--json",
                    "--save-scenario", t / "rebuilt.fsc"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  const std::string rebuilt = fsc::test::read_file(t / "rebuilt.fsc");
  CHECK(rebuilt.find("fault space cookie=c") != std::string::npos);
}

TEST_CASE("replay --from-trace: an edited trace diverges at the edit")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  REQUIRE(run_fsc({"replay", t / "c", scenario("lifecycle.fsc"), "--trace",
                   t / "run.trace"})
              .status == 0);
  // Pretend the kernel sent the data object's JUMP through an OOB path.
  std::string text = fsc::test::read_file(t / "run.trace"), edited;
  std::istringstream in(text);
  int lineno = 0, edit_line = 0;
  for (std::string l; std::getline(in, l);) {
    ++lineno;
    if (!edit_line && l.find("JUMP WORK ev=-1") != std::string::npos &&
        l.find("c=ffff888100000500") != std::string::npos) {
      l.replace(l.find("JUMP WORK ev=-1"), 15, "KILL WORK OOB ev=6");
      edit_line = lineno;
    }
    edited += l + "\n";
  }
  REQUIRE(edit_line > 0);
  std::ofstream(t / "edited.trace") << edited;
  auto r = run_fsc({"replay", "--from-trace", t / "edited.trace", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == true);
  CHECK(j["line"] == edit_line);
  CHECK(j["trace_step"] == "osm KILL WORK OOB ev=6");
  CHECK(j["engine_step"] == "osm JUMP WORK ev=-1");
}

TEST_CASE("replay --from-trace: a relinquish's put printed after the "
          "worker's later put is taken where its count shows")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  REQUIRE(run_fsc({"replay", t / "c", scenario("lifecycle.fsc"), "--trace",
                   t / "run.trace"})
              .status == 0);
  // 5.10 under TCG: the umount task made PUT rlq (u=1) and was preempted
  // before printing it; the worker's PUT work and PUT obj (u=0) came first
  // in the trace. Move the engine's PUT rlq line after the PUT obj.
  std::vector<std::string> lines;
  {
    std::istringstream in(fsc::test::read_file(t / "run.trace"));
    for (std::string l; std::getline(in, l);)
      lines.push_back(l);
  }
  const std::string c = "c=ffff888100000500";
  auto find = [&](const std::string& what) {
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i].find(what) != std::string::npos &&
          lines[i].find(c) != std::string::npos)
        return i;
    return lines.size();
  };
  const std::size_t rlq = find("PUT rlq"), obj = find("PUT obj");
  REQUIRE(rlq < obj);
  REQUIRE(obj < lines.size());
  REQUIRE(lines[rlq].find(" u=1 ") != std::string::npos);
  REQUIRE(lines[obj].find(" u=0 ") != std::string::npos);
  std::string late = lines[rlq];
  // Printed late: its timestamp after the PUT obj's.
  const auto ts = late.find("10.000");
  REQUIRE(ts != std::string::npos);
  late.replace(ts, 9, "10.000999");
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(rlq));
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(obj), late);
  write_trace(t / "late.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", t / "late.trace", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["diverged"] == false);
  // Counts that fit no order are still a divergence: the late put printed
  // u=2 (a put that raised the count).
  lines[obj].replace(lines[obj].find(" u=1 "), 5, " u=2 ");
  write_trace(t / "bad.trace", lines);
  auto b = run_fsc({"replay", "--from-trace", t / "bad.trace", "--json"});
  INFO1(b.out << b.err);
  CHECK(b.status == 1);
}

TEST_CASE("replay --from-trace: the kernel suite's 5.10 trace up to the "
          "unbind: an op freed by the GC worker, a child released before "
          "its put is printed")
{
  // tests/fixtures/kernel-suite-5.10/README.md: an op's GC line (12007)
  // ends the op whose Put came before it, and starts none; the root
  // object's KILL (48930) found its child gone (the child's
  // cachefiles_mark_inactive, 48929, then its parent release) though the
  // child's PUT drop_obj is printed after it (48932): the root went on to
  // DROP, where the real smoke trace's root, KILLed between the same two
  // lines of its child, waited (?CLR, its line 32754).
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-5.10/until-unbind.txt.xz";
  auto r = run_fsc({"replay", "--from-trace", t, "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["compared"] == 1776);
  CHECK(j["cookies"] == 140);
}

TEST_CASE("replay --from-trace: the real 5.10 trace replays with no "
          "divergence and no crash claim")
{
  // Its withdrawal ran the root object's and the NFS index object's work
  // items on two CPUs at once (lines 32744-32759): the root's KILL saw the
  // child still attached, the child's DROP let go of it before the root's
  // next step. The engine follows the trace's order, slices included.
  auto r = run_fsc({"replay", "--from-trace", real_510_trace(), "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["order"] == "trace");
  CHECK(j["calls"].get<int>() > 3000);
  CHECK(j["compared"].get<int>() >= 767); // every osm and refcount line
  CHECK(records(j, "finding").empty());
  // Types from the trace alone: 2 server and 3 superblock indexes and the
  // NFS primary index (mkdir, ENABLED without an object), the 8 files
  // read (LOOKING_UP at enable, page reads); the files acquired and never
  // enabled show nothing.
  CHECK(j["cookie_types"]["index"] == 6);
  CHECK(j["cookie_types"]["data"] == 8);
  CHECK(j["cookie_types"]["unknown"].get<int>() > 100);
  CHECK(j["cookie_types"]["conflicting"] == 0);
  r = run_fsc({"replay", "--from-trace", real_510_trace()});
  CHECK(r.status == 0);
  CHECK(r.out.find("the engine did what the kernel did") != std::string::npos);
  CHECK(r.out.find("would crash") == std::string::npos);
}

TEST_CASE("replay --from-trace: --seed runs the engine's own order, which "
          "cannot interleave two work items")
{
  auto r = run_fsc(
      {"replay", "--from-trace", real_510_trace(), "--seed", "0", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["order"] == "seed 0");
  CHECK(j["diverged"] == true);
  CHECK(j["cookie"] == "ffffffffc04b4540");
  CHECK(j["line"].get<int>() >= 32750);
}

TEST_CASE("replay --from-trace: traces of 16 legal orders, calls racing the "
          "workers, replay with no divergence")
{
  // The engine's own traces of one scenario under 16 seeds: work items in
  // other orders, netfs calls made while earlier work is still queued, an
  // invalidation and an aux update (which trace no line of their own: the
  // replay calls them where their event queued the object).
  TempDir t;
  std::string sc = write_scenario(t, R"(register nfs
acquire srv index nfs key="srv" name=NFS.ser
acquire sb index srv key="sb" name=NFS.sup
acquire a data sb key="a" size=16384 name=NFS.fh &
acquire b data sb key="b" size=16384 name=NFS.fh &
acquire c data sb key="c" size=8192 name=NFS.fh disabled &
enable c size=8192 &
write a 0 &
write b 1 &
step 2
invalidate a &
update b aux="v2" &
write a 2 &
step 3
write b 3 &
run
relinquish b &
relinquish a retire &
step 2
relinquish c &
run
relinquish sb
relinquish srv
)");
  for (int seed = 0; seed < 16; ++seed) {
    TempDir c;
    std::string tr = t / ("run" + std::to_string(seed) + ".trace");
    REQUIRE(run_fsc({"replay", c.path(), sc, "--seed", std::to_string(seed),
                     "--trace", tr})
                .status == 0);
    auto r = run_fsc({"replay", "--from-trace", tr, "--json"});
    INFO1("seed " << seed << " " << r.out << r.err);
    CHECK(r.status == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["diverged"] == false);
    CHECK(j["compared"].get<int>() > 80);
  }
}

TEST_CASE("replay --from-trace: an invalidation that came in while the "
          "object's work item ran is called before that item's last state")
{
  // fscache_invalidate() traces nothing of its own. g19's invalidation
  // comes while its object's first work item runs (events masked, no GET
  // queue): the worker takes it when JUMP_DEPENDENTS returns, in the same
  // item. Called where the worker printed ?CMD, it queued a second item;
  // the relinquish that waits for the invalidation then went too early.
  TempDir t;
  std::string sc = write_scenario(t, R"(register nfs
acquire srv index nfs key="srv" name=NFS.ser
acquire sb index srv key="sb" name=NFS.sup
acquire g1 data sb key="g1" size=16384 name=NFS.fh &
acquire g2 data sb key="g2" size=16384 name=NFS.fh &
acquire g3 data sb key="g3" size=16384 name=NFS.fh &
acquire g4 data sb key="g4" size=16384 name=NFS.fh &
acquire g5 data sb key="g5" size=16384 name=NFS.fh &
acquire g6 data sb key="g6" size=16384 name=NFS.fh &
acquire g7 data sb key="g7" size=16384 name=NFS.fh &
acquire g8 data sb key="g8" size=16384 name=NFS.fh &
acquire g9 data sb key="g9" size=16384 name=NFS.fh &
acquire g10 data sb key="g10" size=16384 name=NFS.fh &
acquire g11 data sb key="g11" size=16384 name=NFS.fh &
acquire g12 data sb key="g12" size=16384 name=NFS.fh &
acquire g13 data sb key="g13" size=16384 name=NFS.fh &
acquire g14 data sb key="g14" size=16384 name=NFS.fh &
acquire g15 data sb key="g15" size=16384 name=NFS.fh &
acquire g16 data sb key="g16" size=16384 name=NFS.fh &
acquire g17 data sb key="g17" size=16384 name=NFS.fh &
acquire g18 data sb key="g18" size=16384 name=NFS.fh &
relinquish g18
acquire g19 data sb key="g19" size=16384 name=NFS.fh &
write g19 2 &
invalidate g19 &
relinquish g19
run
)");
  for (int seed = 0; seed < 16; ++seed) {
    TempDir c;
    std::string tr = t / ("run" + std::to_string(seed) + ".trace");
    REQUIRE(run_fsc({"replay", c.path(), sc, "--seed", std::to_string(seed),
                     "--trace", tr})
                .status == 0);
    auto r = run_fsc({"replay", "--from-trace", tr, "--json"});
    INFO1("seed " << seed << " " << r.out << r.err);
    CHECK(r.status == 0);
    CHECK(nlohmann::json::parse(r.out)["diverged"] == false);
  }
}

TEST_CASE("replay --from-trace: an edit to the real trace is found at its "
          "line, also where two workers interleaved")
{
  const std::vector<std::string> real = read_trace(real_510_trace());
  REQUIRE(real.size() == 32759);
  struct Edit {
    std::size_t line; // 1-based, in the real trace
    std::string from, to;
    std::string kernel, engine; // expected steps at the divergence
  };
  const Edit edits[] = {
      // A refcount: the relinquish of /mnt/a's superblock index.
      {30327, "PUT rlq c=ffff91ce821f9700 u=1",
       "PUT rlq c=ffff91ce821f9700 u=2", "ref PUT rlq u=2", "ref PUT rlq u=1"},
      // A state transition of the root object while the NFS index object
      // is dropped on the other CPU.
      {32755, "KILL WORK ev=4", "KILL WORK ev=-1", "osm KILL WORK ev=-1",
       "osm KILL WORK ev=4"},
  };
  for (const Edit& e : edits) {
    TempDir t;
    std::vector<std::string> lines = real;
    std::string& l = lines[e.line - 1];
    REQUIRE(l.find(e.from) != std::string::npos);
    l.replace(l.find(e.from), e.from.size(), e.to);
    write_trace(t / "edited.trace", lines);
    auto r = run_fsc({"replay", "--from-trace", t / "edited.trace", "--json"});
    INFO1(e.line << " " << r.out << r.err);
    CHECK(r.status == 1);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["diverged"] == true);
    CHECK(j["line"] == e.line);
    CHECK(j["trace_step"] == e.kernel);
    CHECK(j["engine_step"] == e.engine);
  }
  // A state transition removed: the next line, the same object's DROP,
  // takes its number, and the engine's KILL is what the kernel lacks.
  TempDir t;
  std::vector<std::string> lines = real;
  REQUIRE(lines[32736].find("c=ffff91ce821f9d00 o=ffff91ce827b1b00 KILL WORK "
                            "OOB ev=6") != std::string::npos);
  lines.erase(lines.begin() + 32736);
  write_trace(t / "removed.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", t / "removed.trace"});
  INFO1(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("diverged   at " + t / "removed.trace" +
                   ":32737, cookie "
                   "ffff91ce821f9d00") != std::string::npos);
  CHECK(r.out.find("kernel:  osm DROP WORK ev=-1") != std::string::npos);
  CHECK(r.out.find("engine:  osm KILL WORK OOB ev=6") != std::string::npos);
  CHECK(r.out.find("previous step, which matched, is at line 32736") !=
        std::string::npos);
}

TEST_CASE("replay --from-trace: a cookie's type is what its own life shows, "
          "not what an earlier cookie at the same address was")
{
  // A superblock index is relinquished and freed; the slab gives its
  // address to a file's cookie, which is written and read. The trace is the
  // engine's own, with the file's address changed to the freed index's.
  TempDir t;
  fsc::test::make_dirs(t / "c");
  std::string sc = write_scenario(t, R"(register nfs
acquire srv index nfs key="srv" name=NFS.ser
acquire sb index srv key="sb1" name=NFS.sup
acquire f1 data sb key="f1" size=8192 name=NFS.fh
write f1 0
relinquish f1
relinquish sb
acquire sb2 index srv key="sb2" name=NFS.sup
acquire f2 data sb2 key="f2" size=8192 name=NFS.fh
write f2 0
read f2 1
relinquish f2
relinquish sb2
)");
  REQUIRE(run_fsc({"replay", t / "c", sc, "--trace", t / "run.trace"}).status ==
          0);
  std::vector<std::string> lines = read_trace(t / "run.trace");
  const std::string sb = "ffff888100000400", f2 = "ffff888100000700";
  std::size_t sb_freed = 0, f2_acquired = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("PUT obj c=" + sb + " u=0") != std::string::npos)
      sb_freed = i;
    if (lines[i].find("fscache_acquire: c=" + f2) != std::string::npos &&
        lines[i].find("n=NFS.fh") != std::string::npos)
      f2_acquired = i;
  }
  REQUIRE(sb_freed > 0);
  REQUIRE(f2_acquired > sb_freed);
  for (auto& l : lines)
    for (auto at = l.find(f2); at != std::string::npos; at = l.find(f2))
      l.replace(at, f2.size(), sb);
  write_trace(t / "reused.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", t / "reused.trace", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(records(j, "finding").empty());
  CHECK(j["cookie_types"]["index"] == 4); // nfs, srv, sb, sb2
  CHECK(j["cookie_types"]["data"] == 2);
  r = run_fsc({"replay", "--from-trace", t / "reused.trace"});
  CHECK(r.status == 0);
  CHECK(r.out.find("would crash") == std::string::npos);
}

TEST_CASE("replay --from-trace: a crash claim quotes the call and the lines "
          "that show the cookie's type")
{
  // The real trace with one file's object made by mkdir instead of create:
  // that shows an index, while the flags at its enable (LOOKING_UP) show a
  // data cookie. The engine runs it as the index and 4.19 BUGs on the first
  // page write; the claim says why, with the lines.
  TempDir t;
  std::vector<std::string> lines = read_trace(real_510_trace());
  std::string& l = lines[8993 - 1];
  REQUIRE(l.find("cachefiles_create: o=ffff91ce827b1c80") != std::string::npos);
  l.replace(l.find("cachefiles_create"), 17, "cachefiles_mkdir");
  REQUIRE(lines[9004 - 1].find("c=ffff91ce82267e00 Write1") !=
          std::string::npos);
  write_trace(t / "mkdir.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", t / "mkdir.trace", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["cookie_types"]["conflicting"] == 1);
  REQUIRE(records(j, "finding").size() == 1);
  const auto f = records(j, "finding")[0];
  CHECK(f["message"].get<std::string>().find(
            "fscache_write_page() on an index cookie") != std::string::npos);
  CHECK(f["line"] == 9004);
  CHECK(f["call"].get<std::string>().find("Write1") != std::string::npos);
  CHECK(f["cookie"] == "cffff91ce82267e00_2");
  CHECK(f["cookie_type"] == "conflicting");
  REQUIRE(f["evidence"].size() == 2);
  CHECK(f["evidence"][0]["shows"] == "index");
  CHECK(f["evidence"][0]["line"] == 8993);
  CHECK(f["evidence"][0]["text"].get<std::string>().find("cachefiles_mkdir") !=
        std::string::npos);
  CHECK(f["evidence"][1]["shows"] == "data");
  CHECK(f["evidence"][1]["line"] == 8982);
  CHECK(f["evidence"][1]["why"].get<std::string>().find("LOOKING_UP") !=
        std::string::npos);
  r = run_fsc({"replay", "--from-trace", t / "mkdir.trace"});
  CHECK(r.out.find("mkdir.trace:9004: 4.19 would crash here") !=
        std::string::npos);
  CHECK(r.out.find("shown as both an index and a data cookie") !=
        std::string::npos);
}

TEST_CASE("replay --from-trace: refuses a missing trace and bad arguments")
{
  // A 6.1 trace is replayed on the 6.1 engine (test_replay_v2.cpp), which
  // takes no CACHE.
  TempDir t;
  fsc::test::make_dirs(t / "c");
  auto r =
      run_fsc({"replay", "--from-trace",
               fsc::test::fixtures_dir() + "/real-6.1-smoke/ftrace.txt.xz",
               t / "c"});
  CHECK(r.status == 64);
  CHECK(r.err.find("in-memory backend") != std::string::npos);
  r = run_fsc({"replay", "--from-trace", t / "nope.trace"});
  CHECK(r.status == 2);
  CHECK(r.err.find("nope.trace") != std::string::npos);
}

TEST_CASE("replay --write on a cache another fsc holds: busy, 75, as cull")
{
  TempDir t;
  std::string root = real_510(t);
  auto before = fsc::test::snapshot(root);
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto r =
      run_fsc({"replay", root, scenario("real-5.10-lookup.fsc"), "--write"});
  close(fd);
  INFO1(r.out << r.err);
  CHECK(r.status == 75);
  CHECK(fsc::test::snapshot(root) == before);
}
