// run.hpp - running the built fsc binary from tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace fsc::test {

struct RunResult {
  int status = -1; ///< exit code, or 128+signal
  std::string out;
  std::string err;
};

/// Runs $FSC_BIN with args (no shell), optional stdin text and extra
/// environment; captures stdout and stderr.
RunResult run_fsc(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {},
                  const std::string& input = {});

/// Runs any program (argv[0] looked up in PATH).
RunResult run_prog(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env = {},
                   const std::string& input = {});

/// s with its newlines as '|': INFO text on one line in the TAP stream.
std::string one_line(std::string s);

} // namespace fsc::test
