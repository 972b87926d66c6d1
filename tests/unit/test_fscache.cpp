// test_fscache.cpp - the engine: transition table, key hash, stats text,
// and a property run of random scenarios with injected faults.
#include <catch2/catch.hpp>

#include "../../src/fscache/internal.hpp"
#include "tree.hpp"

#include <fsc/fscache/cachefiles_backend.hpp>
#include <fsc/cachefiles/mount.hpp>
#include <fsc/cachefiles/store.hpp>
#include "run.hpp"
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/fscache/scenario_run.hpp>
#include <fsc/fscache/stats.hpp>
#include <fsc/trace/writer.hpp>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

using namespace fsc::fscache;

namespace {

std::optional<ObjState> state_of(const std::string& s)
{
  for (std::size_t i = 0; i < obj_state_names.size(); ++i)
    if (obj_state_names[i] == s)
      return static_cast<ObjState>(i);
  return std::nullopt;
}

OobTable table_of(const std::string& s)
{
  if (s == "init")
    return OobTable::init;
  if (s == "lookup")
    return OobTable::lookup;
  if (s == "run")
    return OobTable::run;
  return OobTable::none;
}

} // namespace

TEST_CASE("dispatcher: every state x event pair of spec §2.5")
{
  std::ifstream in(fsc::test::fixtures_dir() + "/transitions-4.19.tsv");
  REQUIRE(in);
  int rows = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream f(line);
    std::string st, table;
    f >> st >> table;
    auto state = state_of(st);
    REQUIRE(state);
    OobTable oob = table_of(table);
    unsigned oob_mask = oob == OobTable::none
                            ? 0
                            : ev_bit(ObjEvent::error) | ev_bit(ObjEvent::kill);
    unsigned mask =
        oob_mask | (is_wait_state(*state) ? wait_events_of(*state) : 0);
    for (int ev = 0; ev < 7; ++ev) {
      std::string want;
      f >> want;
      Decision d = decide(*state, 1U << ev, mask, oob_mask, oob);
      std::string got =
          d.kind == Decision::none ? "-" : std::string(state_name(d.next));
      INFO(st << " event " << ev);
      CHECK(got == want);
      if (d.kind != Decision::none)
        CHECK(d.event == ev);
    }
    ++rows;
  }
  CHECK(rows == 8);
}

TEST_CASE("dispatcher: the highest pending bit wins, table order first")
{
  unsigned cmd = wait_events_of(ObjState::wait_for_cmd) |
                 ev_bit(ObjEvent::error) | ev_bit(ObjEvent::kill);
  unsigned oob = ev_bit(ObjEvent::error) | ev_bit(ObjEvent::kill);
  // INVALIDATE's entry comes before UPDATE's and NEW_CHILD's.
  auto d = decide(ObjState::wait_for_cmd,
                  ev_bit(ObjEvent::update) | ev_bit(ObjEvent::invalidate) |
                      ev_bit(ObjEvent::new_child),
                  cmd, oob, OobTable::run);
  CHECK(d.next == ObjState::invalidate_object);
  CHECK(d.event == 3);
  // OOB before anything, KILL (6) over ERROR (5).
  d = decide(ObjState::wait_for_cmd,
             ev_bit(ObjEvent::update) | ev_bit(ObjEvent::error) |
                 ev_bit(ObjEvent::kill),
             cmd, oob, OobTable::run);
  CHECK(d.kind == Decision::oob);
  CHECK(d.event == 6);
  // A mask naming an event the wait state has no entry for is 4.19's BUG().
  d = decide(ObjState::wait_for_parent, ev_bit(ObjEvent::update),
             ev_bit(ObjEvent::update), 0, OobTable::init);
  CHECK(d.kind == Decision::bug);
}

TEST_CASE("cookie key hash: the 4.19 word sum")
{
  // Spec §1.5 worked example: "nfs" -> 0x00736671.
  CHECK(cookie_key_hash(fsc::as_bytes("nfs")) == 0x00736671U);
  // Permuted words collide: the hash ignores order (and parent and type).
  fsc::Bytes a{1, 0, 0, 0, 2, 0, 0, 0}, b{2, 0, 0, 0, 1, 0, 0, 0};
  CHECK(cookie_key_hash(a) == cookie_key_hash(b));
  // 64-bit carry folds back in: h ^ (h >> 32).
  fsc::Bytes big(8, 0xff);
  std::uint64_t h = 8 + 2ULL * 0xffffffffULL;
  CHECK(cookie_key_hash(big) == std::uint32_t(h ^ (h >> 32)));
}

