// fuzz_scenario_v2.cpp - the 6.1 dialect: the parser never crashes and
// reports bad input as fsc::Error, and whatever parses runs through the 6.1
// engine on its in-memory backend without a sanitizer finding (a handle
// used before it is named is an fsc::Error too; a "6.1 would ..." finding
// is a result, not a bug).
#include <fsc/error.hpp>
#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/memory_backend.hpp>
#include <fsc/fscache/v2/scenario.hpp>

#include <string>

using namespace fsc::fscache::v2;

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
  FaultPlan faults;
  ReportObserver seen;
  MemoryBackend be(faults.hook<MemoryBackend::Fault>());
  Engine e(be, seen);
  e.add_cache();
  try {
    run_scenario(s, e, faults, seen);
  } catch (const fsc::Error&) {
  }
  return 0;
}
