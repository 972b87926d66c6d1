// test_replay_v2_scenario.cpp - `fsc replay CACHE SCENARIO` on the 6.1
// engine: chosen by a v2 cache's format or by --engine, read-only by
// default (the real 6.1 smoke cache unchanged), --into and --write leave a
// cache `fsc inspect --check` accepts, --trace replays with --from-trace
// with no divergence, --trace and --refs read by `fsc refs` with no
// findings, and bad scenarios and options named in the error.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

#define INFO1(x) INFO(fsc::test::one_line((std::ostringstream() << x).str()))

std::string example()
{
  return std::string(std::getenv("FSC_SOURCE_ROOT")) +
         "/tests/scenarios/v2/nfs-file.fsc";
}

std::string write_scenario(const TempDir& t, const std::string& text)
{
  std::string p = t / "s.fsc";
  std::ofstream(p) << text;
  return p;
}

/// The real 6.1 smoke cache, unpacked under t/name.
std::string real_61(const TempDir& t, const std::string& name = "v2")
{
  fsc::test::make_dirs(t / name);
  return fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", t / name);
}

bool has(const std::string& text, const std::string& part)
{
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("replay: a v2 cache gets the 6.1 engine, read-only by default")
{
  TempDir t;
  const std::string cache = real_61(t);
  const auto before = fsc::test::snapshot(cache);
  auto r = run_fsc({"replay", cache, example(), "--json"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["engine"] == "6.1");
  CHECK(j["cache_mode"] == "read-only");
  CHECK(j["ok"] == true);
  CHECK(j["failure_count"] == 0);
  CHECK(j["expectations"].get<int>() >= 25);
  CHECK(j["change_count"].get<int>() > 0); // what --write would have done
  CHECK(fsc::test::snapshot(cache) == before);
  // The text report says which engine ran and that nothing was written.
  r = run_fsc({"replay", cache, example()});
  CHECK(r.status == 0);
  CHECK(has(r.out, "(read-only, nothing written), 6.1 engine (v2 cache)"));
  CHECK(has(r.out, "would change on disk:"));
  CHECK(fsc::test::snapshot(cache) == before);
}

TEST_CASE("replay --engine: 6.1 on an empty directory, 4.19 by default, a "
          "contradiction refused")
{
  TempDir t;
  fsc::test::make_dirs(t / "empty");
  auto r =
      run_fsc({"replay", t / "empty", example(), "--engine", "6.1", "--json"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["engine"] == "6.1");
  CHECK(fsc::test::snapshot(t / "empty").size() <= 1); // still empty
  // Without --engine an empty directory is a new 4.19 cache: the 6.1
  // dialect does not parse there.
  r = run_fsc({"replay", t / "empty", example()});
  CHECK(r.status == 2);
  CHECK(has(r.err, "nfs-file.fsc:6:"));
  CHECK(has(r.err, "(the 4.19 dialect: 4.19 engine for new cache, the "
                   "default)"));
  // --engine against the format is a usage error naming both.
  const std::string cache = real_61(t);
  r = run_fsc({"replay", cache, example(), "--engine", "4.19"});
  CHECK(r.status == 64);
  CHECK(has(r.err, "--engine 4.19 contradicts"));
  CHECK(has(r.err, "v2 cache"));
  r = run_fsc({"replay", cache, example(), "--engine", "5.10"});
  CHECK(r.status == 64);
  // A v1 cache forced to 6.1.
  fsc::test::make_dirs(t / "v1/cache/@4a");
  fsc::test::make_dirs(t / "v1/graveyard");
  r = run_fsc({"replay", t / "v1", example(), "--engine", "6.1"});
  CHECK(r.status == 64);
  CHECK(has(r.err, "--engine 6.1 contradicts"));
}

TEST_CASE("replay (6.1): --into and --write leave a cache inspect --check "
          "accepts")
{
  TempDir t;
  const std::string cache = real_61(t);
  const auto before = fsc::test::snapshot(cache);
  auto r = run_fsc({"replay", cache, example(), "--into", t / "copy"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "(into)"));
  CHECK(fsc::test::snapshot(cache) == before);
  CHECK(fsc::test::snapshot(t / "copy") != before);
  r = run_fsc({"inspect", t / "copy", "--check"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(has(r.out, "0 problems"));
  r = run_fsc({"inspect", t / "copy"});
  CHECK(has(r.out, "format     v2"));
  CHECK(has(r.out, "9 data")); // the smoke cache's 8 and the scenario's file
  // --write on a new directory, forced to 6.1: a v2 cache made from nothing.
  fsc::test::make_dirs(t / "new");
  r = run_fsc({"replay", t / "new", example(), "--engine", "6.1", "--write"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  r = run_fsc({"inspect", t / "new", "--check", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  // And a second run on it needs no --engine: the format says 6.1 (and
  // the file the first run committed is found again, coherent).
  std::string s = write_scenario(
      t, "acquire-volume v key=\"nfs,3.0,2,,100007f,e0666721b7ea5003,,,"
         "3002c0,80000,80000,2ee,3a98,1d4c,3a98,1\"\n"
         "acquire f v key=hex:0102030405060708 "
         "aux=hex:"
         "10ff53650000000015cd5b070000000045d8056b00000000006436100000000000000"
         "00000000000 "
         "size=8192\n"
         "use f\nexpect f flags -NO_DATA_TO_READ\n"
         "unuse f\nrelinquish f\n");
  r = run_fsc({"replay", t / "new", s, "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(has(r.out, "\"engine\":\"6.1\""));
}

TEST_CASE("replay (6.1) --trace replays with --from-trace; --trace and "
          "--refs read by fsc refs with no findings")
{
  TempDir t;
  const std::string cache = real_61(t);
  auto r = run_fsc({"replay", cache, example(), "--trace", t / "run.trace",
                    "--refs", t / "run.refs"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  r = run_fsc({"replay", "--from-trace", t / "run.trace", "--json"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["generation"] == "6.1");
  CHECK(j["diverged"] == false);
  CHECK(j["compared"].get<int>() > 50);
  for (const char* f : {"run.trace", "run.refs"}) {
    r = run_fsc({"refs", t / f});
    INFO1(f << ": " << r.out << r.err);
    CHECK(r.status == 0);
    CHECK(has(r.out, "(6.1 format)"));
    CHECK(has(r.out, "findings   0"));
    CHECK(has(r.out, " 0 malformed"));
  }
  // The journal holds the refcount events only.
  std::ifstream in(t / "run.refs");
  std::string line;
  int events = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    ++events;
    CHECK((has(line, "fscache_cookie:") || has(line, "fscache_volume:") ||
           has(line, "fscache_cache:") || has(line, "fscache_acquire:") ||
           has(line, "fscache_relinquish:") || has(line, "cachefiles_ref:")));
  }
  CHECK(events > 20);
  // A cookie left unrelinquished at the end: refs reports it open... as
  // the kernel would show it; a leak the engine made would be a finding.
}

TEST_CASE("replay (6.1): a bad scenario is named at file:line, a failed "
          "expect exits 1")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"acquire-volume v key=x\nacquire c v\n",
       "s.fsc:2:1: acquire needs key="},
      {"acquire-volume v key=x\nregister nfs\n", "s.fsc:2:1: expected a call"},
      {"advance forever\n", "s.fsc:1:9: expected a time"},
      {"fault bury cookie=c EWHAT\n", "s.fsc:1:21: expected an errno"},
      {"use ghost\n", "s.fsc:1:5: unknown handle 'ghost'"},
  };
  for (const auto& c : cases) {
    std::string s = write_scenario(t, c.text);
    auto r = run_fsc({"replay", t / "c", s, "--engine", "6.1"});
    INFO1(c.text << "\n" << r.err);
    CHECK(r.status == 2);
    CHECK(has(r.err, c.want));
  }
  std::string s = write_scenario(t, "acquire-volume v key=x\nexpect v ref 9\n");
  auto r = run_fsc({"replay", t / "c", s, "--engine", "6.1"});
  CHECK(r.status == 1);
  CHECK(has(r.out, "s.fsc:2: expected v ref 9, engine has 1"));
}

TEST_CASE("replay (6.1): 4.19-only options are refused by name; --stats")
{
  TempDir t;
  const std::string cache = real_61(t);
  auto r =
      run_fsc({"replay", cache, example(), "--unfix", "attach-ref-at-init"});
  CHECK(r.status == 64);
  CHECK(has(r.err, "--unfix"));
  CHECK(has(r.err, "6.1"));
  r = run_fsc({"replay", cache, example(), "--save-scenario", t / "x.fsc"});
  CHECK(r.status == 64);
  CHECK(has(r.err, "--save-scenario"));
  // --engine with --from-trace: the trace's kernel picks the engine.
  r = run_fsc({"replay", "--from-trace",
               fsc::test::fixtures_dir() + "/real-6.1-smoke/ftrace.txt.xz",
               "--engine", "6.1"});
  CHECK(r.status == 64);
  CHECK(has(r.err, "--engine with --from-trace"));
  r = run_fsc({"replay", cache, example(), "--stats"});
  INFO1(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(has(r.out, "FS-Cache statistics\nCookies: n=0 v=0"));
  CHECK(has(r.out, "Relinqs: n=1 rtr=0 drop=1"));
  CHECK(has(r.out, "LRU    : n=0 exp=1"));
}

TEST_CASE("replay: each modelled 6.x fix passes, and fails when turned off")
{
  const char* const fixes[] = {"1-lru-use-race", "2-inval-during-lookup",
                               "3-inval-access-leak", "9-unmark-on-error",
                               "10-shorten-length"};
  for (const char* file : fixes) {
    const std::string name = std::string(file).substr(
        std::string(file).find('-') + 1);
    const std::string sc = std::string(std::getenv("FSC_SOURCE_ROOT")) +
                           "/tests/scenarios/v2/fixes/" + file + ".fsc";
    TempDir t;
    fsc::test::make_dirs(t / "c");
    auto on = run_fsc({"replay", t / "c", sc, "--engine", "6.1"});
    INFO1(file << "\n" << on.out << on.err);
    CHECK(on.status == 0);
    auto off =
        run_fsc({"replay", t / "c", sc, "--engine", "6.1", "--unfix", name});
    INFO1(off.out << off.err);
    CHECK(off.status == 1);
    CHECK((has(off.out, "failed:") || has(off.out, "findings:")));
  }
}

TEST_CASE("replay: --unfix takes only the running engine's fixes")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  auto r = run_fsc({"replay", t / "c", example(), "--engine", "6.1",
                    "--unfix", "attach-ref-at-init"});
  INFO1(r.out << r.err);
  CHECK(r.status == 64);
  CHECK(has(r.err, "a fix of the 4.19 engine"));
  CHECK(has(r.err, "lru-use-race"));
  auto s = run_fsc({"replay", t / "c",
                    std::string(std::getenv("FSC_SOURCE_ROOT")) +
                        "/tests/scenarios/lifecycle.fsc",
                    "--unfix", "lru-use-race"});
  INFO1(s.out << s.err);
  CHECK(s.status == 64);
  CHECK(has(s.err, "a fix of the 6.1 engine"));
  auto u = run_fsc({"replay", t / "c", example(), "--engine", "6.1",
                    "--unfix", "no-such-fix"});
  CHECK(u.status != 0);
}

TEST_CASE("replay: fsc refs finds the access leak of --unfix "
          "inval-access-leak in the 6.1 journal, and nothing when fixed")
{
  const std::string sc = std::string(std::getenv("FSC_SOURCE_ROOT")) +
                         "/tests/scenarios/v2/fixes/3-inval-access-leak.fsc";
  for (bool fixed : {true, false}) {
    TempDir t;
    fsc::test::make_dirs(t / "c");
    std::vector<std::string> args = {"replay", t / "c",  sc,
                                     "--engine", "6.1", "--refs",
                                     t / "refs.txt"};
    if (!fixed) {
      args.push_back("--unfix");
      args.push_back("inval-access-leak");
    }
    auto r = run_fsc(args);
    INFO1(r.out << r.err);
    CHECK(r.status == (fixed ? 0 : 1));
    auto refs = run_fsc({"refs", t / "refs.txt"});
    INFO1(refs.out << refs.err);
    CHECK(has(refs.out, "relinquished but the count is still 1") == !fixed);
    CHECK(has(refs.out, "findings   0") == fixed);
  }
}

TEST_CASE("replay: cachefilesd's cull and space limits on a 6.1 cache: the "
          "culled file is gone on disk, the one in use stays")
{
  TempDir t;
  fsc::test::make_dirs(t / "c");
  const std::string sc = std::string(std::getenv("FSC_SOURCE_ROOT")) +
                         "/tests/scenarios/v2/cull.fsc";
  auto r = run_fsc({"replay", t / "c", sc, "--engine", "6.1", "--into",
                    t / "out"});
  INFO1(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "0 failed"));
  // The objects' places (cook_v2 of the short keys: "D" + the key).
  const std::string vol = t / "out/cache/Itest,vol";
  CHECK_FALSE(std::filesystem::exists(vol + "/@c2/Dold"));
  CHECK(std::filesystem::exists(vol + "/@19/Dhot"));
  auto check = run_fsc({"inspect", t / "out", "--check"});
  INFO1(check.out << check.err);
  CHECK(check.status == 0);
  CHECK(std::filesystem::is_empty(t / "c")); // --into left the source
}
