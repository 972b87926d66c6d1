// test_replay_v2.cpp - `fsc replay --from-trace` of 6.1/6.12 traces: the
// real smoke traces replay through the 6.1 engine with no divergence, an
// edit is found at its line, trace-cmd report text reads as ftrace text,
// and bad lines are reported, never crashed on.
#include <catch2/catch.hpp>

#include "json_records.hpp"
#include "run.hpp"
#include "tree.hpp"

#include <fsc/trace/trace.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

std::string trace_61()
{
  return fsc::test::fixtures_dir() + "/real-6.1-smoke/ftrace.txt.xz";
}

std::string trace_612()
{
  return fsc::test::fixtures_dir() + "/real-6.12-smoke/ftrace.txt.xz";
}

std::vector<std::string> read_trace(const std::string& path)
{
  std::vector<std::string> out;
  fsc::trace::LineReader r(path);
  std::string_view l;
  while (r.next(l))
    out.emplace_back(l);
  return out;
}

std::string write_trace(const TempDir& t, const std::string& name,
                        const std::vector<std::string>& lines)
{
  std::string p = t / name;
  std::ofstream out(p, std::ios::binary);
  for (const auto& l : lines)
    out << l << '\n';
  return p;
}

/// The real 6.1 trace with line `n` (1-based) changed from `from` to `to`.
std::vector<std::string> edited(std::size_t n, const std::string& from,
                                const std::string& to)
{
  std::vector<std::string> lines = read_trace(trace_61());
  std::string& l = lines.at(n - 1);
  REQUIRE(l.find(from) != std::string::npos);
  l.replace(l.find(from), from.size(), to);
  return lines;
}

