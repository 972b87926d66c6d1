// rebuild.cpp - netfs calls and per-cookie steps out of a 4.19 trace.
#include <fsc/trace/rebuild.hpp>

#include <fsc/error.hpp>
#include <fsc/trace/trace.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace fsc::trace {

using namespace fsc::fscache;

namespace {

std::string_view netfs_of(std::string_view def)
{
  auto dot = def.find('.');
  std::string_view p = def.substr(0, dot);
  if (p == "NFS") return "nfs";
  if (p == "AFS") return "afs";
  if (p == "CIFS") return "cifs";
  if (p == "9P" || p == "9p") return "9p";
  if (p == "CEPH" || p == "Ceph" || p == "ceph") return "ceph";
  return "netfs";
}

bool index_def(std::string_view def)
{
  // The 4.19 netfs index definitions (v1-netfs.md); def names are traced
  // truncated to 7 characters.
  static const std::set<std::string_view> idx{
      "NFS.ser", "NFS.sup", "AFS.cel", "AFS.vol", "CIFS.se", "CIFS.su",
      "CIFS.ta", "9P.sess", "CEPH.fs"};
  return idx.count(def.substr(0, 7)) != 0;
}

/// Builds the scenario as the trace is read.
class Builder {
public:
  Rebuilt out;
  std::set<std::uint64_t> disabled; ///< acquire lines of disabled cookies
  std::set<std::string> parents;    ///< pointers seen as a parent: indexes

  void feed(const Line& l, std::uint64_t lineno)
  {
    Fields f = split_fields(l.body);
    auto c = f.get("c");
    if (!c)
      return;
    std::string ptr(*c);
    ++out.events;
    if (l.event == "fscache_cookie")
      cookie_line(f, ptr, lineno);
    else if (l.event == "fscache_netfs")
      netfs_line(f, ptr);
    else if (l.event == "fscache_acquire")
      acquire_line(f, ptr, lineno);
    else if (l.event == "fscache_enable")
      call(ptr, "enable " + handle(ptr));
    else if (l.event == "fscache_relinquish")
      relinquish_line(f, ptr);
    else if (l.event == "fscache_disable")
      disable_line(ptr);
    else if (l.event == "fscache_osm")
      osm_line(l.body, f, ptr, lineno);
    else if (l.event == "fscache_page_op")
      page_op_line(f, ptr);
    else if (l.event == "fscache_page" && f.words == "Uncache")
      if (auto pg = f.get("pg"))
        call(ptr, fmt::format("uncache {} {}", handle(ptr), hexnum(*pg)));
  }

  void finish()
  {
    for (auto& [ptr, p] : m_pending)
      emit_acquire(ptr, p, false);
    m_pending.clear();
  }

private:
  struct PendingAcquire {
    std::string parent, def;
    bool index = false;
  };

  static std::uint64_t hexnum(std::string_view s)
  {
    std::uint64_t v = 0;
    for (char ch : s) {
      int d = ch >= '0' && ch <= '9'   ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                       : -1;
      if (d < 0)
        break;
      v = v * 16 + std::uint64_t(d);
    }
    return v;
  }

  std::string handle(const std::string& ptr)
  {
    return fmt::format("c{}_{}", ptr, m_life[ptr]);
  }

  void add(const std::string& stmt)
  {
    out.scenario += stmt;
    out.scenario += '\n';
    ++out.calls;
  }

  /// A call on ptr: its deferred acquire goes first.
  void call(const std::string& ptr, const std::string& stmt)
  {
    flush(ptr, stmt.rfind("enable ", 0) == 0);
    if (!m_known.count(ptr))
      return; // a cookie acquired before the trace began
    add(stmt);
  }

  void flush(const std::string& ptr, bool next_is_enable)
  {
    auto it = m_pending.find(ptr);
    if (it == m_pending.end())
      return;
    PendingAcquire p = it->second;
    m_pending.erase(it);
    emit_acquire(ptr, p, next_is_enable);
  }

  void emit_acquire(const std::string& ptr, const PendingAcquire& p,
                    bool acquired_disabled)
  {
    flush(p.parent, false);
    if (!m_known.count(p.parent)) {
      if (p.parent == m_fsdef || m_fsdef.empty()) {
        out.notes.push_back("cookie " + ptr + "'s parent was never seen");
        return;
      }
      // A netfs registered before the trace began.
      std::string name(netfs_of(p.def));
      add("register " + name + " as " + handle(p.parent));
      m_known.insert(p.parent);
      out.cookies.push_back(handle(p.parent));
    }
    add(fmt::format("acquire {} {} {} key=\"{}-{}\" name={}{}", handle(ptr),
                    p.index ? "index" : "data", handle(p.parent), ptr,
                    m_life[ptr], p.def,
                    acquired_disabled && !p.index ? " disabled" : ""));
    m_known.insert(ptr);
    out.cookies.push_back(handle(ptr));
  }

