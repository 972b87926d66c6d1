// rebuild.cpp - netfs calls and per-cookie steps out of a 4.19 trace.
#include <fsc/trace/rebuild.hpp>

#include <fsc/error.hpp>
#include <fsc/hex.hpp>
#include <fsc/trace/trace.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace fsc::trace {

using namespace fsc::fscache;

std::string_view type_shown_name(TypeShown t)
{
  switch (t) {
  case TypeShown::index:
    return "index";
  case TypeShown::data:
    return "data";
  case TypeShown::conflict:
    return "conflicting";
  case TypeShown::unknown:
    break;
  }
  return "unknown";
}

namespace {

std::uint64_t hexnum(std::string_view s)
{
  std::uint64_t v = 0;
  for (char ch : s) {
    const int d = hex_digit(ch);
    if (d < 0)
      break;
    v = v * 16 + std::uint64_t(d);
  }
  return v;
}

std::string_view netfs_of(std::string_view def)
{
  auto dot = def.find('.');
  std::string_view p = def.substr(0, dot);
  if (p == "NFS")
    return "nfs";
  if (p == "AFS")
    return "afs";
  if (p == "CIFS")
    return "cifs";
  if (p == "9P" || p == "9p")
    return "9p";
  if (p == "CEPH" || p == "Ceph" || p == "ceph")
    return "ceph";
  return "netfs";
}

// --- pass 1: what the trace shows of each cookie life ------------------------
//
// 4.19's tracepoints print no cookie type (fscache_acquire prints the def
// name and the parent's usage, children and flags; include/trace/events/
// fscache.h). A cookie's type is read from what only one type can do or
// have done to it, and each conclusion keeps the line that shows it:
//
//  index: the netfs primary index (fscache_netfs); cachefiles_mkdir of its
//         object (cachefiles_walk_to_object traces mkdir only for the last
//         component of an index); ENABLED in its flags while it never had an
//         object (an index is enabled without one; a data cookie only once
//         fscache_acquire_non_index_cookie allocated one, or with
//         UNAVAILABLE set when no cache is bound: fs/fscache/cookie.c); a
//         child that is an index (__fscache_acquire_cookie BUGs on an index
//         under a non-index parent).
//  data:  LOOKING_UP in its flags (only fscache_acquire_non_index_cookie
//         sets it); a page read, allocated or written or a consistency
//         check (the ASSERTCMP on the type precedes the tracepoint in
//         __fscache_read_or_alloc_page(s), __fscache_alloc_page,
//         __fscache_write_page and __fscache_check_consistency); an
//         invalidation (__fscache_invalidate asserts DATAFILE before it
//         raises the event); cachefiles_create of its object; a parent that
//         is not an index.
//
// Nothing else counts: a definition name ("NFS.fh") is not evidence, and
// the same pointer names different cookies over time.

constexpr unsigned k_looking_up = 1U << cookie_flag::looking_up;
constexpr unsigned k_unavailable = 1U << cookie_flag::unavailable;
constexpr unsigned k_enabled = 1U << cookie_flag::enabled;

struct Scan {
  std::map<std::string, CookieLife> lives;
  std::set<std::uint64_t> disabled; ///< acquire lines (data cookies)
  std::map<std::string, bool> had_object, has_children;
  /// invalidate/update calls placed before an earlier line (see
  /// FirstPass::raised), and the fscache_osm lines that would place them.
  std::map<std::uint64_t, std::vector<std::string>> calls_at;
  std::set<std::uint64_t> moved;
  /// Lines where the cache's withdrawal began (see FirstPass::killed).
  std::set<std::uint64_t> withdrawals;
  /// Objects whose lookup found no file and failed (LCFL, ev=5) before
  /// any cachefiles_create: CacheFiles' space check refused (a full
  /// disk, below bstop). The trace says no more, so a fault of the space
  /// check is placed at the object's first state line (line -> cookie).
  std::map<std::uint64_t, std::string> no_space;
};

class FirstPass {
  /// Per object: whether a work item runs, whether it rests in
  /// WAIT_FOR_CMD, the GET queue that queued it there, its last PUT work.
  struct ObjScan {
    bool running = false, in_cmd = false;
    std::uint64_t queued_by = 0, last_put = 0, last_osm = 0;
    std::uint64_t queue_run = 0; ///< see m_queue_runs, at its last GET queue
    std::uint64_t first_osm = 0; ///< its first state line, or the enable
                                 ///< that made it (where a fault goes)
    bool negative = false;       ///< its file looked up, not there
  };

public:
  Scan out;

