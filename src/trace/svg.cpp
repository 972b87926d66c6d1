// svg.cpp - hand-written SVG: no dependency, one file a browser opens.
#include <fsc/trace/svg.hpp>

#include <fsc/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

namespace fsc::trace {
namespace {

std::string esc(std::string_view s)
{
  std::string out;
  for (char c : s)
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  return out;
}

} // namespace

void write_refs_svg(const std::string& path, const std::string& title,
                    const std::vector<TimelineEntry>& timeline,
                    const std::vector<Finding>& findings)
{
  const double W = 900, H = 420, L = 60, R = 20, T = 40, B = 50;
  std::vector<const TimelineEntry*> pts;
  for (auto& t : timeline)
    if (t.count != k_no_count)
      pts.push_back(&t);
  std::int64_t t0 = pts.empty() ? 0 : pts.front()->ts_ns;
  std::int64_t t1 = pts.empty() ? 1 : std::max(pts.back()->ts_ns, t0 + 1);
  std::int64_t cmin = 0, cmax = 1;
  for (auto* p : pts) {
    cmin = std::min(cmin, p->count);
    cmax = std::max(cmax, p->count);
  }
  auto x = [&](std::int64_t ts) {
    return L + (W - L - R) * double(ts - t0) / double(t1 - t0);
  };
  auto y = [&](std::int64_t c) {
    return H - B - (H - T - B) * double(c - cmin) / double(cmax - cmin);
  };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"24\" font-size=\"16\">refcount of {}</text>\n",
      W, H, W, H, L, esc(title));
  // Axes with count ticks and the time span.
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" "
                   "stroke=\"black\"/>\n<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" "
                   "y2=\"{2}\" stroke=\"black\"/>\n",
                   L, T, H - B, W - R);
  std::int64_t step = std::max<std::int64_t>(1, (cmax - cmin) / 8);
  for (std::int64_t c = cmin; c <= cmax; c += step)
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n"
                     "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" "
                     "stroke=\"#ddd\"/>\n",
                     L - 6, y(c) + 4, c, L, y(c), W - R, y(c));
  s += fmt::format("<text x=\"{}\" y=\"{}\">{:.6f} s</text>\n"
                   "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.6f} s "
                   "(trace time)</text>\n",
                   L, H - B + 18, double(t0) / 1e9, W - R, H - B + 18,
                   double(t1) / 1e9);
  if (cmin < 0)
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" "
                     "stroke=\"red\" stroke-dasharray=\"4\"/>\n",
                     L, y(0), W - R, y(0));
  // The count as a step line: it holds its value until the next event.
  std::string d;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    d += fmt::format("{}{:.1f},{:.1f}", i ? " L" : "M", x(pts[i]->ts_ns),
                     y(i ? pts[i - 1]->count : pts[i]->count));
    d += fmt::format(" L{:.1f},{:.1f}", x(pts[i]->ts_ns), y(pts[i]->count));
  }
  if (!d.empty())
    s += "<path d=\"" + d +
         "\" fill=\"none\" stroke=\"#1f5fbf\" "
         "stroke-width=\"2\"/>\n";
  for (auto* p : pts)
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" "
                     "fill=\"#1f5fbf\"><title>line {}: {} {} =&gt; {}"
                     "</title></circle>\n",
                     x(p->ts_ns), y(p->count), p->line, esc(p->event),
                     esc(p->body), p->count);
  // Findings on this history, in red, with their explanation.
  std::set<std::uint64_t> lines;
  for (auto* p : pts)
    lines.insert(p->line);
  double ty = T + 16;
  for (auto& f : findings) {
    if (!lines.count(f.line))
      continue;
    auto it = std::find_if(pts.begin(), pts.end(),
                           [&](auto* p) { return p->line == f.line; });
    s += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"7\" fill=\"none\" "
        "stroke=\"red\" stroke-width=\"2\"><title>{}: {}</title>"
        "</circle>\n<text x=\"{}\" y=\"{}\" fill=\"red\">line {}: "
        "{}: {}</text>\n",
        x((*it)->ts_ns), y((*it)->count), esc(f.kind), esc(f.message), L + 10,
        ty, f.line, esc(f.kind), esc(f.message));
    ty += 16;
  }
  s += "</svg>\n";
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (!out)
    throw_sys("cannot write", path, errno);
  bool ok = std::fwrite(s.data(), 1, s.size(), out) == s.size();
  ok = std::fclose(out) == 0 && ok;
  if (!ok)
    throw_sys("cannot write", path, errno);
}

} // namespace fsc::trace
