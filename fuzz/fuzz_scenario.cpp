// fuzz_scenario.cpp - the scenario parser never crashes, reports bad input
// as fsc::Error, and whatever parses runs through the engine (on an
// in-memory cache) without a sanitizer finding: a crash of the engine is a
// bug, a "4.19 would crash here" finding is not.
#include <fsc/fscache/cachefiles_backend.hpp>
#include <fsc/cachefiles/store.hpp>
#include <fsc/error.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/fscache/scenario_run.hpp>

#include <string>

using namespace fsc::fscache;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size)
{
  if (size > 4096)
    return 0; // long inputs only make long runs
  std::string text(reinterpret_cast<const char*>(data), size);
  Scenario s;
  try {
    s = Scenario::parse(text, "fuzz.fsc");
  } catch (const fsc::Error&) {
    return 0;
  }
  Fixes fixes;
  try {
    fixes = scenario_fixes(s, Fixes{});
  } catch (const fsc::Error&) {
    return 0;
  }
  auto store = fsc::cachefiles::make_memory_store();
  FaultPlan faults;
  fsc::fscache::CacheFilesBackend cf(*store, faults, [] { return 1U; });
  Engine* ep = nullptr;
  FaultyBackend fb(cf, faults, [&ep](ObjectId id) {
    return ep ? ep->cookie_of_object(id) : no_cookie;
  });
  ReportObserver seen;
  Engine e(fb, seen, 0, fixes);
  ep = &e;
  e.add_cache();
  DiskView disk;
  disk.path_of = [&cf](ObjectId id) { return cf.path_of(id); };
  disk.size_of =
      [&store](const std::string& p) -> std::optional<std::uint64_t> {
    auto st = store->stat(p);
    if (!st.exists)
      return std::nullopt;
    return st.size;
  };
  disk.xattr_of = [&store](const std::string& p) -> std::optional<fsc::Bytes> {
    auto x = store->get_xattr(p);
    if (!x)
      return std::nullopt;
    return *x;
  };
  try {
    run_scenario(s, e, faults, disk, seen);
  } catch (const fsc::Error&) {
    // An unknown handle is a scenario error found while running.
  }
  return 0;
}