  void line(const Parsed& p, std::string_view text, std::uint64_t n)
  {
    if (p.kind == Kind::lost) {
      m_last_lost = n;
      return;
    }
    if (p.kind != Kind::event)
      return;
    const Line& l = p.line;
    Fields f = split_fields(l.body);
    const bool queue =
        l.event == "cachefiles_ref" && l.body.find(" GET queue") != std::string_view::npos;
    if (queue)
      m_queue_runs.try_emplace(l.pid, n);
    else
      m_queue_runs.erase(l.pid);
    if (l.event == "cachefiles_lookup") {
      // The last component's lookup: i= 0 when nothing is there.
      auto o = f.get("o");
      auto i = f.get("i");
      if (o && i)
        m_objects[std::string(*o)].negative =
            i->find_first_not_of('0') == std::string_view::npos;
      return;
    }
    if (l.event == "cachefiles_mkdir" || l.event == "cachefiles_create") {
      auto o = f.get("o");
      if (o)
        m_objects[std::string(*o)].negative = false; // made
      auto it = o ? m_obj_cookie.find(std::string(*o)) : m_obj_cookie.end();
      if (it == m_obj_cookie.end())
        return;
      bool mkdir = l.event == "cachefiles_mkdir";
      note(it->second, mkdir, n, text,
           mkdir ? "cachefiles_mkdir of its object: cachefiles_walk_to_object "
                   "makes the last component a directory only for an index "
                   "(fs/cachefiles/namei.c)"
                 : "cachefiles_create of its object: cachefiles_walk_to_object "
                   "creates non-index objects as files "
                   "(fs/cachefiles/namei.c)");
      return;
    }
    auto c = f.get("c");
    if (!c)
      return;
    std::string ptr(*c);
    if (l.event == "fscache_netfs") {
      CookieLife& life = begin_life(ptr, n);
      auto name = f.get("n");
      life.def = name ? std::string(*name) : "";
      note(handle(ptr), true, n, text,
           "a netfs's primary index: __fscache_register_netfs() makes it with "
           "the index definition fscache_fsdef_netfs_def "
           "(fs/fscache/netfs.c)");
      return;
    }
    if (l.event == "fscache_acquire") {
      auto parent = f.get("p");
      CookieLife& life = begin_life(ptr, n);
      auto name = f.get("n");
      life.def = name ? std::string(*name) : "";
      m_pending[ptr] = n;
      if (parent) {
        std::string ph = handle(std::string(*parent));
        life.parent = ph;
        out.has_children[ph] = true;
        if (auto pf = f.get("pf"))
          flags(ph, unsigned(hexnum(*pf)), *pf, n, text);
      }
      return;
    }
    auto pend = m_pending.find(ptr);
    if (pend != m_pending.end()) {
      // A data cookie acquired enabled allocates its object at once.
      if (!(l.event == "fscache_cookie" && f.words == "GET obj"))
        out.disabled.insert(pend->second);
      m_pending.erase(pend);
    }
    const std::string h = handle(ptr);
    if (l.event == "fscache_enable")
      m_enabled[h] = n;
    if (l.event == "fscache_relinquish") {
      m_last_stop[h] = n;
      m_relinquishing.insert(h);
    } else if (l.event == "fscache_disable" && !m_relinquishing.erase(h)) {
      m_last_stop[h] = n;
    }
    if (l.event == "fscache_cookie" || l.event == "fscache_relinquish" ||
        l.event == "fscache_enable" || l.event == "fscache_disable") {
      if (auto fl = f.get("f"))
        flags(h, unsigned(hexnum(*fl)), *fl, n, text);
      if (l.event == "fscache_cookie" && f.words == "GET obj") {
        out.had_object[h] = true;
        // fscache_add_cache() attaches the cache's root object to the
        // fsdef index, the one cookie with no parent.
        if (l.body.find(" p=0000000000000000 ") != std::string_view::npos)
          m_fsdef = ptr;
      }
    } else if (l.event == "fscache_gang_lookup") {
      if (auto sl = f.get("sl")) {
        CookieLife& life = out.lives[h];
        life.store_limit = std::max(life.store_limit, hexnum(*sl));
      }
    } else if (l.event == "fscache_wrote_page") {
      // A page written lies below the store limit.
      auto pg = f.get("pg");
      auto ret = f.get("ret");
      if (pg && ret && *ret == "0") {
        CookieLife& life = out.lives[h];
        life.store_limit = std::max(life.store_limit, hexnum(*pg) + 1);
      }
    } else if (l.event == "fscache_page_op") {
      static const std::set<std::string_view> data_calls{
          "Retr1", "RetrMul", "Alloc1", "Write1", "CheckCn"};
      if (data_calls.count(f.words))
        note(h, false, n, text,
             f.words == "CheckCn"
                 ? "a consistency check: __fscache_check_consistency() "
                   "asserts a data cookie before this tracepoint"
                 : "a page " +
                       std::string(f.words == "Write1"   ? "write"
                                   : f.words == "Alloc1" ? "allocation"
                                                         : "read") +
                       ": 4.19 asserts the cookie is not an index before "
                       "this tracepoint (fs/fscache/page.c)");
    } else if (l.event == "fscache_osm" || l.event == "cachefiles_ref") {
      auto o = f.get("o");
      if (!o)
        return;
      std::string optr(*o);
      m_obj_cookie[optr] = h;
      ObjScan& ob = m_objects[optr];
      if (l.event == "cachefiles_ref") {
        if (queue)
          ob.queue_run = m_queue_runs[l.pid];
        // A raise that queued an object resting in WAIT_FOR_CMD.
        if (f.words == "GET queue" && !ob.running && ob.in_cmd && !ob.queued_by)
          ob.queued_by = n;
        else if (f.words == "PUT work") {
          ob.running = false;
          ob.queued_by = 0;
          ob.last_put = n;
        }
        return;
      }
      std::string_view state =
          std::string_view(f.words).substr(0, f.words.find(' '));
      if (!ob.first_osm || state == "?INI") {
        auto en = m_enabled.find(h);
        ob.first_osm = en != m_enabled.end() ? en->second : n;
      }
      if (state == "LCFL" && ob.negative &&
          l.body.find(" ev=5") != std::string_view::npos)
        out.no_space[ob.first_osm] = ptr;
      if (state == "?INI")
        ob.negative = false;
      if (ptr == m_fsdef && l.body.find(" OOB ev=6") != std::string_view::npos)
        out.withdrawals.insert(ob.queue_run ? ob.queue_run : n);
      bool inval = l.body.find(" ?CMD WAIT ev=3") != std::string_view::npos;
      bool update = l.body.find(" ?CMD WAIT ev=2") != std::string_view::npos;
      if (inval)
        note(h, false, n, text,
             "an invalidation: __fscache_invalidate() asserts a data cookie "
             "before it raises the event");
      if (inval || update)
        raised(h, ob, inval ? "invalidate" : "update", n);
      ob.running = true;
      ob.last_osm = n;
      ob.in_cmd = state == "JUMP" || state == "UPDT";
    }
  }

