// test_fscache_v2.cpp - the 6.1 engine: the cookie transition table pair by
// pair, balanced counts, the LRU, one NFS file of the real 6.1 smoke trace
// replayed line for line, and random call sequences with faults.
#include <catch2/catch.hpp>

#include "tree.hpp"

#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/memory_backend.hpp>
#include <fsc/trace/trace.hpp>
#include <fsc/trace/writer_v2.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace fsc::fscache::v2;
using fsc::Bytes;
using S = CookieState;

namespace {

struct MemFile {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f;
  MemFile() : f(open_memstream(&buf, &len)) {}
  ~MemFile()
  {
    std::fclose(f);
    std::free(buf);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
};

/// The trace as 6.1 text ("event: body", prefix dropped), the state
/// transitions, and what the engine reported.
class Recorder : private MemFile, public fsc::trace::FtraceWriterV2 {
public:
  Recorder() : FtraceWriterV2(MemFile::f) {}

  std::set<std::pair<S, S>> transitions;
  std::vector<std::string> findings, printks;

  void state(std::uint32_t, S from, S to) override
  {
    transitions.insert({from, to});
  }
  void finding(std::string_view s) override { findings.emplace_back(s); }
  void printk(std::string_view s) override { printks.emplace_back(s); }

  /// Every line written so far as "event: body".
  std::vector<std::string> lines()
  {
    std::fflush(MemFile::f);
    std::vector<std::string> out;
    std::string_view all(buf, len);
    while (!all.empty()) {
      std::size_t nl = all.find('\n');
      std::string_view l = all.substr(0, nl);
      all = nl == std::string_view::npos ? std::string_view{}
                                         : all.substr(nl + 1);
      auto p = fsc::trace::parse_line(l);
      if (p.kind == fsc::trace::Kind::event)
        out.push_back(std::string(p.line.event) + ": " +
                      std::string(p.line.body));
    }
    return out;
  }
  /// Lines written since the last call.
  std::vector<std::string> fresh()
  {
    auto all = lines();
    std::vector<std::string> out(all.begin() + std::ptrdiff_t(m_seen),
                                 all.end());
    m_seen = all.size();
    return out;
  }
  bool saw(const std::vector<std::string>& ls, const std::string& want)
  {
    for (const auto& l : ls)
      if (l == want)
        return true;
    return false;
  }

private:
  std::size_t m_seen = 0;
};

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

/// Ends the operation, unuses and relinquishes the cookie: nothing left,
/// counts balanced, no finding.
void end_and_drop(Engine& e, Recorder& rec, CookieId c, OpId op)
{
  e.end_operation(op);
  e.unuse_cookie(c);
  e.relinquish_cookie(c, false);
  e.run();
  CHECK(e.check_counts().empty());
  CHECK(rec.findings.empty());
}

/// An engine with a bound cache and one volume, set up and idle.
struct Rig {
  Recorder rec;
  MemoryBackend be;
  Engine e;
  VolumeId v = 0;
  explicit Rig(std::uint64_t seed = 0, MemoryBackend::FaultHook f = {})
      : be(std::move(f)), e(be, rec, seed)
  {
    REQUIRE(e.add_cache() == 0);
    v = e.acquire_volume("test,vol");
    REQUIRE(v != 0);
    e.run();
    REQUIRE(e.volume_info(v).cache_priv);
  }
  CookieId acquire(std::string_view key, std::uint64_t size = 8192)
  {
    return e.acquire_cookie(v, bytes(key), bytes("aux-0001"), size);
  }
  S state(CookieId c) { return e.cookie_info(c).state; }
  void balanced()
  {
    e.run();
    auto bad = e.check_counts();
    for (const auto& b : bad)
      INFO(b);
    CHECK(bad.empty());
    CHECK(rec.findings.empty());
  }
};

using Fault = MemoryBackend::Fault;

/// A fault hook that fails `which` `times` times with `err`.
MemoryBackend::FaultHook fail(Fault which, int err = -EIO, int times = 1)
{
  auto left = std::make_shared<int>(times);
  return [which, err, left](Fault f, std::uint32_t) {
    if (f != which || *left == 0)
      return 0;
    --*left;
    return err;
  };
}

/// The transitions docs/engine-v2.md §2.3 allows (rows in comments).
const std::set<std::pair<S, S>>& allowed()
{
  static const std::set<std::pair<S, S>> a = {
      {S::quiescent, S::looking_up},     // 2
      {S::quiescent, S::relinquishing},  // 12
      {S::quiescent, S::dropped},        // 16
      {S::looking_up, S::quiescent},     // 4, 7a
      {S::looking_up, S::creating},      // 5
      {S::looking_up, S::active},        // 6
      {S::looking_up, S::invalidating},  // 6a
      {S::looking_up, S::failed},        // 7
      {S::creating, S::active},          // 6
      {S::creating, S::invalidating},    // 6a
      {S::creating, S::failed},          // 7
      {S::active, S::lru_discarding},    // 9
      {S::active, S::relinquishing},     // 12
      {S::active, S::withdrawing},       // 14
      {S::active, S::invalidating},      // 18
      {S::lru_discarding, S::quiescent}, // 10
      {S::failed, S::relinquishing},     // 12
      {S::failed, S::withdrawing},       // 14
      {S::relinquishing, S::dropped},    // 13
      {S::withdrawing, S::quiescent},    // 15
      {S::invalidating, S::active},      // 19
      {S::invalidating, S::failed},      // 19a
  };
  return a;
}

std::string pair_name(std::pair<S, S> p)
{
  return std::string(state_name(p.first)) + " -> " +
         std::string(state_name(p.second));
}

} // namespace

TEST_CASE("v2 trace reason strings are 6.1's", "[fscache_v2]")
{
  for (auto s : k_cookie_trace)
    CHECK(s.size() == 9);
  for (auto s : k_volume_trace)
    CHECK(s.size() == 9);
  for (auto s : k_access_trace)
    CHECK(s.size() == 13);
  for (auto s : k_active_trace)
    CHECK(s.size() == 13);
  CHECK(k_cookie_state_letters.size() == k_cookie_states);
}

TEST_CASE("v2 acquire, use, unuse, relinquish: rows 1, 2, 3, 5, 6, 12, 13",
          "[fscache_v2]")
{
  Rig r;
  r.rec.fresh();
  CookieId c = r.acquire("file-1", 5000);
  REQUIRE(c == 2); // 6.1's first cookie debug_id
  auto l = r.rec.fresh();
  REQUIRE(l.size() == 3);
  CHECK(l[0] == "fscache_cookie: c=00000002 NEW acq   r=1");
  CHECK(l[1] == "fscache_volume: V=00000001 GET cook  u=2");
  CHECK(l[2] == "fscache_acquire: c=00000002 V=00000001 vr=2 vc=1");

  r.e.use_cookie(c, false);
  CHECK(r.state(c) == S::looking_up);
  l = r.rec.fresh();
  REQUIRE(l.size() == 4);
  CHECK(l[0] == "fscache_active: c=00000002 USE           r=1 a=0 c=1");
  CHECK(l[1] == "fscache_access_volume: V=00000001 c=00000002 BEGIN lookup  "
                "r=2 a=2");
  CHECK(l[2] == "fscache_access: c=00000002 BEGIN lookup  r=1 a=1");
  CHECK(l[3] == "fscache_cookie: c=00000002 GQ  use   r=2");

  r.e.run();
  CHECK(r.state(c) == S::active);
  l = r.rec.fresh();
  CHECK(l.front() == "fscache_cookie: c=00000002 -   work  r=2");
  CHECK(r.rec.saw(l, "fscache_access: c=00000002 PIN   cache   r=2 a=1"));
  CHECK(l.back() == "fscache_cookie: c=00000002 PQ  work  r=2");
  CHECK(r.rec.transitions.count({S::looking_up, S::creating}));
  CHECK(r.rec.transitions.count({S::creating, S::active}));

  r.e.unuse_cookie(c);
  CHECK(r.e.cookie_info(c).on_lru);
  r.balanced();
  r.e.relinquish_cookie(c, false);
  r.e.run();
  CHECK_FALSE(r.e.cookie_info(c).exists);
  CHECK(r.rec.transitions.count({S::active, S::relinquishing}));
  CHECK(r.rec.transitions.count({S::relinquishing, S::dropped}));
  const auto* f =
      r.be.file(MemoryBackend::path_of("test,vol", bytes("file-1")));
  REQUIRE(f);
  CHECK(f->has_xattr);
  CHECK(f->xattr.size() == 18 + 8);
  r.balanced();
  CHECK(r.e.stats().relinqs_drop == 1);
}

TEST_CASE("v2 a relinquish whose put comes later: the withdrawal runs "
          "holding its ref, the put frees the cookie",
          "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("file-1", 5000);
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.unuse_cookie(c);
  r.rec.fresh();
  r.e.relinquish_cookie(c, false, true);
  auto l = r.rec.fresh();
  CHECK_FALSE(r.rec.saw(l, "fscache_cookie: c=00000002 PUT relnq r=2"));
  r.e.run(); // the withdrawal, while the relinquish still holds its ref
  l = r.rec.fresh();
  CHECK(r.rec.saw(l, "fscache_cookie: c=00000002 PQ  work  r=1"));
  CHECK(r.e.cookie_info(c).exists);
  r.e.put_relinquished(c);
  r.e.run();
  l = r.rec.fresh();
  CHECK(r.rec.saw(l, "fscache_cookie: c=00000002 PUT relnq r=0"));
  CHECK_FALSE(r.e.cookie_info(c).exists);
  r.balanced();
}

TEST_CASE("v2 transition table: each row's scenario, no forbidden pair",
          "[fscache_v2]")
{
  std::set<std::pair<S, S>> seen;
  auto collect = [&seen](Rig& r) {
    r.balanced();
    seen.insert(r.rec.transitions.begin(), r.rec.transitions.end());
  };

  SECTION("new object, commit, found again, relinquish")
  {
    Rig r;
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false); // row 2
    r.e.run();                // rows 3, 5, 6 (via CREATING)
    CHECK(r.state(c) == S::active);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false); // rows 17, 12, 13
    r.e.run();
    CookieId d = r.acquire("k1");
    r.e.use_cookie(d, false);
    r.e.run(); // row 6 straight from LOOKING_UP: the file is coherent
    CHECK(r.state(d) == S::active);
    CHECK(r.rec.transitions.count({S::looking_up, S::active}));
    r.e.unuse_cookie(d);
    r.e.relinquish_cookie(d, false);
    CookieId u = r.acquire("k2");
    r.e.relinquish_cookie(u, false); // row 16
    CHECK_FALSE(r.e.cookie_info(u).exists);
    collect(r);
  }
  SECTION("LRU discard then relinquish from QUIESCENT")
  {
    Rig r;
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run();
    r.e.unuse_cookie(c);
    r.e.advance(k_lru_timeout_ns); // rows 9, 10
    CHECK(r.state(c) == S::quiescent);
    r.e.relinquish_cookie(c, false); // row 12 from QUIESCENT
    r.e.run();
    CHECK_FALSE(r.e.cookie_info(c).exists);
    collect(r);
  }
  SECTION("invalidation from ACTIVE and during lookup")
  {
    Rig r;
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run();
    r.e.invalidate(c, bytes("aux-0002"), 4096); // row 18
    CHECK(r.state(c) == S::invalidating);
    r.e.run(); // row 19
    CHECK(r.state(c) == S::active);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
    // During LOOKING_UP, on a new object: CREATING -> INVALIDATING.
    CookieId d = r.acquire("k2");
    r.e.use_cookie(d, false);
    r.e.invalidate(d, bytes("aux-0002"), 4096); // row 18a
    CHECK(r.e.cookie_info(d).n_accesses == 2);
    r.e.run(); // 6a, 19
    CHECK(r.rec.transitions.count({S::creating, S::invalidating}));
    CHECK(r.state(d) == S::active);
    r.e.unuse_cookie(d);
    r.e.relinquish_cookie(d, false);
    r.e.run();
    // On an existing coherent file: LOOKING_UP -> INVALIDATING.
    CookieId e2 = r.e.acquire_cookie(r.v, bytes("k1"), bytes("aux-0002"), 4096);
    r.e.use_cookie(e2, false);
    r.e.invalidate(e2, bytes("aux-0002"), 4096); // same aux: still coherent
    r.e.run();
    CHECK(r.rec.transitions.count({S::looking_up, S::invalidating}));
    r.e.unuse_cookie(e2);
    r.e.relinquish_cookie(e2, true);
    collect(r);
  }
  SECTION("lookup failures: rows 7, 7a, 14, 15")
  {
    Rig r(0, fail(Fault::create_tmpfile));
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run(); // CREATING -> FAILED, then DO_WITHDRAW: WITHDRAWING, QUIESCENT
    CHECK(r.rec.transitions.count({S::creating, S::failed}));
    CHECK(r.rec.transitions.count({S::failed, S::withdrawing}));
    CHECK(r.state(c) == S::quiescent);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
    // alloc failure: nothing attached, LOOKING_UP -> QUIESCENT.
    r.be.set_faults(fail(Fault::alloc_object));
    CookieId d = r.acquire("k2");
    r.e.use_cookie(d, false);
    r.e.run();
    CHECK(r.state(d) == S::quiescent);
    CHECK(r.rec.transitions.count({S::looking_up, S::quiescent}));
    r.e.unuse_cookie(d);
    r.e.relinquish_cookie(d, false);
    // open failure on an existing file: LOOKING_UP -> FAILED.
    r.be.set_faults({});
    CookieId x = r.acquire("k3");
    r.e.use_cookie(x, false);
    r.e.run();
    r.e.unuse_cookie(x);
    r.e.relinquish_cookie(x, false);
    r.e.run();
    r.be.set_faults(fail(Fault::open));
    CookieId y = r.acquire("k3");
    r.e.use_cookie(y, false);
    r.e.run();
    CHECK(r.rec.transitions.count({S::looking_up, S::failed}));
    r.e.unuse_cookie(y);
    r.e.relinquish_cookie(y, false);
    collect(r);
  }
  SECTION("invalidation failure, then relinquish from FAILED: rows 19a, 12")
  {
    Rig r(0, fail(Fault::invalidate_tmpfile));
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run();
    r.e.invalidate(c, bytes("aux-0002"), 100);
    r.e.run();
    CHECK(r.state(c) == S::failed);
    CHECK(r.e.cookie_info(c).object != 0); // the old file stays attached
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
    CHECK(r.rec.transitions.count({S::failed, S::relinquishing}));
    collect(r);
  }
  SECTION("cache withdrawal: rows 14, 15 from ACTIVE")
  {
    Rig r;
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run();
    r.e.withdraw_cache();
    r.e.run();
    CHECK(r.e.cache_withdrawn());
    CHECK(r.state(c) == S::quiescent);
    CHECK(r.rec.transitions.count({S::active, S::withdrawing}));
    // Row 2a: the cache is gone, a use only counts.
    r.e.unuse_cookie(c);
    r.e.use_cookie(c, false);
    CHECK(r.state(c) == S::quiescent);
    CHECK(r.e.cookie_info(c).n_active == 1);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
    CHECK_FALSE(r.e.cookie_info(c).exists);
    collect(r);
  }

  for (const auto& p : seen) {
    INFO(pair_name(p));
    CHECK(allowed().count(p) == 1);
  }
}

