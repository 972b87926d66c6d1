// common.cpp - helpers every verb shares: where the cache is, and where
// the metrics go.
#include "command.hpp"

#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/log.hpp>

namespace fsc::cmd {

std::string resolve_cache_dir(const std::string& positional, const Globals& g)
{
  if (!positional.empty() || !g.dir.empty())
    return cachefiles::choose_cache_dir(positional, g.dir, {});
  return cachefiles::choose_cache_dir(
      "", "",
      cachefiles::load_daemon_config(cachefiles::k_default_daemon_config,
                                     false));
}

void warn_if_bound(const cachefiles::BindState& b, const std::string& root,
                   const char* deed)
{
  if (!b.bound)
    return;
  std::string why;
  for (auto& e : b.evidence)
    why += (why.empty() ? "" : "; ") + e;
  log::warning("'{}' is live ({}); {} behind the daemon as asked", root, why,
               deed);
}

std::shared_ptr<MetricsOut> add_metrics_options(CLI::App* sub, std::string verb)
{
  auto out = std::make_shared<MetricsOut>();
  out->verb = std::move(verb);
  sub->add_option("--prometheus", out->file,
                  "Also write Prometheus metrics to FILE, atomically (for "
                  "node_exporter's textfile collector; fsc-metrics(7))");
  sub->add_option("--format", out->format,
                  "Output: text, or prometheus (the metrics on stdout)")
      ->check(CLI::IsMember({"text", "prometheus"}))
      ->capture_default_str();
  return out;
}

Metrics begin_metrics(const MetricsOut& out)
{
  return Metrics(out.verb, out.cache);
}

void emit_metrics(MetricsOut& out, Metrics& m, int exit_status)
{
  m.outcome(exit_status, out.started_s, unix_now_s() - out.started_s);
  out.written = true;
  if (out.to_stdout())
    m.write("-");
  if (!out.file.empty())
    m.write(out.file);
}

} // namespace fsc::cmd
