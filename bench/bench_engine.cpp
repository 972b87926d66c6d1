// bench_engine.cpp - the 4.19 engine's speed: 1M netfs operations over 100k
// data cookies on one core, on an in-memory cache, with the trace formatted
// to /dev/null (as `fsc replay --trace /dev/null`) and, for comparison, with
// no trace at all. Prints events/s and bytes of memory per live object.
#include <fsc/fscache/cachefiles_backend.hpp>
#include <fsc/cachefiles/store.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/trace/writer.hpp>

#include <cerrno>
#include <malloc.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace fsc::fscache;

namespace {

/// Counts every traced event (what a trace file would have as lines).
struct Counter : Observer {
  std::uint64_t n = 0;
  void cookie(CookieTrace, const CookieSnap&) override { ++n; }
  void acquire(std::uint64_t, const CookieSnap&, std::string_view) override
  {
    ++n;
  }
  void relinquish(const CookieSnap&, bool) override { ++n; }
  void disable(const CookieSnap&) override { ++n; }
  void osm(std::uint64_t, std::uint64_t, ObjState, bool, bool, int) override
  {
    ++n;
  }
  void page(std::uint64_t, std::uint64_t, PageTrace) override { ++n; }
  void wake_cookie(std::uint64_t) override { ++n; }
  void op(std::uint64_t, std::uint64_t, OpTrace) override { ++n; }
  void page_op(std::uint64_t, std::uint64_t, std::uint64_t,
               PageOpTrace) override
  {
    ++n;
  }
  void wrote_page(std::uint64_t, std::uint64_t, std::uint64_t, int) override
  {
    ++n;
  }
  void obj_ref(std::uint64_t, std::uint64_t, int, ObjRefTrace) override { ++n; }
  void cf_lookup(std::uint64_t, std::uint64_t, std::uint64_t) override { ++n; }
  void cf_mkdir(std::uint64_t, std::uint64_t, int) override { ++n; }
  void cf_create(std::uint64_t, std::uint64_t, int) override { ++n; }
  void cf_mark_active(std::uint64_t, std::uint64_t) override { ++n; }
  void cf_mark_inactive(std::uint64_t, std::uint64_t, std::uint64_t) override
  {
    ++n;
  }
};

/// A backend that keeps nothing: every lookup creates, every I/O succeeds.
/// With it the memory figure is the engine's alone.
struct NullBackend final : Backend {
  BackendHost* host = nullptr;
  void set_host(BackendHost& h) override { host = &h; }
  int alloc_object(ObjectId, CookieType, fsc::ByteView, fsc::ByteView) override
  {
    return 0;
  }
  int lookup_object(ObjectId id, ObjectId, std::uint64_t) override
  {
    host->lookup_negative(id);
    host->obtained_object(id);
    return 0;
  }
  void lookup_complete(ObjectId) override {}
  void update_object(ObjectId, CookieType, fsc::ByteView) override {}
  int check_consistency(ObjectId) override { return 0; }
  int attr_changed(ObjectId, std::uint64_t) override { return 0; }
  int invalidate_object(ObjectId, std::uint64_t) override { return 0; }
  void drop_object(ObjectId, bool, bool) override {}
  void put_object(ObjectId) override {}
  int read_or_alloc_page(ObjectId, std::uint64_t, fsc::Bytes*) override
  {
    return -ENODATA;
  }
  int allocate_page(ObjectId, std::uint64_t) override { return 0; }
  int write_page(ObjectId, std::uint64_t, fsc::ByteView, std::uint64_t) override
  {
    return 0;
  }
};

/// Bytes the heap has handed out now (glibc), in KiB: unlike RSS it falls
/// when memory is freed, so consecutive runs measure alone.
long rss_kib() { return long(mallinfo2().uordblks / 1024); }

struct Result {
  double seconds = 0;
  std::uint64_t events = 0, ops = 0;
  long rss_peak_live = 0;
  std::size_t live = 0;
};

Result run(std::uint64_t cookies, std::uint64_t ops, bool trace,
           bool null_backend = false)
{
  auto store = fsc::cachefiles::make_memory_store();
  FaultPlan faults;
  fsc::fscache::CacheFilesBackend cachefiles(*store, faults, [] { return 1U; });
  NullBackend nb;
  Backend& cf = null_backend ? static_cast<Backend&>(nb) : cachefiles;
  Counter count;
  std::FILE* devnull = std::fopen("/dev/null", "w");
  fsc::trace::FtraceWriter tw(devnull);
  fsc::trace::Tee tee;
  tee.add(count);
  if (trace)
    tee.add(tw);
  Engine e(cf, tee, 0, Fixes{});
  e.add_cache();
  std::mt19937_64 rng(42);
  long rss0 = rss_kib();
  auto t0 = std::chrono::steady_clock::now();
  CookieId nfs = e.register_netfs("nfs", 0);
  std::vector<CookieId> idx, files;
  for (int i = 0; i < 100; ++i) {
    AcquireArgs a;
    a.parent = nfs;
    a.type = CookieType::index;
    a.key = {std::uint8_t(i), std::uint8_t(i >> 8), 7};
    a.rule = AuxRule::none;
    idx.push_back(e.acquire_cookie(a));
  }
  Result r;
  for (std::uint64_t i = 0; i < cookies; ++i) {
    AcquireArgs a;
    a.parent = idx[i % idx.size()];
    a.key.resize(8);
    for (int b = 0; b < 8; ++b)
      a.key[std::size_t(b)] = std::uint8_t(i >> (8 * b));
    a.aux = {1, 2, 3, 4};
    a.object_size = 16384;
    files.push_back(e.acquire_cookie(a));
    if (i % 64 == 63)
      e.run();
  }
  e.run();
  r.live = e.live_objects();
  r.rss_peak_live = rss_kib() - rss0;
  for (std::uint64_t i = 0; i < ops; ++i) {
    CookieId f = files[rng() % files.size()];
    switch (rng() % 4) {
    case 0:
      e.write_page(f, rng() % 4, fsc::Bytes(64, 1));
      break;
    case 1:
      e.read_page(f, rng() % 4);
      break;
    case 2:
      e.update_cookie(f, fsc::Bytes{std::uint8_t(rng()), 2, 3, 4});
      break;
    default:
      e.attr_changed(f, 4096 * (1 + rng() % 4));
      break;
    }
    if (i % 16 == 15)
      e.run();
  }
  e.run();
  for (CookieId f : files)
    e.relinquish_cookie(f, std::nullopt, false);
  e.run();
  auto t1 = std::chrono::steady_clock::now();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.events = count.n;
  r.ops = ops + 2 * cookies;
  std::fclose(devnull);
  return r;
}

} // namespace

