// scenario.hpp - the replay language: one netfs-level call per line, named
// cookies, keys as strings or hex, hooks that fire a call at a state of an
// object, fault rules, and `expect` lines that check the engine (see
// fsc-replay(8) for the grammar). Parsing reports file:line:column; running
// is scenario_run.hpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <fsc/bytes.hpp>
#include <fsc/fscache/engine.hpp>

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

/// Parses "nfs", "hex:00ff", "0x00ff" or a quoted string into bytes.
std::optional<Bytes> parse_value(const std::string& text, bool quoted);

/// Fixes named on the command line or a `fixes` line: "-name" turns one
/// off, "+name" on. Throws fsc::Error naming an unknown fix.
void apply_fix_switch(Fixes& fixes, const std::string& word);

/// Fixes a scenario asks for with its `fixes` lines (applied before the
/// engine is built).
Fixes scenario_fixes(const Scenario& s, Fixes base);

} // namespace fsc::fscache
