// cull.cpp - `fsc cull`: remove least-recently-used objects from an offline
// cache, the way cachefilesd would (or by age, size, count); cron-friendly.
#include "command.hpp"

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/claim.hpp>
#include <fsc/cachefiles/cull.hpp>
#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/cachefiles/json.hpp>
#include <fsc/cachefiles/metrics.hpp>
#include <fsc/cachefiles/object.hpp>
#include <fsc/format.hpp>
#include <fsc/json.hpp>
#include <fsc/log.hpp>
#include <fsc/netfs/describe.hpp>
#include <fsc/netfs/json.hpp>
#include <fsc/units.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <sys/statvfs.h>
#include <unistd.h>

namespace fsc::cmd {
namespace {

using namespace fsc::cachefiles;

struct CullArgs {
  std::string cache;
  std::string config = k_default_daemon_config;
  std::string older_than;
  std::string max_size;
  bool apparent = false;
  std::string min_free;
  std::uint64_t max_objects = 0;
  std::string by = "atime";
  std::string brun, bcull, bstop, frun, fcull, fstop;
  bool include_primary = false;
  bool dry_run = false;
  bool force = false;
  std::string wait;
  std::string max_runtime;
  unsigned threads = 0;
};

volatile std::sig_atomic_t g_signalled = 0;

// CLI11 validators, so that bad values are usage errors (exit 64).
template <class F> CLI::Validator parses(F f, const char* what)
{
  return CLI::Validator(
      [f](std::string& s) -> std::string {
        try {
          f(s);
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      },
      what);
}

const CLI::Validator k_age =
    parses([](const std::string& s) { parse_age(s); }, "AGE");
const CLI::Validator k_size =
    parses([](const std::string& s) { parse_size(s); }, "SIZE");
const CLI::Validator k_pct = parses(
    [](const std::string& s) {
      if (parse_percent(s) >= 100)
        throw Error("must be below 100%");
    },
    "PCT");

extern "C" void on_signal(int) { g_signalled = 1; }

std::uint64_t option_count(CLI::App* sub, const char* name)
{
  return sub->get_option(name)->count();
}

// Limits: the config's, then each command-line option in place of the
// config value (checked as a whole: order does not matter here).
void apply_limit(PercentLimits& l, const std::string& run,
                 const std::string& cull, const std::string& stop,
                 const char* prefix)
{
  if (!run.empty())
    l.run = parse_percent(run);
  if (!cull.empty())
    l.cull = parse_percent(cull);
  if (!stop.empty())
    l.stop = parse_percent(stop);
  if (auto why = check_limits(l, prefix); !why.empty())
    throw Error("invalid limits: " + why +
                " (0 <= stop < cull < run < 100 must hold)");
}

DaemonConfig load_config(const CullArgs& a, bool named)
{
  DaemonConfig c = load_daemon_config(a.config, named);
  for (auto& e : c.errors)
    log::warning("{} (cachefilesd would refuse to start)", e.text());
  return c;
}

void check_atime_mount(const Cache& cache, CullClock by)
{
  if (by != CullClock::atime)
    return;
  struct statvfs sv;
  if (fstatvfs(cache.root_fd(), &sv) != 0)
    return;
  if (sv.f_flag & ST_NOATIME)
    log::warn_once("noatime",
                   fmt::format("'{}' is on a file system mounted noatime: "
                               "atimes never move, so the order is creation "
                               "order (consider --by mtime)",
                               cache.root()));
#ifdef ST_RELATIME
  else if (sv.f_flag & ST_RELATIME)
    log::info("'{}' is mounted relatime: an atime moves at most once a day "
              "unless older than mtime, so the order is exact only to a day",
              cache.root());
#endif
}

int run_cull(const CullArgs& a, CLI::App* sub, const Globals& g, MetricsOut& m)
{
  // Everything about the request is checked before the cache is touched.
  CullOptions co;
  const bool explicit_mode = !a.older_than.empty() || !a.max_size.empty() ||
                             !a.min_free.empty() ||
                             option_count(sub, "--max-objects") > 0;
  if (!a.older_than.empty())
    co.goal.older_than_s = parse_age(a.older_than).count();
  if (!a.max_size.empty())
    co.goal.max_size = parse_size(a.max_size);
  co.goal.apparent = a.apparent;
  if (!a.min_free.empty())
    co.goal.min_free_pct = parse_percent(a.min_free);
  if (option_count(sub, "--max-objects") > 0)
    co.goal.max_objects = a.max_objects;
  co.by = a.by == "mtime" ? CullClock::mtime : CullClock::atime;
  co.include_primary = a.include_primary;
  co.dry_run = a.dry_run;
  co.threads = a.threads;
  std::optional<std::chrono::seconds> wait;
  if (option_count(sub, "--wait") > 0)
    wait = a.wait.empty() ? std::chrono::seconds(0) : parse_age(a.wait);
  std::optional<std::chrono::seconds> max_runtime;
  if (!a.max_runtime.empty())
    max_runtime = parse_age(a.max_runtime);

  const DaemonConfig conf = load_config(a, option_count(sub, "--config") > 0);
  DaemonConfig limits = conf;
  try {
    apply_limit(limits.blocks, a.brun, a.bcull, a.bstop, "b");
    apply_limit(limits.files, a.frun, a.fcull, a.fstop, "f");
  } catch (const Error& e) {
    log::error("{}", e.what());
    return exit_code::usage;
  }
  co.goal.thresholds = !explicit_mode;
  co.goal.blocks = limits.blocks;
  co.goal.files = limits.files;
  // cachefilesd's table only bounds how many it culls between rescans; the
  // order is the same with a larger one. 32768 candidates (about 7 MB) make
  // "10k of 1M" one pass instead of three, and memory stays bounded.
  co.table_size = std::max<std::size_t>(limits.culltable_size(), 32768);
  if (conf.nocull && !explicit_mode)
    log::info("{}: nocull is set; culling anyway because fsc cull was run",
              conf.file);

  // The cache: positional, --dir, FSC_DIR, then the config's dir.
  const std::string root = choose_cache_dir(a.cache, g.dir, conf);
  m.cache = root;
  Cache cache = Cache::open(root);
  m.cache = cache.root();

  // A live cache belongs to the kernel and its daemon; one culler at a time
  // (busy is a normal outcome under cron).
  ClaimOptions claim_opt;
  claim_opt.what = "cull";
  claim_opt.force = a.force;
  claim_opt.dry_run = a.dry_run;
  claim_opt.wait = wait;
  claim_opt.config_dir = conf.dir;
  auto claim = claim_cache(cache.root(), claim_opt);
  if (!claim)
    raise(claim.error());
  warn_if_bound(claim->binding, cache.root(), "culling");
  check_atime_mount(cache, co.by);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const auto start = std::chrono::steady_clock::now();
  co.stop = [&]() -> const char* {
    if (g_signalled)
      return "signal";
    if (max_runtime && std::chrono::steady_clock::now() - start >= *max_runtime)
      return "max-runtime";
    return nullptr;
  };

  const bool tty = isatty(STDOUT_FILENO);
  const bool text = !g.quiet && g.json == JsonMode::off && !m.to_stdout();
  const bool lines = text && (a.dry_run || g.verbose > 0);
  JsonReport out = json_report(g, "cull");
  co.on_victim = [&](const CullVictim& v, CullAction act) {
    if (out.on()) {
      out.record("victim", [&](JsonWriter& j) {
        victim_fields(j, v, act);
        netfs::label_field(j, node_of_path(cache.format(), v.path).get());
      });
      return;
    }
    if (!lines || act == CullAction::failed)
      return; // failures are reported with the problems
    std::int64_t clock = co.by == CullClock::atime ? v.atime_ns : v.mtime_ns;
    auto node = node_of_path(cache.format(), v.path);
    fmt::print("{} {} ({}, {} {}){}\n", cull_action_name(act),
               printable_name(v.path), human_size(v.blocks * 512), a.by,
               iso_time_s(clock / 1000000000),
               node ? "  " + netfs::object_label(*node) : std::string());
  };

  CullReport r = cull(cache, co);

  for (auto& p : r.problems)
    log::warning("{}: {}", printable_name(p.path), p.message);
  if (r.leftovers.files + r.leftovers.dirs > 0)
    log::info("emptied graveyard/ left by an earlier run: {} files, {} "
              "dirs, {}",
              r.leftovers.files, r.leftovers.dirs,
              human_size(r.leftovers.bytes));
  if (!r.goal_met && r.stopped.empty())
    log::warning("'{}': every cullable object is gone but the goal is not "
                 "met (the rest of the space is not the cache's)",
                 cache.root());
  if (r.stopped == "signal")
    log::warning("interrupted after {} objects; the cache is consistent and "
                 "the next run continues",
                 r.removed);
  else if (r.stopped == "max-runtime")
    log::info("stopped after --max-runtime {} with {} objects culled",
              a.max_runtime, r.removed);

  if (out.on()) {
    problem_records(out, r.problems);
    out.summary(
        [&](JsonWriter& j) { cull_summary_fields(j, r, cache, limits, co); });
  } else if (text && (a.dry_run || g.verbose > 0 || tty)) {
    const double secs = double(r.elapsed_ns) / 1e9;
    std::string skipped = r.skipped_used + r.skipped_gone
                              ? fmt::format(", {} skipped (used or gone)",
                                            r.skipped_used + r.skipped_gone)
                              : "";
    fmt::print("{} {} objects, {} {}{} in {:.1f} s\n",
               a.dry_run ? "would cull" : "culled", r.removed,
               human_size(r.removed_allocated), a.dry_run ? "to free" : "freed",
               skipped, secs);
  }
  std::fflush(stdout);
  const bool trouble = !r.problems.empty() || r.failed > 0 ||
                       r.stopped == "signal" ||
                       (!r.goal_met && r.stopped.empty());
  const int rc = trouble ? exit_code::problems : exit_code::ok;
  if (m.on()) {
    Metrics mx = begin_metrics(m);
    cull_metrics(mx, r);
    emit_metrics(m, mx, rc);
  }
  return rc;
}

} // namespace

Command add_cull(CLI::App& app, Globals& g)
{
  auto a = std::make_shared<CullArgs>();
  auto* sub = app.add_subcommand(
      "cull", "Remove least-recently-used objects from an offline cache");
  sub->add_option("cache", a->cache,
                  "Cache directory (default: --dir, then "
                  "dir from the config)");
  sub->add_option("--config", a->config,
                  "cachefilesd.conf for limits, culltable and dir")
      ->capture_default_str();
  sub->add_option("--older-than", a->older_than,
                  "Remove every object older than AGE (s m h d w)")
      ->check(k_age);
  sub->add_option("--max-size", a->max_size,
                  "Remove the oldest until the cache's allocated size is at "
                  "most SIZE (K M G T, binary)")
      ->check(k_size);
  sub->add_flag("--apparent", a->apparent,
                "--max-size counts apparent sizes (st_size), not blocks")
      ->needs("--max-size");
  sub->add_option("--min-free", a->min_free,
                  "Remove the oldest until PCT% of the file system is free")
      ->check(k_pct);
  sub->add_option("--max-objects", a->max_objects,
                  "Remove the oldest until at most N data objects remain");
  sub->add_option("--by", a->by, "Order by atime (like cachefilesd) or mtime")
      ->check(CLI::IsMember({"atime", "mtime"}))
      ->capture_default_str();
  for (auto [name, field] : {std::pair{"--brun", &a->brun},
                             {"--bcull", &a->bcull},
                             {"--bstop", &a->bstop},
                             {"--frun", &a->frun},
                             {"--fcull", &a->fcull},
                             {"--fstop", &a->fstop}})
    sub->add_option(name, *field,
                    fmt::format("Override the config's {} (percent)", name + 2))
        ->check(k_pct);
  sub->add_flag("--include-primary", a->include_primary,
                "Also remove netfs primary indices / volumes left empty");
  sub->add_flag("-n,--dry-run", a->dry_run,
                "Print what would be removed; change nothing");
  sub->add_flag("--force", a->force,
                "Cull even when a cache daemon has the cache bound (unsafe)");
  sub->add_option("--wait", a->wait,
                  "Wait for the lock (for SECS, or forever) instead of "
                  "exiting 75")
      ->expected(0, 1)
      ->default_str("")
      ->check(k_age | CLI::IsMember({""}));
  sub->add_option("--max-runtime", a->max_runtime,
                  "Stop after this long (s m h d w), after the current "
                  "object")
      ->check(k_age);
  sub->add_option("--threads", a->threads,
                  "Scan threads (default: one per CPU, at most 8)");
  auto metrics = add_metrics_options(sub, "cull");
  return {sub, [a, sub, metrics, &g] { return run_cull(*a, sub, g, *metrics); },
          metrics};
}

} // namespace fsc::cmd