int main(int argc, char** argv)
{
  std::uint64_t cookies =
      argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  std::uint64_t ops = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000000;
  Result quiet = run(cookies, ops, false);
  Result traced = run(cookies, ops, true);
  Result bare = run(cookies, ops, false, true);
  std::printf("engine: %llu cookies, %llu netfs calls, one core\n",
              (unsigned long long)cookies, (unsigned long long)quiet.ops);
  std::printf("  no trace:            %.2f s, %llu events, %.2f M events/s\n",
              quiet.seconds, (unsigned long long)quiet.events,
              quiet.events / quiet.seconds / 1e6);
  std::printf("  trace to /dev/null:  %.2f s, %llu events, %.2f M events/s "
              "(%.2fx the untraced rate)\n",
              traced.seconds, (unsigned long long)traced.events,
              traced.events / traced.seconds / 1e6,
              (traced.events / traced.seconds) /
                  (quiet.events / quiet.seconds));
  std::printf("  heap: %ld KiB for %zu live objects and their cookies = "
              "%.0f bytes per live object (in-memory cache overlay included)\n",
              quiet.rss_peak_live, quiet.live,
              quiet.rss_peak_live * 1024.0 / double(quiet.live));
  std::printf("  engine alone (a backend that stores nothing): %ld KiB = %.0f "
              "bytes per live object; %.2f M events/s\n",
              bare.rss_peak_live,
              bare.rss_peak_live * 1024.0 / double(bare.live),
              bare.events / bare.seconds / 1e6);
  return 0;
}
