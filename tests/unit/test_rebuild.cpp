// test_rebuild.cpp - netfs calls rebuilt from 4.19 traces: small constructed
// traces with one thing to show each, and the real 5.10 smoke trace.
#include <catch2/catch.hpp>

#include <fsc/error.hpp>
#include <fsc/fscache/scenario.hpp>
#include <fsc/trace/rebuild.hpp>

#include "tree.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

using namespace fsc;
using namespace fsc::trace;
using fsc::test::TempDir;

namespace {

const char* k_header = "# tracer: nop\n#\n";

// Pointers: F the root index, N a netfs registered before the trace, S a
// server index, D a data cookie.
const char* F = "ffffffffc04b4540";
const char* N = "ffff000000000100";
const char* S = "ffff000000000200";
const char* D = "ffff000000000300";

/// A trace file in t; lines are "task cpu ts event: body".
std::string write_trace(const TempDir& t, const std::vector<std::string>& lines,
                        const std::string& name = "trace.txt")
{
  std::string text = k_header;
  for (auto& l : lines)
    text += l + "\n";
  fsc::test::write_file(t / name, text);
  return t / name;
}

std::string ev(const char* task, int cpu, double ts, const std::string& event,
               const std::string& body)
{
  return fmt::format("{:>16} [{:03}] .... {:12.6f}: {}: {}", task, cpu, ts,
                     event, body);
}

/// An NFS file read and written through: its server index acquired under a
/// netfs registered before the trace began.
std::vector<std::string> nfs_read_write()
{
  return {
      ev("cachefilesd-205", 0, 9.99, "fscache_cookie",
         fmt::format("GET obj c={} u=4 p=0000000000000000 Nc=2 Na=1 f=20", F)),
      ev("mount.nfs-209", 1, 13.23, "fscache_acquire",
         fmt::format("c={} p={} pu=2 pc=1 pf=20 n=NFS.ser", S, N)),
      ev("cat-222", 1, 13.69, "fscache_acquire",
         fmt::format("c={} p={} pu=2 pc=1 pf=22 n=NFS.fh", D, S)),
      ev("cat-222", 0, 13.691, "fscache_enable",
         fmt::format("c={} u=1 Nc=0 Na=1 f=02", D)),
      ev("cat-222", 0, 13.692, "fscache_cookie",
         fmt::format("GET obj c={} u=2 p={} Nc=0 Na=1 f=47", D, S)),
      ev("cat-222", 1, 13.696, "fscache_page_op",
         fmt::format("c={} RetrMul pg=0 op=ffff000000009000", D)),
      ev("kworker/u4:1-22", 0, 13.705, "fscache_page_op",
         fmt::format("c={} Write1  pg=0 op=ffff000000009100", D)),
      ev("kworker/u4:0-7", 1, 13.706, "fscache_wrote_page",
         fmt::format("c={} pg=2 op=ffff000000009100 ret=0", D)),
      ev("umount.nfs-234", 0, 14.60, "fscache_relinquish",
         fmt::format("c={} u=2 p={} Nc=0 Na=1 f=20 r=0", D, S)),
      ev("umount.nfs-234", 0, 14.61, "fscache_relinquish",
         fmt::format("c={} u=1 p={} Nc=0 Na=1 f=22 r=1", S, N)),
  };
}

std::string h(const char* ptr, int life)
{
  return fmt::format("c{}_{}", ptr, life);
}

} // namespace

TEST_CASE("rebuild: the calls of a small NFS trace, in trace order",
          "[rebuild]")
{
  TempDir t;
  Rebuilt r = rebuild_from_trace(write_trace(t, nfs_read_write()));
  const std::string want = fmt::format(
      "register nfs as {n}\n"
      "acquire {s} index {n} key=\"{S}-1\" name=NFS.ser\n"
      "acquire {d} data {s} key=\"{D}-1\" name=NFS.fh size=12288 disabled\n"
      "enable {d} size=12288\n"
      "read {d} 0\n"
      "write {d} 0\n"
      "relinquish {d}\n"
      "relinquish {s} retire\n",
      fmt::arg("n", h(N, 0)), fmt::arg("s", h(S, 1)), fmt::arg("d", h(D, 1)),
      fmt::arg("S", S), fmt::arg("D", D));
  CHECK(r.scenario == want);
  CHECK(r.calls == 8);
  CHECK(r.events == 10);
  CHECK(r.lines == 12); // two header lines
  CHECK(r.cpus == 2);
  CHECK(r.fsdef == h(F, 0));
  CHECK(r.cookies == std::vector<std::string>{h(N, 0), h(S, 1), h(D, 1)});
  CHECK(r.notes.empty());
  CHECK(r.truncated.empty());
  REQUIRE(r.call_lines.size() == 8);
  CHECK(r.call_lines[0].line == 4); // the acquire that showed the netfs
  CHECK(r.call_lines[3].line == 6);
  CHECK(r.call_lines[3].cookie == h(D, 1));
  // The scenario is one the engine's parser takes.
  CHECK_NOTHROW(fscache::Scenario::parse(r.scenario, "rebuilt"));
}

TEST_CASE("rebuild: a cookie's type comes from trace evidence, with its line",
          "[rebuild]")
{
  TempDir t;
  Rebuilt r = rebuild_from_trace(write_trace(t, nfs_read_write()));
  const CookieLife& d = r.lives.at(h(D, 1));
  CHECK(d.type == TypeShown::data);
  REQUIRE(d.data);
  CHECK(d.data->line == 7); // GET obj with f=47: LOOKING_UP
  CHECK(d.data->why.find("LOOKING_UP") != std::string::npos);
  CHECK(!d.index);
  CHECK(d.store_limit == 3); // page 2 written
  CHECK(d.def == "NFS.fh");
  CHECK(d.parent == h(S, 1));
  const CookieLife& s = r.lives.at(h(S, 1));
  CHECK(s.type == TypeShown::index);
  REQUIRE(s.index);
  CHECK(s.index->line == 5); // pf=22 of its child: ENABLED, never an object
  CHECK(s.index->text.find("pf=22") != std::string::npos);
  // Steps for the comparison with the engine.
  REQUIRE(r.steps.count(h(D, 1)));
  CHECK(r.steps.at(h(D, 1)).front().what == "ref GET obj u=2");
}

