// replay.cpp - `fsc replay CACHE SCENARIO`: bind the engine of the cache's
// format (4.19 for v1, 6.1 for v2, or --engine) to a cache directory
// (read-only overlay by default) and run a scenario of its dialect.
#include "command.hpp"

#include <fsc/fscache/session.hpp>
#include <fsc/error.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/engine_choice.hpp>
#include <fsc/fscache/v2/scenario.hpp>
#include <fsc/fscache/v2/session.hpp>
#include <fsc/fscache/v2/tee.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/fscache/scenario.hpp>
#include <fsc/fscache/stats.hpp>
#include <fsc/json.hpp>
#include <fsc/trace/rebuild.hpp>
#include <fsc/trace/rebuild_v2.hpp>
#include <fsc/trace/writer.hpp>
#include <fsc/trace/writer_v2.hpp>

#include <fmt/format.h>

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <unistd.h>
#include <optional>

namespace fsc::cmd {
namespace {

using namespace fsc::fscache;

struct ReplayArgs {
  std::string cache, scenario, trace, refs, into, from_trace, save_scenario;
  std::string engine; ///< --engine: "" (by the cache's format), 4.19, 6.1
  bool write = false, force = false, stats = false;
  std::uint64_t seed = 0;
  bool seed_given = false;
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

/// A scenario run's records and summary, for either engine's report (the
/// 6.1 one has no warnings; it counts its calls).
template <class Report>
void print_json(const ReplayArgs& a, const char* engine, const char* mode,
                const Report& r, const std::vector<std::string>& changes,
                const std::string& proc_stats, const Globals& g)
{
  JsonReport out = json_report(g, "replay");
  auto records = [&](const char* kind, const std::vector<std::string>& v) {
    for (const auto& s : v)
      out.record(kind, [&](JsonWriter& j) { j.field("message", s); });
  };
  records("failure", r.failures);
  records("finding", r.findings);
  records("expected_finding", r.expected_findings);
  if constexpr (requires { r.warnings; })
    records("warning", r.warnings);
  records("kernel_message", r.printk);
  records("change", changes);
  out.summary([&](JsonWriter& j) {
    j.field("mode", "scenario");
    j.field("engine", engine);
    j.field("scenario", a.scenario);
    j.field("cache", a.cache);
    j.field("cache_mode", mode);
    j.field("seed", a.seed);
    if constexpr (requires { r.calls; })
      j.field("calls", std::uint64_t(r.calls));
    j.field("expectations", r.expectations);
    j.field("failure_count", std::uint64_t(r.failures.size()));
    j.field("finding_count", std::uint64_t(r.findings.size()));
    j.field("change_count", std::uint64_t(changes.size()));
    j.field("proc_stats", proc_stats);
    j.field("ok", r.ok());
  });
}

/// A scratch cache for --from-trace without CACHE, removed at the end.
struct ScratchDir {
  std::string path;
  ScratchDir()
  {
    std::string t = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                    std::string("/fsc-replay-XXXXXX");
    if (!::mkdtemp(t.data()))
      throw_sys("cannot make a scratch cache in", t, errno);
    path = t;
  }
  ~ScratchDir() { ::rmdir(path.c_str()); }
};

/// A finding of a --from-trace replay, tied back to the trace: the call
/// that met it and what the trace shows of its cookie's type.
struct TraceFinding {
  std::string message;
  std::uint64_t line = 0; ///< of the call in the trace (0: none)
  std::string cookie;     ///< its handle
  const trace::CookieLife* life = nullptr;
  bool claimed = true; ///< false: rests on a type the trace does not show
};

/// A finding's claim rests on the type of its cookie when it says so.
bool type_finding(const std::string& m)
{
  return m.find("index cookie") != std::string::npos ||
         m.find("non-data cookie") != std::string::npos;
}

std::vector<TraceFinding> trace_findings(const trace::Rebuilt& rb,
                                         const std::string& file,
                                         const std::vector<std::string>& in)
{
  std::vector<TraceFinding> out;
  for (const auto& f : in) {
    TraceFinding tf;
    tf.message = f;
    // "FILE:LINE: what", LINE being the rebuilt scenario's.
    if (f.rfind(file + ":", 0) == 0) {
      std::size_t colon = f.find(": ", file.size() + 1);
      if (colon != std::string::npos) {
        std::uint64_t sl =
            std::strtoull(f.c_str() + file.size() + 1, nullptr, 10);
        tf.message = f.substr(colon + 2);
        if (sl >= 1 && sl <= rb.call_lines.size()) {
          const trace::Call& c = rb.call_lines[sl - 1];
          tf.line = c.line;
          tf.cookie = c.cookie;
          auto li = rb.lives.find(c.cookie);
          if (li != rb.lives.end())
            tf.life = &li->second;
        }
      }
    }
    if (type_finding(tf.message)) {
      // Only a type the trace shows supports the claim; for the parent's
      // type in "index cookie acquired under a non-index parent" as well.
      auto shown = [](const trace::CookieLife* l) {
        return l && (l->type == trace::TypeShown::index ||
                     l->type == trace::TypeShown::conflict ||
                     l->type == trace::TypeShown::data);
      };
      tf.claimed = shown(tf.life);
      if (tf.claimed && tf.life &&
          tf.message.find("non-index parent") != std::string::npos) {
        auto p = rb.lives.find(tf.life->parent);
        tf.claimed = p != rb.lives.end() && shown(&p->second);
      }
    }
    out.push_back(std::move(tf));
  }
  return out;
}

std::string type_phrase(const trace::CookieLife* l)
{
  if (!l || l->type == trace::TypeShown::unknown)
    return "of a type the trace does not show";
  if (l->type == trace::TypeShown::conflict)
    return "shown as both an index and a data cookie";
  return "a " + std::string(trace::type_shown_name(l->type)) + " cookie";
}

// A claimed finding with the call it met and what shows its cookie's type.
void trace_finding_fields(JsonWriter& j, const TraceFinding& f,
                          const std::map<std::uint64_t, std::string>& quoted)
{
  j.field("message", f.message);
  if (f.line) {
    j.field("line", f.line);
    auto q = quoted.find(f.line);
    j.field("call", q == quoted.end() ? std::string() : q->second);
  }
  if (f.cookie.empty())
    return;
  j.field("cookie", f.cookie);
  j.field("cookie_type",
          std::string(trace::type_shown_name(
              f.life ? f.life->type : trace::TypeShown::unknown)));
  j.key("evidence");
  j.begin_array();
  if (f.life)
    for (const auto* e : {&f.life->index, &f.life->data}) {
      if (!*e)
        continue;
      j.begin_object();
      j.field("shows", std::string(e == &f.life->index ? "index" : "data"));
      j.field("line", (*e)->line);
      j.field("text", (*e)->text);
      j.field("why", (*e)->why);
      j.end_object();
    }
  j.end_array();
}

int run_from_trace(const ReplayArgs& a, const Globals& g)
{
  trace::Rebuilt rb = trace::rebuild_from_trace(a.from_trace);
  if (!a.save_scenario.empty()) {
    std::ofstream out(a.save_scenario);
    out << "# rebuilt by fsc replay from " << a.from_trace << "\n"
        << rb.scenario;
    if (!out)
      throw_sys("cannot write", a.save_scenario, errno);
  }
  const std::string sc_file = a.from_trace + " (rebuilt)";
  Scenario sc = Scenario::parse(rb.scenario, sc_file);
  Fixes fixes;
  if (auto ok = check_unfix(a.unfix, EngineGen::v419); !ok)
    throw UsageError(ok.error());
  for (const auto& u : a.unfix)
    apply_fix_switch(fixes, "-" + u);
  std::optional<ScratchDir> scratch;
  std::string cache = a.cache;
  if (cache.empty()) {
    scratch.emplace();
    cache = scratch->path;
  }
  constexpr std::uint64_t k_engine_fsdef = 0xffffffffc0001540ULL;
  // Without --seed the engine runs in the order the trace shows, object
  // work items interleaved where the kernel's workers interleaved them;
  // --seed N runs the engine's own N-th order instead.
  struct Attempt {
    trace::Divergence d;
    ReplayReport r;
    std::string mode;
  };
  auto attempt = [&](std::FILE* trace_to) {
    trace::StepRecorder rec;
    trace::TraceGuide guide(rb, k_engine_fsdef);
    ReportObserver seen;
    trace::Tee tee;
    tee.add(rec);
    tee.add(seen);
    if (!a.seed_given)
      tee.add(guide);
    std::unique_ptr<trace::FtraceWriter> tw;
    if (trace_to) {
      tw = std::make_unique<trace::FtraceWriter>(trace_to);
      tw->header();
      tee.add(*tw);
    }
    cachefiles::MountOptions mo;
    mo.force = a.force;
    fscache::EngineSession session(cache, mo, tee, a.seed, fixes);
    if (!a.seed_given)
      session.engine().set_scheduler(&guide, guide.max_active());
    Attempt at;
    at.r = session.run(sc, seen);
    at.d = trace::compare_steps(rb, rec, k_engine_fsdef);
    at.mode = session.mount().mode();
    return at;
  };
  Attempt best = attempt(nullptr);
  OutFile trace_out(a.trace);
  if (trace_out.f)
    attempt(trace_out.f);
  const trace::Divergence& d = best.d;
  const ReplayReport& r = best.r;
  std::vector<TraceFinding> findings = trace_findings(rb, sc_file, r.findings);
  // The lines the findings quote: their calls.
  std::vector<std::uint64_t> wanted;
  for (const auto& f : findings)
    if (f.line)
      wanted.push_back(f.line);
  std::map<std::uint64_t, std::string> quoted =
      trace::trace_lines_at(a.from_trace, wanted);
  std::size_t ncookies = rb.steps.size();
  std::map<trace::TypeShown, std::uint64_t> types;
  for (const auto& h : rb.cookies) {
    auto li = rb.lives.find(h);
    ++types[li == rb.lives.end() ? trace::TypeShown::unknown : li->second.type];
  }
  bool claims = false;
  for (const auto& f : findings)
    claims = claims || f.claimed;
  const std::string order =
      a.seed_given ? fmt::format("seed {}", a.seed) : std::string("trace");
  if (g.json != JsonMode::off) {
    JsonReport out = json_report(g, "replay");
    for (const auto& f : findings)
      if (f.claimed)
        out.record("finding",
                   [&](JsonWriter& j) { trace_finding_fields(j, f, quoted); });
    for (const auto& n : rb.notes)
      out.record("note", [&](JsonWriter& j) { j.field("message", n); });
    for (const auto& f : findings)
      if (!f.claimed)
        out.record("note", [&](JsonWriter& j) {
          j.field("message",
                  fmt::format("not claimed, the trace does not show the type "
                              "it rests on: {}:{}: {}",
                              a.from_trace, f.line, f.message));
        });
    out.summary([&](JsonWriter& j) {
      j.field("mode", "from-trace");
      j.field("trace", a.from_trace);
      j.field("lines", rb.lines);
      j.field("calls", rb.calls);
      j.field("cookies", std::uint64_t(ncookies));
      j.key("cookie_types");
      j.begin_object();
      for (auto t : {trace::TypeShown::index, trace::TypeShown::data,
                     trace::TypeShown::unknown, trace::TypeShown::conflict})
        j.field(std::string(trace::type_shown_name(t)), types[t]);
      j.end_object();
      j.field("order", order);
      j.field("seed", a.seed);
      j.field("compared", d.compared);
      j.field("diverged", d.found);
      j.field("incomplete", !rb.truncated.empty());
      if (d.found) {
        j.field("line", d.line);
        j.field("previous_line", d.previous);
        j.field("cookie", d.cookie);
        j.field("trace_step", d.trace_step);
        j.field("engine_step", d.engine_step);
      }
      j.field("finding_count",
              std::uint64_t(std::count_if(findings.begin(), findings.end(),
                                          [](auto& f) { return f.claimed; })));
    });
  } else if (a.trace != "-") {
    fmt::print("from-trace {}: {} lines, {} events -> {} netfs calls{}\n",
               a.from_trace, rb.lines, rb.events, rb.calls,
               a.save_scenario.empty() ? ""
                                       : " (saved to " + a.save_scenario + ")");
    fmt::print("replayed   on {} ({}), {}\n",
               scratch ? "a scratch cache" : cache, best.mode,
               a.seed_given
                   ? fmt::format("seed {} (the engine's own order)", a.seed)
                   : std::string("in the order the trace shows (work items "
                                 "interleaved as the kernel's workers ran "
                                 "them)"));
    fmt::print("cookies    {}: {} index, {} data, {} of a type the trace "
               "does not show{}\n",
               rb.cookies.size(), types[trace::TypeShown::index],
               types[trace::TypeShown::data], types[trace::TypeShown::unknown],
               types[trace::TypeShown::conflict]
                   ? fmt::format(", {} shown as both",
                                 types[trace::TypeShown::conflict])
                   : std::string());
    if (!d.found) {
      fmt::print("compared   {} state transitions and refcounts of {} "
                 "cookies: the engine did what the kernel did\n",
                 d.compared, ncookies);
    } else {
      fmt::print("diverged   at {}:{}, cookie {}, after {} matching steps\n",
                 a.from_trace, d.line, d.cookie, d.compared);
      fmt::print("  kernel:  {}\n  engine:  {}\n", d.trace_step, d.engine_step);
      if (d.previous)
        fmt::print("  (this cookie's previous step, which matched, is at "
                   "line {})\n",
                   d.previous);
      fmt::print("context:\n");
      for (const auto& l : trace::trace_lines(
               a.from_trace, d.line > 3 ? d.line - 3 : 1, d.line + 3))
        fmt::print("  {}\n", l);
    }
    if (claims) {
      fmt::print("findings:\n");
      for (const auto& f : findings) {
        if (!f.claimed)
          continue;
        if (!f.line) {
          fmt::print("  {}\n", f.message);
          continue;
        }
        fmt::print("  {}:{}: {}\n", a.from_trace, f.line, f.message);
        auto q = quoted.find(f.line);
        if (q != quoted.end())
          fmt::print("    the call:   {:>7}  {}\n", f.line, q->second);
        if (f.cookie.empty())
          continue;
        fmt::print("    cookie {} is {}\n", f.cookie, type_phrase(f.life));
        if (f.life)
          for (const auto* e : {&f.life->index, &f.life->data})
            if (*e)
              fmt::print("    {} {:>7}  {}\n      ({})\n",
                         e == &f.life->index ? "index:" : "data: ", (*e)->line,
                         (*e)->text, (*e)->why);
        if (f.life && f.life->type == trace::TypeShown::conflict)
          fmt::print("    (no 4.19 or 5.10 kernel shows both of one cookie: "
                     "this trace was edited, damaged or written by another "
                     "kernel; the replay ran it as the index)\n");
      }
    }
    std::vector<std::string> notes = rb.notes;
    for (const auto& f : findings)
      if (!f.claimed)
        notes.push_back(fmt::format(
            "not claimed, the trace does not show the type it rests on: "
            "{}:{}: {} (cookie {} is {})",
            a.from_trace, f.line, f.message, f.cookie, type_phrase(f.life)));
    print_list("notes", notes);
    if (!rb.truncated.empty())
      fmt::print("incomplete {}: truncated after line {} ({})\n", a.from_trace,
                 rb.lines, rb.truncated);
  }
  return d.found || claims || !rb.truncated.empty() ? exit_code::problems
                                                    : exit_code::ok;
}

/// The text report of a 6.x trace's replay (the 4.19 one's shape).
void print_v2(const ReplayArgs& a, const trace::V2Rebuilt& rb,
              const trace::V2Replay& r)
{
  const trace::V2Divergence& d = r.d;
  fmt::print("from-trace {}: {} lines, {} events -> {} netfs calls ({} "
             "trace)\n",
             a.from_trace, rb.lines, rb.events, rb.calls.size(),
             trace::gen_name(rb.gen));
  fmt::print("replayed   on the 6.1 engine's in-memory backend, {}\n",
             a.seed_given
                 ? fmt::format("seed {} (the engine's own order)", a.seed)
                 : std::string("in the order the trace shows (work items "
                               "started where the kernel's workers started "
                               "them)"));
  fmt::print("cookies    {} and {} volumes acquired in the trace\n", rb.cookies,
             rb.volumes);
  for (const auto& o : r.reordered)
    fmt::print("reordered  the calls at lines {} (two CPUs, the same time): "
               "the order their counts show\n",
               o);
  for (const auto& o : rb.late)
    fmt::print("late       lines {}: the first was printed late, its call "
               "ran at the second (the counts say so)\n",
               o);
  for (const auto& c : r.cut)
    fmt::print("cut        the trace ends inside a work item of {} (the "
               "engine's further lines are not compared)\n",
               c);
  if (!d.found)
    fmt::print("compared   {} state steps and counts of {} cookies, volumes "
               "and caches: the engine did what the kernel did\n",
               r.compared, r.things);
  else if (!d.modelled.empty())
    fmt::print("6.12 trace: the engine models 6.1; first difference at {}:{}, "
               "{}, after {} matching steps: {}\n",
               a.from_trace, d.line, d.thing, r.compared, d.modelled);
  else
    fmt::print("diverged   at {}:{}, {}, after {} matching steps\n",
               a.from_trace, d.line, d.thing, r.compared);
  if (d.found) {
    fmt::print("  kernel:  {}\n  engine:  {}\n",
               d.trace_step.empty() ? "(nothing more)" : d.trace_step,
               d.engine_step.empty() ? "(nothing more)" : d.engine_step);
    if (d.previous)
      fmt::print("  (its previous step, which matched, is at line {})\n",
                 d.previous);
    fmt::print("context:\n");
    for (const auto& l : trace::trace_lines(
             a.from_trace, d.line > 3 ? d.line - 3 : 1, d.line + 3))
      fmt::print("  {}\n", l);
  }
  print_list("findings", r.findings);
  print_list("kernel messages", r.printk);
  if (rb.malformed)
    fmt::print("malformed  {} lines are no trace line (the notes name the "
               "first)\n",
               rb.malformed);
  print_list("notes", rb.notes);
  if (!rb.truncated.empty())
    fmt::print("incomplete {}: truncated after line {} ({})\n", a.from_trace,
               rb.lines, rb.truncated);
}

void json_v2(const ReplayArgs& a, const trace::V2Rebuilt& rb,
             const trace::V2Replay& r, const Globals& g)
{
  const trace::V2Divergence& d = r.d;
  JsonReport out = json_report(g, "replay");
  auto records = [&](const char* kind, const std::vector<std::string>& v) {
    for (const auto& s : v)
      out.record(kind, [&](JsonWriter& j) { j.field("message", s); });
  };
  records("finding", r.findings);
  records("kernel_message", r.printk);
  records("note", rb.notes);
  for (const auto& o : r.reordered)
    out.record("note", [&](JsonWriter& j) {
      j.field("message", "calls run in the other order: lines " + o);
    });
  for (const auto& o : rb.late)
    out.record("note", [&](JsonWriter& j) {
      j.field("message", "printed late, its call run earlier: lines " + o);
    });
  for (const auto& c : r.cut)
    out.record("note", [&](JsonWriter& j) {
      j.field("message",
              "the trace ends inside a work item of " + c + " not compared");
    });
  out.summary([&](JsonWriter& j) {
    j.field("mode", "from-trace");
    j.field("trace", a.from_trace);
    j.field("generation", std::string(trace::gen_name(rb.gen)));
    j.field("lines", rb.lines);
    j.field("calls", std::uint64_t(rb.calls.size()));
    j.field("cookies", rb.cookies);
    j.field("volumes", rb.volumes);
    j.field("order", a.seed_given ? fmt::format("seed {}", a.seed)
                                  : std::string("trace"));
    j.field("orders_tried", std::uint64_t(r.orders));
    j.field("seed", a.seed);
    j.field("compared", r.compared);
    j.field("diverged", d.found && d.modelled.empty());
    j.field("incomplete", !rb.truncated.empty());
    j.field("malformed", rb.malformed);
    if (d.found) {
      if (!d.modelled.empty())
        j.field("modelled_difference", d.modelled);
      j.field("line", d.line);
      j.field("previous_line", d.previous);
      j.field("cookie", d.thing);
      j.field("trace_step", d.trace_step);
      j.field("engine_step", d.engine_step);
    }
    j.field("finding_count", std::uint64_t(r.findings.size()));
  });
}

/// --from-trace of a 6.1/6.12 trace: the 6.1 engine, driven by its API.
int run_from_trace_v2(const ReplayArgs& a, const Globals& g)
{
  if (!a.cache.empty() || !a.save_scenario.empty() || !a.refs.empty() ||
      !a.unfix.empty())
    throw UsageError("a 6.x trace replays on the 6.1 engine's in-memory "
                     "backend: give no CACHE, --save-scenario, --refs or "
                     "--unfix");
  trace::V2Rebuilt rb = trace::rebuild_v2(a.from_trace);
  OutFile trace_out(a.trace);
  trace::V2Replay r = trace::replay_v2(
      rb, a.seed_given ? std::optional<std::uint64_t>(a.seed) : std::nullopt,
      trace_out.f);
  if (g.json != JsonMode::off)
    json_v2(a, rb, r, g);
  else if (a.trace != "-")
    print_v2(a, rb, r);
  bool diverged = r.d.found && r.d.modelled.empty();
  return diverged || !r.findings.empty() || rb.malformed ||
                 !rb.truncated.empty()
             ? exit_code::problems
             : exit_code::ok;
}

/// A scenario of the 6.1 dialect on a v2 cache (or --engine 6.1).
int run_scenario_v2(const ReplayArgs& a, const Globals& g,
                    const std::string& why)
{
  if (auto ok = check_unfix(a.unfix, EngineGen::v61); !ok)
    throw UsageError(ok.error());
  const v2::Fixes fixes = v2_fixes_without(a.unfix);
  const std::string text = read_text(a.scenario);
  v2::Scenario sc;
  try {
    sc = v2::Scenario::parse(text, a.scenario);
  } catch (const Error& e) {
    // Say which dialect was expected: a 4.19 scenario on a v2 cache.
    throw Error(std::string(e.what()) + " (the 6.1 dialect: 6.1 engine for " +
                why + ")");
  }
  cachefiles::MountOptions mo;
  mo.write = a.write;
  mo.into = a.into;
  mo.force = a.force;

  OutFile trace_out(a.trace), refs_out(a.refs);
  v2::TeeObserver tee;
  std::unique_ptr<trace::FtraceWriterV2> tw, rw;
  if (trace_out.f) {
    tw = std::make_unique<trace::FtraceWriterV2>(trace_out.f);
    tw->header();
    tee.add(*tw);
  }
  if (refs_out.f) {
    rw = std::make_unique<trace::FtraceWriterV2>(refs_out.f, true);
    rw->header();
    tee.add(*rw);
  }
  v2::ReportObserver seen;
  tee.add(seen);

  v2::Session session(a.cache, mo, tee, a.seed);
  session.engine().set_fixes(fixes);
  cachefiles::Mount& mount = session.mount();
  v2::ReplayReport r = session.run(sc, seen);
  const std::string stats =
      v2::format_proc_stats(session.engine().stats(), session.backend().reads(),
                            session.backend().writes());
  const std::vector<std::string> changes = mount.store().changes();
  const bool read_only = std::string(mount.mode()) == "read-only";
  if (g.json != JsonMode::off) {
    print_json(a, "6.1", mount.mode(), r, changes, stats, g);
  } else if (a.trace != "-" && a.refs != "-") {
    fmt::print("replay     {} on {} ({}{}), 6.1 engine ({}), seed {}\n",
               a.scenario, mount.root(), mount.mode(),
               read_only ? ", nothing written" : "", why, a.seed);
    fmt::print("expect     {} checked, {} failed ({} calls)\n", r.expectations,
               r.failures.size(), r.calls);
    print_list("failed", r.failures);
    print_list("findings", r.findings);
    print_list("expected findings", r.expected_findings);
    print_list("kernel messages", r.printk);
    print_list(read_only ? "would change on disk" : "changed on disk", changes);
    if (a.stats)
      fmt::print("{}", stats);
  }
  return r.ok() ? exit_code::ok : exit_code::problems;
}

int run_replay(const ReplayArgs& a, const Globals& g)
{
  if (!a.from_trace.empty() && !a.engine.empty())
    throw UsageError("--engine with --from-trace: the trace's kernel picks "
                     "the engine (4.19/5.10: 4.19, 6.1/6.12: 6.1)");
  if (a.from_trace.empty() && !a.save_scenario.empty())
    throw UsageError("--save-scenario writes the calls rebuilt from a trace: "
                     "it needs --from-trace");
  if (!a.from_trace.empty()) {
    if (!a.scenario.empty())
      throw UsageError("--from-trace replays the calls of the trace: give no "
                       "scenario (fsc replay --from-trace TRACE [CACHE])");
    if (a.write || !a.into.empty())
      throw UsageError(
          "--from-trace runs read-only (on CACHE or a scratch cache)");
    // stdin cannot be read twice: "-" stays a 4.19/5.10 trace.
    trace::Gen gen = a.from_trace == "-"
                         ? trace::Gen::v419
                         : trace::trace_generation(a.from_trace);
    if (gen == trace::Gen::v61 || gen == trace::Gen::v612)
      return run_from_trace_v2(a, g);
    return run_from_trace(a, g);
  }
  if (a.cache.empty() || a.scenario.empty())
    throw UsageError(
        "fsc replay needs CACHE and SCENARIO (or --from-trace TRACE)");
  std::optional<EngineGen> forced;
  if (!a.engine.empty())
    forced = parse_engine(a.engine);
  auto choice = choose_engine(a.cache, forced);
  if (!choice)
    throw UsageError(choice.error());
  if (choice->gen == EngineGen::v61)
    return run_scenario_v2(a, g, choice->why);
  const std::string text = read_text(a.scenario);
  Scenario sc;
  try {
    sc = Scenario::parse(text, a.scenario);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (the 4.19 dialect: 4.19 engine for " +
                choice->why + ")");
  }
  Fixes fixes = scenario_fixes(sc, Fixes{});
  if (auto ok = check_unfix(a.unfix, EngineGen::v419); !ok)
    throw UsageError(ok.error());
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

  fscache::EngineSession session(a.cache, mo, tee, a.seed, fixes);
  cachefiles::Mount& mount = session.mount();
  cachefiles::Store& store = mount.store();
  Engine& engine = session.engine();
  ReplayReport r = session.run(sc, seen);

  if (g.json != JsonMode::off) {
    print_json(a, "4.19", mount.mode(), r, store.changes(),
               format_proc_stats(engine.stats()), g);
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
    print_list(std::string(mount.mode()) == "read-only" ? "would change on disk"
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
                "or 6.1 FS-Cache engine bound to a cache (read-only unless "
                "--write)");
  sub->add_option("cache", a->cache,
                  "Cache directory (an empty directory "
                  "starts a new cache)")
      ->check(CLI::ExistingDirectory);
  sub->add_option("scenario", a->scenario, "Scenario file (see fsc-replay(8))")
      ->check(CLI::ExistingFile);
  sub->add_option("--from-trace", a->from_trace,
                  "Rebuild the netfs calls of "
                  "a kernel trace (4.19/5.10, or 6.1/6.12 on the 6.1 engine), "
                  "replay them in the trace's order and report where the "
                  "engine first differs from the kernel");
  sub->add_option("--save-scenario", a->save_scenario,
                  "With --from-trace: "
                  "write the rebuilt calls as a scenario FILE");
  auto* w = sub->add_flag("--write", a->write,
                          "Apply the changes to the cache itself (takes the "
                          "cache lock)");
  sub->add_option("--into", a->into,
                  "Copy the cache (with xattrs) to this new "
                  "directory and replay there")
      ->excludes(w);
  sub->add_flag("--force", a->force,
                "Bind even when a cache daemon seems to serve the cache");
  sub->add_option("--seed", a->seed,
                  "Explore another legal order of queued "
                  "work items (0: FIFO, the default; with --from-trace the "
                  "default is the trace's order)");
  sub->add_option("--unfix", a->unfix,
                  "Turn one of the engine's kernel fixes off to reproduce "
                  "the old bug (repeatable; 4.19's and 6.1's names: see "
                  "fsc-replay(8))")
      ->check(CLI::IsMember(unfix_names()));
  sub->add_option("--trace", a->trace,
                  "Write the engine's ftrace text lines (as 4.19 or 6.1 "
                  "prints them) to FILE ('-' for stdout)");
  sub->add_option("--refs", a->refs,
                  "Write the refcount journal (cookie and "
                  "object get/put lines) to FILE, readable by fsc refs");
  sub->add_flag("--stats", a->stats,
                "Print /proc/fs/fscache/stats as the engine counted them");
  sub->add_option("--engine", a->engine,
                  "The engine (and scenario dialect): 4.19 or 6.1; by "
                  "default the cache's format decides (v1: 4.19, v2: 6.1, "
                  "a new cache: 4.19)")
      ->check(CLI::IsMember({"4.19", "6.1"}));
  CLI::Option* seed_opt = sub->get_option("--seed");
  return {sub, [a, &g, seed_opt] {
            a->seed_given = seed_opt->count() > 0;
            return run_replay(*a, g);
          }};
}

} // namespace fsc::cmd