  /// Where fscache_invalidate() or fscache_update_cookie() was called, whose
  /// event the worker takes at line n: they trace nothing of their own.
  /// At the GET queue its event made, if it queued an object resting in
  /// WAIT_FOR_CMD. Else, if the work item that takes it was already running
  /// (the event came in while its events were masked), before the state the
  /// item ran last (the dispatcher saw it when that state returned). In
  /// either of those, before a relinquish or disable of the cookie that came
  /// in between (a netfs does not call it on a cookie it let go of). Else
  /// where the worker took the event.
  void raised(const std::string& h, const ObjScan& ob, const char* verb,
              std::uint64_t n)
  {
    std::uint64_t at = ob.queued_by;
    if (!at && ob.running)
      at = ob.last_osm;
    auto stop = m_last_stop.find(h);
    if (stop != m_last_stop.end() && stop->second > ob.last_put &&
        (!at || stop->second < at))
      at = stop->second;
    if (!at)
      return;
    out.calls_at[at].push_back(verb);
    out.moved.insert(n);
  }

  void finish()
  {
    // Acquired and nothing else seen (the trace ends): no object either.
    for (const auto& [ptr, line] : m_pending)
      out.disabled.insert(line);
    m_pending.clear();
    // An index child makes its parent an index; a parent that is not an
    // index makes its children data. Chains are short; repeat until stable.
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& [h, life] : out.lives) {
        if (life.parent.empty())
          continue;
        auto p = out.lives.find(life.parent);
        if (p == out.lives.end())
          continue;
        if (life.index && !p->second.index) {
          p->second.index =
              Evidence{life.index->line, life.index->text,
                       "its child " + h + " is an index (" + life.index->why +
                           "), and __fscache_acquire_cookie() BUGs on an index "
                           "cookie whose parent is not one"};
          changed = true;
        }
        if (p->second.data && !p->second.index && !life.data) {
          life.data =
              Evidence{p->second.data->line, p->second.data->text,
                       "its parent " + life.parent + " is not an index (" +
                           p->second.data->why +
                           "), and __fscache_acquire_cookie() BUGs on an index "
                           "cookie whose parent is not one"};
          changed = true;
        }
      }
    }
    for (auto& [h, life] : out.lives)
      life.type = life.index && life.data ? TypeShown::conflict
                  : life.index            ? TypeShown::index
                  : life.data             ? TypeShown::data
                                          : TypeShown::unknown;
  }

