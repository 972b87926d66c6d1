// scenario_run.hpp - running a parsed replay scenario against the engine:
// each call made as the netfs would, hooks fired at object states, faults
// injected, and `expect` lines checked against the engine and the disk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/bytes.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/fscache/scenario.hpp>

namespace fsc::fscache {

/// What the runner needs from the storage side to check `expect ... file`.
struct DiskView {
  std::function<std::string(ObjectId)> path_of;
  std::function<std::optional<std::uint64_t>(const std::string&)> size_of;
  std::function<std::optional<Bytes>(const std::string&)> xattr_of;
};

struct ReplayReport {
  int expectations = 0;
  std::vector<std::string> failures; ///< "file:line: expected ..., got ..."
  std::vector<std::string> findings; ///< crashes and hangs not expected
  std::vector<std::string> expected_findings;
  std::vector<std::string> warnings;
  std::vector<std::string> printk;
  bool ok() const { return failures.empty() && findings.empty(); }
};

/// Collects findings, warnings and kernel messages while a scenario runs.
class ReportObserver : public Observer {
public:
  std::vector<std::string> findings, warnings, messages;
  void finding(std::string_view s) override { findings.emplace_back(s); }
  void warning(std::string_view s) override { warnings.emplace_back(s); }
  void printk(std::string_view s) override { messages.emplace_back(s); }
};

/// Runs a parsed scenario against an engine bound to a cache.
ReplayReport run_scenario(const Scenario& s, Engine& engine, FaultPlan& faults,
                          const DiskView& disk, ReportObserver& seen);

} // namespace fsc::fscache