  /// Steps are kept per cookie life (a freed pointer can come back).
  void step(const std::string& ptr, std::uint64_t lineno, std::string what)
  {
    out.steps[handle(ptr)].push_back({lineno, std::move(what)});
  }

  void cookie_line(const Fields& f, const std::string& ptr,
                   std::uint64_t lineno)
  {
    auto p = f.get("p");
    if (m_fsdef.empty() && p && p->find_first_not_of("0") == std::string_view::npos &&
        f.words == "GET obj") {
      m_fsdef = ptr;
      out.fsdef = handle(ptr);
    }
    if (f.words == "GET prn" || f.words == "GET obj" || f.words == "*COLLISION*")
      flush(ptr, false);
    auto u = f.get("u");
    if (u)
      step(ptr, lineno, fmt::format("ref {} u={}", f.words, *u));
  }

  void netfs_line(const Fields& f, const std::string& ptr)
  {
    auto n = f.get("n");
    ++m_life[ptr];
    add(fmt::format("register {} as {}", n ? *n : "netfs", handle(ptr)));
    m_known.insert(ptr);
    out.cookies.push_back(handle(ptr));
  }

  void acquire_line(const Fields& f, const std::string& ptr,
                    std::uint64_t lineno)
  {
    auto p = f.get("p");
    auto n = f.get("n");
    if (!p)
      return;
    ++m_life[ptr];
    m_known.erase(ptr);
    std::string def = n ? std::string(*n) : "data";
    PendingAcquire pa{std::string(*p), def,
                      index_def(def) || parents.count(ptr) != 0};
    emit_acquire(ptr, pa, disabled.count(lineno) != 0);
  }

  void relinquish_line(const Fields& f, const std::string& ptr)
  {
    auto r = f.get("r");
    bool retire = r && *r != "0";
    call(ptr, "relinquish " + handle(ptr) + (retire ? " retire" : ""));
    m_relinquishing.insert(ptr);
  }

  void disable_line(const std::string& ptr)
  {
    if (m_relinquishing.erase(ptr))
      return; // relinquish traces disable too
    call(ptr, "disable " + handle(ptr));
  }

  void osm_line(std::string_view body, const Fields& f, const std::string& ptr,
                std::uint64_t lineno)
  {
    // "c=%p o=%p STATE WAIT|WORK[ OOB ]ev=N": the step is after o=.
    auto o = body.find(" o=");
    if (o == std::string_view::npos)
      return;
    auto sp = body.find(' ', o + 3);
    if (sp == std::string_view::npos)
      return;
    std::string what(body.substr(sp + 1));
    if (what.rfind("?CMD WAIT ev=3", 0) == 0)
      call(ptr, "invalidate " + handle(ptr));
    else if (what.rfind("?CMD WAIT ev=2", 0) == 0)
      call(ptr, "update " + handle(ptr));
    if (ptr == m_fsdef && what.rfind("ABRT", 0) == 0 && !m_withdrawn) {
      add("withdraw &");
      m_withdrawn = true;
    }
    (void)f;
    step(ptr, lineno, "osm " + what);
  }

  void page_op_line(const Fields& f, const std::string& ptr)
  {
    auto pg = f.get("pg");
    std::uint64_t page = pg ? hexnum(*pg) : 0;
    const std::string& w = f.words;
    if (w == "Write1")
      call(ptr, fmt::format("write {} {}", handle(ptr), page));
    else if (w == "Retr1" || w == "RetrMul")
      call(ptr, fmt::format("read {} {}", handle(ptr), page));
    else if (w == "Alloc1")
      call(ptr, fmt::format("alloc {} {}", handle(ptr), page));
    else if (w == "CheckCn")
      call(ptr, "check " + handle(ptr));
  }

  std::map<std::string, PendingAcquire> m_pending;
  std::map<std::string, int> m_life;
  std::set<std::string> m_known, m_relinquishing;
  bool m_withdrawn = false;
  std::string m_fsdef; ///< the root index's pointer
};

std::string step_of(ObjState s, bool wait, bool oob, int event)
{
  return fmt::format("osm {} {}{}ev={}", state_name(s), wait ? "WAIT" : "WORK",
                     oob ? " OOB " : " ", event);
}

} // namespace