private:
  std::string handle(const std::string& ptr)
  {
    return fmt::format("c{}_{}", ptr, m_life[ptr]);
  }

  CookieLife& begin_life(const std::string& ptr, std::uint64_t n)
  {
    ++m_life[ptr];
    CookieLife& life = out.lives[handle(ptr)];
    life.ptr = ptr;
    life.acquired = n;
    return life;
  }

  void note(const std::string& h, bool index, std::uint64_t n,
            std::string_view text, std::string why)
  {
    CookieLife& life = out.lives[h];
    auto& slot = index ? life.index : life.data;
    if (!slot)
      slot = Evidence{n, std::string(text), std::move(why)};
  }

  /// A cookie's flags as a line printed them (f= of its own lines, pf= of
  /// a child's acquire).
  void flags(const std::string& h, unsigned v, std::string_view shown,
             std::uint64_t n, std::string_view text)
  {
    auto it = out.lives.find(h);
    if (it == out.lives.end() || it->second.acquired == 0)
      return; // acquired before the trace began: its past is unknown
    if (v & k_looking_up) {
      note(h, false, n, text,
           fmt::format("flags {} have LOOKING_UP, which only "
                       "fscache_acquire_non_index_cookie() sets",
                       shown));
    } else if ((v & k_enabled) && !(v & k_unavailable) && !out.had_object[h] &&
               it->second.acquired > m_last_lost) {
      note(h, true, n, text,
           fmt::format("flags {} have ENABLED while it never had an object: "
                       "4.19 enables an index without one, a data cookie "
                       "only after fscache_acquire_non_index_cookie() "
                       "allocated one (GET obj) or, with no cache bound, "
                       "with UNAVAILABLE set",
                       shown));
    }
  }

  std::map<std::string, int> m_life;
  std::map<std::string, std::uint64_t> m_pending;  ///< ptr -> acquire line
  std::map<std::string, std::string> m_obj_cookie; ///< object -> life
  std::map<std::string, ObjScan> m_objects;
  std::map<std::string, std::uint64_t> m_last_stop; ///< life -> line
  std::map<std::string, std::uint64_t> m_enabled; ///< life -> enable line
  std::set<std::string> m_relinquishing;
  std::uint64_t m_last_lost = 0;
  std::string m_fsdef; ///< the root index's pointer
  /// fscache_withdraw_cache() queues every object of the cache for a KILL
  /// from the daemon's task, which prints nothing else meanwhile (other
  /// tasks' lines interleave); the root object's comes last and ends in
  /// its ABRT. Per task: the first line of its current run of GET queue
  /// lines; the root's run is where the withdrawal began.
  std::map<int, std::uint64_t> m_queue_runs;
};

Scan first_pass(const std::string& path)
{
  FirstPass fp;
  LineReader r(path);
  std::string_view text;
  while (r.next(text))
    fp.line(parse_line(text), text, r.line_number());
  fp.finish();
  return std::move(fp.out);
}

// --- pass 2: the calls -------------------------------------------------------

/// Builds the scenario as the trace is read.
class Builder {
public:
  Rebuilt out;
  std::set<std::uint64_t> disabled; ///< acquire lines of disabled cookies
  std::map<std::string, bool> has_children;
  std::map<std::uint64_t, std::vector<std::string>> calls_at;
  std::set<std::uint64_t> moved;
  std::set<std::uint64_t> withdrawals;
  std::map<std::uint64_t, std::string> no_space;

  void feed(const Line& l, std::uint64_t lineno)
  {
    Fields f = split_fields(l.body);
    auto c = f.get("c");
    if (!c) {
      if (l.event == "cachefiles_mark_inactive")
        inactive_line(f, lineno);
      return;
    }
    std::string ptr(*c);
    m_line = lineno;
    ++out.events;
    if (auto ns = no_space.find(lineno); ns != no_space.end())
      add(fmt::format("fault space cookie={} ENOBUFS", handle(ns->second)),
          handle(ns->second));
    if (withdrawals.count(lineno) && !m_withdrawn) {
      add("withdraw &", "");
      m_withdrawn = true;
    }
    auto at = calls_at.find(lineno);
    if (at != calls_at.end())
      for (const auto& verb : at->second)
        call(ptr, verb + " " + handle(ptr));
    if (l.event == "fscache_cookie")
      cookie_line(f, ptr, lineno);
    else if (l.event == "fscache_netfs")
      netfs_line(f, ptr);
    else if (l.event == "fscache_acquire")
      acquire_line(f, ptr, lineno);
    else if (l.event == "fscache_enable")
      call(ptr, "enable " + handle(ptr) + size_of(handle(ptr)));
    else if (l.event == "fscache_relinquish")
      relinquish_line(f, ptr);
    else if (l.event == "fscache_disable")
      disable_line(ptr);
    else if (l.event == "fscache_osm")
      osm_line(l.body, f, ptr, lineno);
    else if (l.event == "cachefiles_ref")
      object_event(ptr, f, lineno, false);
    else if (l.event == "fscache_op")
      op_event(ptr, f, lineno);
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

  std::string handle(const std::string& ptr)
  {
    return fmt::format("c{}_{}", ptr, m_life[ptr]);
  }

  void add(const std::string& stmt, const std::string& cookie)
  {
    out.scenario += stmt;
    out.scenario += '\n';
    ++out.calls;
    out.call_lines.push_back({m_line, cookie});
  }

  /// A call on ptr: its deferred acquire goes first.
  void call(const std::string& ptr, const std::string& stmt)
  {
    flush(ptr, stmt.rfind("enable ", 0) == 0);
    if (!m_known.count(ptr))
      return; // a cookie acquired before the trace began
    add(stmt, handle(ptr));
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
      add("register " + name + " as " + handle(p.parent), handle(p.parent));
      m_known.insert(p.parent);
      out.cookies.push_back(handle(p.parent));
    }
    add(fmt::format("acquire {} {} {} key=\"{}-{}\" name={}{}{}", handle(ptr),
                    p.index ? "index" : "data", handle(p.parent), ptr,
                    m_life[ptr], p.def, p.index ? "" : size_of(handle(ptr)),
                    acquired_disabled && !p.index ? " disabled" : ""),
        handle(ptr));
    m_known.insert(ptr);
    out.cookies.push_back(handle(ptr));
  }