TEST_CASE("v2 every allowed transition is reached", "[fscache_v2]")
{
  // The scenarios above in short, on one set: every pair of §2.3 reached.
  std::set<std::pair<S, S>> all;
  auto run = [&all](auto&& body, MemoryBackend::FaultHook f = {}) {
    Rig r(0, std::move(f));
    body(r);
    r.e.run();
    all.insert(r.rec.transitions.begin(), r.rec.transitions.end());
  };
  auto life = [](Rig& r, const char* key) {
    CookieId c = r.acquire(key);
    r.e.use_cookie(c, false);
    r.e.run();
    r.e.unuse_cookie(c);
    return c;
  };
  run([&](Rig& r) {
    CookieId c = life(r, "a");
    r.e.relinquish_cookie(c, false);
    r.e.run();
    CookieId d = life(r, "a");
    r.e.advance(k_lru_timeout_ns);
    r.e.relinquish_cookie(d, false);
    r.e.relinquish_cookie(r.acquire("b"), false);
  });
  run([&](Rig& r) {
    CookieId c = life(r, "a");
    r.e.invalidate(c, bytes("aux-0002"), 1);
    r.e.run();
    r.e.relinquish_cookie(c, false);
    r.e.run();
    CookieId d = r.acquire("b");
    r.e.use_cookie(d, false);
    r.e.invalidate(d, bytes("aux-0002"), 1);
    r.e.run();
    CookieId e2 = r.e.acquire_cookie(r.v, bytes("a"), bytes("aux-0002"), 1);
    r.e.use_cookie(e2, false);
    r.e.invalidate(e2, bytes("aux-0002"), 1);
    r.e.run();
    r.e.withdraw_cache();
  });
  run([&](Rig& r) { life(r, "a"); }, fail(Fault::create_tmpfile));
  run([&](Rig& r) { life(r, "a"); }, fail(Fault::alloc_object));
  run([&](Rig& r) {
    CookieId c = life(r, "a");
    r.e.relinquish_cookie(c, false);
    r.e.run();
    r.be.set_faults(fail(Fault::open));
    life(r, "a");
  });
  run(
      [&](Rig& r) {
        CookieId c = life(r, "a");
        r.e.invalidate(c, bytes("aux-0002"), 1);
        r.e.run();
        r.e.relinquish_cookie(c, false);
      },
      fail(Fault::invalidate_tmpfile));
  for (const auto& p : allowed()) {
    INFO(pair_name(p));
    CHECK(all.count(p) == 1);
  }
  for (const auto& p : all) {
    INFO(pair_name(p));
    CHECK(allowed().count(p) == 1);
  }
}

