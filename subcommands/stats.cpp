// stats.cpp - `fsc stats`: the kernel's FS-Cache counters
// (/proc/fs/fscache), readable, as JSON or as Prometheus metrics; with
// --interval, their rates per second like vmstat.
#include "command.hpp"

#include <fsc/error.hpp>
#include <fsc/fscache/json.hpp>
#include <fsc/fscache/proc_stats.hpp>
#include <fsc/json.hpp>
#include <fsc/log.hpp>

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>

namespace fsc::cmd {
namespace {

using namespace fsc::fscache;

struct StatsArgs {
  std::string proc = "/proc/fs/fscache";
  double interval = 0;   ///< 0: one sample
  std::size_t count = 0; ///< 0: until interrupted
};

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) { g_stop = 1; }

// Without SA_RESTART, so the sleep between samples ends at once and the
// run closes its JSON and metrics as if --count had been reached.
void catch_stop_signals()
{
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// False when a signal asked us to stop.
bool sleep_for(double seconds)
{
  timespec left{time_t(seconds),
                long((seconds - double(time_t(seconds))) * 1e9)};
  while (!g_stop && ::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
  return !g_stop;
}

std::string number_or_na(std::optional<std::int64_t> v)
{
  return v ? fmt::format("{}", *v) : "n/a";
}

void print_summary(const ProcStats& s, const StatsArgs& a)
{
  const StatsFigures& f = s.figures;
  fmt::print("layout         {} ({})\n", s.layout, a.proc);
  fmt::print("acquires       {}\n", number_or_na(f.acquires));
  fmt::print("lookups        {}\n", number_or_na(f.lookups));
  fmt::print("reads          {} from the cache, {} from the server; hit "
             "ratio {}\n",
             number_or_na(f.cache_reads), number_or_na(f.server_reads),
             f.hit_ratio ? fmt::format("{:.1f}%", *f.hit_ratio * 100) : "n/a");
  fmt::print("objects        {} created, {} culled, {} rejected\n",
             number_or_na(f.objects_created), number_or_na(f.objects_culled),
             number_or_na(f.objects_rejected));
  fmt::print("no space       {}\n", number_or_na(f.no_space));
  fmt::print("I/O errors     {}\n", number_or_na(f.io_errors));
  fmt::print("invalidations  {}\n", number_or_na(f.invalidations));
  for (auto& c : s.caches)
    fmt::print("cache          {}: {} volumes, {} objects, {} accesses, "
               "state {}\n",
               c.name, c.volumes, c.objects, c.accesses, c.state);
  for (auto& t : s.tables)
    fmt::print("{:<14} {} listed\n", t.file, t.rows.size());
}

void print_sections(const ProcStats& s)
{
  fmt::print("counters\n");
  for (auto& sec : s.sections) {
    fmt::print("  {:<8}", sec.name);
    for (auto& [k, v] : sec.fields)
      fmt::print(" {}={}", k, v);
    fmt::print("\n");
  }
  if (!s.raw.empty())
    fmt::print("lines kept as they are\n");
  for (auto& r : s.raw)
    fmt::print("  {}:{}: {}\n", r.file, r.line, r.text);
}

// One block per later sample: the counters that moved, per second.
void print_rates(const ProcStats& before, const ProcStats& after,
                 std::size_t sample, double seconds)
{
  auto rate = [&](auto field) {
    auto r = figure_rate(before.figures.*field, after.figures.*field, seconds);
    return r ? fmt::format("{:.1f}/s", *r) : std::string("n/a");
  };
  fmt::print("sample {} after {:.2f} s: reads {} from the cache, {} from the "
             "server\n",
             sample, seconds, rate(&StatsFigures::cache_reads),
             rate(&StatsFigures::server_reads));
  std::string section;
  bool any = false;
  for (auto& r : stat_rates(before, after, seconds)) {
    if (r.per_second == 0)
      continue;
    if (r.section != section)
      fmt::print("{}  {:<8}", any ? "\n" : "", r.section);
    fmt::print(" {}={:.1f}/s", r.key, r.per_second);
    section = r.section;
    any = true;
  }
  fmt::print("{}", any ? "\n" : "  no counter moved\n");
}

void warn(const ProcStats& s, const StatsArgs& a)
{
  for (auto& w : s.warnings)
    log::warning("{}/{}:{}: {}", a.proc, w.file, w.line, w.message);
}

void first_records(JsonReport& out, const ProcStats& s, const StatsArgs& a)
{
  for (auto& sec : s.sections)
    for (auto& [k, v] : sec.fields)
      out.record("counter",
                 [&](JsonWriter& j) { counter_fields(j, sec.name, k, v); });
  for (auto& c : s.caches)
    out.record("cache", [&](JsonWriter& j) { cache_fields(j, c); });
  for (auto& r : s.raw)
    out.record("raw", [&](JsonWriter& j) { raw_fields(j, r); });
  std::vector<Problem> ps;
  for (auto& w : s.warnings)
    ps.push_back({"malformed-line", a.proc + "/" + w.file,
                  fmt::format("line {}: {}", w.line, w.message)});
  problem_records(out, ps);
}

void write_metrics(MetricsOut& mo, const ProcStats& s, int rc)
{
  Metrics m = begin_metrics(mo);
  stats_metrics(m, s);
  emit_metrics(mo, m, rc);
}

int run_stats(const StatsArgs& a, MetricsOut& mo, const Globals& g)
{
  if (mo.to_stdout() && a.interval > 0 && a.count != 1)
    throw UsageError("--format prometheus prints one sample: drop "
                     "--interval, or add --count 1");
  using clock = std::chrono::steady_clock;
  ProcStats prev = read_proc_fscache(a.proc);
  auto taken = clock::now();
  warn(prev, a);
  bool malformed = !prev.warnings.empty();
  JsonReport out = json_report(g, "stats");
  const bool text = !out.on() && !g.quiet && !mo.to_stdout();
  first_records(out, prev, a);
  if (text) {
    print_summary(prev, a);
    print_sections(prev);
  }
  std::size_t samples = 1;
  if (a.interval > 0)
    catch_stop_signals();
  while (a.interval > 0 && (a.count == 0 || samples < a.count)) {
    std::fflush(stdout);
    if (!mo.file.empty()) // a long run keeps the textfile fresh
      write_metrics(mo, prev, exit_code::ok);
    if (!sleep_for(a.interval))
      break;
    ProcStats now = read_proc_fscache(a.proc);
    const auto at = clock::now();
    const double dt = std::chrono::duration<double>(at - taken).count();
    warn(now, a);
    malformed = malformed || !now.warnings.empty();
    ++samples;
    for (auto& r : stat_rates(prev, now, dt))
      out.record("rate",
                 [&](JsonWriter& j) { rate_fields(j, samples, dt, r); });
    if (text)
      print_rates(prev, now, samples, dt);
    prev = std::move(now);
    taken = at;
  }
  out.summary([&](JsonWriter& j) { stats_summary_fields(j, prev, samples); });
  const int rc = malformed ? exit_code::problems : exit_code::ok;
  if (mo.on())
    write_metrics(mo, prev, rc);
  return rc;
}

} // namespace

Command add_stats(CLI::App& app, Globals& g)
{
  auto a = std::make_shared<StatsArgs>();
  auto* sub = app.add_subcommand(
      "stats", "The kernel's FS-Cache counters (/proc/fs/fscache), readable");
  sub->add_option("--proc", a->proc,
                  "Where the kernel's FS-Cache files are: a directory, or a "
                  "copy of them in one file")
      ->capture_default_str();
  auto* interval = sub->add_option(
      "--interval", a->interval,
      "Take a sample every SECS seconds and print rates per second");
  interval->check(CLI::PositiveNumber);
  sub->add_option("--count", a->count,
                  "Stop after N samples (with --interval; default: until "
                  "interrupted)")
      ->check(CLI::PositiveNumber)
      ->needs(interval);
  auto metrics = add_metrics_options(sub, "stats");
  return {sub, [a, metrics, &g] { return run_stats(*a, *metrics, g); },
          metrics};
}

} // namespace fsc::cmd
