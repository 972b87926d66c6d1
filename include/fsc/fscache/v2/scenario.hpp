// scenario.hpp - the 6.1 dialect of the replay language: one netfs call of
// the 5.17+ API per line (volumes, cookies, use/unuse, operations, I/O),
// the work queues and the virtual clock, fault rules on the CacheFiles
// steps, and `expect` lines on cookies, volumes, the cache and the stats
// (fsc-replay(8), "THE 6.1 DIALECT"). Words, values and file:line:column
// errors are the 4.19 dialect's (fscache/scenario.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/fscache/scenario.hpp>
#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/space.hpp>
#include <fsc/fscache/v2/observer.hpp>

namespace fsc::fscache::v2 {

struct Scenario {
  std::string file;
  std::vector<fscache::Statement> statements;
  /// Parses and checks every statement; throws fsc::Error
  /// "file:line:column: expected ..." on the first bad one.
  static Scenario parse(const std::string& text, const std::string& file);
};

/// "fail the Nth time the backend reaches POINT (for cookie c) with ERRNO".
class FaultPlan {
public:
  struct Rule {
    std::string point;
    CookieId cookie = 0; ///< 0: any cookie
    int nth = 1;         ///< 0: every time
    int err = 0;         ///< positive errno
    int seen = 0;
  };
  void add(Rule r) { m_rules.push_back(std::move(r)); }
  /// 0, or the -errno this step fails with.
  int check(std::string_view point, CookieId c);
  /// Point names, in the order of CacheFilesBackend::Fault (MemoryBackend's
  /// are the same but for the last, "bury").
  static const std::vector<std::string>& points();
  /// A backend's FaultHook that consults this plan.
  template <class Fault> auto hook()
  {
    return [this](Fault f, std::uint32_t c) {
      return check(points()[static_cast<std::size_t>(f)], c);
    };
  }

private:
  std::vector<Rule> m_rules;
};

struct ReplayReport {
  int expectations = 0;
  int calls = 0;
  std::vector<std::string> failures; ///< "file:line: expected ..., got ..."
  std::vector<std::string> findings; ///< what 6.1 would crash or hang on
  std::vector<std::string> expected_findings;
  std::vector<std::string> printk;
  bool ok() const { return failures.empty() && findings.empty(); }
};

/// Collects findings and kernel messages while a scenario runs.
class ReportObserver : public Observer {
public:
  std::vector<std::string> findings, messages;
  void finding(std::string_view s) override { findings.emplace_back(s); }
  void printk(std::string_view s) override { messages.emplace_back(s); }
};

/// What `expect H file ...` lines look at: a cookie's data file, by its
/// volume key and index key (empty members: the lines fail, saying so).
struct DiskView {
  std::function<std::optional<std::uint64_t>(std::string_view, ByteView)>
      size_of;
  std::function<std::optional<Bytes>(std::string_view, ByteView)> xattr_of;
  /// The backend's daemon side, for `cull`, `inuse` and `space` lines, and
  /// where a cookie's file is, relative to the cache root
  /// ("cache/I<volume key>/@xx/<name>"). Unset: those lines fail the run.
  Daemon* daemon = nullptr;
  std::function<std::string(std::string_view, ByteView)> path_of;
};

/// Runs a parsed scenario against an engine with the cache added. Each
/// call not ending in '&' runs the work queues until idle. At the end the
/// queues run, a netfs call still parked and a count that does not balance
/// (Engine::check_counts) are findings.
ReplayReport run_scenario(const Scenario& s, Engine& engine, FaultPlan& faults,
                          ReportObserver& seen, const DiskView& disk = {});

} // namespace fsc::fscache::v2