TEST_CASE("v2 refusals: calls 6.1 WARNs on change nothing", "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  auto before = r.rec.transitions;
  // The SM has not run yet: ACTIVE with DO_RELINQUISH.
  r.e.use_cookie(c, false);
  r.e.invalidate(c, bytes("x"), 1);
  r.e.relinquish_cookie(c, false);
  CHECK(r.rec.transitions == before);
  CHECK(r.rec.printks.size() >= 3);
  r.balanced();
  CHECK_FALSE(r.e.cookie_info(c).exists);

  // I/O on a QUIESCENT cookie that never cached: no access at all.
  CookieId d = r.acquire("k2");
  r.rec.fresh();
  OpId op = r.e.begin_read(d);
  CHECK(r.e.op_info(op).status == OpInfo::refused);
  CHECK(r.rec.fresh().empty());
  r.e.end_operation(op);
  // Invalidate of a QUIESCENT cookie: row 18b, no state change.
  r.e.invalidate(d, bytes("aux-0002"), 7);
  CHECK(r.state(d) == S::quiescent);
  CHECK(r.rec.fresh() ==
        std::vector<std::string>{"fscache_invalidate: c=00000003 sz=7"});
  // A second acquire of a live key is refused (row 1a).
  CHECK(r.acquire("k2") == 0);
  auto l = r.rec.fresh();
  REQUIRE(l.size() == 3);
  CHECK(l[0] == "fscache_cookie: c=00000004 NEW acq   r=1");
  CHECK(l[1] == "fscache_cookie: c=00000003 *COLLIDE* r=1");
  CHECK(l[2] == "fscache_cookie: c=00000004 DISCARD   r=1");
  r.e.relinquish_cookie(d, false);
  r.balanced();
}

TEST_CASE("v2 counts balance over acquire/use/unuse/relinquish", "[fscache_v2]")
{
  Rig r;
  std::vector<CookieId> cs;
  for (int i = 0; i < 8; ++i)
    cs.push_back(r.acquire("f" + std::to_string(i), 4096 * (i + 1)));
  for (int round = 0; round < 3; ++round) {
    for (CookieId c : cs) {
      r.e.use_cookie(c, round == 1);
      r.e.use_cookie(c, false);
    }
    r.balanced();
    for (CookieId c : cs) {
      OpId w = r.e.begin_write(c);
      REQUIRE(r.e.op_info(w).status == OpInfo::ready);
      CHECK(r.e.write(w, 0, 4096) > 0);
      r.e.end_operation(w);
      r.e.unuse_cookie(c);
      CHECK(r.e.cookie_info(c).n_active == 1);
      Bytes aux = bytes("aux-0009");
      std::uint64_t size = 4096;
      r.e.unuse_cookie(c, &aux, &size);
    }
    r.balanced();
    if (round == 0)
      r.e.advance(11 * k_ns_per_s);
    r.balanced();
  }
  for (CookieId c : cs)
    r.e.relinquish_cookie(c, false);
  r.balanced();
  for (CookieId c : cs)
    CHECK_FALSE(r.e.cookie_info(c).exists);
  CHECK(r.be.live_objects() == 0);
  CHECK(r.e.volume_info(r.v).ref == 1);
  CHECK(r.e.volume_info(r.v).n_cookies == 0);
  r.e.relinquish_volume(r.v);
  r.e.withdraw_cache();
  r.e.run();
  CHECK_FALSE(r.e.volume_info(r.v).exists);
  CHECK_FALSE(r.e.cache_info().exists); // every cache ref gone
  CHECK(r.e.stats().cookies == 0);
}

TEST_CASE("v2 LRU: an idle cookie is discarded after 10 s of virtual time",
          "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.unuse_cookie(c);
  r.rec.fresh();
  r.e.advance(k_lru_timeout_ns - 1);
  CHECK(r.state(c) == S::active);
  CHECK(r.e.cookie_info(c).on_lru);
  CHECK(r.rec.fresh().empty());
  r.e.advance(1);
  CHECK(r.state(c) == S::quiescent);
  CHECK_FALSE(r.e.cookie_info(c).on_lru);
  CHECK(r.e.cookie_info(c).object == 0);
  auto l = r.rec.fresh();
  REQUIRE(l.size() >= 8);
  CHECK(l[0] == "fscache_cookie: c=00000002 -   lrudo r=3");
  CHECK(l[1] == "fscache_access: c=00000002 UNPIN cache   r=3 a=0");
  CHECK(l[2] == "fscache_cookie: c=00000002 GQ  endac r=4");
  CHECK(l[3] == "fscache_cookie: c=00000002 PUT lru   r=3");
  CHECK(r.rec.saw(l, "cachefiles_ref: c=00000002 o=00000001 u=1 "
                     "SEE clean_commit"));
  CHECK(r.rec.saw(l, "fscache_cookie: c=00000002 -   x-lru r=2"));
  CHECK(l.back() == "fscache_cookie: c=00000002 PQ  work  r=1");
  CHECK(r.e.stats().lru_exp == 1);
  // IS_CACHING survives: a read now fails not-live and wakes the SM.
  OpId op = r.e.begin_read(c);
  CHECK(r.e.op_info(op).status == OpInfo::refused);
  l = r.rec.fresh();
  REQUIRE(l.size() == 3);
  CHECK(l[0] == "fscache_access: c=00000002 BEGIN io_read r=1 a=1");
  CHECK(l[1] == "fscache_access: c=00000002 END   io_notl r=1 a=0");
  CHECK(l[2] == "fscache_cookie: c=00000002 GQ  endac r=2");
  r.e.end_operation(op);
  // A second use looks the committed file up again.
  r.e.use_cookie(c, false);
  r.e.run();
  CHECK(r.state(c) == S::active);
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.balanced();
}

TEST_CASE("v2 LRU racing a use keeps the cookie (b5b52de3214a, row 20)",
          "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.unuse_cookie(c);
  r.e.advance(k_lru_timeout_ns, false);
  REQUIRE(r.e.step()); // the LRU worker: DO_LRU_DISCARD, GQ endac
  CHECK(r.e.cookie_info(c).flags >> cookie_flag::do_lru_discard & 1U);
  r.rec.fresh();
  r.e.use_cookie(c, false);
  auto l = r.rec.fresh();
  REQUIRE(l.size() == 2);
  CHECK(l[1] == "fscache_cookie: c=00000002 -   lrudc r=3");
  r.e.run();
  CHECK(r.state(c) == S::active);
  CHECK_FALSE(r.rec.transitions.count({S::active, S::lru_discarding}));
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.balanced();
}

TEST_CASE("v2 I/O waits for the lookup; a write completes after its end",
          "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, true);
  r.rec.fresh();
  OpId op = r.e.begin_write(c);
  CHECK(r.e.op_info(op).status == OpInfo::waiting);
  CHECK(r.rec.fresh() ==
        std::vector<std::string>{
            "fscache_access: c=00000002 BEGIN io_writ r=2 a=2",
            "fscache_access: c=00000002 WAIT  io      r=2 a=2"});
  r.e.run();
  CHECK(r.e.op_info(op).status == OpInfo::ready);
  int io = r.e.write(op, 0, 4096, false);
  REQUIRE(io > 0);
  r.e.end_operation(op);
  CHECK(r.be.writes_in_flight() == 1);
  r.e.complete_write(io);
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.e.run();
  const auto* f = r.be.file(MemoryBackend::path_of("test,vol", bytes("k1")));
  REQUIRE(f);
  CHECK(f->xattr[17] == 0); // LOCAL_WRITE cleared before the commit
  CHECK(f->pages.count(0));
  r.balanced();
}

