// replay.cpp - `fsc replay CACHE SCENARIO`: bind the 4.19 engine to a cache
// directory (read-only overlay by default) and run a scenario through it.
#include "command.hpp"

#include <fsc/cachefiles/session.hpp>
#include <fsc/error.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/fscache/scenario.hpp>
#include <fsc/fscache/stats.hpp>
#include <fsc/json.hpp>
#include <fsc/trace/writer.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

namespace fsc::cmd {
namespace {

using namespace fsc::fscache;

struct ReplayArgs {
  std::string cache, scenario, trace, refs, into;
  bool write = false, force = false, stats = false;
  std::uint64_t seed = 0;
  std::vector<std::string> unfix;
};

std::string read_text(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw_sys("cannot read scenario", path, errno);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A FILE* for --trace/--refs ("-" is stdout), closed at scope exit.
struct OutFile {
  std::FILE* f = nullptr;
  bool owned = false;
  explicit OutFile(const std::string& path)
  {
    if (path.empty())
      return;
    if (path == "-") {
      f = stdout;
      return;
    }
    f = std::fopen(path.c_str(), "we");
    if (!f)
      throw_sys("cannot write", path, errno);
    owned = true;
  }
  ~OutFile()
  {
    if (owned)
      std::fclose(f);
  }
};

void print_list(const char* title, const std::vector<std::string>& v)
{
  if (v.empty())
    return;
  fmt::print("{}:\n", title);
  for (const auto& s : v)
    fmt::print("  {}\n", s);
}

void print_json(const ReplayArgs& a, const char* mode, const ReplayReport& r,
                const std::vector<std::string>& changes, const Stats& st)
{
  JsonWriter j(stdout);
  j.begin_object();
  j.field("scenario", a.scenario);
  j.field("cache", a.cache);
  j.field("mode", mode);
  j.field("seed", a.seed);
  j.field("expectations", r.expectations);
  auto list = [&](const char* k, const std::vector<std::string>& v) {
    j.key(k);
    j.begin_array();
    for (const auto& s : v)
      j.value(s);
    j.end_array();
  };
  list("failures", r.failures);
  list("findings", r.findings);
  list("expected_findings", r.expected_findings);
  list("warnings", r.warnings);
  list("kernel_messages", r.printk);
  list("changes", changes);
  j.field("stats", format_proc_stats(st));
  j.field("ok", r.ok());
  j.end_object();
  j.end_line();
}

int run_replay(const ReplayArgs& a, const Globals& g)
{
  Scenario sc = Scenario::parse(read_text(a.scenario), a.scenario);
  Fixes fixes = scenario_fixes(sc, Fixes{});
  for (const auto& u : a.unfix)
    apply_fix_switch(fixes, "-" + u);

  cachefiles::MountOptions mo;
  mo.write = a.write;
  mo.into = a.into;
  mo.force = a.force;

  OutFile trace_out(a.trace), refs_out(a.refs);
  trace::Tee tee;
  std::unique_ptr<trace::FtraceWriter> tw, rw;
  if (trace_out.f) {
    tw = std::make_unique<trace::FtraceWriter>(trace_out.f);
    tw->header();
    tee.add(*tw);
  }
  if (refs_out.f) {
    rw = std::make_unique<trace::FtraceWriter>(refs_out.f, true);
    rw->header();
    tee.add(*rw);
  }
  ReportObserver seen;
  tee.add(seen);

  cachefiles::EngineSession session(a.cache, mo, tee, a.seed, fixes);
  cachefiles::Mount& mount = session.mount();
  cachefiles::Store& store = mount.store();
  Engine& engine = session.engine();
  ReplayReport r = session.run(sc, seen);

  if (g.json != JsonMode::off) {
    print_json(a, mount.mode(), r, store.changes(), engine.stats());
  } else if (a.trace != "-" && a.refs != "-") {
    fmt::print("replay     {} on {} ({}{}), seed {}\n", a.scenario,
               mount.root(), mount.mode(),
               std::string(mount.mode()) == "read-only" ? ", nothing written"
                                                        : "",
               a.seed);
    fmt::print("expect     {} checked, {} failed\n", r.expectations,
               r.failures.size());
    print_list("failed", r.failures);
    print_list("findings", r.findings);
    print_list("expected findings", r.expected_findings);
    print_list("warnings", r.warnings);
    print_list("kernel messages", r.printk);
    print_list(std::string(mount.mode()) == "read-only"
                   ? "would change on disk"
                   : "changed on disk",
               store.changes());
    if (a.stats)
      fmt::print("{}", format_proc_stats(engine.stats()));
  }
  return r.ok() ? exit_code::ok : exit_code::problems;
}

} // namespace

Command add_replay(CLI::App& app, Globals& g)
{
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* sub = app.add_subcommand(
      "replay", "Run a scenario of netfs calls through the embedded 4.19 "
                "FS-Cache engine bound to a cache (read-only unless --write)");
  sub->add_option("cache", a->cache, "Cache directory (an empty directory "
                  "starts a new cache)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("scenario", a->scenario, "Scenario file (see fsc-replay(8))")
      ->required()
      ->check(CLI::ExistingFile);
  auto* w = sub->add_flag("--write", a->write,
                          "Apply the changes to the cache itself (takes the "
                          "cache lock)");
  sub->add_option("--into", a->into, "Copy the cache (with xattrs) to this new "
                  "directory and replay there")
      ->excludes(w);
  sub->add_flag("--force", a->force,
                "Bind even when a cache daemon seems to serve the cache");
  sub->add_option("--seed", a->seed, "Explore another legal order of queued "
                  "work items (0: FIFO, the default)");
  std::vector<std::string> fix_list;
  for (const auto& f : fix_names())
    fix_list.emplace_back(f.first);
  sub->add_option("--unfix", a->unfix, "Turn one of 4.19's fixes off to "
                  "reproduce the old bug (repeatable; see fsc-replay(8))")
      ->check(CLI::IsMember(fix_list));
  sub->add_option("--trace", a->trace, "Write 4.19 ftrace text lines to FILE "
                  "('-' for stdout)");
  sub->add_option("--refs", a->refs, "Write the refcount journal (cookie and "
                  "object get/put lines) to FILE, readable by fsc refs");
  sub->add_flag("--stats", a->stats,
                "Print /proc/fs/fscache/stats as the engine counted them");
  return {sub, [a, &g] { return run_replay(*a, g); }};
}

} // namespace fsc::cmd