TEST_CASE("stats: /proc/fs/fscache/stats text and names")
{
  Stats s;
  s.acquire_n = 3;
  s.cacheev_nsp = 2;
  std::string t = format_proc_stats(s);
  CHECK(t.rfind("FS-Cache statistics\nCookies: idx=0 dat=0 spc=0\n", 0) == 0);
  CHECK(t.find("\nAcquire: n=3 nul=0 noc=0 ok=0 nbf=0 oom=0\n") !=
        std::string::npos);
  CHECK(t.find("\nCacheEv: nsp=2 stl=0 rtr=0 cul=0\n") != std::string::npos);
  CHECK(std::count(t.begin(), t.end(), '\n') == 24);
  CHECK(stat_by_name(s, "Acquire.n") == 3);
  CHECK(stat_by_name(s, "CacheEv.nsp") == 2);
  CHECK_FALSE(stat_by_name(s, "Acquire.zz"));
}

namespace {

/// One random scenario through the engine on an in-memory cache.
struct Outcome {
  std::vector<std::string> findings, warnings;
  std::size_t leaked_cookies = 0, live_objects = 0;
  bool withdrawn = false;
};

/// Picks at random among what may run: object work items interleave in
/// slices, as on any number of CPUs the workqueue allows.
struct RandomScheduler final : Scheduler {
  std::mt19937_64 rng;
  explicit RandomScheduler(std::uint64_t seed) : rng(seed) {}
  std::size_t pick(const std::vector<Runnable>& ready) override
  {
    return std::size_t(rng() % ready.size());
  }
};

Outcome random_run(std::uint64_t seed, const std::string& root = {},
                   bool interleave = false)
{
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  std::optional<fsc::cachefiles::Mount> mount;
  if (!root.empty()) {
    fsc::cachefiles::MountOptions mo;
    mo.write = true;
    mount.emplace(fsc::cachefiles::Mount::bind(root, mo));
  }
  auto memory = fsc::cachefiles::make_memory_store();
  fsc::cachefiles::Store* store = mount ? &mount->store() : memory.get();
  FaultPlan faults;
  static const char* points[] = {
      "lookup_object", "fs.mkdir", "fs.create",    "fs.setxattr", "fs.write",
      "fs.truncate",   "space",    "attr_changed", "write_page",  "read_page"};
  static const int errs[] = {EIO, ENOSPC, ENOMEM, ENOBUFS, ETIMEDOUT};
  for (std::uint64_t i = 0, n = pick(3); i < n; ++i) {
    int err = errs[pick(std::size(errs))];
    // nth 0 fails every call; an endless timeout is a hang by design.
    int nth = int(pick(6)) + (err == ETIMEDOUT ? 1 : 0);
    faults.add({points[pick(std::size(points))], 0, nth, err});
  }
  fsc::fscache::CacheFilesBackend cf(*store, faults,
                                     [] { return 1700000000U; });
  Engine* ep = nullptr;
  FaultyBackend fb(cf, faults, [&ep](ObjectId id) {
    return ep ? ep->cookie_of_object(id) : no_cookie;
  });
  ReportObserver seen;
  // FSC_TRACE_SEED=N prints run N as a kernel trace, to debug a failure.
  fsc::trace::Tee tee;
  fsc::trace::FtraceWriter tw(stderr);
  tee.add(seen);
  const char* want = std::getenv("FSC_TRACE_SEED");
  if (want && std::to_string(seed) == want)
    tee.add(tw);
  Engine e(fb, tee, pick(4), Fixes{});
  RandomScheduler sched(seed);
  if (interleave)
    e.set_scheduler(&sched, 4);
  ep = &e;
  e.add_cache();
  CookieId nfs = e.register_netfs("nfs", 0);
  std::vector<CookieId> idx, files;
  for (int i = 0; i < 2; ++i) {
    AcquireArgs a;
    a.parent = nfs;
    a.type = CookieType::index;
    a.key = {std::uint8_t('A' + i)};
    a.rule = AuxRule::none;
    if (CookieId c = e.acquire_cookie(a))
      idx.push_back(c);
  }
  std::vector<bool> relinquished;
  for (int step = 0; step < 30 && !e.stopped(); ++step) {
    std::uint64_t what = pick(10);
    CookieId f = files.empty() ? 0 : files[pick(files.size())];
    bool live =
        f && !relinquished[std::size_t(
                 std::find(files.begin(), files.end(), f) - files.begin())];
    if (what < 2 || !live) {
      AcquireArgs a;
      a.parent = idx.empty() ? nfs : idx[pick(idx.size())];
      a.key = {std::uint8_t(pick(6)), 1, 2};
      a.aux = {std::uint8_t(pick(2))};
      a.object_size = pick(20000);
      if (CookieId c = e.acquire_cookie(a)) {
        files.push_back(c);
        relinquished.push_back(false);
      }
    } else if (what == 2) {
      e.write_page(f, pick(5), fsc::Bytes(100, 7));
    } else if (what == 3) {
      e.read_page(f, pick(5));
    } else if (what == 4) {
      e.invalidate(f);
    } else if (what == 5) {
      e.update_cookie(f, fsc::Bytes{std::uint8_t(pick(2))});
    } else if (what == 6) {
      e.attr_changed(f, pick(20000));
    } else if (what == 7) {
      e.check_consistency(f);
    } else {
      e.relinquish_cookie(f, std::nullopt, pick(2));
      relinquished[std::size_t(std::find(files.begin(), files.end(), f) -
                               files.begin())] = true;
    }
    if (pick(3) == 0)
      e.run();
    else
      for (std::uint64_t k = pick(4); k-- > 0 && e.step();) {
      }
  }
  e.run();
  for (std::size_t i = 0; i < files.size(); ++i)
    if (!relinquished[i])
      e.relinquish_cookie(files[i], std::nullopt, false);
  e.run();
  for (CookieId c : idx)
    e.relinquish_cookie(c, std::nullopt, false);
  e.run();
  auto w = e.withdraw_cache();
  e.run();
  Outcome o;
  o.findings = seen.findings;
  o.warnings = seen.warnings;
  o.leaked_cookies = e.leaked_cookies().size();
  o.live_objects = e.live_objects();
  o.withdrawn = w->done;
  return o;
}

} // namespace

