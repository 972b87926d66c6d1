// test_fscache_v2_scenario.cpp - the 6.1 dialect of the replay language:
// parse errors with file:line:column, each call and `expect` line, the
// shipped example under tests/scenarios/v2/, and random scenarios with
// fault rules (in memory and on real directories) that must leave every
// count balanced and nothing parked.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fsc/error.hpp>
#include <fsc/fscache/engine_choice.hpp>
#include <fsc/fscache/v2/memory_backend.hpp>
#include <fsc/fscache/v2/scenario.hpp>
#include <fsc/fscache/v2/session.hpp>

#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace fsc::fscache::v2;

namespace {

/// The message of the fsc::Error that parsing text throws ("" if none).
std::string parse_error(const std::string& text)
{
  try {
    Scenario::parse(text, "t.fsc");
  } catch (const fsc::Error& e) {
    return e.what();
  }
  return "";
}

/// An engine on the in-memory backend with the cache added, running one
/// scenario.
struct MemRun {
  FaultPlan faults;
  ReportObserver seen;
  MemoryBackend be{faults.hook<MemoryBackend::Fault>()};
  Engine e;
  explicit MemRun(std::uint64_t seed = 0) : e(be, seen, seed)
  {
    REQUIRE(e.add_cache() == 0);
    e.run();
  }
  ReplayReport run(const std::string& text)
  {
    return run_scenario(Scenario::parse(text, "t.fsc"), e, faults, seen,
                        disk());
  }
  /// The in-memory backend's files for `expect H file`.
  DiskView disk()
  {
    DiskView d;
    d.daemon = &be;
    d.path_of = [](std::string_view vol, fsc::ByteView key) {
      return "cache/" + MemoryBackend::path_of(vol, key);
    };
    d.size_of = [this](std::string_view vol,
                       fsc::ByteView key) -> std::optional<std::uint64_t> {
      const auto* f = be.file(MemoryBackend::path_of(vol, key));
      if (!f)
        return std::nullopt;
      return f->size;
    };
    d.xattr_of = [this](std::string_view vol,
                        fsc::ByteView key) -> std::optional<fsc::Bytes> {
      const auto* f = be.file(MemoryBackend::path_of(vol, key));
      if (!f || !f->has_xattr)
        return std::nullopt;
      return f->xattr;
    };
    return d;
  }
};

std::string join(const std::vector<std::string>& v)
{
  std::string s;
  for (const auto& x : v)
    s += x + "\n";
  return s;
}

const std::string k_head = "acquire-volume v key=test,vol\n"
                           "acquire c v key=file-1 aux=aux0 size=8192\n";

} // namespace

TEST_CASE("v2 scenario: parse errors name file:line:column",
          "[fscache_v2][v2scenario]")
{
  CHECK(
      parse_error("register nfs\n").starts_with("t.fsc:1:1: expected a call"));
  CHECK(parse_error("\n\n  acquire c\n") ==
        "t.fsc:3:3: 'acquire' expects 2 argument(s), got 1");
  CHECK(parse_error("acquire c v\n") == "t.fsc:1:1: acquire needs key=");
  CHECK(parse_error("use c bogus=1\n") ==
        "t.fsc:1:7: 'use' takes no option 'bogus'");
  CHECK(parse_error("acquire c v key=k size=lots\n") ==
        "t.fsc:1:24: expected a number for size=");
  CHECK(parse_error("acquire c v key=hex:zz\n") ==
        "t.fsc:1:17: expected a string, \"quoted string\" or hex:BYTES for "
        "key=");
  CHECK(parse_error("read op x 4096\n") ==
        "t.fsc:1:9: expected a position in bytes");
  CHECK(parse_error("write op 0 4096 pending\n") ==
        "t.fsc:1:1: a pending write needs 'as NAME' for its complete");
  CHECK(parse_error("advance soon\n") ==
        "t.fsc:1:9: expected a time such as 10s, 500ms or 20ns");
  CHECK(parse_error("fault nowhere EIO\n")
            .starts_with(
                "t.fsc:1:7: unknown fault point 'nowhere' (known: bind,"));
  CHECK(parse_error("fault lookup nth=0 EIO\n") ==
        "t.fsc:1:14: expected cookie=HANDLE, nth=N or every");
  CHECK(parse_error("fault lookup EWHAT\n") ==
        "t.fsc:1:14: expected an errno name such as EIO or ENOSPC");
  CHECK(parse_error("expect c state SLEEPING\n")
            .starts_with("t.fsc:1:16: expected a cookie state"));
  CHECK(parse_error("expect c ref many\n") == "t.fsc:1:14: expected a number");
  CHECK(parse_error("expect c flags HAVE_DATA\n")
            .starts_with("t.fsc:1:16: expected +FLAG or -FLAG"));
  CHECK(parse_error("expect stat nothing 1\n") ==
        "t.fsc:1:13: unknown stat 'nothing'");
  CHECK(parse_error("expect c file huge 3\n") ==
        "t.fsc:1:15: expected exists, absent, size N, aux V or xattr V");
  CHECK(parse_error("expect c colour blue\n")
            .starts_with("t.fsc:1:10: expected null, freed"));
  CHECK(parse_error("use c \"unclosed\n") ==
        "t.fsc:1:7: expected a closing '\"'");
  CHECK(parse_error("# only a comment\n\nrun &\n").empty());
}