  /// " size=N" when the trace shows the object size to a page (the store
  /// limit its writes met), else "" (size 0).
  std::string size_of(const std::string& h) const
  {
    auto it = out.lives.find(h);
    if (it == out.lives.end() || it->second.store_limit == 0)
      return "";
    return fmt::format(" size={}", it->second.store_limit * page_size);
  }

  /// Steps are kept per cookie life (a freed pointer can come back).
  void step(const std::string& ptr, std::uint64_t lineno, std::string what)
  {
    out.steps[handle(ptr)].push_back({lineno, std::move(what)});
  }

  /// An event of an object (fscache_osm, cachefiles_ref), for the guide:
  /// the objects of a cookie life in order, each with its event lines.
  void object_event(const std::string& ptr, const Fields& f,
                    std::uint64_t lineno, bool osm)
  {
    auto o = f.get("o");
    if (!o)
      return;
    const std::string h = handle(ptr);
    std::vector<TraceObject>& objs = out.lives[h].objects;
    std::string key = h + '/' + std::string(*o);
    auto it = m_open.find(key);
    if (it == m_open.end()) {
      objs.push_back({std::string(*o), {}});
      it = m_open.emplace(key, objs.size() - 1).first;
    }
    m_open_o[std::string(*o)] = {h, it->second};
    TraceObject& ob = objs[it->second];
    if (osm)
      ob.steps.push_back(lineno);
    else if (f.words == "PUT drop_obj")
      ob.drop_obj.push_back(lineno);
    else if (f.words == "PUT work")
      ob.put_work.push_back(lineno);
    else if (f.words == "GET queue")
      ob.queued.push_back(lineno);
    auto u = f.get("u");
    if (u && *u == "0") { // freed: the pointer may name another object later
      m_open.erase(it);
      m_open_o.erase(std::string(*o));
    }
  }

  /// The osm step object_event() just counted is a wait.
  void wait_step(const std::string& ptr, const Fields& f)
  {
    auto o = f.get("o");
    auto it = o ? m_open.find(handle(ptr) + '/' + std::string(*o))
                : m_open.end();
    if (it == m_open.end())
      return;
    TraceObject& ob = out.lives[handle(ptr)].objects[it->second];
    ob.waits.push_back(ob.steps.back());
  }

  /// A cachefiles_mark_inactive line (no c=): its object's, by o=.
  void inactive_line(const Fields& f, std::uint64_t lineno)
  {
    auto o = f.get("o");
    auto it = o ? m_open_o.find(std::string(*o)) : m_open_o.end();
    if (it == m_open_o.end())
      return;
    auto li = out.lives.find(it->second.first);
    if (li != out.lives.end() && it->second.second < li->second.objects.size())
      li->second.objects[it->second.second].inactive.push_back(lineno);
  }

  /// An fscache_op line: the operations of a cookie life, each with the
  /// lines where its processor ran ("Work"). A "Put" may print a NULL
  /// cookie: the pointer of an operation in progress says whose it is.
  void op_event(const std::string& ptr, const Fields& f, std::uint64_t lineno)
  {
    auto op = f.get("op");
    if (!op)
      return;
    std::string key(*op);
    if (f.words == "GC") // a put that could not take the object's lock
      return; // defers the free to the op GC worker: the op's last line
    auto it = m_open_ops.find(key);
    if (it == m_open_ops.end()) {
      if (ptr.find_first_not_of('0') == std::string::npos || ptr == "(null)")
        return;
      const std::string h = handle(ptr);
      std::vector<TraceObject>& ops = out.lives[h].ops;
      ops.push_back({key, {}});
      it = m_open_ops.emplace(key, std::make_pair(h, ops.size() - 1)).first;
    }
    if (f.words == "Work")
      out.lives[it->second.first].ops[it->second.second].steps.push_back(
          lineno);
    if (f.words == "Put")
      m_open_ops.erase(it); // freed: the pointer may name another op later
  }

