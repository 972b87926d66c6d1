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
  bool config_named = false; ///< --config given
  std::size_t max_problems = 1000; ///< listed by --check; 0: all
  DaemonConfig conf; ///< read from config before the run
};

std::int64_t now_ns()
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using netfs::Decoded;
using netfs::describe;

// ---- JSON of one entry --------------------------------------------------------

void json_problems(JsonWriter& j, const std::vector<Problem>& ps)
{
  j.key("problems");
  j.begin_array();
  for (auto& p : ps) {
    j.begin_object();
    j.field("kind", p.kind);
    j.name_field("path", p.path);
    j.field("message", p.message);
    j.end_object();
  }
  j.end_array();
}

void json_time(JsonWriter& j, const char* key, std::int64_t ns)
{
  j.field(key, iso_time(ns));
  j.field(std::string(key) + "_ns", ns);
}

void json_entry(JsonWriter& j, const ScanEntry& e)
{
  j.begin_object();
  j.field("record", "entry");
  j.name_field("path", e.path);
  j.field("kind", entry_kind_name(e.kind));
  if (e.node) {
    Decoded d = describe(*e.node);
    j.field("level", e.node->level);
    j.field("netfs", netfs_of(*e.node));
    j.field("label", d.label);
    j.field("key_hex", to_hex(e.node->key));
    if (e.node->has_xattr)
      j.field("xattr_hex", to_hex(e.node->xattr));
    for (auto* group : {&d.key, &d.aux}) {
      j.key(group == &d.key ? "key" : "aux");
      j.begin_object();
      for (auto& f : *group)
        j.field(f.name, f.text);
      j.end_object();
    }
  }
  j.field("mode", fmt::format("{:o}", e.st.mode));
  j.field("uid", e.st.uid);
  j.field("size", e.st.size);
  j.field("allocated", e.st.blocks * 512);
  json_time(j, "atime", e.st.atime_ns);
  json_time(j, "mtime", e.st.mtime_ns);
  json_problems(j, e.problems);
  j.end_object();
}

// ---- text of problems ------------------------------------------------------------

void print_problem(const Problem& p)
{
  fmt::print("{:<18} {}: {}\n", p.kind, printable_name(p.path), p.message);
}

// ---- summary ----------------------------------------------------------------------

struct Report {
  const Cache& cache;
  BindState bind;
  Summary sum;
  GraveyardUsage grave;
  FsSpace space;
  DaemonConfig conf;          ///< limits from cachefilesd.conf (or defaults)
  Thresholds limits;
  CullDecision decision;
  std::vector<Problem> problems; ///< top-level + entries (capped)
  std::uint64_t problem_count = 0;
};

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

void print_summary_text(const Report& r, std::size_t top)
{
  const Summary& s = r.sum;
  fmt::print("cache      {}\n", r.cache.root());
  fmt::print("format     {}{}\n", format_name(r.cache.format()),
             r.cache.format() == Format::v1   ? " (kernels before 5.17)"
             : r.cache.format() == Format::v2 ? " (kernels 5.17 and later)"
                                              : "");
  fmt::print("state      {}\n", bind_text(r.bind));
  fmt::print("objects    {} ({} index, {} volume, {} data)\n", s.objects,
             s.indices, s.volumes, s.data);
  for (auto& [name, c] : s.netfs)
    fmt::print("  {:<8} {} index, {} volume, {} data, {} apparent, {} "
               "allocated\n",
               name.empty() ? "?" : name, c.indices, c.volumes, c.data,
               human_size(c.bytes), human_size(c.allocated));
  fmt::print("data       {} apparent, {} allocated\n", human_size(s.bytes),
             human_size(s.allocated));
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
  fmt::print("atime age ");
  for (std::size_t i = 0; i < s.ages.size(); ++i)
    if (s.ages[i])
      fmt::print(" {}: {}", k_age_buckets[i], s.ages[i]);
  fmt::print("\n");
  auto list = [&](const char* title, const std::vector<ObjectBrief>& v) {
    if (v.empty())
      return;
    fmt::print("{} {}:\n", title, std::min(top, v.size()));
    for (auto& o : v)
      fmt::print("  {:>10}  {}  {}\n", human_size(o.size),
                 iso_time_s(o.atime_ns / 1000000000), printable_name(o.path));
  };
  list("largest", s.largest);
  list("oldest", s.oldest);
  if (r.grave.top_entries)
    fmt::print("graveyard  {} entries ({} files, {} dirs, {})\n",
               r.grave.top_entries, r.grave.files, r.grave.dirs,
               human_size(r.grave.bytes));
  else
    fmt::print("graveyard  empty\n");
  fmt::print("problems   {}{}\n", r.problem_count,
             r.problem_count ? " (fsc inspect --check lists them)" : "");
}

