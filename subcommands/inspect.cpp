// inspect.cpp - `fsc inspect`: what is in a cache, decoded; read-only.
#include "command.hpp"

#include <fsc/cachefiles/bound.hpp>
#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/object.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/summary.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/format.hpp>
#include <fsc/json.hpp>
#include <fsc/log.hpp>
#include <fsc/netfs/describe.hpp>
#include <fsc/netfs/inventory.hpp>
#include <fsc/netfs/metrics.hpp>
#include <fsc/netfs/json.hpp>
#include <fsc/report.hpp>

#include <fmt/format.h>

#include <chrono>
#include <mutex>
#include <sys/stat.h>

namespace fsc::cmd {
namespace {

using namespace fsc::cachefiles;

struct InspectOptions {
  std::string cache;
  bool tree = false;
  std::string filter;
  int depth = -1;
  std::string object;
  bool check = false;
  std::size_t top = 5;
  unsigned threads = 0;
  std::string config = k_default_daemon_config;
  bool config_named = false;       ///< --config given
  std::size_t max_problems = 1000; ///< listed by --check; 0: all
  DaemonConfig conf;               ///< read from config before the run
};

using netfs::Decoded;
using netfs::describe;
using netfs::Inventory;

void print_problem(const Problem& p)
{
  fmt::print("{:<18} {}: {}\n", p.kind, printable_name(p.path), p.message);
}

// ---- summary
// ----------------------------------------------------------------------

std::string bind_text(const BindState& b)
{
  if (b.bound)
    return "bound (live): " + b.evidence.front();
  return b.daemon_running ? "offline (a cache daemon runs for another cache)"
                          : "offline (no process holds /dev/cachefiles)";
}

std::string pct(std::uint64_t part, std::uint64_t whole)
{
  return whole ? fmt::format("{:.1f}%", 100.0 * double(part) / double(whole))
               : "n/a";
}

void print_counts(const Summary& s)
{
  fmt::print("objects    {} ({} index, {} volume, {} data)\n", s.objects,
             s.indices, s.volumes, s.data);
  for (auto& [name, c] : s.netfs)
    fmt::print("  {:<8} {} index, {} volume, {} data, {} apparent, {} "
               "allocated\n",
               name.empty() ? "?" : name, c.indices, c.volumes, c.data,
               human_size(c.bytes), human_size(c.allocated));
  for (auto& [path, g] : s.groups)
    fmt::print("    {} {}: {} data, {} allocated\n", describe(*g.node).role,
               describe(*g.node).label, g.count.data,
               human_size(g.count.allocated));
  fmt::print("data       {} apparent, {} allocated\n", human_size(s.bytes),
             human_size(s.allocated));
}

void print_limits(const Inventory& r)
{
  fmt::print("free       blocks {} of {}, files {} of {}{}\n",
             pct(r.space.bavail, r.space.blocks),
             human_size(r.space.blocks * r.space.bsize),
             pct(r.space.ffree, r.space.files), r.space.files,
             r.space.noatime ? " (mounted noatime: atimes never move)" : "");
  const PercentLimits& b = r.conf.blocks;
  const PercentLimits& f = r.conf.files;
  fmt::print("limits     brun {}% bcull {}% bstop {}%, frun {}% fcull {}% "
             "fstop {}% ({}): culling would be {}\n",
             b.run, b.cull, b.stop, f.run, f.cull, f.stop,
             r.conf.file.empty() ? "defaults" : r.conf.file,
             cull_state_name(r.decision.state));
}

// A top list: allocated (what culling frees), apparent, atime, the decoded
// label, then the path.
void print_briefs(const char* title, const std::vector<ObjectBrief>& v)
{
  if (v.empty())
    return;
  fmt::print("{} {} (allocated, apparent, atime):\n", title, v.size());
  for (auto& o : v) {
    fmt::print("  {:>10} {:>10}  {}  {}\n", human_size(o.allocated),
               human_size(o.size), iso_time_s(o.atime_ns / 1000000000),
               o.node ? netfs::object_label(*o.node) : std::string("?"));
    fmt::print("  {:>10} {:>10}  {}\n", "", "", printable_name(o.path));
  }
}

void print_summary_text(const Cache& cache, const Inventory& r)
{
  const Summary& s = r.sum;
  fmt::print("cache      {}\n", cache.root());
  fmt::print("format     {}{}\n", format_name(cache.format()),
             cache.format() == Format::v1   ? " (kernels before 5.17)"
             : cache.format() == Format::v2 ? " (kernels 5.17 and later)"
                                            : "");
  fmt::print("state      {}\n", bind_text(r.bind));
  print_counts(s);
  print_limits(r);
  fmt::print("atime age ");
  for (std::size_t i = 0; i < s.ages.size(); ++i)
    if (s.ages[i])
      fmt::print(" {}: {}", k_age_buckets[i], s.ages[i]);
  fmt::print("\n");
  print_briefs("largest", s.largest);
  print_briefs("oldest", s.oldest);
  if (r.grave.top_entries)
    fmt::print("graveyard  {} entries ({} files, {} dirs, {})\n",
               r.grave.top_entries, r.grave.files, r.grave.dirs,
               human_size(r.grave.bytes));
  else
    fmt::print("graveyard  empty\n");
  fmt::print("problems   {}{}\n", r.problem_count,
             r.problem_count ? " (fsc inspect --check lists them)" : "");
  if (r.vanished_live)
    fmt::print("vanished   {} entries during the scan (the cache is live: "
               "not problems)\n",
               r.vanished_live);
}

// The limits of cachefilesd.conf when it exists; defaults otherwise. A
// broken file is reported, and its refused lines keep their defaults.
DaemonConfig load_config(const InspectOptions& opt)
{
  DaemonConfig c = load_daemon_config(opt.config, opt.config_named);
  for (auto& e : c.errors)
    log::warning("{}", e.text());
  return c;
}

// Scans once; with --json=lines every entry is a record, written by the
// scan workers in batches.
Inventory inventory(const Cache& cache, const InspectOptions& opt,
                    JsonReport& out, JsonMode mode)
{
  netfs::InventoryOptions io;
  io.threads = opt.threads;
  io.top = opt.top;
  io.max_problems = opt.max_problems;
  io.conf = opt.conf;
  ScanOptions so;
  so.threads = opt.threads;
  std::vector<std::string> bufs(scan_workers(so));
  std::mutex mu;
  if (out.lines())
    io.on_entry = [&](const ScanEntry& e, unsigned w) {
      std::string& b = bufs.at(w);
      JsonReport::render(b, mode, "entry",
                         [&](JsonWriter& j) { netfs::entry_fields(j, e); });
      if (b.size() >= 1 << 16) {
        std::lock_guard lock(mu);
        out.write_rendered(b);
        b.clear();
      }
    };
  Inventory inv = netfs::take_inventory(cache, io);
  for (auto& b : bufs)
    out.write_rendered(b);
  return inv;
}

int exit_for(std::uint64_t problems)
{
  return problems ? exit_code::problems : exit_code::ok;
}

// --prometheus / --format prometheus: the inventory as metrics. True when
// they replace the text on stdout.
bool write_metrics(MetricsOut& m, const Cache& cache, const Inventory& r)
{
  if (!m.on())
    return false;
  Metrics mx = begin_metrics(m);
  netfs::inventory_metrics(mx, cache, r);
  emit_metrics(m, mx, exit_for(r.problem_count));
  return m.to_stdout();
}

int run_summary(const Cache& cache, const InspectOptions& opt, const Globals& g,
                MetricsOut& m)
{
  JsonReport out = json_report(g, "inspect");
  Inventory r = inventory(cache, opt, out, g.json);
  if (write_metrics(m, cache, r))
    return exit_for(r.problem_count);
  if (!out.on()) {
    print_summary_text(cache, r);
    return exit_for(r.problem_count);
  }
  problem_records(out, r.problems);
  out.summary([&](JsonWriter& j) {
    j.field("mode", "summary");
    netfs::inventory_fields(j, cache, r);
  });
  return exit_for(r.problem_count);
}

int run_check(const Cache& cache, const InspectOptions& opt, const Globals& g,
              MetricsOut& m)
{
  JsonReport out = json_report(g, "inspect");
  Inventory r = inventory(cache, opt, out, g.json);
  if (write_metrics(m, cache, r))
    return exit_for(r.problem_count);
  if (out.on()) {
    problem_records(out, r.problems);
    out.summary([&](JsonWriter& j) {
      j.field("mode", "check");
      netfs::inventory_fields(j, cache, r);
    });
    return exit_for(r.problem_count);
  }
  for (auto& p : r.problems)
    print_problem(p);
  if (r.problem_count > r.problems.size())
    fmt::print("... and {} more (--max-problems 0 lists all)\n",
               r.problem_count - r.problems.size());
  if (!g.quiet)
    fmt::print("{}: {} objects checked, {} problem{}\n", cache.root(),
               r.sum.objects, r.problem_count, r.problem_count == 1 ? "" : "s");
  return exit_for(r.problem_count);
}

// ---- tree
// ----------------------------------------------------------------------------

void print_tree_line(const ScanEntry& e)
{
  const Node& n = *e.node;
  Decoded d = describe(n);
  std::string indent(std::size_t(2 * n.level), ' ');
  std::string details;
  if (e.kind == EntryKind::data)
    details = fmt::format("  {} ({} allocated), atime {}",
                          human_size(e.st.size), human_size(e.st.blocks * 512),
                          iso_time_s(e.st.atime_ns / 1000000000));
  fmt::print("{}{} {}{}\n", indent, d.role, d.label, details);
  for (auto& f : d.key)
    if (f.name != "hex" || d.key.size() == 1)
      fmt::print("{}    key {} = {}\n", indent, f.name, f.text);
  for (auto& f : d.aux)
    fmt::print("{}    aux {} = {}\n", indent, f.name, f.text);
  for (auto& p : e.problems)
    fmt::print("{}    ! {}: {}\n", indent, p.kind, p.message);
}

int run_tree(const Cache& cache, const InspectOptions& opt, const Globals& g)
{
  const netfs::TreeFilter want(opt.filter);
  std::uint64_t shown = 0;
  std::vector<ScanEntry> pending;
  ScanOptions so;
  so.ordered = true;
  std::uint64_t problems = cache.top_problems().size();
  const BindState bind =
      detect_binding(cache.root(), proc_root(), opt.conf.dir);
  JsonReport out = json_report(g, "inspect");
  if (!out.on())
    fmt::print("{} ({})\n", cache.root(), format_name(cache.format()));
  auto show = [&](const ScanEntry& e) {
    if (!out.on())
      return print_tree_line(e);
    out.record("entry", [&](JsonWriter& j) { netfs::entry_fields(j, e); });
  };
  scan(cache, so, netfs::with_aux_checks([&](const ScanEntry& e, unsigned) {
         for (auto& p : e.problems)
           problems += !live_churn(p, bind);
         if (!e.node) {
           for (auto& p : e.problems)
             if (!out.on())
               print_problem(p);
           problem_records(out, e.problems);
           return;
         }
         if (opt.depth >= 0 && e.node->level > opt.depth)
           return;
         // Ancestors of the filter's path wait until something below it shows.
         const auto where = want.empty() ? netfs::TreeFilter::Match::below
                                         : want.match(*e.node);
         if (where != netfs::TreeFilter::Match::below) {
           if (where == netfs::TreeFilter::Match::above) {
             pending.resize(
                 std::min(pending.size(), std::size_t(e.node->level)));
             pending.push_back(e);
           }
           return;
         }
         ++shown;
         for (auto& p : pending)
           show(p);
         pending.clear();
         show(e);
       }));
  problem_records(out, cache.top_problems());
  out.summary([&](JsonWriter& j) {
    j.field("mode", "tree");
    j.field("cache", cache.root());
    j.field("format", format_name(cache.format()));
    j.field("shown", shown);
    j.field("problem_count", problems);
  });
  if (!want.empty() && shown == 0) {
    log::error("no object of '{}' matches '{}' (labels: fsc inspect --tree)",
               cache.root(), opt.filter);
    return exit_code::problems;
  }
  return exit_for(problems);
}

// ---- one object
// ------------------------------------------------------------------------

void steps_field(JsonWriter& j, const ObjectInfo& info)
{
  j.key("steps");
  j.begin_array();
  for (auto& s : info.steps) {
    j.begin_object();
    j.name_field("name", s.name);
    j.field("kind", entry_kind_name(s.kind));
    j.field("explanation", s.explanation);
    j.end_object();
  }
  j.end_array();
}

void extents_field(JsonWriter& j, const ObjectInfo& info)
{
  j.key("extents");
  j.begin_array();
  for (auto& x : info.extents) {
    j.begin_object();
    j.field("start", x.start);
    j.field("end", x.end);
    j.end_object();
  }
  j.end_array();
}

int run_object(const Cache& cache, const InspectOptions& opt, const Globals& g)
{
  ObjectInfo info = describe_path(cache, opt.object);
  netfs::add_aux_problem(info.entry);
  const ScanEntry& e = info.entry;
  JsonReport out = json_report(g, "inspect");
  if (out.on()) {
    out.record("entry", [&](JsonWriter& j) {
      netfs::entry_fields(j, e);
      steps_field(j, info);
      extents_field(j, info);
    });
    out.summary([&](JsonWriter& j) {
      j.field("mode", "object");
      j.field("cache", cache.root());
      j.field("format", format_name(cache.format()));
      j.field("problem_count", std::uint64_t(e.problems.size()));
    });
    return exit_for(e.problems.size());
  }
  fmt::print("path       {}\n", printable_name(info.path));
  for (auto& s : info.steps)
    fmt::print("  {:<10} {}\n      {}\n", entry_kind_name(s.kind),
               printable_name(s.name), s.explanation);
  if (e.node) {
    Decoded d = describe(*e.node);
    fmt::print("object     {} {}\n", d.role, d.label);
    fmt::print("key        {} bytes: {}\n", e.node->key.size(),
               spaced_hex(e.node->key));
    for (auto& f : d.key)
      fmt::print("  key {:<14} {}\n", f.name, f.text);
    if (e.node->has_xattr)
      fmt::print("xattr      {} bytes: {}\n", e.node->xattr.size(),
                 spaced_hex(e.node->xattr));
    else
      fmt::print("xattr      none ({})\n", errno_text(e.xattr_errno));
    for (auto& f : d.aux)
      fmt::print("  aux {:<14} {}\n", f.name, f.text);
  }
  fmt::print("stat       mode {:o}, uid {}, size {}, {} allocated, {} links\n",
             e.st.mode, e.st.uid, e.st.size, human_size(e.st.blocks * 512),
             e.st.nlink);
  fmt::print("times      atime {}, mtime {}, ctime {}\n",
             iso_time(e.st.atime_ns), iso_time(e.st.mtime_ns),
             iso_time(e.st.ctime_ns));
  if (info.extents_known) {
    fmt::print("extents    {}\n",
               info.extents.empty() ? "none (all hole)" : "");
    for (auto& x : info.extents)
      fmt::print("  [{}, {})  {}\n", x.start, x.end,
                 human_size(x.end - x.start));
  }
  for (auto& p : e.problems)
    print_problem(p);
  return exit_for(e.problems.size());
}

int run_inspect(InspectOptions opt, const Globals& g, MetricsOut& m)
{
  // `fsc inspect --tree CACHE`: a --tree value that is a cache is the cache.
  struct stat st;
  if (opt.cache.empty() && !opt.filter.empty() &&
      stat((opt.filter + "/cache").c_str(), &st) == 0) {
    opt.cache = opt.filter;
    opt.filter.clear();
  }
  opt.conf = load_config(opt);
  if (m.on() && (opt.tree || !opt.object.empty()))
    throw UsageError("--prometheus and --format prometheus measure the whole "
                     "cache: not with --tree or --object");
  m.cache = choose_cache_dir(opt.cache, g.dir, opt.conf);
  Cache cache = Cache::open(m.cache);
  m.cache = cache.root();
  // A mixture cannot be decoded as one layout: only --check, which lists the
  // mixture as a problem, goes on.
  if (cache.format() == Format::mixed && !opt.check)
    throw Error("'" + cache.root() +
                "' holds both v1 fan-outs (@xx) and v2 "
                "volumes (I...) under cache/: a mixed cache cannot be decoded "
                "as one format (fsc inspect --check lists what is there)");
  if (!opt.object.empty())
    return run_object(cache, opt, g);
  if (opt.tree)
    return run_tree(cache, opt, g);
  if (opt.check)
    return run_check(cache, opt, g, m);
  return run_summary(cache, opt, g, m);
}

} // namespace

Command add_inspect(CLI::App& app, Globals& g)
{
  auto opt = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand(
      "inspect", "Show what is in a cache directory, decoded (read-only)");
  sub->add_option("cache", opt->cache, "Cache directory (default: --dir)");
  sub->add_option("--tree", opt->filter,
                  "Show the object tree, optionally only below a label path "
                  "such as nfs/127.0.0.1")
      ->expected(0, 1)
      ->default_str("");
  sub->add_option("--depth", opt->depth, "With --tree: levels to show");
  sub->add_option("--object", opt->object,
                  "Everything about one object (path below the cache root)");
  sub->add_flag("--check", opt->check, "Check the layout (fsck, read-only)");
  auto top = std::make_shared<long long>(5);
  sub->add_option("--top", *top,
                  "How many largest/oldest objects to list (-1: all)")
      ->check(CLI::Range(-1LL, 1LL << 40))
      ->capture_default_str();
  sub->add_option("--max-problems", opt->max_problems,
                  "How many problems --check and the summary list (0: all)")
      ->capture_default_str();
  sub->add_option("--threads", opt->threads,
                  "Scan threads (default: one per CPU, at most 8)");
  sub->add_option("--config", opt->config,
                  "cachefilesd.conf whose limits the summary compares with")
      ->capture_default_str();
  auto metrics = add_metrics_options(sub, "inspect");
  auto* tree = sub->get_option("--tree");
  auto* config = sub->get_option("--config");
  return {sub,
          [opt, tree, config, top, metrics, &g] {
            opt->tree = tree->count() > 0;
            opt->top = *top < 0 ? SIZE_MAX : std::size_t(*top);
            opt->config_named = config->count() > 0;
            return run_inspect(*opt, g, *metrics);
          },
          metrics};
}

} // namespace fsc::cmd