TEST_CASE("v2 scenario: a handle of the wrong kind or unknown is an error "
          "at its line",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  CHECK_THROWS_WITH(r.run("use nobody\n"),
                    "t.fsc:1:5: unknown handle 'nobody'");
  MemRun r2;
  CHECK_THROWS_WITH(r2.run(k_head + "use v\n"),
                    "t.fsc:3:5: 'v' is a volume, not a cookie");
}

TEST_CASE("v2 scenario: acquire, use, unuse, relinquish and the counts",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run(k_head + "expect c state QUIESCENT\n"
                            "expect c ref 1\n"
                            "expect v n_cookies 1\n"
                            "use c\n"
                            "expect c state ACTIVE\n"
                            "expect c n_active 1\n"
                            "expect c flags +IS_CACHING -RELINQUISHED\n"
                            "unuse c aux=aux1 size=4096\n"
                            "expect c n_active 0\n"
                            "expect c object_size 4096\n"
                            "expect c lru yes\n"
                            "expect stat updates 1\n"
                            "expect c file absent\n"
                            "relinquish c retire\n"
                            "expect c freed\n"
                            "expect c file absent\n"
                            "expect stat relinqs_retire 1\n"
                            "relinquish-volume v\n"
                            "expect v freed\n"
                            "expect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  CHECK(rep.expectations == 16);
  CHECK(rep.calls == 6);
}

TEST_CASE("v2 scenario: a failed expect is reported with its line",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run(k_head + "expect c ref 7\nexpect c state ACTIVE\n"
                            "expect v n_cookies 0\nexpect cache n_volumes 3\n"
                            "expect c file exists\n"
                            "use c modify\nunuse c\nrelinquish c\n"
                            "expect c file size 4096\n"
                            "expect c file aux other\n");
  REQUIRE(rep.failures.size() == 7);
  CHECK(rep.failures[0] == "t.fsc:3: expected c ref 7, engine has 1");
  CHECK(rep.failures[1] ==
        "t.fsc:4: expected c state ACTIVE, engine has QUIESCENT");
  CHECK(rep.failures[2] == "t.fsc:5: expected v n_cookies 0, engine has 1");
  CHECK(rep.failures[3] == "t.fsc:6: expected cache n_volumes 3, engine has 1");
  CHECK(rep.failures[4] == "t.fsc:7: expected c file exists");
  CHECK(rep.failures[5] == "t.fsc:11: expected c file size 4096, it has 8192");
  CHECK(rep.failures[6] == "t.fsc:12: expected c file aux 6f74686572, it "
                           "has 61757830"); // "aux0"
  CHECK_FALSE(rep.ok());
}

TEST_CASE("v2 scenario: operations, reads, writes, pending writes",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run(k_head + "use c modify &\n"
                            "begin-write c as w &\n"
                            "expect w state waiting\n"
                            "run\n"
                            "expect w state ready\n"
                            "expect c n_accesses 1\n"
                            "write w 0 4096 as w0\n"
                            "write w 4096 4096 pending as io\n"
                            "end w\n"
                            "expect w state ended\n"
                            "complete io\n"
                            "begin-read c\n"
                            "read c.op 0 4096 as r0\n"
                            "expect r0 = 0\n"
                            "end c.op\n"
                            "expect c flags +HAVE_DATA\n"
                            "unuse c\n"
                            "relinquish c\n"
                            "expect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  CHECK(r.be.writes() == 2);
  CHECK(r.be.file(MemoryBackend::path_of("test,vol", fsc::as_bytes("file-1"))));
}

TEST_CASE("v2 scenario: resize, invalidate with DIO_WRITE, update",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run(k_head + "use c modify\n"
                            "resize c size=100\n"
                            "expect c object_size 100\n"
                            "expect stat resizes 1\n"
                            "invalidate c aux=aux2 size=0 dio-write\n"
                            "expect stat invals 1\n"
                            "expect c flags +DISABLED\n"
                            "update c aux=aux3 size=10\n"
                            "unuse c\n"
                            "relinquish c\n"
                            "expect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
}

TEST_CASE("v2 scenario: the LRU after 10 s of virtual time, step and "
          "queue-only",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run(k_head + "use c\nunuse c\n"
                            "advance 9999ms\n"
                            "expect c state ACTIVE\n"
                            "advance 1ms queue-only\n" // runs nothing
                            "step\n"
                            "expect c flags +DO_LRU_DISCARD\n"
                            "run\n"
                            "expect c state QUIESCENT\n"
                            "expect stat lru_exp 1\n"
                            "relinquish c\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
}

TEST_CASE("v2 scenario: faults fail the step they name",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  // Row 7: the lookup fails after the object was attached: FAILED, then
  // withdrawn (WITHDRAWING, QUIESCENT) in the same run of the work item.
  auto rep = r.run(k_head + "fault lookup cookie=c EIO\n"
                            "use c\n"
                            "expect c state QUIESCENT\n"
                            "expect c flags -IS_CACHING\n"
                            "expect cache state GOT_IOERROR\n"
                            "unuse c\n"
                            "relinquish c\n"
                            "expect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  MemRun r2;
  rep = r2.run(k_head + "fault create_tmpfile every ENOSPC\n"
                        "use c modify\n"
                        "expect c state QUIESCENT\n"
                        "expect c flags -IS_CACHING\n"
                        "expect cache state ACTIVE\n"
                        "unuse c\nrelinquish c\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  // nth=2: the second volume's directory is not made at its creation; the
  // first lookup in it makes it again (row 4's fscache_create_volume).
  MemRun r3;
  rep = r3.run("fault acquire_volume nth=2 ENOMEM\n"
               "acquire-volume a key=one\n"
               "acquire-volume b key=two\n"
               "acquire x b key=k\n"
               "use x\n"
               "expect x state ACTIVE\n"
               "unuse x\nrelinquish x\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  // every: never made, the lookup gives up (row 4).
  MemRun r4;
  rep = r4.run("fault acquire_volume every ENOMEM\n"
               "acquire-volume b key=two\n"
               "acquire x b key=k\n"
               "use x\n"
               "expect x state QUIESCENT\n"
               "expect x n_accesses 0\n"
               "unuse x\nrelinquish x\nexpect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
}

TEST_CASE("v2 scenario: withdraw, io-error, bind again, findings",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run(k_head + "use c\n"
                            "io-error\n"
                            "expect cache state GOT_IOERROR\n"
                            "unuse c\n"
                            "relinquish c\n"
                            "relinquish-volume v\n"
                            "withdraw\n"
                            "expect cache freed\n"
                            "bind as b\n"
                            "expect b = 0\n"
                            "expect cache state ACTIVE\n"
                            "expect finding none\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  // A cookie never relinquished, the volume with it: nothing is stuck
  // (6.1 waits for nothing at the end), the counts still balance.
  MemRun r2;
  rep = r2.run(k_head + "use c\nexpect stuck none\n");
  CHECK(rep.ok());
  // A write issued and never completed: its access is never ended.
  MemRun r3;
  rep = r3.run(k_head + "use c modify\nbegin-write c as w\n"
                        "write w 0 4096 pending as io\nend w\nunuse c\n"
                        "relinquish c\nexpect c exists\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.failures.empty());
}

TEST_CASE("v2 scenario: volume coherency, a use after free, printk",
          "[fscache_v2][v2scenario]")
{
  MemRun r;
  auto rep = r.run("acquire-volume v key=vol coherency=hex:0102\n"
                   "acquire-volume twin key=vol\n"
                   "expect twin null\n"
                   "expect printk CacheFiles\n" // "... added"
                   "acquire c v key=k\n"
                   "relinquish c\n"
                   "expect c freed\n"
                   "use c\n"
                   "expect finding \"would use freed memory\"\n"
                   "relinquish-volume v coherency=hex:0304 invalidate\n"
                   "expect v freed\n"
                   "expect finding none\n");
  INFO(join(rep.failures) << join(rep.findings) << join(rep.printk));
  CHECK(rep.ok());
  CHECK(rep.expected_findings.size() == 1);
  // Unexpected, the same finding fails the run.
  MemRun r2;
  rep = r2.run(k_head + "relinquish c\nuse c\n");
  REQUIRE(rep.findings.size() == 1);
  CHECK(rep.findings[0].starts_with("t.fsc:4: 6.1 would use freed memory"));
  CHECK_FALSE(rep.ok());
}

TEST_CASE("v2 scenario: a relinquish while another task's resize waits "
          "for the lookup leaves the cookie for ever",
          "[fscache_v2][v2scenario]")
{
  // A netfs never does this (setattr holds the inode), but a scenario may:
  // the relinquish's withdrawal finds the cache not yet pinned, the lookup
  // pins it afterwards, and the end of the resize's access wakes nobody.
  MemRun r;
  auto rep = r.run(k_head + "use c modify &\n"
                            "resize c size=4096 &\n"
                            "unuse c &\n"
                            "relinquish c\n"
                            "expect counts balanced\n"
                            "expect c state ACTIVE\n"
                            "expect c flags +DO_RELINQUISH +NO_ACCESS_WAKE\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.failures.empty());
  REQUIRE(rep.findings.size() == 1);
  CHECK(rep.findings[0] == "t.fsc:9: c=00000002, relinquished at line 6, is "
                           "never freed (ACTIVE, ref 1, n_accesses 0)");
}

TEST_CASE("v2 scenario: the shipped example runs with no failed expect",
          "[fscache_v2][v2scenario]")
{
  const std::string path = std::string(std::getenv("FSC_SOURCE_ROOT")) +
                           "/tests/scenarios/v2/nfs-file.fsc";
  std::ifstream in(path);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  Scenario s = Scenario::parse(text.str(), path);
  MemRun r;
  auto rep = run_scenario(s, r.e, r.faults, r.seen, r.disk());
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  CHECK(rep.expectations >= 25);
  // And on a real directory, through the session.
  fsc::test::TempDir t;
  fsc::cachefiles::MountOptions mo;
  mo.write = true;
  ReportObserver seen;
  Session session(t.path(), mo, seen, 0);
  rep = session.run(s, seen);
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
}

namespace {

/// A random scenario of the 6.1 dialect: three cookies on one volume, calls
/// in a legal order for a netfs (uses balanced by unuses, I/O inside an
/// operation), fault rules, '&' now and then, everything let go at the end.
std::string random_scenario(std::mt19937_64& rng, bool faults)
{
  std::string s = "acquire-volume v key=test,vol\n";
  static const char* const points[] = {
      "alloc_object",   "cook_key",           "lookup",   "open", "getxattr",
      "create_tmpfile", "invalidate_tmpfile", "setxattr", "link", "write"};
  static const char* const errs[] = {"ENOMEM", "EIO", "ENOSPC", "ENOBUFS"};
  struct H {
    bool acquired = false;
    int n_active = 0;
    int gen = 0;
  };
  H hs[3];
  auto name = [&](int i) { return fmt::format("c{}g{}", i, hs[i].gen); };
  auto amp = [&] { return rng() % 6 == 0 ? " &\n" : "\n"; };
  const int steps = 10 + int(rng() % 30);
  for (int k = 0; k < steps; ++k) {
    const int i = int(rng() % 3);
    H& h = hs[i];
    switch (rng() % 11) {
    case 0:
      if (!h.acquired) {
        h.acquired = true;
        // Never '&': a netfs has no cookie to use before its acquire
        // returns (which, behind a relinquished twin, is after the run).
        s += fmt::format("acquire {} v key=key-{} aux=aux-{} size={}\n",
                         name(i), i, rng() % 3, rng() % 3 * 4096);
      }
      break;
    case 1:
      if (h.acquired) {
        ++h.n_active;
        s += fmt::format("use {}{}{}", name(i), rng() % 3 ? "" : " modify",
                         amp());
      }
      break;
    case 2:
      if (h.acquired && h.n_active > 0) {
        --h.n_active;
        s += fmt::format("unuse {}{}{}", name(i),
                         rng() % 2 ? fmt::format(" aux=aux-{}", rng() % 3)
                                   : std::string(),
                         rng() % 2 ? fmt::format(" size={}", rng() % 3 * 4096)
                                   : std::string());
        s += amp();
      }
      break;
    case 3:
      if (h.acquired) {
        for (; h.n_active > 0; --h.n_active)
          s += "unuse " + name(i) + "\n";
        s += fmt::format("relinquish {}{}{}", name(i),
                         rng() % 4 ? "" : " retire", amp());
        h.acquired = false;
        ++h.gen;
      }
      break;
    case 4:
      if (h.acquired && h.n_active > 0)
        s += fmt::format("invalidate {} aux=aux-{} size={}{}{}", name(i),
                         rng() % 3, rng() % 3 * 4096,
                         rng() % 3 ? "" : " dio-write", amp());
      break;
    case 5:
      if (h.acquired && h.n_active > 0) {
        const std::string op = name(i) + "op" + std::to_string(k);
        const bool w = rng() % 2;
        s += fmt::format("begin-{} {} as {}{}", w ? "write" : "read", name(i),
                         op, amp());
        s += "run\n";
        const bool pending = w && rng() % 3 == 0;
        if (w)
          s += fmt::format("write {} {} 4096{}\n", op, rng() % 2 * 4096,
                           pending ? " pending as io" + op : "");
        s += fmt::format("read {} 0 4096\n", op);
        s += "end " + op + "\n";
        if (pending)
          s += "complete io" + op + "\n";
      }
      break;
    case 6:
      s += fmt::format("advance {}s{}\n", 5 + rng() % 7,
                       rng() % 4 ? "" : " queue-only");
      break;
    case 7:
      if (h.acquired && h.n_active > 0)
        // Never '&': fscache_resize_cookie() sleeps in the netfs's setattr
        // (which holds the inode: no relinquish can come meanwhile).
        s += fmt::format("resize {} size={}\n", name(i), rng() % 3 * 4096);
      break;
    case 8:
      if (faults)
        s += fmt::format(
            "fault {}{} {} {}\n", points[rng() % std::size(points)],
            h.acquired && rng() % 2 ? " cookie=" + name(i) : std::string(),
            rng() % 3 ? fmt::format("nth={}", 1 + rng() % 3) : "every",
            errs[rng() % std::size(errs)]);
      break;
    case 9:
      s += rng() % 2 ? "step\n" : "step 3\n";
      break;
    default:
      s += "run\n";
      break;
    }
  }
  s += "run\n";
  for (int i = 0; i < 3; ++i)
    if (hs[i].acquired) {
      for (; hs[i].n_active > 0; --hs[i].n_active)
        s += "unuse " + name(i) + "\n";
      s += "relinquish " + name(i) + "\n";
    }
  s += "relinquish-volume v\nexpect counts balanced\nexpect stuck none\n"
       "expect v freed\n";
  return s;
}

/// 6.1's one known leak (docs/engine-v2.md §2.3, after the table): an
/// invalidation during LOOKING_UP whose lookup ends QUIESCENT keeps its
/// access, so the relinquished cookie is freed while hashed (WARN) and a
/// later acquire of its key waits for ever, its volume never freed. A run
/// that shows it fails only by what follows from it, counts balanced.
bool only_known_leak(const ReplayReport& rep)
{
  bool warned = false;
  for (const auto& m : rep.printk)
    warned = warned ||
             m.find("freed while still hashed: leaked") != std::string::npos;
  if (!warned)
    return false;
  for (const auto& f : rep.failures)
    if (f.find("expected stuck none") == std::string::npos &&
        f.find("expected v freed") == std::string::npos)
      return false;
  for (const auto& f : rep.findings)
    if (f.find("6.1 would wait here forever: acquire of") ==
            std::string::npos &&
        f.find("is never freed (QUIESCENT") == std::string::npos)
      return false;
  return true;
}

} // namespace

TEST_CASE("v2 scenario: 10,000 random scenarios with faults keep every "
          "count balanced (in memory)",
          "[fscache_v2][v2scenario]")
{
  // FSC_V2_SCENARIOS asks for another number.
  const char* env = std::getenv("FSC_V2_SCENARIOS");
  const int n = env ? std::atoi(env) : 10000;
  std::mt19937_64 rng(20261203);
  int bad = 0, leaks = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < n && bad < 3; ++k) {
    const std::string text = random_scenario(rng, k % 4 != 0);
    MemRun r(k % 3 == 0 ? 0 : std::uint64_t(k));
    ReplayReport rep = r.run(text);
    if (!rep.ok() && only_known_leak(rep)) {
      ++leaks;
    } else if (!rep.ok()) {
      ++bad;
      INFO("scenario " << k << ":\n"
                       << text << join(rep.failures) << join(rep.findings));
      CHECK(rep.ok());
    }
  }
  CHECK(bad == 0);
  CHECK(leaks <= n / 1000); // about 1 in 2,000
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  WARN(n << " random 6.1 scenarios in " << s << " s, " << leaks
         << " with 6.1's known leak");
}

TEST_CASE("v2 scenario: random scenarios with faults on real directories",
          "[fscache_v2][v2scenario]")
{
  std::mt19937_64 rng(20261204);
  for (int k = 0; k < 50; ++k) {
    const std::string text = random_scenario(rng, k % 3 != 0);
    fsc::test::TempDir t;
    fsc::cachefiles::MountOptions mo;
    mo.write = true;
    ReportObserver seen;
    ReplayReport rep;
    {
      Session session(t.path(), mo, seen, std::uint64_t(k));
      rep = session.run(Scenario::parse(text, "random.fsc"), seen);
      if (rep.ok())
        CHECK(session.backend().live_objects() == 0);
    }
    INFO("scenario " << k << ":\n"
                     << text << join(rep.failures) << join(rep.findings));
    CHECK((rep.ok() || only_known_leak(rep)));
    if (k % 10 == 0 && k % 3 == 0) { // no faults: a clean cache
      auto res = fsc::test::run_fsc({"inspect", t.path(), "--check"});
      INFO(res.out << res.err);
      CHECK(res.status == 0);
    }
  }
}

TEST_CASE("engine choice: by the cache's format, or --engine",
          "[fscache_v2][v2scenario]")
{
  using fsc::fscache::choose_engine;
  using fsc::fscache::EngineGen;
  fsc::test::TempDir t;
  auto c = choose_engine(t.path(), std::nullopt);
  REQUIRE(c);
  CHECK(c->gen == EngineGen::v419);
  c = choose_engine(t.path(), EngineGen::v61);
  REQUIRE(c);
  CHECK(c->gen == EngineGen::v61);
  fsc::test::make_dirs(t / "v1/cache/@4a");
  fsc::test::make_dirs(t / "v2/cache/Infs,vol");
  fsc::test::make_dirs(t / "mixed/cache/@4a");
  fsc::test::make_dirs(t / "mixed/cache/Ix");
  CHECK(choose_engine(t / "v1", std::nullopt)->gen == EngineGen::v419);
  CHECK(choose_engine(t / "v2", std::nullopt)->gen == EngineGen::v61);
  CHECK(choose_engine(t / "v2", EngineGen::v61)->gen == EngineGen::v61);
  auto bad = choose_engine(t / "v2", EngineGen::v419);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("--engine 4.19 contradicts") != std::string::npos);
  CHECK_FALSE(choose_engine(t / "v1", EngineGen::v61));
  CHECK_FALSE(choose_engine(t / "mixed", std::nullopt));
  CHECK(fsc::fscache::parse_engine("6.1") == EngineGen::v61);
  CHECK_FALSE(fsc::fscache::parse_engine("5.10"));
}

TEST_CASE("v2 scenario: cachefilesd's cull and inuse of a cookie's file",
          "[fscache_v2][v2scenario][daemon]")
{
  MemRun r;
  auto rep = r.run(k_head + "use c modify\n"
                            "begin-write c as w\nwrite w 0 4096\nend w\n"
                            "unuse c\n"
                            // A new object is a tmpfile until its commit:
                            // nothing at its name for the daemon to see.
                            "inuse c as unseen\n"
                            "expect unseen = -ENOENT\n"
                            "relinquish c\n"
                            "expect c file exists\n"
                            "inuse c as free\n"
                            "expect free = 0\n"
                            // Found again and in use: busy.
                            "acquire d v key=file-1 aux=aux0 size=8192\n"
                            "use d\n"
                            "expect d state ACTIVE\n"
                            "inuse d as busy\n"
                            "expect busy = -EBUSY\n"
                            "cull d as refused\n"
                            "expect refused = -EBUSY\n"
                            "expect d file exists\n"
                            "unuse d\nrelinquish d\n"
                            "cull d as culled\n"
                            "expect culled = 0\n"
                            "expect d file absent\n"
                            "expect cache culled 1\n"
                            "cull d as gone\n"
                            "expect gone = -ENOENT\n"
                            "expect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  // A run without the daemon side says so at the line.
  MemRun r2;
  CHECK_THROWS_WITH(
      run_scenario(Scenario::parse(k_head + "cull c\n", "t.fsc"), r2.e,
                   r2.faults, r2.seen),
      Catch::Contains("t.fsc:") && Catch::Contains("daemon side"));
}

TEST_CASE("v2 scenario: below bstop no object is made, below bcull the "
          "daemon is asked to cull, above brun it stops",
          "[fscache_v2][v2scenario][daemon]")
{
  MemRun r;
  // 10000 files, 100000 pages: fstop 100 files, bstop 1000 pages, bcull
  // 5000, brun 7000 (the kernel's default 1/5/7 %).
  auto rep = r.run(k_head + "space files=10000 ffree=9000 blocks=100000 "
                            "bavail=6000\n"
                            "use c modify\n"
                            "expect c state ACTIVE\n"
                            "expect cache culling no\n"
                            "begin-write c as w\n"
                            "write w 0 4096 as w0\n"
                            "expect w0 = 0\n"
                            // 4000 pages left: below bcull.
                            "space bavail=4000\n"
                            "write w 4096 4096 as w1\n"
                            "expect w1 = 0\n"
                            "expect cache culling yes\n"
                            // 500: below bstop, the write is refused.
                            "space bavail=500\n"
                            "write w 0 4096 as w2\n"
                            "expect w2 = -ENOBUFS\n"
                            "expect cache no_write_space 1\n"
                            "end w\n"
                            "acquire d v key=\"k2\" size=4096\n"
                            "use d\n"
                            "expect d state QUIESCENT\n"
                            "expect cache no_create_space 1\n"
                            "unuse d\nrelinquish d\n"
                            // Culled back above brun: culling ends.
                            "space bavail=8000\n"
                            "acquire e v key=\"k3\" size=4096\n"
                            "use e\n"
                            "expect e state ACTIVE\n"
                            "expect cache culling no\n"
                            "unuse e\nrelinquish e\n"
                            "unuse c\nrelinquish c\n"
                            "expect counts balanced\n");
  INFO(join(rep.failures) << join(rep.findings));
  CHECK(rep.ok());
  // Limits out of order are refused as the daemon's command is.
  MemRun r2;
  CHECK_THROWS_WITH(r2.run(k_head + "space files=100 fstop=5 fcull=5\n"),
                    Catch::Contains("Free space limits"));
}