TEST_CASE("rebuild: a pointer freed and used again is a new cookie life",
          "[rebuild]")
{
  TempDir t;
  auto lines = nfs_read_write();
  lines.push_back(ev("cat-230", 0, 20.0, "fscache_acquire",
                     fmt::format("c={} p={} pu=2 pc=1 pf=22 n=NFS.fh", D, N)));
  lines.push_back(ev("cat-230", 0, 20.1, "fscache_page_op",
                     fmt::format("c={} Alloc1 pg=5 op=ffff000000009200", D)));
  Rebuilt r = rebuild_from_trace(write_trace(t, lines));
  CHECK(r.cookies.back() == h(D, 2));
  CHECK(r.lives.at(h(D, 2)).type == TypeShown::data);
  CHECK(r.scenario.find(fmt::format("alloc {} 5\n", h(D, 2))) !=
        std::string::npos);
  CHECK(r.lives.at(h(D, 1)).acquired == 5);
  CHECK(r.lives.at(h(D, 2)).acquired == 13);
}

TEST_CASE("rebuild: what is not a 4.19 trace is refused", "[rebuild]")
{
  TempDir t;
  CHECK_THROWS_AS(rebuild_from_trace(t / "missing.txt"), Error);
  std::string empty = write_trace(
      t, {ev("cat-1", 0, 1.0, "sched_switch", "prev_comm=cat")}, "none.txt");
  CHECK_THROWS_WITH(rebuild_from_trace(empty),
                    Catch::Contains("holds no 4.19 fscache events"));
  auto v2 = nfs_read_write();
  v2.push_back(
      ev("mount-1", 0, 30.0, "fscache_volume", "V=00000001 u=1 NEW acq"));
  CHECK_THROWS_WITH(rebuild_from_trace(write_trace(t, v2, "v2.txt")),
                    Catch::Contains("5.17+"));
}

TEST_CASE("compare_steps: the first step where the engine differs", "[rebuild]")
{
  TempDir t;
  Rebuilt r = rebuild_from_trace(write_trace(t, nfs_read_write()));
  StepRecorder e;
  e.cookies = {101, 102, 103}; // the engine's N, S, D in acquire order
  e.steps[103] = {{0, "ref GET obj u=2"}};
  Divergence same = compare_steps(r, e, 1);
  CHECK(!same.found);
  CHECK(same.compared == 1);

  e.steps[103] = {{0, "ref GET obj u=3"}};
  Divergence d = compare_steps(r, e, 1);
  REQUIRE(d.found);
  CHECK(d.line == 7);
  CHECK(d.cookie == D);
  CHECK(d.trace_step == "ref GET obj u=2");
  CHECK(d.engine_step == "ref GET obj u=3");

  e.steps.erase(103);
  Divergence gone = compare_steps(r, e, 1);
  REQUIRE(gone.found);
  CHECK(gone.engine_step.find("history of this cookie ends") !=
        std::string::npos);
}

TEST_CASE("trace_lines: a range and chosen lines of a trace file", "[rebuild]")
{
  TempDir t;
  std::string path = write_trace(t, nfs_read_write());
  auto range = trace_lines(path, 3, 4);
  REQUIRE(range.size() == 2);
  CHECK(range[0].rfind("      3  ", 0) == 0);
  CHECK(range[0].find("GET obj c=" + std::string(F)) != std::string::npos);
  CHECK(range[1].find("n=NFS.ser") != std::string::npos);
  auto at = trace_lines_at(path, {12, 5, 99});
  CHECK(at.size() == 2);
  CHECK(at.at(5).find("n=NFS.fh") != std::string::npos);
  CHECK(at.at(12).find("r=1") != std::string::npos);
  CHECK(trace_lines_at(path, {}).empty());
}

TEST_CASE("rebuild: the real 5.10 smoke trace", "[rebuild][real]")
{
  const std::string path =
      fsc::test::fixtures_dir() + "/real-5.10-smoke/ftrace.txt.xz";
  Rebuilt r = rebuild_from_trace(path);
  CHECK(r.truncated.empty());
  CHECK(r.cpus == 2);
  CHECK(r.fsdef == "cffffffffc04b4540_0");
  CHECK(r.notes.empty());
  // Every cookie the trace acquired, and the netfs above them.
  std::size_t data = 0, index = 0, unknown = 0;
  for (const auto& [handle, life] : r.lives) {
    if (life.acquired == 0)
      continue;
    if (life.type == TypeShown::data)
      ++data;
    else if (life.type == TypeShown::index)
      ++index;
    else if (life.type == TypeShown::unknown)
      ++unknown;
    CHECK(life.type != TypeShown::conflict);
    if (life.def == "NFS.fh" && life.type != TypeShown::unknown)
      CHECK(life.type == TypeShown::data);
    if (life.def == "NFS.ser" || life.def == "NFS.sup")
      CHECK(life.type != TypeShown::data);
  }
  CHECK(data + index + unknown == 209); // fscache_acquire lines
  CHECK(data > 0);
  CHECK(index > 0);
  CHECK_NOTHROW(fscache::Scenario::parse(r.scenario, "rebuilt"));
}