TEST_CASE("v2 replays NFS file c=00000002 of the real 6.1 smoke trace",
          "[fscache_v2]")
{
  // The real lines of the cookie and of its object, as "event: body" with
  // the task, for choosing the call each netfs line stands for.
  struct Real {
    std::string task, text;
  };
  std::vector<Real> real;
  fsc::trace::LineReader in(fsc::test::fixtures_dir() +
                            "/real-6.1-smoke/ftrace.txt.xz");
  std::string_view raw;
  while (in.next(raw)) {
    auto p = fsc::trace::parse_line(raw);
    if (p.kind != fsc::trace::Kind::event)
      continue;
    std::string body(p.line.body);
    if (body.find("c=00000002 ") == std::string::npos &&
        body.find("o=00000001 ") == std::string::npos)
      continue;
    real.push_back(
        {std::string(p.line.task), std::string(p.line.event) + ": " + body});
  }
  REQUIRE(real.size() == 1829);

  const std::string vkey = "nfs,3.0,2,,100007f,e0666721b7ea5003,,,3002c0,"
                           "80000,80000,2ee,3a98,1d4c,3a98,1";
  auto hex = [](std::string_view h) {
    Bytes b;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
      b.push_back(static_cast<std::uint8_t>(
          std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return b;
  };
  // /proc/fs/fscache/cookies of the run (cookies.txt): key, aux.
  Bytes key = hex("010007015b01000000000000a98dc7a742f740bbaadd2d106390265b"
                  "083b000070f56253");
  Bytes aux = hex("10ff53650000000015cd5b070000000045d8056b00000000006436"
                  "10000000000000000000000000");
  const std::uint64_t size = 0x100000;

  Recorder rec;
  MemoryBackend be;
  Engine e(be, rec);
  be.set_next_ino(0xc); // cache/ = c, graveyard/ = d in our numbering
  REQUIRE(e.add_cache() == 0);
  be.set_next_ino(0xd); // the volume directory B=d, fan-outs e..10d
  VolumeId v = e.acquire_volume(vkey);
  e.run();
  be.set_next_ino(0x310); // the data file's inode
  rec.fresh();

  // Two kworkers write pages at once: each thread has its own operation.
  CookieId c = 0;
  std::map<std::string, OpId> op_of;
  std::map<std::string, int> io_of;
  std::uint64_t page = 0;
  for (std::size_t i = 0; i < real.size(); ++i) {
    const std::string& t = real[i].text;
    const std::string& task = real[i].task;
    if (t.find("NEW acq") != std::string::npos) {
      c = e.acquire_cookie(v, key, aux, size);
    } else if (t.find("fscache_active") == 0 &&
               t.find(" USE ") != std::string::npos) {
      e.run();
      e.use_cookie(c, false);
    } else if (t.find("BEGIN io_read") != std::string::npos) {
      e.run();
      op_of[task] = e.begin_read(c);
      CHECK(e.read(op_of[task], page++ * 4096, 4096) == -ENODATA);
    } else if (t.find("BEGIN io_writ") != std::string::npos) {
      e.run();
      op_of[task] = e.begin_write(c);
    } else if (t.find("GET ioreq") != std::string::npos) {
      auto s = real[i + 1].text; // cachefiles_write: ... s=<pos> l=1000
      auto pos = std::stoull(s.substr(s.find(" s=") + 3), nullptr, 16);
      io_of[task] = e.write(op_of[task], pos, 4096, false);
    } else if (t.find("PUT ioreq") != std::string::npos) {
      e.complete_write(io_of[task]);
    } else if (t.find("END   io      ") != std::string::npos) {
      e.end_operation(op_of[task]);
    } else if (t.find("UNUSE") != std::string::npos) {
      e.run();
      e.unuse_cookie(c, &aux, &size);
    } else if (t.find("fscache_relinquish") == 0) {
      e.run();
      e.relinquish_cookie(c, false);
    }
  }
  e.run();
  REQUIRE(c == 2);

  std::vector<std::string> ours;
  for (auto& l : rec.fresh())
    if (l.find("c=00000002 ") != std::string::npos ||
        l.find("o=00000001 ") != std::string::npos)
      ours.push_back(l);
  std::size_t n = std::min(ours.size(), real.size());
  std::size_t first_diff = n;
  for (std::size_t i = 0; i < n; ++i)
    if (ours[i] != real[i].text) {
      first_diff = i;
      break;
    }
  if (first_diff < n) {
    INFO("line " << first_diff << ": real: " << real[first_diff].text);
    INFO("line " << first_diff << ": ours: " << ours[first_diff]);
    CHECK(first_diff == n);
  }
  CHECK(ours.size() == real.size());

  // The committed file: where 6.1 put it, with the xattr 6.1 wrote.
  std::string path = MemoryBackend::path_of(vkey, key);
  CHECK(path ==
        "I" + vkey + "/@e3/E010M11Il000000000FSUNDaQZ0JHGtT24z1F9rxMe000sRbSk");
  const auto* f = be.file(path);
  REQUIRE(f);
  CHECK(f->ino == 0x310);
  CHECK(f->xattr ==
        hex("00000000001000000000000000000000010010ff53650000000015cd5b07"
            "0000000045d8056b0000000000643610000000000000000000000000"));
  CHECK(e.check_counts().empty());
}

namespace {

/// One netfs file handle of the random test and what it should see.
struct Handle {
  std::string key;
  CookieId c = 0;
  int n_active = 0;
  std::vector<OpId> ops;
  std::vector<int> ios;
};

} // namespace

TEST_CASE("v2 random call sequences keep every count balanced", "[fscache_v2]")
{
  // 2,000 by default; FSC_V2_SEQUENCES asks for a longer run.
  const char* env = std::getenv("FSC_V2_SEQUENCES");
  const int k_sequences = env ? std::atoi(env) : 2000;
  std::set<std::pair<S, S>> seen;
  int leaks = 0;
  std::mt19937_64 rng(20261203);
  for (int seq = 0; seq < k_sequences; ++seq) {
    std::uint64_t fault_seed = rng();
    auto frng = std::make_shared<std::mt19937_64>(fault_seed);
    int fault_pct = seq % 4 == 0 ? 0 : 4;
    MemoryBackend::FaultHook hook = [frng, fault_pct](Fault f, std::uint32_t) {
      if (f == Fault::bind || f == Fault::acquire_volume || fault_pct == 0)
        return 0;
      if (static_cast<int>((*frng)() % 100) >= fault_pct)
        return 0;
      return f == Fault::lookup && (*frng)() % 4 == 0 ? -EIO : -ENOMEM;
    };
    Rig r(seq % 3 == 0 ? 0 : seq + 1, hook);
    std::vector<Handle> hs(3);
    for (std::size_t i = 0; i < hs.size(); ++i)
      hs[i].key = "key-" + std::to_string(i);
    auto live = [&r](const Handle& h) {
      return h.c != 0 && !r.e.cookie_info(h.c).acquire_pending;
    };
    auto check = [&](int step) {
      for (const Handle& h : hs)
        if (h.c != 0) {
          INFO("sequence " << seq << " step " << step << " " << h.key);
          CHECK(r.e.cookie_info(h.c).exists);
          CHECK(r.e.cookie_info(h.c).n_active == h.n_active);
        }
      if (r.e.waiting().empty()) {
        auto bad = r.e.check_counts();
        if (!bad.empty()) {
          INFO("sequence " << seq << " step " << step << ": " << bad[0]);
          CHECK(bad.empty());
        }
      }
    };
    const int steps = 10 + static_cast<int>(rng() % 40);
    for (int step = 0; step < steps; ++step) {
      Handle& h = hs[rng() % hs.size()];
      switch (rng() % 16) {
      case 0:
      case 1:
        if (h.c == 0) {
          h.c = r.e.acquire_cookie(r.v, bytes(h.key), bytes("aux-0001"),
                                   rng() % 3 * 4096);
        }
        break;
      case 2:
      case 3:
        if (live(h)) {
          r.e.use_cookie(h.c, rng() % 3 == 0);
          ++h.n_active;
          if (!r.e.waiting().empty())
            r.e.run(); // the caller sleeps until the discard is over
        }
        break;
      case 4:
        if (live(h) && h.n_active > 0) {
          Bytes aux = bytes("aux-000" + std::to_string(rng() % 3));
          std::uint64_t size = rng() % 3 * 4096;
          r.e.unuse_cookie(h.c, rng() % 2 ? &aux : nullptr, &size);
          --h.n_active;
        }
        break;
      case 5:
        if (live(h) && h.ops.empty() && h.ios.empty()) {
          while (h.n_active > 0) {
            r.e.unuse_cookie(h.c);
            --h.n_active;
          }
          r.e.relinquish_cookie(h.c, rng() % 4 == 0);
          h.c = 0;
        }
        break;
      case 6:
        if (live(h))
          r.e.invalidate(h.c, bytes("aux-0002"), rng() % 3 * 4096,
                         rng() % 5 == 0);
        break;
      case 7:
        if (live(h)) {
          r.e.resize_cookie(h.c, rng() % 3 * 3000);
          r.e.run(); // the caller sleeps until the resize is done
        }
        break;
      case 8:
        if (live(h))
          h.ops.push_back(rng() % 2 ? r.e.begin_read(h.c)
                                    : r.e.begin_write(h.c));
        break;
      case 9:
        if (!h.ops.empty()) {
          OpId op = h.ops.back();
          if (r.e.op_info(op).status == OpInfo::ready) {
            if (rng() % 2)
              (void)r.e.read(op, rng() % 4 * 4096, 4096);
            else if (int io =
                         r.e.write(op, rng() % 4 * 4096, 4096, rng() % 2 == 0);
                     io > 0)
              h.ios.push_back(io);
          }
        }
        break;
      case 10:
        if (!h.ops.empty() &&
            r.e.op_info(h.ops.front()).status != OpInfo::waiting) {
          r.e.end_operation(h.ops.front());
          h.ops.erase(h.ops.begin());
        }
        break;
      case 11:
        if (!h.ios.empty()) {
          r.e.complete_write(h.ios.front());
          h.ios.erase(h.ios.begin());
        }
        break;
      case 12:
        r.e.step();
        break;
      case 13:
        r.e.run();
        break;
      case 14:
        r.e.advance(rng() % 12 * k_ns_per_s);
        break;
      case 15:
        if (rng() % 8 == 0 && r.e.cache_info().state == CacheState::active) {
          // The daemon goes away once the netfs's I/O has ended.
          r.e.run();
          for (Handle& x : hs) {
            for (int io : x.ios)
              r.e.complete_write(io);
            for (OpId op : x.ops)
              r.e.end_operation(op);
            x.ios.clear();
            x.ops.clear();
          }
          r.e.withdraw_cache();
          r.e.run();
          CHECK(r.e.cache_withdrawn());
          if (rng() % 2)
            CHECK(r.e.add_cache() == 0);
        } else if (live(h)) {
          Bytes aux = bytes("aux-0004");
          r.e.update_cookie(h.c, &aux, nullptr);
        }
        break;
      }
      check(step);
    }
    // Wind down as a netfs and the daemon would.
    r.e.run();
    for (Handle& h : hs) {
      for (int io : h.ios)
        r.e.complete_write(io);
      for (OpId op : h.ops)
        r.e.end_operation(op);
    }
    for (bool again = true; again;) {
      r.e.run();
      again = false;
      for (Handle& h : hs)
        if (live(h)) {
          for (; h.n_active > 0; --h.n_active)
            r.e.unuse_cookie(h.c);
          r.e.relinquish_cookie(h.c, false);
          h.c = 0;
          again = true;
        }
    }
    r.e.relinquish_volume(r.v);
    r.e.advance(20 * k_ns_per_s);
    r.e.withdraw_cache();
    r.e.run();
    INFO("sequence " << seq);
    CHECK(r.e.check_counts().empty());
    // 6.1 leaks one case (docs/engine-v2.md §2.3, after the table): an
    // invalidation during LOOKING_UP whose lookup then ends QUIESCENT keeps
    // its access, so the relinquished cookie never drops (nor its volume,
    // nor the cache, and a later acquire of its key waits for ever).
    bool leak = false;
    for (CookieId id : r.e.live_cookies()) {
      CookieInfo ci = r.e.cookie_info(id);
      bool known = ci.state == S::quiescent &&
                   (ci.flags >> cookie_flag::do_invalidate & 1U) &&
                   (ci.flags >> cookie_flag::relinquished & 1U);
      INFO("c=" << id << " " << state_name(ci.state) << " flags " << ci.flags);
      CHECK((known || ci.acquire_pending));
      leak = true;
      ++leaks;
    }
    if (!leak) {
      CHECK(r.e.waiting().empty());
      CHECK(r.e.stats().cookies == 0);
      CHECK(r.e.stats().volumes == 0);
      CHECK_FALSE(r.e.cache_info().exists);
      CHECK(r.be.live_objects() == 0);
    }
    for (const auto& f : r.rec.findings)
      UNSCOPED_INFO(f);
    if (const char* d = std::getenv("FSC_V2_DUMP"); d && std::atoi(d) == seq)
      for (const auto& l : r.rec.lines())
        std::fprintf(stderr, "%s\n", l.c_str());
    CHECK(r.rec.findings.empty());
    seen.insert(r.rec.transitions.begin(), r.rec.transitions.end());
  }
  for (const auto& p : seen) {
    INFO(pair_name(p));
    CHECK(allowed().count(p) == 1);
  }
  CHECK(leaks < k_sequences / 20);
}

namespace {

/// The lines of `ls` whose text contains `what`, in order.
std::vector<std::string> grep(const std::vector<std::string>& ls,
                              std::string_view what)
{
  std::vector<std::string> out;
  for (const auto& l : ls)
    if (l.find(what) != std::string::npos)
      out.push_back(l);
  return out;
}

std::size_t index_of(const std::vector<std::string>& ls, std::string_view l)
{
  for (std::size_t i = 0; i < ls.size(); ++i)
    if (ls[i] == l)
      return i;
  return ls.size();
}

} // namespace

TEST_CASE("v2 volume collisions: refused while live, waits once relinquished",
          "[fscache_v2]")
{
  Rig r;
  r.rec.fresh();
  CHECK(r.e.acquire_volume("test,vol") == 0); // §3.2 row 3: -EBUSY
  CHECK(r.rec.fresh() ==
        std::vector<std::string>{"fscache_cache: C=00000001 GET acq   r=3",
                                 "fscache_volume: V=00000002 NEW acq   u=1",
                                 "fscache_volume: V=00000001 *COLLIDE* u=1",
                                 "fscache_volume: V=00000002 PUT hcoll u=0",
                                 "fscache_volume: V=00000002 FREE      u=0",
                                 "fscache_cache: C=00000001 PUT vol   r=2"});

  // Row 3': the old volume is relinquished but a cookie still holds it.
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.relinquish_volume(r.v);
  VolumeId v3 = r.e.acquire_volume("test,vol");
  REQUIRE(v3 == 3);
  CHECK(r.e.volume_info(v3).acquire_pending);
  CHECK(r.rec.saw(r.rec.fresh(), "fscache_volume: V=00000001 GET hcoll u=1"));
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.e.run();
  auto l = r.rec.fresh();
  std::size_t wake = index_of(l, "fscache_volume: V=00000003 SEE hwake u=1");
  std::size_t freed = index_of(l, "fscache_volume: V=00000001 FREE      u=0");
  CHECK(wake < freed);
  CHECK(freed < l.size());
  CHECK(grep(l, "cachefiles_mark_inactive: o=00000000").size() == 257);
  auto ok = grep(l, "cachefiles_vol_coherency: V=00000003 VOL OK ");
  CHECK(ok.size() == 1);
  CHECK_FALSE(r.e.volume_info(v3).acquire_pending);
  CHECK(r.e.volume_info(v3).cache_priv);
  CHECK_FALSE(r.e.volume_info(r.v).exists);
  r.balanced();
}

TEST_CASE("v2 cookie acquire behind a relinquished twin waits for DROPPED",
          "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, false);
  r.e.run();
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.rec.fresh();
  CookieId d = r.acquire("k1"); // row 1b, before c's work item ran
  REQUIRE(d == 3);
  CHECK(r.e.cookie_info(d).acquire_pending);
  CHECK(r.rec.fresh() ==
        std::vector<std::string>{"fscache_cookie: c=00000003 NEW acq   r=1",
                                 "fscache_cookie: c=00000002 GET hcoll r=3",
                                 "fscache_volume: V=00000001 GET cook  u=3"});
  r.e.use_cookie(d, false); // refused: its acquirer is asleep
  CHECK(r.e.cookie_info(d).n_active == 0);
  r.e.run();
  auto l = r.rec.fresh();
  std::size_t put = index_of(l, "fscache_cookie: c=00000002 PUT hcoll r=0");
  std::size_t acq =
      index_of(l, "fscache_acquire: c=00000003 V=00000001 vr=2 vc=1");
  CHECK(put < acq);
  CHECK(acq < l.size());
  CHECK_FALSE(r.e.cookie_info(c).exists);
  CHECK_FALSE(r.e.cookie_info(d).acquire_pending);
  r.e.relinquish_cookie(d, false);
  r.balanced();
}

TEST_CASE("v2 commit paths: retire deletes, invalidation swaps the file",
          "[fscache_v2]")
{
  Rig r;
  const std::string path = MemoryBackend::path_of("test,vol", bytes("k1"));
  auto life = [&r](bool retire, bool modify) {
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, modify);
    r.e.run();
    r.e.unuse_cookie(c);
    r.rec.fresh();
    r.e.relinquish_cookie(c, retire);
    r.e.run();
    return r.rec.fresh();
  };
  // A new object retired before any commit: the tmpfile just goes.
  auto l = life(true, false);
  CHECK(r.rec.saw(l, "cachefiles_ref: c=00000002 o=00000001 u=1 "
                     "SEE clean_drop_tmp"));
  CHECK(grep(l, "cachefiles_link").empty());
  CHECK(r.be.file(path) == nullptr);
  // Committed: xattr, link.
  l = life(false, false);
  CHECK(grep(l, "cachefiles_coherency").size() == 1);
  CHECK(grep(l, "cachefiles_link").size() == 1);
  REQUIRE(r.be.file(path));
  std::uint64_t ino = r.be.file(path)->ino;
  // Found again and used for writing: prepare_to_write marks it DIRTY.
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, true);
  r.e.run();
  auto fmt_b = [](std::uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  auto l2 = r.rec.fresh();
  CHECK(r.rec.saw(l2, "cachefiles_coherency: o=00000003 OK       B=" +
                          fmt_b(ino) + " c=0"));
  CHECK(r.rec.saw(l2, "cachefiles_coherency: o=00000003 SET ok   B=" +
                          fmt_b(ino) + " c=4"));
  CHECK(r.be.file(path)->xattr[17] == 4);
  // Invalidation: new tmpfile, then the old name unlinked (§4.6).
  r.e.invalidate(c, bytes("aux-0001"), 8192);
  r.e.run();
  l2 = r.rec.fresh();
  std::size_t tmp = 0, unl = 0, end = 0;
  for (std::size_t i = 0; i < l2.size(); ++i) {
    if (l2[i].rfind("cachefiles_tmpfile", 0) == 0)
      tmp = i;
    if (l2[i] == "cachefiles_unlink: o=00000003 B=" + fmt_b(ino) + " w=inval")
      unl = i;
    if (l2[i].find("END   inval") != std::string::npos)
      end = i;
  }
  CHECK(tmp < unl);
  CHECK(unl < end);
  CHECK(r.be.file(path) == nullptr); // nothing under the name until commit
  // Shrink: SHRINK to the page, then DIOADJ to the size (§2.6).
  r.rec.fresh();
  r.e.resize_cookie(c, 5000);
  l2 = r.rec.fresh();
  REQUIRE(l2.size() == 5);
  CHECK(l2[0] == "fscache_resize: c=00000004 os=00002000 sz=00001388");
  CHECK(l2[1] == "fscache_access: c=00000004 BEGIN io_resz r=2 a=1");
  CHECK(l2[2].find("SHRINK l=2000->2000") != std::string::npos);
  CHECK(l2[3].find("DIOADJ l=2000->1388") != std::string::npos);
  CHECK(l2[4] == "fscache_access: c=00000004 END   io      r=2 a=0");
  r.e.unuse_cookie(c);
  // Retired after the commit: the linked file is deleted.
  r.e.relinquish_cookie(c, false);
  r.e.run();
  REQUIRE(r.be.file(path));
  CookieId d = r.e.acquire_cookie(r.v, bytes("k1"), bytes("aux-0001"), 5000);
  r.e.use_cookie(d, false);
  r.e.run();
  r.e.unuse_cookie(d);
  r.rec.fresh();
  r.e.relinquish_cookie(d, true);
  r.e.run();
  l = r.rec.fresh();
  CHECK(r.rec.saw(l, "cachefiles_ref: c=00000005 o=00000004 u=1 "
                     "SEE clean_delete"));
  CHECK(grep(l, "w=was_retired").size() == 1);
  CHECK(r.be.file(path) == nullptr);
  r.balanced();
}

TEST_CASE("v2 cache withdrawal waits for a lookup in flight, then commits",
          "[fscache_v2]")
{
  Rig r;
  CookieId c = r.acquire("k1");
  r.e.use_cookie(c, false); // LOOKING_UP, holding a volume access
  r.rec.fresh();
  r.e.withdraw_cache();
  CHECK_FALSE(r.e.cache_withdrawn());
  CHECK(r.e.waiting().size() == 1);
  r.e.run();
  CHECK(r.e.cache_withdrawn());
  auto l = r.rec.fresh();
  std::size_t unpin = index_of(
      l, "fscache_access_volume: V=00000001 c=00000000 UNPIN cache   r=3 a=1");
  std::size_t looked = index_of(
      l, "fscache_access_volume: V=00000001 c=00000002 END   lookup  r=3 a=0");
  std::size_t link = l.size();
  for (std::size_t i = 0; i < l.size(); ++i)
    if (l[i].rfind("cachefiles_link", 0) == 0)
      link = i;
  CHECK(unpin < looked);
  CHECK(looked < link);
  CHECK(link < l.size());
  CHECK(l.back() == "cachefiles_mark_inactive: o=00000000 B=" +
                        l.back().substr(l.back().find("B=") + 2));
  CHECK(r.rec.saw(l, "fscache_cache: C=00000001 PUT relnq r=1"));
  CHECK(r.state(c) == S::quiescent);
  CHECK(r.e.cache_info().state == CacheState::not_present);
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.balanced();
  CHECK(r.be.live_objects() == 0);
}

namespace {

/// Holds queued work back when told, and makes calls where a running work
/// item lets them in, as the trace replay's scheduler does.
struct HoldingScheduler final : Scheduler {
  bool hold = false;
  std::vector<Runnable> seen;
  std::function<void(const Runnable&)> on_preempt;
  std::size_t pick(const std::vector<Runnable>& ready) override
  {
    seen = ready;
    return hold ? ready.size() : 0;
  }
  void preempt(const Runnable& r) override
  {
    if (on_preempt)
      on_preempt(r);
  }
};

} // namespace

TEST_CASE("v2 a scheduler holds work back, splits a volume's creation and "
          "lets calls into a negative lookup",
          "[fscache_v2]")
{
  Recorder rec;
  MemoryBackend be;
  Engine e(be, rec);
  HoldingScheduler s;
  e.set_scheduler(&s);
  REQUIRE(e.add_cache() == 0);

  // The real 6.1 trace's V=00000002: relinquished while system_wq makes
  // its directories; the creation's end then frees it.
  VolumeId a = e.acquire_volume("test,gone");
  s.hold = true;
  CHECK(e.run() == 0);
  REQUIRE(s.seen.size() == 1);
  CHECK(s.seen[0].kind == Runnable::volume);
  CHECK(s.seen[0].id == a);
  s.hold = false;
  rec.fresh();
  REQUIRE(e.step());
  s.hold = true;
  CHECK(e.run() == 0);
  REQUIRE(s.seen.size() == 1);
  CHECK(s.seen[0].kind == Runnable::volume_rest);
  e.relinquish_volume(a);
  s.hold = false;
  e.run();
  auto l = rec.fresh();
  std::size_t relnq = index_of(l, "fscache_volume: V=00000001 PUT relnq u=1");
  std::size_t pin = index_of(l, "fscache_access_volume: V=00000001 "
                                "c=00000000 PIN   cache   r=1 a=1");
  std::size_t put = index_of(l, "fscache_volume: V=00000001 PUT creat u=0");
  CHECK(index_of(l, "fscache_volume: V=00000001 SEE creat u=2") < relnq);
  CHECK(relnq < pin);
  CHECK(pin < put);
  CHECK(put < l.size());
  CHECK(rec.saw(l, "fscache_volume: V=00000001 FREE      u=0"));
  CHECK_FALSE(e.volume_info(a).exists);

  // 6.1 line 6299: a read begins while the lookup is CREATING (§2.6:
  // PARAMS goes on), between the lookup and "-   activ", with no wait.
  VolumeId v = e.acquire_volume("test,vol");
  e.run();
  CookieId c = e.acquire_cookie(v, bytes("k"), bytes("aux-0001"), 8192);
  OpId op = 0;
  int looking_up = 0;
  s.on_preempt = [&](const Runnable& r) {
    CHECK(r.kind == Runnable::cookie);
    CHECK(r.id == c);
    if (e.cookie_info(c).state == S::looking_up) {
      ++looking_up; // not yet looked up
      return;
    }
    if (e.cookie_info(c).state != S::creating)
      return; // the lookup's access ended (ACTIVE)
    if (!op)  // lookup_negative, then each step making the tmpfile
      op = e.begin_read(c);
  };
  rec.fresh();
  e.use_cookie(c, false);
  e.run();
  s.on_preempt = nullptr;
  // The gate not yet open; open; the object's cookie ref taken (GET
  // attch); the object made (NEW obj); the lookup's negative result
  // traced, the state not yet set.
  CHECK(looking_up == 5);
  l = rec.fresh();
  std::size_t begin = index_of(l, "fscache_access: c=00000002 BEGIN io_read "
                                  "r=3 a=2");
  CHECK(begin < index_of(l, "fscache_cookie: c=00000002 -   activ r=3"));
  CHECK(index_of(l, "fscache_access: c=00000002 END   lookup  r=3 a=1") <
        l.size());
  for (const auto& x : l)
    CHECK(x.find("WAIT") == std::string::npos);
  REQUIRE(op != 0);
  CHECK(e.op_info(op).status == OpInfo::ready);
  e.end_operation(op);
  e.unuse_cookie(c);
  e.relinquish_cookie(c, false);
  e.run();
  CHECK(e.check_counts().empty());
  std::string found;
  for (const auto& f : rec.findings)
    found += f + "; ";
  INFO(found);
  CHECK(rec.findings.empty());
}

TEST_CASE("v2 a read begun after the lookup's negative result but before "
          "CREATING waits, and goes on at CREATING",
          "[fscache_v2]")
{
  // 6.1 (kernel suite, trace line 23667) and 6.12 (40295): cachefiles
  // traces the negative lookup, then fscache_cookie_lookup_negative() sets
  // CREATING; no lock is held between, so a read's state check can come
  // there and find LOOKING_UP.
  Recorder rec;
  MemoryBackend be;
  Engine e(be, rec);
  struct : Scheduler {
    std::function<void(const Runnable&)> on_preempt;
    std::size_t pick(const std::vector<Runnable>&) override { return 0; }
    void preempt(const Runnable& r) override
    {
      if (on_preempt)
        on_preempt(r);
    }
  } s;
  e.set_scheduler(&s);
  REQUIRE(e.add_cache() == 0);
  VolumeId v = e.acquire_volume("test,vol");
  e.run();
  CookieId c = e.acquire_cookie(v, bytes("k"), bytes("aux-0001"), 8192);
  OpId op = 0;
  s.on_preempt = [&](const Runnable&) {
    if (op || e.cookie_info(c).state != S::looking_up)
      return;
    auto so_far = rec.lines();
    if (so_far.empty() ||
        so_far.back().find("cachefiles_lookup:") == std::string::npos)
      return;
    op = e.begin_read(c);
  };
  rec.fresh();
  e.use_cookie(c, false);
  e.run();
  s.on_preempt = nullptr;
  REQUIRE(op != 0);
  auto l = rec.fresh();
  std::size_t lookup = 0;
  while (lookup < l.size() &&
         l[lookup].find("cachefiles_lookup:") == std::string::npos)
    ++lookup;
  std::size_t wait = index_of(l, "fscache_access: c=00000002 WAIT  io      "
                                 "r=3 a=2");
  CHECK(lookup < wait);
  CHECK(wait < l.size());
  CHECK(e.op_info(op).status == OpInfo::ready);
  CHECK(e.cookie_info(c).state == S::active);
  end_and_drop(e, rec, c, op);
}

namespace {

/// Lets a chosen cookie's work run inside another's at its first
/// preemption point, and says how a begun operation checks its state.
struct InsideScheduler final : Scheduler {
  CookieId inside = 0; ///< run this cookie's work at the first point
  Check check = Check::now;
  int points = 0;
  std::size_t pick(const std::vector<Runnable>&) override { return 0; }
  std::size_t pick_inside(const Runnable& stopped,
                          const std::vector<Runnable>& ready) override
  {
    for (std::size_t i = 0; i < ready.size(); ++i)
      if (ready[i].kind == Runnable::cookie && ready[i].id == inside &&
          stopped.id != inside) {
        inside = 0;
        return i;
      }
    return ready.size();
  }
  void preempt(const Runnable&) override { ++points; }
  Check check_later(std::uint32_t) override { return check; }
};

} // namespace

TEST_CASE("v2 a scheduler runs a work item inside another at a preemption "
          "point, prints a WAIT later, resumes an operation at once",
          "[fscache_v2]")
{
  Recorder rec;
  MemoryBackend be;
  Engine e(be, rec);
  InsideScheduler s;
  e.set_scheduler(&s);
  REQUIRE(e.add_cache() == 0);
  VolumeId v = e.acquire_volume("test,vol");
  e.run();
  CookieId a = e.acquire_cookie(v, bytes("a"), bytes("aux-0001"), 8192);
  CookieId b = e.acquire_cookie(v, bytes("b"), bytes("aux-0001"), 8192);

  // b's lookup runs whole inside a's, at a's first preemption point.
  e.use_cookie(a, false);
  e.use_cookie(b, false);
  s.inside = b;
  rec.fresh();
  e.run();
  auto l = rec.fresh();
  std::size_t a_work = index_of(l, "fscache_cookie: c=00000002 -   work  r=2");
  std::size_t b_work = index_of(l, "fscache_cookie: c=00000003 -   work  r=2");
  std::size_t b_done = index_of(l, "fscache_cookie: c=00000003 PQ  work  r=2");
  std::size_t a_done = index_of(l, "fscache_cookie: c=00000002 PQ  work  r=2");
  CHECK(a_work < b_work);
  CHECK(b_work < b_done);
  CHECK(b_done < a_done);
  CHECK(a_done < l.size());
  CHECK(s.points > 0);
  CHECK(e.cookie_info(a).state == S::active);
  CHECK(e.cookie_info(b).state == S::active);
  e.unuse_cookie(a);
  e.unuse_cookie(b);
  e.relinquish_cookie(b, false);
  e.run();

  // A read begun while a's lookup waits (LOOKING_UP) prints its WAIT only
  // when told, with the counts of then; resumed "if ready" in LOOKING_UP
  // it stays; once ACTIVE it goes on when resumed.
  e.relinquish_cookie(a, false);
  e.run();
  CookieId c = e.acquire_cookie(v, bytes("c"), bytes("aux-0001"), 8192);
  e.use_cookie(c, false); // queued, not yet run: LOOKING_UP
  s.check = Scheduler::Check::print_later;
  rec.fresh();
  OpId op = e.begin_read(c);
  CHECK(e.op_info(op).status == OpInfo::waiting);
  l = rec.fresh();
  REQUIRE(l.size() == 1);
  CHECK(l[0] == "fscache_access: c=00000004 BEGIN io_read r=2 a=2");
  e.resume_operation(op, true);
  l = rec.fresh();
  REQUIRE(l.size() == 1);
  CHECK(l[0] == "fscache_access: c=00000004 WAIT  io      r=2 a=2");
  CHECK(e.op_info(op).status == OpInfo::waiting);
  s.check = Scheduler::Check::now;
  e.run();
  CHECK(e.op_info(op).status == OpInfo::ready);
  end_and_drop(e, rec, c, op);
}

TEST_CASE("v2 a seed fixes the executor's order: same seed, same trace",
          "[fscache_v2]")
{
  auto once = [](std::uint64_t seed) {
    Rig r(seed);
    std::vector<CookieId> cs;
    for (int i = 0; i < 6; ++i) {
      cs.push_back(r.acquire("f" + std::to_string(i)));
      r.e.use_cookie(cs.back(), i % 2 == 0);
    }
    r.e.invalidate(cs[1], bytes("aux-0002"), 4096);
    r.e.run();
    for (CookieId c : cs)
      r.e.unuse_cookie(c);
    r.e.advance(5 * k_ns_per_s);
    r.e.relinquish_cookie(cs[0], true);
    r.e.advance(6 * k_ns_per_s);
    for (std::size_t i = 1; i < cs.size(); ++i)
      r.e.relinquish_cookie(cs[i], false);
    r.balanced();
    return r.rec.lines();
  };
  CHECK(once(0) == once(0));
  auto a = once(7);
  CHECK(a == once(7));
  CHECK(a.size() == once(0).size()); // other order, same events
}

TEST_CASE("v2 row 7: a lookup failing after the attach, line by line",
          "[fscache_v2]")
{
  Rig r(0, fail(Fault::create_tmpfile, -ENOSPC));
  CookieId c = r.acquire("k1", 0);
  r.e.use_cookie(c, false);
  r.rec.fresh();
  r.e.run();
  auto l = r.rec.fresh();
  const std::vector<std::string> want = {
      "fscache_cookie: c=00000002 -   work  r=2",
      "fscache_access: c=00000002 PIN   cache   r=2 a=1",
      "fscache_cookie: c=00000002 GET attch r=3",
      "cachefiles_ref: c=00000002 o=00000001 u=1 NEW obj",
      "cachefiles_ref: c=00000002 o=00000001 u=1 SEE lookup_failed",
      "fscache_cookie: c=00000002 FAILED    r=3",
      "fscache_access: c=00000002 END   lookupf r=3 a=0",
      "fscache_access: c=00000002 UNPIN cache   r=3 a=0",
      "fscache_cookie: c=00000002 GQ  endac r=4",
      "fscache_access_volume: V=00000001 c=00000002 END   lookupf r=2 a=1",
      "cachefiles_ref: c=00000002 o=00000001 u=1 SEE withdraw_cookie",
      "cachefiles_ref: c=00000002 o=00000001 u=1 PUT detach",
      "fscache_cookie: c=00000002 PUT obj   r=3",
      "fscache_cookie: c=00000002 -   x-wth r=3",
      "fscache_cookie: c=00000002 PQ  work  r=2",
      "fscache_cookie: c=00000002 -   work  r=2",
      "fscache_cookie: c=00000002 PQ  work  r=1",
  };
  std::vector<std::string> got;
  for (const auto& x : l)
    if (x.rfind("cachefiles_lookup", 0) != 0)
      got.push_back(x);
  CHECK(got == want);
  CHECK(r.state(c) == S::quiescent);
  // IS_CACHING is cleared by the failure: the next I/O begins nothing.
  OpId op = r.e.begin_read(c);
  CHECK(r.e.op_info(op).status == OpInfo::refused);
  r.e.end_operation(op);
  r.e.unuse_cookie(c);
  r.e.relinquish_cookie(c, false);
  r.balanced();
}

// ---- Kernel fixes, each taken out (--unfix) -----------------------------

namespace {

Fixes without(bool Fixes::*fix)
{
  Fixes f;
  f.*fix = false;
  return f;
}

} // namespace

TEST_CASE("v2 fix names: one each, unique, for the five modelled fixes",
          "[fscache_v2][unfix]")
{
  std::set<std::string_view> names;
  for (const auto& n : fix_names()) {
    names.insert(n.name);
    CHECK(n.commit.size() > 13);
    // Its member is its own: turning it off turns off no other name's.
    const Fixes f = without(n.member);
    int off = 0;
    for (const auto& m : fix_names())
      off += !(f.*m.member);
    CHECK(off == 1);
  }
  CHECK(names.size() == 5);
  CHECK(fix_names().size() == 5);
}

TEST_CASE("v2 unfix lru-use-race: the LRU discards a cookie in use",
          "[fscache_v2][unfix]")
{
  for (bool fixed : {true, false}) {
    Rig r;
    if (!fixed)
      r.e.set_fixes(without(&Fixes::lru_use_race));
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run();
    r.e.unuse_cookie(c);
    r.e.advance(k_lru_timeout_ns, false);
    REQUIRE(r.e.step()); // the LRU worker sets DO_LRU_DISCARD
    r.e.use_cookie(c, false);
    r.e.run();
    INFO("fixed " << fixed);
    CHECK(r.rec.transitions.count({S::active, S::lru_discarding}) ==
          (fixed ? 0U : 1U));
    CHECK(r.state(c) == (fixed ? S::active : S::quiescent));
    CHECK(r.e.cookie_info(c).n_active == 1);
    // The bug's harm: I/O of the netfs, which holds the cookie in use,
    // finds no object.
    OpId op = r.e.begin_read(c);
    CHECK((r.e.op_info(op).status == OpInfo::refused) == !fixed);
    r.e.end_operation(op);
  }
}

TEST_CASE("v2 unfix inval-during-lookup: an invalidation in the lookup is "
          "lost",
          "[fscache_v2][unfix]")
{
  for (bool fixed : {true, false}) {
    Rig r;
    if (!fixed)
      r.e.set_fixes(without(&Fixes::inval_during_lookup));
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false); // LOOKING_UP until the work item runs
    r.e.invalidate(c, bytes("aux-0002"), 8192);
    r.rec.fresh();
    r.e.run();
    auto l = r.rec.fresh();
    INFO("fixed " << fixed);
    bool invalidated = false;
    for (const auto& [from, to] : r.rec.transitions)
      invalidated |= to == S::invalidating;
    CHECK(invalidated == fixed);
    CHECK(grep(l, "END   inval").empty() == !fixed);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.balanced();
  }
}

