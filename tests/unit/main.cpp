// main.cpp - Catch2's main, alone in its translation unit (slow to compile),
// and the TAP reporter every test binary runs with (-r fsc-tap).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <sstream>
#include <string>

namespace {

// Catch2's own TAP reporter prints INFO messages (a captured fsc output,
// say) with their newlines, which breaks TAP. This one keeps every result on
// one line and writes details of a failure as "#| " comments (CI counts
// "# name" lines as test-case headers).
class FscTapReporter : public Catch::StreamingReporterBase<FscTapReporter> {
public:
  explicit FscTapReporter(const Catch::ReporterConfig& config)
      : StreamingReporterBase(config)
  {
    m_reporterPrefs.shouldReportAllAssertions = true;
  }

  static std::string getDescription()
  {
    return "TAP with one line per result and failure details as comments";
  }

  void noMatchingTestCases(const std::string& spec) override
  {
    stream << "# No test cases matched '" << one_line(spec) << "'\n";
  }

  void assertionStarting(const Catch::AssertionInfo&) override {}

  bool assertionEnded(const Catch::AssertionStats& stats) override
  {
    const auto& r = stats.assertionResult;
    ++counter_;
    stream << "# " << one_line(currentTestCaseInfo->name) << '\n';
    const bool ok = r.isOk();
    stream << (ok ? "ok " : "not ok ") << counter_ << " - "
           << one_line(r.getSourceInfo().file) << ':' << r.getSourceInfo().line;
    if (r.hasExpression())
      stream << ' ' << one_line(r.getExpressionInMacro());
    stream << '\n';
    if (!ok)
      diagnose(stats);
    return true;
  }

  void testRunEnded(const Catch::TestRunStats& stats) override
  {
    stream << "1.." << counter_ << '\n';
    stream.flush();
    StreamingReporterBase::testRunEnded(stats);
  }

private:
  static std::string one_line(std::string s)
  {
    for (char& c : s)
      if (c == '\n' || c == '\r')
        c = ' ';
    return s;
  }

  void comment(const std::string& text)
  {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      stream << "#| " << line << '\n';
  }

  void diagnose(const Catch::AssertionStats& stats)
  {
    const auto& r = stats.assertionResult;
    if (r.hasExpandedExpression())
      comment("with expansion: " + r.getExpandedExpression());
    if (r.hasMessage())
      comment("message: " + r.getMessage());
    for (const auto& m : stats.infoMessages)
      comment("info: " + m.message);
  }

  std::size_t counter_ = 0;
};

} // namespace

CATCH_REGISTER_REPORTER("fsc-tap", FscTapReporter)