void json_briefs(JsonWriter& j, const char* key,
                 const std::vector<ObjectBrief>& v)
{
  j.key(key);
  j.begin_array();
  for (auto& b : v) {
    j.begin_object();
    j.name_field("path", b.path);
    j.field("size", b.size);
    j.field("allocated", b.allocated);
    json_time(j, "atime", b.atime_ns);
    j.end_object();
  }
  j.end_array();
}

void json_summary(JsonWriter& j, const Report& r)
{
  const Summary& s = r.sum;
  j.field("cache", r.cache.root());
  j.field("format", format_name(r.cache.format()));
  j.key("bound");
  j.begin_object();
  j.field("bound", r.bind.bound);
  j.field("daemon_running", r.bind.daemon_running);
  j.key("evidence");
  j.begin_array();
  for (auto& e : r.bind.evidence)
    j.value(e);
  j.end_array();
  j.end_object();
  j.field("objects", s.objects);
  j.field("index_objects", s.indices);
  j.field("volumes", s.volumes);
  j.field("data_objects", s.data);
  j.field("bytes", s.bytes);
  j.field("allocated", s.allocated);
  j.key("netfs");
  j.begin_object();
  for (auto& [name, c] : s.netfs) {
    j.key(name);
    j.begin_object();
    j.field("index_objects", c.indices);
    j.field("volumes", c.volumes);
    j.field("data_objects", c.data);
    j.field("bytes", c.bytes);
    j.field("allocated", c.allocated);
    j.end_object();
  }
  j.end_object();
  j.key("space");
  j.begin_object();
  j.field("block_size", r.space.bsize);
  j.field("blocks", r.space.blocks);
  j.field("blocks_available", r.space.bavail);
  j.field("files", r.space.files);
  j.field("files_free", r.space.ffree);
  j.field("noatime", r.space.noatime);
  j.field("relatime", r.space.relatime);
  j.end_object();
  j.key("limits");
  j.begin_object();
  j.field("config", r.conf.file);
  j.field("unit", r.limits.unit);
  for (auto [k, v] : {std::pair{"brun", r.limits.brun},
                      {"bcull", r.limits.bcull}, {"bstop", r.limits.bstop},
                      {"frun", r.limits.frun}, {"fcull", r.limits.fcull},
                      {"fstop", r.limits.fstop}, {"bavail", r.limits.bavail},
                      {"ffree", r.limits.ffree}})
    j.field(k, v);
  j.field("culling", cull_state_name(r.decision.state));
  j.end_object();
  j.key("atime_ages");
  j.begin_object();
  for (std::size_t i = 0; i < s.ages.size(); ++i)
    j.field(k_age_buckets[i], s.ages[i]);
  j.end_object();
  json_briefs(j, "largest", s.largest);
  json_briefs(j, "oldest", s.oldest);
  j.key("graveyard");
  j.begin_object();
  j.field("entries", r.grave.top_entries);
  j.field("files", r.grave.files);
  j.field("dirs", r.grave.dirs);
  j.field("allocated", r.grave.bytes);
  j.end_object();
  j.field("problem_count", r.problem_count);
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

// Scans once for the summary (and streams entries for --json=lines).
Report build_report(const Cache& cache, const InspectOptions& opt,
                    const Globals& g, bool read_xattrs)
{
  Report r{cache,
           detect_binding(cache.root(), proc_root(), opt.conf.dir),
           Summary(now_ns(), opt.top),
           graveyard_usage(cache.root_fd()),
           fs_space(cache.root_fd()),
           opt.conf,
           {},
           {},
           {},
           0};
  FsStats fs;
  if (fs_stats(cache.root_fd(), fs) == 0) {
    r.limits = compute_thresholds(r.conf.blocks, r.conf.files, fs,
                                  cache.format() == Format::v2 ? KernelGen::v2
                                                               : KernelGen::v1);
    r.decision = evaluate(r.limits);
  }
  for (auto& p : cache.top_problems())
    r.problems.push_back(p);
  if (r.grave.top_entries)
    r.problems.push_back({"graveyard-not-empty", "graveyard",
                          fmt::format("{} entries wait to be reaped ({})",
                                      r.grave.top_entries,
                                      human_size(r.grave.bytes))});
  ScanOptions so;
  so.read_xattrs = read_xattrs;
  so.threads = opt.threads;
  std::vector<Summary> per(scan_workers(so), Summary(now_ns(), opt.top));
  std::vector<std::string> bufs(per.size());
  std::mutex mu;
  const bool lines = g.json == JsonMode::lines;
  scan(cache, so, netfs::with_aux_checks([&](const ScanEntry& e, unsigned w) {
    per[w].add(e);
    if (!e.problems.empty()) {
      std::lock_guard lock(mu);
      for (auto& p : e.problems)
        if (opt.max_problems == 0 || r.problems.size() < opt.max_problems)
          r.problems.push_back(p);
    }
    if (lines && e.kind != EntryKind::fanout) {
      JsonWriter j(nullptr);
      json_entry(j, e);
      bufs[w] += j.text();
      bufs[w] += '\n';
      if (bufs[w].size() >= 1 << 16) {
        std::lock_guard lock(mu);
        std::fwrite(bufs[w].data(), 1, bufs[w].size(), stdout);
        bufs[w].clear();
      }
    }
  }));
  for (auto& b : bufs)
    std::fwrite(b.data(), 1, b.size(), stdout);
  for (auto& s : per)
    r.sum.merge(s);
  r.sum.finish();
  r.problem_count = r.sum.problems + cache.top_problems().size() +
                    (r.grave.top_entries ? 1 : 0);
  return r;
}

// Says when the problems array holds fewer than problem_count, and why.
void json_cap(JsonWriter& j, const Report& r)
{
  j.field("problems_listed", std::uint64_t(r.problems.size()));
  if (r.problem_count > r.problems.size())
    j.field("problems_capped_by", "--max-problems");
}

int exit_for(std::uint64_t problems)
{
  return problems ? exit_code::problems : exit_code::ok;
}

int run_summary(const Cache& cache, const InspectOptions& opt, const Globals& g)
{
  Report r = build_report(cache, opt, g, true);
  if (g.json == JsonMode::off) {
    print_summary_text(r, opt.top);
  } else {
    JsonWriter j(stdout);
    j.begin_object();
    j.field("schema", 1);
    if (g.json == JsonMode::lines)
      j.field("record", "summary");
    json_summary(j, r);
    json_problems(j, r.problems);
    json_cap(j, r);
    j.end_object();
    j.end_line();
  }
  return exit_for(r.problem_count);
}

int run_check(const Cache& cache, const InspectOptions& opt, const Globals& g)
{
  Report r = build_report(cache, opt, g, true);
  if (g.json == JsonMode::off) {
    for (auto& p : r.problems)
      print_problem(p);
    if (r.problem_count > r.problems.size())
      fmt::print("... and {} more (--max-problems 0 lists all)\n",
                 r.problem_count - r.problems.size());
    if (!g.quiet)
      fmt::print("{}: {} objects checked, {} problem{}\n", cache.root(),
                 r.sum.objects, r.problem_count,
                 r.problem_count == 1 ? "" : "s");
  } else {
    JsonWriter j(stdout);
    j.begin_object();
    j.field("schema", 1);
    j.field("record", "check");
    j.field("cache", cache.root());
    j.field("format", format_name(cache.format()));
    j.field("objects", r.sum.objects);
    j.field("problem_count", r.problem_count);
    json_problems(j, r.problems);
    json_cap(j, r);
    j.end_object();
    j.end_line();
  }
  return exit_for(r.problem_count);
}

// ---- tree ----------------------------------------------------------------------------

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
  JsonWriter j(stdout);
  if (g.json == JsonMode::document) {
    j.begin_object();
    j.field("schema", 1);
    j.field("cache", cache.root());
    j.field("format", format_name(cache.format()));
    j.key("entries");
    j.begin_array();
  } else if (g.json == JsonMode::off) {
    fmt::print("{} ({})\n", cache.root(), format_name(cache.format()));
  }
  auto show = [&](const ScanEntry& e) {
    if (g.json == JsonMode::off)
      return print_tree_line(e);
    json_entry(j, e);
    if (g.json == JsonMode::lines)
      j.end_line();
  };
  scan(cache, so, netfs::with_aux_checks([&](const ScanEntry& e, unsigned) {
    problems += e.problems.size();
    if (!e.node) {
      for (auto& p : e.problems)
        if (g.json == JsonMode::off)
          print_problem(p);
      return;
    }
    if (opt.depth >= 0 && e.node->level > opt.depth)
      return;
    // Ancestors of the filter's path wait until something below it shows.
    const auto where = want.empty() ? netfs::TreeFilter::Match::below
                                    : want.match(*e.node);
    if (where != netfs::TreeFilter::Match::below) {
      if (where == netfs::TreeFilter::Match::above) {
        pending.resize(std::min(pending.size(), std::size_t(e.node->level)));
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
  if (g.json == JsonMode::document) {
    j.end_array();
    j.end_object();
    j.end_line();
  }
  if (!want.empty() && shown == 0) {
    log::error("no object of '{}' matches '{}' (labels: fsc inspect --tree)",
               cache.root(), opt.filter);
    return exit_code::problems;
  }
  return exit_for(problems);
}

// ---- one object ------------------------------------------------------------------------

int run_object(const Cache& cache, const InspectOptions& opt, const Globals& g)
{
  ObjectInfo info = describe_path(cache, opt.object);
  netfs::add_aux_problem(info.entry);
  const ScanEntry& e = info.entry;
  if (g.json != JsonMode::off) {
    JsonWriter j(stdout);
    j.begin_object();
    j.field("schema", 1);
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
    j.key("entry");
    json_entry(j, e);
    j.key("extents");
    j.begin_array();
    for (auto& x : info.extents) {
      j.begin_object();
      j.field("start", x.start);
      j.field("end", x.end);
      j.end_object();
    }
    j.end_array();
    j.end_object();
    j.end_line();
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
  fmt::print("times      atime {}, mtime {}, ctime {}\n", iso_time(e.st.atime_ns),
             iso_time(e.st.mtime_ns), iso_time(e.st.ctime_ns));
  if (info.extents_known) {
    fmt::print("extents    {}\n", info.extents.empty() ? "none (all hole)" : "");
    for (auto& x : info.extents)
      fmt::print("  [{}, {})  {}\n", x.start, x.end, human_size(x.end - x.start));
  }
  for (auto& p : e.problems)
    print_problem(p);
  return exit_for(e.problems.size());
}

int run_inspect(InspectOptions opt, const Globals& g)
{
  // `fsc inspect --tree CACHE`: a --tree value that is a cache is the cache.
  struct stat st;
  if (opt.cache.empty() && !opt.filter.empty() &&
      stat((opt.filter + "/cache").c_str(), &st) == 0) {
    opt.cache = opt.filter;
    opt.filter.clear();
  }
  opt.conf = load_config(opt);
  Cache cache = Cache::open(choose_cache_dir(opt.cache, g.dir, opt.conf));
  // A mixture cannot be decoded as one layout: only --check, which lists the
  // mixture as a problem, goes on.
  if (cache.format() == Format::mixed && !opt.check)
    throw Error("'" + cache.root() + "' holds both v1 fan-outs (@xx) and v2 "
                "volumes (I...) under cache/: a mixed cache cannot be decoded "
                "as one format (fsc inspect --check lists what is there)");
  if (!opt.object.empty())
    return run_object(cache, opt, g);
  if (opt.tree)
    return run_tree(cache, opt, g);
  if (opt.check)
    return run_check(cache, opt, g);
  return run_summary(cache, opt, g);
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
  auto* tree = sub->get_option("--tree");
  auto* config = sub->get_option("--config");
  return {sub, [opt, tree, config, top, &g] {
            opt->tree = tree->count() > 0;
            opt->top = *top < 0 ? SIZE_MAX : std::size_t(*top);
            opt->config_named = config->count() > 0;
            return run_inspect(*opt, g);
          }};
}

} // namespace fsc::cmd