  void cookie_line(const Fields& f, const std::string& ptr,
                   std::uint64_t lineno)
  {
    auto p = f.get("p");
    if (m_fsdef.empty() && p &&
        p->find_first_not_of("0") == std::string_view::npos &&
        f.words == "GET obj") {
      m_fsdef = ptr;
      out.fsdef = handle(ptr);
    } else if (ptr == m_fsdef && f.words == "GET obj" && m_withdrawn) {
      add("bind", ""); // cachefilesd bound a cache again
      m_withdrawn = false;
    }
    if (f.words == "GET prn" || f.words == "GET obj" ||
        f.words == "*COLLISION*")
      flush(ptr, false);
    auto u = f.get("u");
    if (u)
      step(ptr, lineno, fmt::format("ref {} u={}", f.words, *u));
  }

  void netfs_line(const Fields& f, const std::string& ptr)
  {
    auto n = f.get("n");
    ++m_life[ptr];
    add(fmt::format("register {} as {}", n ? *n : "netfs", handle(ptr)),
        handle(ptr));
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
    // The type the engine runs it as: what the trace shows, and where it
    // shows nothing (a cookie acquired disabled and never used, for which
    // both behave alike), an index if other cookies hang on it.
    const CookieLife& life = out.lives[handle(ptr)];
    bool index =
        life.type == TypeShown::index || life.type == TypeShown::conflict ||
        (life.type == TypeShown::unknown && has_children.count(handle(ptr)));
    PendingAcquire pa{std::string(*p), def, index};
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
    // Unless called already, where its event queued the object.
    bool called = moved.count(lineno) != 0;
    if (!called && what.rfind("?CMD WAIT ev=3", 0) == 0)
      call(ptr, "invalidate " + handle(ptr));
    else if (!called && what.rfind("?CMD WAIT ev=2", 0) == 0)
      call(ptr, "update " + handle(ptr));
    object_event(ptr, f, lineno, true);
    if (what.find(" WAIT ") != std::string::npos)
      wait_step(ptr, f);
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
  std::map<std::string, std::size_t> m_open; ///< "life/object" -> index
  /// operation pointer -> (life, index)
  std::map<std::string, std::pair<std::string, std::size_t>> m_open_ops;
  /// Live objects by pointer: their cookie life's handle and index.
  std::map<std::string, std::pair<std::string, std::size_t>> m_open_o;
  bool m_withdrawn = false;
  std::string m_fsdef; ///< the root index's pointer
  std::uint64_t m_line = 0;
};

std::string step_of(ObjState s, bool wait, bool oob, int event)
{
  return fmt::format("osm {} {}{}ev={}", state_name(s), wait ? "WAIT" : "WORK",
                     oob ? " OOB " : " ", event);
}

} // namespace

namespace {

/// "ref PUT obj u=3" → 3; nullopt for anything that is not a put.
std::optional<long> put_count(const std::string& what)
{
  if (what.rfind("ref PUT ", 0) != 0)
    return std::nullopt;
  const auto u = what.rfind(" u=");
  if (u == std::string::npos)
    return std::nullopt;
  return std::strtol(what.c_str() + u + 3, nullptr, 10);
}

/// Two puts of one cookie in a row whose printed counts rise (u=k, then
/// u=k+1) were made in the other order: a put lowers the count, so the
/// second line's put came first and its task printed it late. Their steps
/// change places (the lines stay where they are); the first line is noted
/// as a late put.
void order_late_puts(Rebuilt& out)
{
  for (auto& [handle, steps] : out.steps)
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
      auto a = put_count(steps[i].what), b = put_count(steps[i + 1].what);
      if (!a || !b || *b != *a + 1)
        continue;
      std::swap(steps[i].what, steps[i + 1].what);
      out.late_puts.insert(steps[i].line);
      ++i;
    }
}

} // namespace