// `replay --from-trace t --json` that runs to the end with no divergence:
// its JSON document.
nlohmann::json replayed_whole(const std::string& t)
{
  auto r = run_fsc({"replay", "--from-trace", t, "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  return j;
}

bool has(const std::string& text, const std::string& part)
{
  return text.find(part) != std::string::npos;
}

/// Trace `t` with line `i` (0-based, holding `holds`) changed from `from`
/// to `to` replays to a divergence (exit 1).
void diverges_edited(const std::string& t, std::size_t i,
                     const std::string& holds, const std::string& from,
                     const std::string& to)
{
  std::vector<std::string> lines = read_trace(t);
  REQUIRE(has(lines.at(i), holds));
  lines[i].replace(lines[i].find(from), from.size(), to);
  TempDir d;
  std::string p = write_trace(d, "edited.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", p, "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  CHECK(nlohmann::json::parse(r.out)["diverged"] == true);
}

} // namespace

TEST_CASE("replay --from-trace: the real 6.1 trace replays on the 6.1 "
          "engine with no divergence")
{
  auto r = run_fsc({"replay", "--from-trace", trace_61(), "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["generation"] == "6.1");
  CHECK(j["diverged"] == false);
  CHECK(j["order"] == "trace");
  CHECK(j["cookies"] == 204);
  CHECK(j["volumes"] == 3);
  CHECK(j["calls"].get<int>() > 9000);
  // Every fscache line and every cachefiles_ref line of the trace (§5.1:
  // 7619 + 3144).
  CHECK(j["compared"] == 10763);
  CHECK(j["malformed"] == 0);
  CHECK(records(j, "finding").empty());
  // docs/engine-v2.md §5.3 #1: CPU0's GET ioreq u=1 is printed before
  // CPU1's PUT ioreq u=2 at the same microsecond; the put ran first (the
  // counts say so: the put's line was printed late).
  bool reordered = false;
  for (const auto& n : records(j, "note"))
    reordered = reordered || n["message"] ==
                                 "printed late, its call run earlier: lines "
                                 "13449->13447";
  CHECK(reordered);
  CHECK(j["orders_tried"] == 1);

  r = run_fsc({"replay", "--from-trace", trace_61()});
  CHECK(r.status == 0);
  CHECK(has(r.out, "(6.1 trace)"));
  CHECK(has(r.out, "compared   10763 state steps and counts of 208 cookies, "
                   "volumes and caches: the engine did what the kernel did"));
  CHECK(has(r.out, "late       lines 13449->13447"));
}

TEST_CASE("replay --from-trace: the real 6.12 trace matches the 6.1 engine "
          "too")
{
  auto r = run_fsc({"replay", "--from-trace", trace_612(), "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["generation"] == "6.12");
  CHECK(j["diverged"] == false);
  CHECK_FALSE(j.contains("modelled_difference"));
  CHECK(j["cookies"] == 204);
  CHECK(j["compared"] == 1570);
}

TEST_CASE("replay --from-trace: the kernel suite's 6.1 trace (a TCG guest): "
          "a read checks the state after a preemption, an END printed late, "
          "a clock standing still, a found file read")
{
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/trace-head.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["compared"] == 27291);
  // Line 15994's END io (a=1) ran before the kworker's at 15943 (a=0);
  // V=00000006's creation end before the acquire at 36219 (one timestamp).
  bool late = false, tie = false;
  for (const auto& n : records(j, "note")) {
    const std::string m = n["message"].get<std::string>();
    late = late || has(m, "lines 15994->15943");
    tie = tie || has(m, "lines 36219 after the work of its time");
  }
  CHECK(late);
  CHECK(tie);
}

TEST_CASE("replay --from-trace: one volume of the kernel suite's 6.1 trace: "
          "a GET ioreq printed after the PUT it preceded")
{
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/writeback-V0c.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["compared"] == 1665);
  std::vector<std::string> late;
  for (const auto& n : records(j, "note"))
    if (has(n["message"].get<std::string>(), "printed late"))
      late.push_back(n["message"].get<std::string>());
  CHECK(late == std::vector<std::string>{
                    "printed late, its call run earlier: lines 938->933",
                    "printed late, its call run earlier: lines 1093->1088"});
}

TEST_CASE("replay --from-trace: the kernel suite's 6.1 fault phase: a volume "
          "numbered apart from the engine's, lookups failed for want of "
          "space")
{
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/fault-V0d.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["volumes"] == 1);
  CHECK(j["cookies"] == 37);
  CHECK(j["compared"] == 7962);
}

TEST_CASE("replay --from-trace: one volume of a later 6.1 suite trace: a "
          "read woken by the lookup ends while the worker is stopped")
{
  // c=0000001e's read waited (WAIT  io) for the lookup; the lookup's work
  // item made the cookie ACTIVE and stopped after its volume END lookup;
  // the reader's END io (excerpt 151) comes before the worker's PQ  work:
  // the reader was woken with the state change, not after the item.
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/read-woken-V01.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["compared"] == 1668);
}

TEST_CASE("replay --from-trace: one volume of a later 6.1 suite trace: a "
          "GET ioreq printed 35 ms after the PUT it preceded")
{
  // c=000000b4 is written back by three kworkers at once; kworker/u4:5's
  // GET ioreq u=2 (excerpt 3746, trace 80682, 119.141446) came before
  // kworker/u4:2's PUT ioreq u=3 (3661, 119.106278), which counts it.
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/late-get-V0c.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["compared"] == 3882);
  bool late = false;
  for (const auto& n : records(j, "note"))
    late = late || n["message"] == "printed late, its call run earlier: "
                                   "lines 3746->3661";
  CHECK(late);

  // Its count changed: no order explains it, a divergence.
  diverges_edited(t, 3745, "o=000000a0 u=2 GET ioreq", "u=2", "u=1");
}

TEST_CASE("replay --from-trace: a later suite trace's umounts: the "
          "volume's relinquish while workers commit their cookies")
{
  // 6.1, V=00000005: c=0000004a's commit (SEE clean_commit, excerpt
  // 10618) sleeps until after the volume's PUT relnq u=2 (10800);
  // meanwhile other kworkers run whole work items (PUT cook u=23..u=3);
  // c=0000004f's, begun at 10664, goes on after the relinquish too, so it
  // runs after c=0000004a's (their PUT cook u=1, u=0). 6.12, V=00000008:
  // c=0000006f's commit stops after unlinking the stale file (w=stale,
  // excerpt 1554) until after the PUT relnq (1736).
  for (const char* f :
       {"kernel-suite-6.1/umount-V05", "kernel-suite-6.12/commit-V08"}) {
    const std::string t = fsc::test::fixtures_dir() + "/" + f + ".txt.xz";
    auto r = run_fsc({"replay", "--from-trace", t, "--json"});
    INFO(f << ": " << fsc::test::one_line(r.out + r.err));
    REQUIRE(r.status == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["diverged"] == false);
    CHECK(j["compared"] ==
          (std::string(f) == "kernel-suite-6.1/umount-V05" ? 8791 : 1329));
  }
}

TEST_CASE("replay --from-trace: the fault phase: a reader's calls while "
          "lookups wait for their volume's second creation")
{
  // c=000000e1's lookup waits (WAIT crea) while system_wq makes
  // V=0000000d's directories again; the reader's UNUSE (excerpt 155)
  // comes then, before the lookup's GET attch. The trace ends inside both
  // work items.
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.12/wait-crea-V0d.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["compared"] == 126);

  // 6.1 (the 16:02 run): c=000000d8's lookup waits for the creation; the
  // reader unuses it, uses c=000000df, whose lookup waits too (excerpt
  // 161) and runs whole (its volume END lookup a=2, 181) before
  // c=000000d8's goes on (a=1, 186).
  const std::string t61 =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/wait-crea-V0d.txt.xz";
  auto r = run_fsc({"replay", "--from-trace", t61, "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  REQUIRE(r.status == 0);
  j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["compared"] == 159);
}

TEST_CASE("replay --from-trace: the 6.1 fault phase: a cookie's PUT relnq "
          "printed after the work item its put let run")
{
  // c=00000101's relinquish queues its work (GQ endac r=3) and puts its
  // ref (3 -> 2); the worker's "-   work r=2" (excerpt 10430) shows the
  // put, whose line the umount printed 0.9 ms later (10441).
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/late-put-V10.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["compared"] == 8541);

  // The worker's count changed: a divergence.
  diverges_edited(t, 10429, "c=00000101 -   work  r=2", "r=2", "r=1");
}

