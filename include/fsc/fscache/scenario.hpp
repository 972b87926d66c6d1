// scenario.hpp - the replay language: one netfs-level call per line, named
// cookies, keys as strings or hex, hooks that fire a call at a state of an
// object, fault rules, and `expect` lines that check the engine (see
// fsc-replay(8) for the grammar). Parsing reports file:line:column.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fsc/bytes.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>

namespace fsc::fscache {

struct Word {
  std::string text;
  int column = 0; ///< 1-based
  bool quoted = false;
};

struct Statement {
  int line = 0;
  std::vector<Word> words;
  bool async = false; ///< ends in '&': the workqueues do not run after it
};

struct Scenario {
  std::string file;
  std::vector<Statement> statements;
  /// Parses and checks every statement; throws fsc::Error
  /// "file:line:column: expected ..." on the first bad one.
  static Scenario parse(const std::string& text, const std::string& file);
};

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

/// Parses "nfs", "hex:00ff", "0x00ff" or a quoted string into bytes.
std::optional<Bytes> parse_value(const std::string& text, bool quoted);

/// Fixes named on the command line or a `fixes` line: "-name" turns one
/// off, "+name" on. Throws fsc::Error naming an unknown fix.
void apply_fix_switch(Fixes& fixes, const std::string& word);

/// Fixes a scenario asks for with its `fixes` lines (applied before the
/// engine is built).
Fixes scenario_fixes(const Scenario& s, Fixes base);

/// Runs a parsed scenario against an engine bound to a cache.
ReplayReport run_scenario(const Scenario& s, Engine& engine, FaultPlan& faults,
                          const DiskView& disk, ReportObserver& seen);

} // namespace fsc::fscache