TEST_CASE("v2 unfix inval-access-leak: two invalidations in the lookup "
          "leave an access, and the cookie is never dropped",
          "[fscache_v2][unfix]")
{
  for (bool fixed : {true, false}) {
    Rig r;
    if (!fixed)
      r.e.set_fixes(without(&Fixes::inval_access_leak));
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.invalidate(c, bytes("aux-0002"), 8192);
    r.e.invalidate(c, bytes("aux-0003"), 8192);
    r.e.run();
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
    INFO("fixed " << fixed);
    CHECK(r.e.cookie_info(c).exists == !fixed);
    if (!fixed) {
      CHECK(r.e.cookie_info(c).n_accesses == 1);
      CHECK_FALSE(r.e.check_counts().empty());
    } else {
      r.balanced();
    }
  }
}

TEST_CASE("v2 unfix unmark-on-error: a failed open keeps the inode in use",
          "[fscache_v2][unfix]")
{
  for (bool fixed : {true, false}) {
    bool fail_open = false;
    Rig r(0, [&fail_open](Fault f, std::uint32_t) {
      return f == Fault::open && std::exchange(fail_open, false) ? -EIO : 0;
    });
    if (!fixed)
      r.e.set_fixes(without(&Fixes::unmark_on_error));
    // A first cookie leaves the file committed.
    CookieId a = r.acquire("k1");
    r.e.use_cookie(a, true);
    r.e.run();
    r.e.unuse_cookie(a);
    r.e.relinquish_cookie(a, false);
    r.e.run();
    // The second one's open fails after the file was marked in use.
    fail_open = true;
    CookieId b = r.acquire("k1");
    r.e.use_cookie(b, false);
    r.e.run();
    CHECK(r.state(b) == S::quiescent); // the lookup failed
    r.e.unuse_cookie(b);
    r.e.relinquish_cookie(b, false);
    r.e.run();
    // The third finds the file: in use forever when unfixed.
    r.rec.printks.clear();
    CookieId c = r.acquire("k1");
    r.e.use_cookie(c, false);
    r.e.run();
    INFO("fixed " << fixed);
    CHECK(r.state(c) == (fixed ? S::active : S::quiescent));
    CHECK(std::count(r.rec.printks.begin(), r.rec.printks.end(),
                     "CacheFiles: Inode already in use") == (fixed ? 0 : 1));
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run();
  }
}

TEST_CASE("v2 unfix shorten-length: a shrink to a partial page grows the "
          "backing file",
          "[fscache_v2][unfix]")
{
  for (bool fixed : {true, false}) {
    Rig r;
    if (!fixed)
      r.e.set_fixes(without(&Fixes::shorten_length));
    CookieId c = r.acquire("k1", 16384);
    r.e.use_cookie(c, true);
    r.e.run();
    r.e.resize_cookie(c, 5000);
    r.e.unuse_cookie(c);
    r.e.relinquish_cookie(c, false);
    r.e.run(); // committed: the file is linked at its name
    const auto* f =
        r.be.file(MemoryBackend::path_of("test,vol", bytes("k1")));
    REQUIRE(f);
    INFO("fixed " << fixed);
    // 6.1 truncates to the page (8192) and zeroes 5000-8191; before the
    // fix the zeroed range was 8192 bytes long, from 5000.
    CHECK(f->size == (fixed ? 8192U : 5000U + 8192U));
  }
}