TEST_CASE("replay --from-trace: the head of a later 6.12 suite trace: a "
          "volume's creation ends while another volume is freed")
{
  // V=00000003, relinquished during its creation, is freed by the
  // creation's last put on kworker/0:0 (BEGIN rlq_vol 3400 .. END rlq_vol
  // 3663, its 257 directories released); kworker/0:2 ends V=00000004's
  // creation meanwhile (3442-3444): the cache's END acq_vol r=4 comes
  // before V=00000003's PUT vol r=3.
  const std::string t =
      fsc::test::fixtures_dir() + "/kernel-suite-6.12/volume-free-head.txt.xz";
  auto j = replayed_whole(t);
  CHECK(j["volumes"] == 4);
  CHECK(j["compared"] == 44);

  // The same run with V=00000004's creation end moved after the free: its
  // counts no longer fit (the cache's r= was 4 then), a divergence.
  std::vector<std::string> lines = read_trace(t);
  REQUIRE(has(lines.at(3442), "C=00000001 END   acq_vol r=4 a=1"));
  std::vector<std::string> moved = lines;
  std::rotate(moved.begin() + 3441, moved.begin() + 3444, moved.end());
  TempDir d;
  std::string p = write_trace(d, "moved.trace", moved);
  auto r = run_fsc({"replay", "--from-trace", p, "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == true);
}

TEST_CASE("replay --from-trace: the kernel suite's 6.12 trace: an UNUSE "
          "stopped before its LRU get, reads completed after the next call, "
          "reads begun while a lookup ends, a volume not made on a full "
          "disk")
{
  for (const char* f :
       {"unuse-V01", "readahead-V05", "lookup-end-V08", "volume-full-V0d"}) {
    const std::string t =
        fsc::test::fixtures_dir() + "/kernel-suite-6.12/" + f + ".txt.xz";
    auto r = run_fsc({"replay", "--from-trace", t, "--json"});
    INFO(f << ": " << fsc::test::one_line(r.out + r.err));
    REQUIRE(r.status == 0);
    auto j = nlohmann::json::parse(r.out);
    const std::string n = f;
    // The volume's excerpt ends before any netfs line: read as 6.1.
    CHECK(j["generation"] == (n == "volume-full-V0d" ? "6.1" : "6.12"));
    CHECK(j["diverged"] == false);
    CHECK_FALSE(j.contains("modelled_difference"));
    CHECK(j["compared"] == (n == "unuse-V01"        ? 351
                            : n == "readahead-V05"  ? 429
                            : n == "lookup-end-V08" ? 432
                                                    : 115));
  }
}

TEST_CASE("replay --from-trace: later suite runs' traces: an LRU timer "
          "run late, reads that check the state between a negative lookup "
          "and CREATING, a lookup's end printed after a read it preceded, "
          "a wait printed after a get it preceded, a cookie's work run "
          "while the LRU worker or its relinquish is stopped, two writers "
          "at one timestamp")
{
  // 6.12 lru-late-V01: the kernel's LRU worker ran at 58.483579 (excerpt
  // 1645) and left c=00000017, whose 10 s end came 4 ms later, to the
  // umount's relinquish (1793); a waiting read's WAIT printed later
  // (excerpt 308) is the reader's line, not the stopped worker's.
  // read-negative-V09 (6.12, excerpt 1312) and read-negative-V04 (6.1,
  // trace 23668): a read begun after the lookup's negative cachefiles_lookup
  // waits, LOOKING_UP not yet CREATING. late-end-lookup-V0c: the worker's
  // END lookup a=0 (excerpt 217) came before the read's BEGIN a=1 (216).
  // late-wait-V04 (6.1, the 19:20 run): a read's WAIT r=2 printed after the
  // worker's GET attch r=3 (excerpt 10052): its refs were read before.
  // lru-work-V0d (6.1): another kworker runs the withdrawal the LRU worker
  // queued (excerpt 17921) before the LRU worker's PUT lru (17932).
  // two-writers-V01 (6.1): two kworkers write one cookie at a clock that
  // stood still (5942-5948), and free two cookies at the umount, the
  // volume's PUT cook printed 6 us out of order (15113-15114).
  // relinquish-put-V05 (6.1): the worker runs the withdrawal between the
  // relinquish's GQ endac and its last put (10428-10431).
  // lru-jiffy-V09 (6.1): a cookie's 10 s end 8 ms after the LRU worker's
  // last run, before the umount; the discards are the trace's within a
  // few jiffies. lru-nested-V01 (6.1): another cookie's withdrawal runs
  // while the LRU worker is stopped; this cookie's own starts later.
  // late-pin-V01 (6.12): a worker's PIN cache a=1 printed after a read's
  // BEGIN a=2 (excerpt 1181-1183). read-ended-V0c (6.12): a read woken by
  // CREATING is ended by a kworker before the lookup's next line (818).
  // late-begin-V01 (6.1): a read's BEGIN a=2 printed after the worker's END
  // lookup a=1 (excerpt 4625-4628) that it preceded. tie-writers-V01 (6.1):
  // two kworkers' writes printed out of order at a clock that stood still
  // (excerpt 8661-8668). late-put-work-V04 (6.1): a read's END io r=2
  // printed before the worker's PQ work r=2 it followed (10918-10919).
  // late-attach-V05 (6.12): a read's BEGIN io_read r=3 printed before the
  // worker's GET attch r=3 it followed (1197). wait-told-V09 (6.1): a read's
  // WAIT printed after the worker's NEW obj (4648-4651), not woken before.
  // relinquish-split-V0c (6.1): the umount's PUT relnq printed in the
  // middle of the withdrawal it queued (13624-13629). lru-split-V01 (6.1):
  // the LRU worker's PUT lru in the middle of the withdrawal it queued
  // (14539-14544).
  for (const char* f :
       {"kernel-suite-6.12/lru-late-V01", "kernel-suite-6.12/read-negative-V09",
        "kernel-suite-6.12/late-end-lookup-V0c",
        "kernel-suite-6.1/read-negative-V04", "kernel-suite-6.1/late-wait-V04",
        "kernel-suite-6.1/lru-work-V0d", "kernel-suite-6.1/two-writers-V01",
        "kernel-suite-6.1/relinquish-put-V05", "kernel-suite-6.1/lru-jiffy-V09",
        "kernel-suite-6.1/lru-nested-V01", "kernel-suite-6.12/late-pin-V01",
        "kernel-suite-6.12/read-ended-V0c", "kernel-suite-6.1/late-begin-V01",
        "kernel-suite-6.1/tie-writers-V01",
        "kernel-suite-6.1/late-put-work-V04",
        "kernel-suite-6.12/late-attach-V05",
        "kernel-suite-6.1/wait-told-V09", "kernel-suite-6.1/relinquish-split-V0c",
        "kernel-suite-6.1/lru-split-V01"}) {
    const std::string t = fsc::test::fixtures_dir() + "/" + f + ".txt.xz";
    INFO(f);
    auto j = replayed_whole(t);
    const std::string n = f;
    CHECK_FALSE(j.contains("modelled_difference"));
    CHECK(j["compared"] == (n == "kernel-suite-6.12/lru-late-V01"         ? 1591
                            : n == "kernel-suite-6.12/read-negative-V09"  ? 979
                            : n == "kernel-suite-6.12/late-end-lookup-V0c" ? 207
                            : n == "kernel-suite-6.1/read-negative-V04"    ? 6268
                            : n == "kernel-suite-6.1/late-wait-V04"        ? 8628
                            : n == "kernel-suite-6.1/lru-work-V0d"         ? 16135
                            : n == "kernel-suite-6.1/two-writers-V01"      ? 13032
                            : n == "kernel-suite-6.1/relinquish-put-V05"   ? 8786
                            : n == "kernel-suite-6.1/lru-jiffy-V09"        ? 11996
                            : n == "kernel-suite-6.1/lru-nested-V01"       ? 13007
                            : n == "kernel-suite-6.12/late-pin-V01"        ? 905
                            : n == "kernel-suite-6.1/late-begin-V01"       ? 12925
                            : n == "kernel-suite-6.1/tie-writers-V01"      ? 13035
                            : n == "kernel-suite-6.1/late-put-work-V04"    ? 12864
                            : n == "kernel-suite-6.12/late-attach-V05"     ? 1343
                            : n == "kernel-suite-6.1/wait-told-V09"        ? 11964
                            : n == "kernel-suite-6.1/relinquish-split-V0c" ? 11649
                            : n == "kernel-suite-6.1/lru-split-V01"        ? 13038
                                                                           : 621));
  }
}

TEST_CASE("replay --from-trace: 6.12's wait in a netfs-library write is "
          "named as what the engine does not model; a read's wait and a "
          "changed count are not")
{
  std::vector<std::string> lines = read_trace(trace_612());
  REQUIRE(has(lines[2787], "c=00000002 BEGIN io_writ r=2 a=2"));
  REQUIRE(has(lines[2875], "c=00000002 BEGIN io_writ r=2 a=4"));
  TempDir t;
  // fscache_write_to_cache() waits for a CREATING cookie (WANT_WRITE);
  // the 6.1 write the replay begins does not.
  std::vector<std::string> waited = lines;
  std::string wait = lines[2787];
  wait.replace(wait.find("BEGIN io_writ"), 13, "WAIT  io     ");
  waited.insert(waited.begin() + 2788, wait);
  std::string p = write_trace(t, "wait.trace", waited);
  auto r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 0);
  CHECK(has(r.out, "6.12 trace: the engine models 6.1; first difference at " +
                       p + ":2789, c=00000002"));
  r = run_fsc({"replay", "--from-trace", p, "--json"});
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["line"] == 2789);
  CHECK(has(j["modelled_difference"].get<std::string>(),
            "fscache_write_to_cache"));

  // A read's wait where the engine's read goes on: a divergence (a read
  // waits in LOOKING_UP on 6.1 too; only a write's wait is 6.12's own).
  REQUIRE(has(lines[2829], "c=00000002 BEGIN io_read r=2 a=3"));
  std::vector<std::string> read_waited = lines;
  wait = lines[2829];
  wait.replace(wait.find("BEGIN io_read"), 13, "WAIT  io     ");
  read_waited.insert(read_waited.begin() + 2830, wait);
  p = write_trace(t, "read-wait.trace", read_waited);
  r = run_fsc({"replay", "--from-trace", p, "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == true);
  CHECK(j["line"] == 2831);
  CHECK_FALSE(j.contains("modelled_difference"));

  // A count in the same I/O, changed: a divergence, 6.12 or not.
  std::vector<std::string> changed = lines;
  changed[2875].replace(changed[2875].find("a=4"), 3, "a=5");
  p = write_trace(t, "count.trace", changed);
  r = run_fsc({"replay", "--from-trace", p, "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == true);
  CHECK(j["line"] == 2876);
  CHECK_FALSE(j.contains("modelled_difference"));
}

TEST_CASE("replay --from-trace: an edit to the real 6.1 trace is found at "
          "its line")
{
  struct Edit {
    std::size_t line;
    std::string from, to, engine;
    std::string thing;
  };
  const Edit edits[] = {
      // c=00000002's lookup access left at 1: the engine ends it at 0, or
      // first lets in a write's BEGIN a=2 of a kworker that prints its first
      // line of the cookie 49 ms later (as if printed late): the edit is
      // found either way.
      {2640, "END   lookup  r=3 a=0", "END   lookup  r=3 a=1", "", "c=00000002"},
      // Its object's first ref (cachefiles_ref prints before the change).
      {2633, "u=1 NEW obj", "u=2 NEW obj",
       "cachefiles_ref: c=00000002 o=00000001 u=1 NEW obj", "c=00000002"},
      // The volume's ref taken by the cookie.
      {2624, "GET cook  u=2", "GET cook  u=3",
       "fscache_volume: V=00000001 GET cook  u=2", "V=00000001"},
  };
  for (const Edit& e : edits) {
    TempDir t;
    std::string p =
        write_trace(t, "edited.trace", edited(e.line, e.from, e.to));
    auto r = run_fsc({"replay", "--from-trace", p, "--json"});
    INFO(e.line << " " << fsc::test::one_line(r.out + r.err));
    CHECK(r.status == 1);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["diverged"] == true);
    CHECK(j["line"] == e.line);
    CHECK(j["cookie"] == e.thing);
    if (e.engine.empty())
      CHECK(has(j["engine_step"].get<std::string>(), e.thing));
    else
      CHECK(j["engine_step"] == e.engine);
    CHECK(has(j["trace_step"].get<std::string>(), e.to));
  }
  // A state line removed: the next line takes its number, and the
  // engine's "-   activ" is what the kernel lacks.
  std::vector<std::string> lines = read_trace(trace_61());
  REQUIRE(has(lines[2638], "c=00000002 -   activ r=3"));
  lines.erase(lines.begin() + 2638);
  TempDir t;
  std::string p = write_trace(t, "removed.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  CHECK(has(r.out, "diverged   at " + p + ":2639, c=00000002"));
  CHECK(
      has(r.out, "kernel:  fscache_access: c=00000002 END   lookup  r=3 a=0"));
  CHECK(has(r.out, "engine:  fscache_cookie: c=00000002 -   activ r=3"));
  CHECK(has(r.out, "previous step, which matched, is at line 2638"));
  CHECK(has(r.out, "   2639  ")); // the context quotes the lines around it
}

TEST_CASE("replay --from-trace: trace-cmd report text of a 6.1 trace "
          "replays as its ftrace text")
{
  // trace-cmd report prints no header and no flags column:
  // "task-pid [cpu] ts: event: body".
  std::vector<std::string> report;
  for (const auto& l : read_trace(trace_61())) {
    if (l.rfind("#", 0) == 0)
      continue;
    auto cpu = l.find("] ");
    auto ts = l.find_first_not_of(' ', l.find(' ', cpu + 2));
    report.push_back(l.substr(0, cpu + 2) + l.substr(ts));
  }
  REQUIRE(report.size() == 15462);
  TempDir t;
  auto r = run_fsc({"replay", "--from-trace",
                    write_trace(t, "report.txt", report), "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["compared"] == 10763);
}

TEST_CASE("replay --from-trace: a malformed 6.1 line is named with its file "
          "and line, never crashed on")
{
  TempDir t;
  std::vector<std::string> lines = read_trace(trace_61());
  lines[4999] = "garbage line here";
  std::string p = write_trace(t, "bad.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  CHECK(has(r.out, p + ":5000: not a trace line"));
  r = run_fsc({"replay", "--from-trace", p, "--json"});
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["malformed"] == 1);

  // A call's line with a broken id: noted, the call is missing, so the
  // cookie diverges; no crash.
  lines = edited(2626, "fscache_active: c=00000002 USE",
                 "fscache_active: c=0000zz02 USE");
  p = write_trace(t, "badid.trace", lines);
  r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 1);
  CHECK(has(r.out, p + ":2626: fscache_active without a c= id"));

  // Lines out of any order the kernel could print, and fragments of
  // fields: reported, never a crash.
  lines = read_trace(trace_61());
  std::reverse(lines.begin() + 2600, lines.begin() + 2700);
  for (std::size_t i = 6000; i < 6100; ++i)
    lines[i] = lines[i].substr(0, lines[i].size() / 2 + 20);
  p = write_trace(t, "shuffled.trace", lines);
  r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK((r.status == 0 || r.status == 1));
}

TEST_CASE("replay --from-trace: a 6.1 trace cut short is compared up to "
          "its end")
{
  // Cut inside c=00000002's lookup work item: the kernel went on past the
  // trace's end, as the engine does.
  std::vector<std::string> lines = read_trace(trace_61());
  TempDir t;
  lines.resize(2636);
  std::string p = write_trace(t, "cut-work.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 0);
  CHECK(has(r.out, "cut        the trace ends inside a work item of "
                   "c=00000002 after line 2633"));
  // Cut between a page's GET ioreq and its cachefiles_write.
  lines = read_trace(trace_61());
  lines.resize(8000);
  REQUIRE(has(lines.back(), "GET ioreq"));
  p = write_trace(t, "cut-write.trace", lines);
  r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 0);
  CHECK(has(r.out, p + ":8000: the trace ends inside this write"));
  // An edit before the cut is still found.
  lines[2639].replace(lines[2639].find("a=0"), 3, "a=1");
  p = write_trace(t, "cut-edited.trace", lines);
  r = run_fsc({"replay", "--from-trace", p});
  CHECK(r.status == 1);
  CHECK(has(r.out, "diverged   at " + p + ":2640, c=00000002"));
}

TEST_CASE("replay --from-trace: a 6.1 trace begun after the bind and the "
          "mounts replays what it shows from its birth")
{
  // From c=00000002's acquire on: the cache and volumes V=1 and V=3 are
  // older than the trace, so their counts and their cookies' volume
  // counts cannot be known; V=2 is gone by then.
  std::vector<std::string> lines = read_trace(trace_61());
  REQUIRE(has(lines[2622], "c=00000002 NEW acq"));
  lines.erase(lines.begin() + 12, lines.begin() + 2622);
  TempDir t;
  std::string p = write_trace(t, "late.trace", lines);
  auto r = run_fsc({"replay", "--from-trace", p});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 0);
  CHECK(has(r.out, "the cache was bound before the trace began"));
  CHECK(has(r.out, "V=00000001 was acquired before the trace began: its "
                   "cookies are not replayed"));
  CHECK(has(r.out, "V=00000003 was acquired before the trace began"));
}

TEST_CASE("replay --from-trace --trace: the replay's own 6.1 trace replays "
          "with no divergence")
{
  TempDir t;
  auto r = run_fsc(
      {"replay", "--from-trace", trace_61(), "--trace", t / "engine.trace"});
  INFO(fsc::test::one_line(r.out + r.err));
  REQUIRE(r.status == 0);
  std::vector<std::string> lines = read_trace(t / "engine.trace");
  CHECK(lines.size() == 15462 + 4); // every event, and the header
  r = run_fsc({"replay", "--from-trace", t / "engine.trace", "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["diverged"] == false);
  CHECK(j["compared"] == 10763);
  // "-": the trace alone on standard output.
  r = run_fsc({"replay", "--from-trace", trace_61(), "--trace", "-"});
  CHECK(r.status == 0);
  CHECK(r.out.rfind("# tracer: nop\n", 0) == 0);
  CHECK_FALSE(has(r.out, "compared "));
}

TEST_CASE("replay --from-trace: a 6.1 trace takes --seed, refuses CACHE")
{
  auto r =
      run_fsc({"replay", "--from-trace", trace_61(), "--seed", "3", "--json"});
  INFO(fsc::test::one_line(r.out + r.err));
  CHECK((r.status == 0 || r.status == 1));
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["order"] == "seed 3");
  TempDir t;
  fsc::test::make_dirs(t / "c");
  r = run_fsc({"replay", "--from-trace", trace_61(), t / "c"});
  CHECK(r.status == 64);
  r = run_fsc({"replay", "--from-trace", trace_61(), "--refs", t / "x"});
  CHECK(r.status == 64);
}
