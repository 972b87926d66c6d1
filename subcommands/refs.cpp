// refs.cpp - `fsc refs`: refcount histories and findings from kernel traces
// (ftrace text or trace-cmd report, 4.19/5.10 or 6.1, plain/.gz/.xz/stdin).
#include "command.hpp"

#include <fsc/error.hpp>
#include <fsc/json.hpp>
#include <fsc/log.hpp>
#include <fsc/trace/refs.hpp>
#include <fsc/trace/svg.hpp>

#include <fmt/format.h>

#include <cstdio>

namespace fsc::cmd {
namespace {

using namespace fsc::trace;

struct RefsArgs {
  std::vector<std::string> traces{"-"};
  std::string cookie, object, svg;
  bool keep_lives = false; ///< -v and JSON list every history
};

RefsReport analyze(const RefsArgs& a)
{
  RefsOptions o;
  o.cookie = a.cookie;
  o.object = a.object;
  o.keep_lives = a.keep_lives;
  RefsAnalyzer an(o);
  std::uint64_t base = 0;
  for (auto& path : a.traces) {
    LineReader r(path);
    std::string_view line;
    const std::uint64_t known = an.recognised(), bad = an.malformed();
    while (r.next(line))
      an.feed(line, base + r.line_number());
    if (an.recognised() == known && an.malformed() > bad)
      throw Error("'" + path + "': not a kernel trace (no line of it is an "
                  "ftrace or trace-cmd event line)");
    if (r.truncated()) // LineReader warned
      an.cut(path, r.line_number(), base + r.line_number(), r.truncation());
    base += r.line_number();
  }
  return an.finish();
}

std::string seconds(std::int64_t ns)
{
  return fmt::format("{}.{:06}", ns / 1000000000, (ns / 1000) % 1000000);
}

std::string id_text(const Life& l)
{
  return fmt::format("{}={}{}", l.type, l.id,
                     l.life > 1 ? fmt::format(" (life {})", l.life) : "");
}

void print_text(const RefsReport& r, const RefsArgs& a, const Globals& g)
{
  fmt::print("trace      {} ({} format): {} lines, {} fscache/cachefiles "
             "events, {} other events, {} malformed, {} lost\n",
             fmt::join(a.traces, " "), gen_name(r.gen), r.lines,
             r.fscache_events, r.unknown_events, r.malformed, r.lost_events);
  for (auto& c : r.cuts)
    fmt::print("incomplete {}: truncated after line {} ({}); the verdicts "
               "cover the lines before it\n",
               c.file, c.after_line, c.why);
  fmt::print("cookies    {} ({} relinquished, {} freed, {} alive at the end)\n",
             r.cookies.lives, r.cookies.relinquished, r.cookies.freed,
             r.cookies.alive);
  fmt::print("objects    {} ({} freed, {} alive at the end)\n", r.objects.lives,
             r.objects.freed, r.objects.alive);
  if (r.volumes.lives)
    fmt::print("volumes    {}\n", r.volumes.lives);
  if (g.verbose > 0) {
    for (auto& l : r.lives) {
      fmt::print("  {:<24} count {:>3}  {} events  {} .. {}{}\n", id_text(l),
                 l.count, l.events, seconds(l.first_ns), seconds(l.last_ns),
                 l.unknowable ? "  (unknowable: lost events)" : "");
      for (auto& [reason, n] : l.reasons)
        fmt::print("      {:>5} {}\n", n, reason);
    }
  }
  if (!r.timeline.empty()) {
    fmt::print("timeline   {} events\n", r.timeline.size());
    for (auto& t : r.timeline)
      fmt::print("  {:>14} [{:03}] {:<20} {}: {}{}\n", seconds(t.ts_ns), t.cpu,
                 t.task, t.event, t.body,
                 t.count != k_no_count ? fmt::format("   => {}", t.count) : "");
  }
  // Histories that lost events but ended as they should are listed with
  // -v (and in JSON): a lost marker can leave thousands of them.
  std::size_t clean = 0;
  for (auto& f : r.findings)
    clean += f.kind == "unverifiable-clean";
  const bool all = g.verbose > 0;
  fmt::print("findings   {}\n", all ? r.findings.size()
                                     : r.findings.size() - clean);
  for (auto& f : r.findings)
    if (all || f.kind != "unverifiable-clean")
      fmt::print("  line {:<8} {:>14}  {:<22} {}{}{}\n", f.line,
                 f.ts_ns ? seconds(f.ts_ns) : "", f.kind, f.id,
                 f.id.empty() ? "" : ": ", f.message);
  if (clean && !all)
    fmt::print("  and {} histories that lost events but ended without a sign "
               "of trouble (unverifiable-clean: -v lists them)\n",
               clean);
}

void json_life(JsonWriter& j, const Life& l)
{
  j.begin_object();
  j.field("record", "life");
  j.field("type", l.type == 'c' ? "cookie" : l.type == 'o' ? "object" : "volume");
  j.field("id", l.id);
  j.field("life", l.life);
  if (l.type == 'o')
    j.field("cookie", l.cookie);
  j.field("count", l.count);
  j.field("events", l.events);
  j.field("first_ns", l.first_ns);
  j.field("last_ns", l.last_ns);
  j.field("relinquished", l.relinquished);
  j.field("freed", l.freed);
  j.field("unknowable", l.unknowable);
  j.key("reasons");
  j.begin_object();
  for (auto& [reason, n] : l.reasons)
    j.field(reason, n);
  j.end_object();
  j.end_object();
}

void json_finding(JsonWriter& j, const Finding& f)
{
  j.begin_object();
  j.field("record", "finding");
  j.field("kind", f.kind);
  j.field("id", f.id);
  j.field("line", f.line);
  j.field("ts_ns", f.ts_ns);
  j.field("message", f.message);
  j.end_object();
}

void json_event(JsonWriter& j, const TimelineEntry& t)
{
  j.begin_object();
  j.field("record", "event");
  j.field("line", t.line);
  j.field("ts_ns", t.ts_ns);
  j.field("cpu", t.cpu);
  j.field("task", t.task);
  j.field("event", t.event);
  j.field("body", t.body);
  if (t.count != k_no_count)
    j.field("count", t.count);
  j.end_object();
}

void json_summary(JsonWriter& j, const RefsReport& r)
{
  j.field("schema", 1);
  j.field("gen", gen_name(r.gen));
  j.field("lines", r.lines);
  j.field("events", r.events);
  j.field("fscache_events", r.fscache_events);
  j.field("unknown_events", r.unknown_events);
  j.field("malformed", r.malformed);
  j.field("lost_events", r.lost_events);
  j.field("finding_count", r.findings.size());
  j.field("incomplete", r.incomplete());
  j.key("truncated");
  j.begin_array();
  for (auto& c : r.cuts) {
    j.begin_object();
    j.field("file", c.file);
    j.field("after_line", c.after_line);
    j.field("reason", c.why);
    j.end_object();
  }
  j.end_array();
  for (auto [name, t] : {std::pair{"cookies", &r.cookies},
                         {"objects", &r.objects}, {"volumes", &r.volumes}}) {
    j.key(name);
    j.begin_object();
    j.field("lives", t->lives);
    j.field("freed", t->freed);
    j.field("relinquished", t->relinquished);
    j.field("alive", t->alive);
    j.end_object();
  }
}

void print_json(const RefsReport& r, const Globals& g)
{
  JsonWriter j(stdout);
  if (g.json == JsonMode::lines) {
    auto line = [&](auto fn, const auto& x) {
      fn(j, x);
      j.end_line();
    };
    for (auto& l : r.lives)
      line(json_life, l);
    for (auto& t : r.timeline)
      line(json_event, t);
    for (auto& f : r.findings)
      line(json_finding, f);
    j.begin_object();
    j.field("record", "summary");
    json_summary(j, r);
    j.end_object();
    j.end_line();
    return;
  }
  j.begin_object();
  json_summary(j, r);
  j.key("lives");
  j.begin_array();
  for (auto& l : r.lives)
    json_life(j, l);
  j.end_array();
  j.key("timeline");
  j.begin_array();
  for (auto& t : r.timeline)
    json_event(j, t);
  j.end_array();
  j.key("findings");
  j.begin_array();
  for (auto& f : r.findings)
    json_finding(j, f);
  j.end_array();
  j.end_object();
  j.end_line();
}

// Without --cookie/--object, the plot shows the first cookie with a finding
// (else the first cookie): a second pass collects its history.
void write_svg(RefsReport& r, RefsArgs a)
{
  if (a.cookie.empty() && a.object.empty()) {
    for (auto& f : r.findings)
      if (f.id.rfind("c=", 0) == 0 || f.id.rfind("o=", 0) == 0) {
        (f.id[0] == 'c' ? a.cookie : a.object) = f.id.substr(2);
        break;
      }
    if (a.cookie.empty() && a.object.empty())
      for (auto& l : r.lives)
        if (l.type == 'c') {
          a.cookie = l.id;
          break;
        }
    for (auto& t : a.traces)
      if (t == "-")
        throw Error("--svg without --cookie or --object reads the trace "
                    "twice: give a file, not stdin");
    r.timeline = analyze(a).timeline;
  }
  std::string title = a.cookie.empty() ? "object o=" + a.object
                                       : "cookie c=" + a.cookie;
  write_refs_svg(a.svg, title, r.timeline, r.findings);
}

int run_refs(RefsArgs a, const Globals& g)
{
  a.keep_lives = g.verbose > 0 || g.json != JsonMode::off;
  RefsReport r = analyze(a);
  for (auto& f : r.findings)
    if (f.kind == "malformed-line")
      log::warning("{}:{}: malformed line: {}", a.traces.back(), f.line,
                   f.message);
  const bool chosen = !a.cookie.empty() || !a.object.empty();
  if (chosen && !r.target_found) {
    const char t = a.cookie.empty() ? 'o' : 'c';
    const std::string& id = a.cookie.empty() ? a.object : a.cookie;
    const char* other = r.target_other == 'c'   ? " (a cookie has that id: "
                                                  "use --cookie)"
                        : r.target_other == 'o' ? " (an object has that id: "
                                                  "use --object)"
                        : r.target_other == 'V' ? " (a volume has that id)"
                                                : "";
    log::error("{} {}={} is not in {}{}", t == 'c' ? "cookie" : "object", t,
               normal_id(id), fmt::join(a.traces, " "), other);
  }
  if (!a.svg.empty() && (!chosen || r.target_found))
    write_svg(r, a);
  if (g.json != JsonMode::off)
    print_json(r, g);
  else if (!g.quiet)
    print_text(r, a, g);
  return r.findings.empty() && !r.incomplete() && (!chosen || r.target_found)
             ? exit_code::ok
             : exit_code::problems;
}

} // namespace

Command add_refs(CLI::App& app, Globals& g)
{
  auto a = std::make_shared<RefsArgs>();
  auto* sub = app.add_subcommand(
      "refs", "Refcount histories and findings from kernel trace logs");
  sub->add_option("trace", a->traces,
                  "Trace files: ftrace text or trace-cmd report, plain, .gz "
                  "or .xz; - for stdin (default)");
  sub->add_option("--cookie", a->cookie,
                  "Full timeline of this cookie (c=) and its objects");
  sub->add_option("--object", a->object, "Full timeline of this object (o=)");
  sub->add_option("--svg", a->svg,
                  "Write a refcount-over-time plot (SVG) of the chosen or "
                  "first anomalous cookie");
  return {sub, [a, &g] { return run_refs(*a, g); }};
}

} // namespace fsc::cmd
