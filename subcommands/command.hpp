// command.hpp - what every subcommand file shares: global options and the
// registration type. Only main.cpp and subcommands/ include CLI11.
#pragma once

#include <fsc/cachefiles/bound.hpp>
#include <fsc/metrics.hpp>
#include <fsc/report.hpp>

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace fsc::cmd {

using fsc::JsonMode;

/// Options every subcommand sees (parsed before the subcommand runs).
struct Globals {
  std::string dir;      ///< --dir / FSC_DIR / positional CACHE
  std::string json_arg; ///< raw --json value
  JsonMode json = JsonMode::off;
  int verbose = 0;    ///< -v count
  bool quiet = false; ///< -q
};

/// The JSON report of a verb, framed as --json / --json=lines asked.
inline JsonReport json_report(const Globals& g, std::string_view verb)
{
  return JsonReport(stdout, g.json, verb);
}

/// Where a verb that measures writes its Prometheus metrics: --prometheus
/// FILE (node_exporter's textfile collector), --format prometheus (stdout,
/// instead of the text).
struct MetricsOut {
  std::string verb;
  std::string file;            ///< --prometheus
  std::string format = "text"; ///< --format
  std::string cache;           ///< the cache label, once the verb knows it
  double started_s = 0;        ///< set by main before the verb runs
  bool written = false;        ///< the verb wrote them (with its outcome)
  bool on() const { return !file.empty() || format == "prometheus"; }
  bool to_stdout() const { return format == "prometheus"; }
};

/// Adds --prometheus and --format to a verb that measures.
std::shared_ptr<MetricsOut> add_metrics_options(CLI::App* sub,
                                                std::string verb);

/// The Metrics of this run (verb and cache labels from out).
Metrics begin_metrics(const MetricsOut& out);

/// Adds the outcome (exit status, start, duration) and writes the metrics
/// where out says. Marks them written.
void emit_metrics(MetricsOut& out, Metrics& m, int exit_status);

/// A registered subcommand and the function that runs it.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
  /// For verbs that measure: main writes the outcome of a run that failed
  /// before the verb wrote its metrics (fsc_last_run_success 0).
  std::shared_ptr<MetricsOut> metrics = nullptr;
};

/// The cache directory to use: the positional argument, else --dir/FSC_DIR,
/// else `dir` from /etc/cachefilesd.conf, else /var/cache/fscache.
std::string resolve_cache_dir(const std::string& positional, const Globals& g);

/// After a forced claim on a bound cache: says so on stderr (deed: "culling").
void warn_if_bound(const cachefiles::BindState& b, const std::string& root,
                   const char* deed);

Command add_inspect(CLI::App& app, Globals& g);
Command add_cull(CLI::App& app, Globals& g);
Command add_demo(CLI::App& app, Globals& g);
Command add_refs(CLI::App& app, Globals& g);
Command add_verify(CLI::App& app, Globals& g);
Command add_replay(CLI::App& app, Globals& g);
Command add_stats(CLI::App& app, Globals& g);
// New verbs: declare add_<verb> here, call it in main.cpp, list the file in
// subcommands/meson.build, and document it in man/fsc-<verb>.8.scd.

} // namespace fsc::cmd