namespace {

/// Pass 1: the acquires (by line) of cookies acquired disabled: all whose
/// next event is not the object allocation (GET obj) an enabled acquire
/// makes at once. NFS acquires data cookies disabled and enables them on
/// open; a cookie never opened is relinquished without ever being enabled.
struct FirstPass {
  std::set<std::uint64_t> disabled; ///< acquire lines
  std::set<std::string> parents;    ///< pointers other cookies hang on
};

FirstPass first_pass(const std::string& path)
{
  FirstPass fp;
  std::set<std::uint64_t>& out = fp.disabled;
  std::map<std::string, std::uint64_t> pending;
  LineReader r(path);
  std::string_view text;
  while (r.next(text)) {
    Parsed p = parse_line(text);
    if (p.kind != Kind::event)
      continue;
    Fields f = split_fields(p.line.body);
    auto c = f.get("c");
    if (!c)
      continue;
    std::string ptr(*c);
    if (p.line.event == "fscache_acquire") {
      pending[ptr] = r.line_number();
      if (auto parent = f.get("p"))
        fp.parents.emplace(*parent);
      continue;
    }
    auto it = pending.find(ptr);
    if (it == pending.end())
      continue;
    bool enabled = p.line.event == "fscache_cookie" && f.words == "GET obj";
    if (!enabled)
      out.insert(it->second);
    pending.erase(it);
  }
  return fp;
}

} // namespace

Rebuilt rebuild_from_trace(const std::string& path)
{
  Builder b;
  FirstPass fp = first_pass(path);
  b.disabled = std::move(fp.disabled);
  b.parents = std::move(fp.parents);
  LineReader r(path);
  std::string_view text;
  bool v2 = false;
  while (r.next(text)) {
    Parsed p = parse_line(text);
    if (p.kind != Kind::event)
      continue;
    if (p.line.event == "fscache_volume" || p.line.event == "fscache_access")
      v2 = true;
    b.feed(p.line, r.line_number());
  }
  b.finish();
  b.out.lines = r.line_number();
  b.out.truncated = r.truncation(); // LineReader warned
  if (v2)
    throw Error("'" + path + "' is a trace of a 5.17+ kernel; --from-trace "
                "rebuilds 4.19-format traces (the engine is 4.19's)");
  if (b.out.calls == 0)
    throw Error("'" + path + "' holds no 4.19 fscache events to rebuild "
                "calls from");
  return std::move(b.out);
}

void StepRecorder::netfs(std::uint64_t c, std::string_view)
{
  cookies.push_back(c);
}

void StepRecorder::acquire(std::uint64_t c, const CookieSnap&, std::string_view)
{
  cookies.push_back(c);
}

void StepRecorder::cookie(CookieTrace why, const CookieSnap& s)
{
  steps[s.c].push_back(
      {0, fmt::format("ref {} u={}", cookie_trace_names[int(why)], s.usage)});
}

void StepRecorder::osm(std::uint64_t c, std::uint64_t, ObjState s, bool wait,
                       bool oob, int event)
{
  steps[c].push_back({0, step_of(s, wait, oob, event)});
}

Divergence compare_steps(const Rebuilt& t, const StepRecorder& e,
                         std::uint64_t engine_fsdef)
{
  // Trace pointer → engine address, by acquire order.
  std::map<std::string, std::uint64_t> map;
  for (std::size_t i = 0; i < t.cookies.size() && i < e.cookies.size(); ++i)
    map.emplace(t.cookies[i], e.cookies[i]);
  if (!t.fsdef.empty())
    map[t.fsdef] = engine_fsdef;
  // Walk the trace's steps in line order.
  std::vector<std::pair<std::uint64_t, std::pair<std::string, std::size_t>>> order;
  for (const auto& [ptr, steps] : t.steps)
    for (std::size_t i = 0; i < steps.size(); ++i)
      order.push_back({steps[i].line, {ptr, i}});
  std::sort(order.begin(), order.end());
  std::map<std::string, std::size_t> next; // per pointer, in engine steps
  Divergence d;
  for (const auto& [line, where] : order) {
    const std::string& ptr = where.first;
    const Step& ts = t.steps.at(ptr)[where.second];
    bool fsdef = ptr == t.fsdef;
    if (fsdef && ts.what.rfind("ref ", 0) == 0)
      continue; // anchored by untraced references
    auto m = map.find(ptr);
    if (m == map.end())
      continue;
    auto es = e.steps.find(m->second);
    std::size_t& i = next[ptr];
    // Skip the engine's fsdef refcount steps the same way.
    while (fsdef && es != e.steps.end() && i < es->second.size() &&
           es->second[i].what.rfind("ref ", 0) == 0)
      ++i;
    std::string got = es == e.steps.end() || i >= es->second.size()
                          ? "(nothing: the engine's history of this cookie ends here)"
                          : es->second[i].what;
    if (got != ts.what) {
      d.found = true;
      d.line = line;
      d.cookie = ptr.substr(1, ptr.rfind('_') - 1);
      d.trace_step = ts.what;
      d.engine_step = got;
      return d;
    }
    ++i;
    ++d.compared;
  }
  return d;
}

std::vector<std::string> trace_lines(const std::string& path,
                                     std::uint64_t first, std::uint64_t last)
{
  std::vector<std::string> out;
  LineReader r(path);
  std::string_view text;
  while (r.next(text)) {
    if (r.line_number() > last)
      break;
    if (r.line_number() >= first)
      out.push_back(fmt::format("{:>7}  {}", r.line_number(), text));
  }
  return out;
}

} // namespace fsc::trace
