// metrics.hpp - what a verb measured, in the Prometheus text exposition
// format that node_exporter's textfile collector reads. Every family fsc
// exports is declared once, in the table of metrics.cpp, so every verb and
// every file gives one name the same HELP and TYPE (node_exporter merges
// the families of all its files and refuses a clash); fsc-metrics(7) lists
// them and a test checks that it does.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fsc {

enum class MetricKind { gauge, counter, histogram };

/// One family fsc exports.
struct MetricInfo {
  std::string_view name; ///< fsc_..., unit in the name (_bytes, _seconds)
  MetricKind kind;
  std::string_view labels; ///< its label names, space-separated
  std::string_view help;
};

/// Every family fsc exports, in the order fsc-metrics(7) lists them.
std::span<const MetricInfo> metric_table();

using Labels = std::vector<std::pair<std::string, std::string>>;

/// Samples of declared families, rendered as exposition text.
class Metrics {
public:
  /// verb: the `verb` label of the fsc_last_run_* series; cache: the
  /// `cache` label of every series that concerns one cache ("" for none).
  Metrics(std::string verb, std::string cache);

  const std::string& cache() const { return m_cache; }
  /// {cache="..."} plus more labels, for a sample about the cache.
  Labels about(Labels more = {}) const;

  /// One sample. Throws std::logic_error for a family not in the table or
  /// labels other than its own: a bug, not an input problem.
  void set(std::string_view name, const Labels& labels, double value);
  /// A histogram: ascending upper bounds (without +Inf), the count of each
  /// bucket (bounds.size() + 1 of them, the last one for +Inf; not
  /// cumulative) and the sum of the observed values.
  void histogram(std::string_view name, const Labels& labels,
                 std::span<const double> bounds,
                 std::span<const std::uint64_t> counts, double sum);
  /// The fsc_last_run_* series: whether the run did its job (exit status 0,
  /// 1 "done, with findings" or 75 "busy"), the status, when it started
  /// (Unix seconds) and how long it took.
  void outcome(int exit_status, double started_s, double duration_s);

  std::string text() const;

  /// Writes text() to path so that a reader never sees half of it: a
  /// temporary file in the same directory, fsync, rename(2); "-" writes to
  /// stdout. Throws fsc::Error naming the file on failure.
  void write(const std::string& path) const;

private:
  const MetricInfo& info(std::string_view name, const Labels& labels) const;
  std::string m_verb, m_cache;
  /// family name → its sample lines, in the order set.
  std::map<std::string, std::vector<std::string>, std::less<>> m_samples;
};

/// Unix time now, in seconds (for Metrics::outcome).
double unix_now_s();

} // namespace fsc