TEST_CASE("property: 10,000 random scenarios with faults balance every count")
{
  // Crashes 4.19 itself has on these paths (derived from its source):
  // an index object dropped from INIT_OBJECT because its parent died while
  // a child already hangs on it trips cachefiles_put_object's n_children
  // assertion. Anything else (a count below zero, a use after free, a
  // hang) is a bug in the engine.
  static const char* known[] = {"n_children"};
  std::map<std::string, int> seen_known;
  int leaks_explained = 0;
  for (std::uint64_t seed = 1; seed <= 10000; ++seed) {
    Outcome o = random_run(seed);
    INFO("seed " << seed);
    if (!o.findings.empty()) {
      bool ok = false;
      for (const char* k : known)
        if (o.findings.front().find(k) != std::string::npos) {
          ok = true;
          ++seen_known[k];
        }
      if (!ok)
        FAIL(o.findings.front());
      continue;
    }
    if (!o.warnings.empty()) {
      // The only leak 4.19 has on this path: ABORT_INIT's add_to_deps.
      for (const auto& w : o.warnings)
        CHECK(w.find("ABORT_INIT") != std::string::npos);
      ++leaks_explained;
      continue;
    }
    CHECK(o.withdrawn);
    CHECK(o.leaked_cookies == 0);
    CHECK(o.live_objects == 0);
  }
  // Reported on stderr: TAP has no place for notes.
  for (const auto& [k, n] : seen_known)
    std::cerr << n << " of 10000 runs reached the 4.19 crash '" << k << "'\n";
  std::cerr << leaks_explained << " of 10000 runs hit 4.19's ABORT_INIT leak\n";
}

TEST_CASE("property: work items interleaved in slices break no count")
{
  // The same random scenarios with a scheduler that runs object work items
  // in slices, interleaved with each other and with netfs calls (as a
  // guided trace replay may). 4.19 has races there that leak or hang (an
  // event that aborts an object between PARENT_READY and LOOK_UP_OBJECT
  // leaves the parent's n_ops raised), so runs may end unbalanced; but no
  // count may go below zero and nothing may be used after it was freed.
  // The crashes allowed are 4.19's own: the n_children assertion above, and
  // a reader woken by a failed lookup before DROP_OBJECT detached the
  // object (__fscache_read_or_alloc_page's IS_LOOKED_UP assertion).
  int clean = 0;
  std::map<std::string, int> crashes;
  for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
    Outcome o = random_run(seed, {}, true);
    INFO("seed " << seed);
    if (!o.findings.empty()) {
      const std::string& f = o.findings.front();
      INFO(f);
      CHECK((f.find("n_children") != std::string::npos ||
             f.find("IS_LOOKED_UP") != std::string::npos));
      continue;
    }
    for (const auto& w : o.warnings)
      CHECK(w.find("ABORT_INIT") != std::string::npos);
    clean += o.withdrawn && o.leaked_cookies == 0 && o.live_objects == 0;
  }
  CHECK(clean > 2000);
}

TEST_CASE("property: random runs on real directories pass inspect --check")
{
  int checked = 0;
  for (std::uint64_t seed = 1; checked < 40 && seed < 400; ++seed) {
    fsc::test::TempDir t;
    fsc::test::make_dirs(t / "c");
    Outcome o = random_run(seed, t / "c");
    if (!o.findings.empty() || !o.warnings.empty())
      continue;
    // Buried objects wait in graveyard/ for the daemon to reap them.
    fsc::test::run_prog({"sh", "-c", "rm -rf " + t / "c/graveyard/*"});
    auto r = fsc::test::run_fsc({"inspect", t / "c", "--check"});
    INFO("seed " << seed);
    if (r.status != 0)
      FAIL_CHECK(r.out + r.err);
    ++checked;
  }
  CHECK(checked == 40);
}