Rebuilt rebuild_from_trace(const std::string& path)
{
  Scan scan = first_pass(path);
  Builder b;
  b.disabled = std::move(scan.disabled);
  b.has_children = std::move(scan.has_children);
  b.calls_at = std::move(scan.calls_at);
  b.moved = std::move(scan.moved);
  b.withdrawals = std::move(scan.withdrawals);
  b.no_space = std::move(scan.no_space);
  b.out.lives = std::move(scan.lives);
  LineReader r(path);
  std::string_view text;
  bool v2 = false;
  while (r.next(text)) {
    Parsed p = parse_line(text);
    if (p.kind != Kind::event)
      continue;
    if (p.line.event == "fscache_volume" || p.line.event == "fscache_access")
      v2 = true;
    b.out.cpus = std::max(b.out.cpus, p.line.cpu + 1);
    b.feed(p.line, r.line_number());
  }
  b.finish();
  b.out.lines = r.line_number();
  b.out.truncated = r.truncation(); // LineReader warned
  if (v2)
    throw Error("'" + path +
                "' is a trace of a 5.17+ kernel; --from-trace "
                "rebuilds 4.19-format traces (the engine is 4.19's)");
  if (b.out.calls == 0)
    throw Error("'" + path +
                "' holds no 4.19 fscache events to rebuild "
                "calls from");
  order_late_puts(b.out);
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

// --- the guide ---------------------------------------------------------------

TraceGuide::TraceGuide(const Rebuilt& trace, std::uint64_t engine_fsdef)
    : m_trace(trace), m_fsdef(engine_fsdef)
{
  for (const auto& [h, steps] : trace.steps) {
    std::vector<std::uint64_t>& v = m_ref_lines[h];
    for (const Step& s : steps)
      if (s.what.rfind("ref ", 0) == 0)
        v.push_back(s.line);
  }
  m_cookies[engine_fsdef].handle = trace.fsdef;
}

int TraceGuide::max_active() const { return std::clamp(m_trace.cpus, 4, 512); }

void TraceGuide::next_call(int tag)
{
  m_horizon = std::numeric_limits<std::uint64_t>::max();
  if (tag > 0 && std::size_t(tag) <= m_trace.call_lines.size() &&
      m_trace.call_lines[std::size_t(tag) - 1].line != 0)
    m_horizon = m_trace.call_lines[std::size_t(tag) - 1].line;
}

void TraceGuide::netfs(std::uint64_t c, std::string_view)
{
  m_parent[c] = m_fsdef; // a netfs's primary index hangs off the root
  if (m_acquired < m_trace.cookies.size())
    m_cookies[c].handle = m_trace.cookies[m_acquired];
  ++m_acquired;
}

void TraceGuide::acquire(std::uint64_t c, const CookieSnap& parent,
                         std::string_view)
{
  netfs(c, {});
  m_parent[c] = parent.c;
}

void TraceGuide::cookie(CookieTrace, const CookieSnap& s)
{
  ++m_cookies[s.c].refs;
}

void TraceGuide::osm(std::uint64_t c, std::uint64_t o, ObjState, bool, bool,
                     int)
{
  ++object(c, o, false).steps;
}

void TraceGuide::obj_ref(std::uint64_t c, std::uint64_t o, int usage,
                         ObjRefTrace why)
{
  Obj& ob = object(c, o, false);
  if (why == ObjRefTrace::put_drop_obj)
    ++ob.drops;
  else if (why == ObjRefTrace::put_work)
    ++ob.puts;
  else if (why == ObjRefTrace::get_queue)
    ++ob.queues;
  // Freed: the engine may give its address to the next object it makes
  // (a new cache's root object after a withdrawal), which is another of
  // the trace's objects.
  if (why == ObjRefTrace::put_work && usage == 0)
    m_objects.erase(o);
}

void TraceGuide::op(std::uint64_t c, std::uint64_t op, OpTrace why)
{
  // The engine never gives an op's address to another op.
  Obj& ob = object(c, op, true);
  if (why == OpTrace::work)
    ++ob.steps;
}

TraceGuide::Obj& TraceGuide::object(std::uint64_t c, std::uint64_t o, bool op)
{
  auto [it, fresh] = (op ? m_ops : m_objects).try_emplace(o);
  Obj& ob = it->second;
  if (fresh) {
    ob.cookie = c;
    // The k-th object (operation) the engine makes for a cookie is the k-th
    // the trace shows for it.
    auto ci = m_cookies.find(c);
    if (ci != m_cookies.end() && !ci->second.handle.empty()) {
      std::size_t k = (op ? ci->second.ops : ci->second.objects)++;
      auto li = m_trace.lives.find(ci->second.handle);
      const auto* v = li == m_trace.lives.end() ? nullptr
                      : op                      ? &li->second.ops
                                                : &li->second.objects;
      if (v && k < v->size())
        ob.trace = &(*v)[k];
    }
  }
  return ob;
}

/// The trace line of what the runnable does next, as far as the trace
/// tells (a work item: its next state, PUT drop_obj or PUT work; an
/// operation: its next run; a woken call: its cookie's next count or its
/// object's next GET queue);
/// 0 when it does not (run it as soon as it can run). Lines of other tasks
/// about the same object (GET queue ...) are not counted: a call the trace
/// does not show would shift them.
std::uint64_t TraceGuide::key(const Runnable& r) const
{
  auto at = [](const std::vector<std::uint64_t>& v, std::size_t i) {
    return i < v.size() ? v[i] : std::uint64_t(0);
  };
  switch (r.kind) {
  case Runnable::start_work:
  case Runnable::continue_work: {
    auto it = m_objects.find(r.object);
    if (it == m_objects.end() || !it->second.trace)
      return 0;
    const Obj& ob = it->second;
    switch (r.next) {
    case Runnable::dispatch:
      return at(ob.trace->steps, ob.steps);
    case Runnable::release_parent:
      return release_line(ob);
    case Runnable::put_work:
      return at(ob.trace->put_work, ob.puts);
    }
    return 0;
  }
  case Runnable::resume_call: {
    if (r.object) {
      // It raises an event on the object: the object's next GET queue.
      auto it = m_objects.find(r.object);
      if (it == m_objects.end() || !it->second.trace)
        return 0;
      return at(it->second.trace->queued, it->second.queues);
    }
    auto ci = m_cookies.find(r.cookie);
    if (r.cookie == 0 || ci == m_cookies.end() || ci->second.handle.empty())
      return 0;
    auto li = m_ref_lines.find(ci->second.handle);
    if (li == m_ref_lines.end())
      return 0;
    // Its put came before a put printed earlier (a late put): it runs
    // before the step printed just before that put, which made it (the
    // object's last PUT work frees it, and the free puts the cookie); pick()
    // lets a call go first at an equal line.
    const std::uint64_t line = at(li->second, ci->second.refs);
    return m_trace.late_puts.count(line) && line > 1 ? line - 1 : line;
  }
  case Runnable::op_work: {
    auto it = m_ops.find(r.op);
    if (it == m_ops.end() || !it->second.trace)
      return 0;
    return at(it->second.trace->steps, it->second.steps);
  }
  case Runnable::op_gc:
    break;
  }
  return 0;
}

/// Where DROP_OBJECT released the parent: after its file was let go
/// (cachefiles_mark_inactive), before its PUT drop_obj. Where the parent's
/// next step is printed between the two, the parent's step after it says
/// which came first: a wait (?CLR) saw the child still there (5.10
/// smoke, 32750), a DROP did not (a 5.10 TCG guest: the child's put
/// printed 14 us after the parent's DROP).
std::uint64_t TraceGuide::release_line(const Obj& ob) const
{
  const auto& drops = ob.trace->drop_obj;
  const std::uint64_t put = ob.drops < drops.size() ? drops[ob.drops] : 0;
  const std::uint64_t drop =
      ob.steps && ob.steps <= ob.trace->steps.size()
          ? ob.trace->steps[ob.steps - 1]
          : 0;
  std::uint64_t inactive = 0;
  for (std::uint64_t l : ob.trace->inactive)
    if (l > drop && l < put)
      inactive = l;
  const Obj* parent = inactive ? parent_of(ob) : nullptr;
  if (!parent)
    return put;
  const auto& ps = parent->trace->steps;
  const std::size_t k = parent->steps;
  if (k + 1 >= ps.size() || ps[k] <= inactive || ps[k] >= put)
    return put;
  const auto& waits = parent->trace->waits;
  const bool waited = std::binary_search(waits.begin(), waits.end(), ps[k + 1]);
  return waited ? put : inactive;
}

/// The live object of the cookie's parent, if the trace shows it.
const TraceGuide::Obj* TraceGuide::parent_of(const Obj& ob) const
{
  auto p = m_parent.find(ob.cookie);
  if (p == m_parent.end())
    return nullptr;
  for (const auto& [o, candidate] : m_objects)
    if (candidate.cookie == p->second && candidate.trace)
      return &candidate;
  return nullptr;
}

std::size_t TraceGuide::pick(const std::vector<Runnable>& ready)
{
  std::size_t best = ready.size();
  std::uint64_t best_key = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t i = 0; i < ready.size(); ++i) {
    std::uint64_t k = key(ready[i]);
    if (k == 0)
      return i;
    if (k < best_key ||
        (k == best_key && ready[i].kind == Runnable::resume_call)) {
      best_key = k;
      best = i;
    }
  }
  // What the kernel did after the next netfs call waits for that call.
  if (best_key >= m_horizon)
    return ready.size();
  return best;
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
  std::vector<std::pair<std::uint64_t, std::pair<std::string, std::size_t>>>
      order;
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
    std::string got =
        es == e.steps.end() || i >= es->second.size()
            ? "(nothing: the engine's history of this cookie ends here)"
            : es->second[i].what;
    if (got != ts.what) {
      d.found = true;
      d.line = line;
      d.previous =
          where.second > 0 ? t.steps.at(ptr)[where.second - 1].line : 0;
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

std::map<std::uint64_t, std::string>
trace_lines_at(const std::string& path,
               const std::vector<std::uint64_t>& numbers)
{
  std::set<std::uint64_t> want(numbers.begin(), numbers.end());
  std::map<std::uint64_t, std::string> out;
  if (want.empty())
    return out;
  LineReader r(path);
  std::string_view text;
  while (r.next(text)) {
    if (want.count(r.line_number()))
      out.emplace(r.line_number(), std::string(text));
    if (r.line_number() >= *want.rbegin())
      break;
  }
  return out;
}

} // namespace fsc::trace
