// refs.cpp - `fsc refs`: refcount histories and findings from kernel traces
// (ftrace text or trace-cmd report, 4.19/5.10, 6.1 or 6.12 with netfs
// requests, plain/.gz/.xz/stdin).
#include "command.hpp"

#include <fsc/error.hpp>
#include <fsc/json.hpp>
#include <fsc/trace/json.hpp>
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
  std::string cookie, object, request, svg;
  bool keep_lives = false; ///< -v and JSON list every history
  double window_ms = 20;   ///< --reorder-window
};

RefsReport analyze(const RefsArgs& a)
{
  RefsOptions o;
  o.cookie = a.cookie;
  o.object = a.object;
  o.request = a.request;
  o.keep_lives = a.keep_lives;
  o.reorder_ns = std::int64_t(a.window_ms * 1e6);
  RefsAnalyzer an(o);
  std::uint64_t base = 0;
  for (auto& path : a.traces) {
    LineReader r(path);
    std::string_view line;
    const std::uint64_t known = an.recognised(), bad = an.malformed();
    while (r.next(line))
      an.feed(line, base + r.line_number());
    if (an.recognised() == known && an.malformed() > bad)
      throw Error("'" + path +
                  "': not a kernel trace (no line of it is an "
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
  const bool netfs = l.type == 'R' || l.type == 'S';
  return fmt::format("{}={}{}{}", netfs ? 'R' : l.type, l.id,
                     netfs && !l.cookie.empty() ? " c=" + l.cookie : "",
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
  if (r.requests.lives || r.subrequests.lives)
    fmt::print("requests   {} ({} freed, {} alive at the end); subrequests {} "
               "({} freed, {} alive at the end)\n",
               r.requests.lives, r.requests.freed, r.requests.alive,
               r.subrequests.lives, r.subrequests.freed, r.subrequests.alive);
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
  fmt::print("findings   {}\n",
             all ? r.findings.size() : r.findings.size() - clean);
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

void print_json(const RefsReport& r, const Globals& g)
{
  JsonReport out = json_report(g, "refs");
  for (auto& l : r.lives)
    out.record("life", [&](JsonWriter& j) { trace::life_fields(j, l); });
  for (auto& t : r.timeline)
    out.record("event", [&](JsonWriter& j) { trace::event_fields(j, t); });
  for (auto& f : r.findings)
    out.record("finding", [&](JsonWriter& j) { trace::finding_fields(j, f); });
  out.summary([&](JsonWriter& j) { trace::refs_summary_fields(j, r); });
}

// Without --cookie/--object/--request, the plot shows the first cookie,
// object or request with a finding (else the first cookie): a second pass
// collects its history.
void write_svg(RefsReport& r, RefsArgs a)
{
  if (a.cookie.empty() && a.object.empty() && a.request.empty()) {
    for (auto& f : r.findings) {
      const std::string id = f.id.substr(2, f.id.find('[') - 2);
      if (f.id.rfind("c=", 0) == 0)
        a.cookie = id;
      else if (f.id.rfind("o=", 0) == 0)
        a.object = id;
      else if (f.id.rfind("R=", 0) == 0)
        a.request = id;
      else
        continue;
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
  std::string title = !a.cookie.empty()   ? "cookie c=" + a.cookie
                      : !a.object.empty() ? "object o=" + a.object
                                          : "request R=" + a.request;
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
  const bool chosen =
      !a.cookie.empty() || !a.object.empty() || !a.request.empty();
  if (chosen && !r.target_found) {
    const char t = !a.cookie.empty() ? 'c' : !a.object.empty() ? 'o' : 'R';
    const std::string& id = t == 'c'   ? a.cookie
                            : t == 'o' ? a.object
                                       : a.request;
    const char* other = r.target_other == 'c'   ? " (a cookie has that id: "
                                                  "use --cookie)"
                        : r.target_other == 'o' ? " (an object has that id: "
                                                  "use --object)"
                        : r.target_other == 'V' ? " (a volume has that id)"
                                                : "";
    log::error("{} {}={} is not in {}{}",
               t == 'c'   ? "cookie"
               : t == 'o' ? "object"
                          : "request",
               t, normal_id(id), fmt::join(a.traces, " "), other);
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
  auto* cookie = sub->add_option(
      "--cookie", a->cookie,
      "Full timeline of this cookie (c=), its objects and its netfs requests");
  auto* object = sub->add_option("--object", a->object,
                                 "Full timeline of this object (o=)");
  auto* request = sub->add_option(
      "--request", a->request,
      "Full timeline of this netfs request (R=, 6.12) and its subrequests");
  cookie->excludes(object)->excludes(request);
  object->excludes(request);
  sub->add_option("--reorder-window", a->window_ms,
                  "Lines of two CPUs printed up to this many milliseconds out "
                  "of order are put back before counts are judged")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  sub->add_option("--svg", a->svg,
                  "Write a refcount-over-time plot (SVG) of the chosen or "
                  "first anomalous cookie, object or request");
  return {sub, [a, &g] { return run_refs(*a, g); }};
}

} // namespace fsc::cmd
