// rebuild_v2.cpp - a 6.1/6.12 trace back to its netfs calls (the lines
// that show a call are listed in rebuild_v2.hpp), and the comparison
// material: per cookie, volume and cache, the fscache lines and the
// cachefiles_ref lines of its objects, with their counts.
#include <fsc/trace/rebuild_v2.hpp>

#include <fsc/error.hpp>
#include <fsc/trace/trace.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <set>
#include <tuple>

namespace fsc::trace {

namespace {

/// One event line, kept whole: the calls are read with some look-ahead.
struct Ev {
  std::uint64_t line = 0;
  int pid = 0;
  std::int64_t ts_ns = 0;
  std::string event, body;
  Fields f; ///< views into body: Evs live in a deque, never moved
};

std::optional<std::uint64_t> hex_of(std::optional<std::string_view> v)
{
  if (!v || v->empty())
    return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n, 16);
  if (ec != std::errc() || p != v->data() + v->size())
    return std::nullopt;
  return n;
}

/// A 6.x debug id: exactly 8 hex digits.
std::optional<std::uint32_t> id_of(std::optional<std::string_view> v)
{
  if (!v || v->size() != 8)
    return std::nullopt;
  auto n = hex_of(v);
  return n ? std::optional<std::uint32_t>(std::uint32_t(*n)) : std::nullopt;
}

std::string thing_name(char letter, std::uint32_t id)
{
  return fmt::format("{}={:08x}", letter, id);
}

bool fscache_event(std::string_view e) { return e.rfind("fscache_", 0) == 0; }

/// What a 6.x fscache line looks like, against 4.19's: 8-digit ids, and
/// r= on cookie lines (4.19 prints u=).
bool looks_v6(const Ev& e)
{
  if (e.event == "fscache_cookie")
    return id_of(e.f.get("c")) && e.f.get("r");
  if (e.event == "fscache_acquire")
    return e.f.get("V").has_value();
  return e.event == "fscache_volume" || e.event == "fscache_access" ||
         e.event == "fscache_active" || e.event == "fscache_cache";
}

/// The compared thing a line belongs to ("" if none): fscache lines and
/// the object refs (cachefiles_ref) go to their cookie, volume or cache;
/// other cachefiles lines show the backing filesystem, not the engine.
std::string thing_of(std::string_view event, const Fields& f)
{
  if (event == "fscache_cache" || event == "fscache_access_cache") {
    auto C = id_of(f.get("C"));
    return C ? thing_name('C', *C) : std::string();
  }
  if (event == "fscache_volume" || event == "fscache_access_volume") {
    auto c = id_of(f.get("c"));
    if (c && *c != 0)
      return thing_name('c', *c);
    auto V = id_of(f.get("V"));
    return V ? thing_name('V', *V) : std::string();
  }
  if (fscache_event(event) || event == "cachefiles_ref") {
    auto c = id_of(f.get("c"));
    return c ? thing_name('c', *c) : std::string();
  }
  return {};
}

std::string rtrim(std::string_view s)
{
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

/// Builds the calls from the events, in one pass with look-ahead.
class Builder {
public:
  Builder(const std::string& path, std::deque<Ev>& evs, V2Rebuilt& out)
      : m_path(path), m_evs(evs), m_out(out)
  {
  }
  void run();

private:
  void event(std::size_t i);
  void cache_line(const Ev& e);
  void volume_line(const Ev& e);
  void cookie_line(const Ev& e);
  void access_line(const Ev& e);
  void ref_line(std::size_t i);
  void creation_rest(const Ev& e);
  void found_line(const Ev& e);
  void note(const Ev& e, const std::string& what)
  {
    if (m_out.notes.size() < 100)
      m_out.notes.push_back(fmt::format("{}:{}: {}", m_path, e.line, what));
  }
  V2Call call(const Ev& e, V2Call::Kind k, std::uint32_t id)
  {
    V2Call c;
    c.kind = k;
    c.line = e.line;
    c.pid = e.pid;
    c.ts_ns = e.ts_ns;
    c.id = id;
    return c;
  }
  /// A call on a cookie the trace acquired; others are noted once.
  bool known_cookie(const Ev& e, std::uint32_t c)
  {
    if (m_cookies.count(c))
      return true;
    if (m_unknown.insert(c).second)
      note(e, fmt::format("c={:08x} was acquired before the trace began: "
                          "its calls are not replayed",
                          c));
    return false;
  }
  void sizes();
  void drop_orphans();
  void late_ends();
  void split_late_puts();
  void late_marks();
  void finish();

  const std::string& m_path;
  std::deque<Ev>& m_evs;
  V2Rebuilt& m_out;
  std::set<std::uint32_t> m_cookies, m_volumes, m_unknown;
  std::map<std::uint32_t, std::size_t> m_acquire_call; ///< cookie -> call
  std::map<std::uint32_t, int> m_creating; ///< V= being created -> pid
  std::map<std::uint32_t, unsigned> m_creations; ///< V= -> creations seen
  std::set<std::uint32_t> m_unpinned; ///< V= being created, no PIN cache yet
  std::map<int, std::size_t> m_last_cookie_acq, m_last_volume_acq; ///< pid
  std::map<std::uint32_t, std::uint32_t> m_volume_of;              ///< cookie
  std::map<std::uint32_t, std::uint32_t> m_cookie_of_obj;
  std::set<std::uint32_t> m_found_obj;           ///< lookups that found a file
  std::set<std::uint32_t> m_negative;            ///< negative, no tmpfile yet
  std::map<std::uint32_t, std::uint64_t> m_size; ///< cookie, from its I/O
  std::map<std::uint32_t, unsigned> m_flags;     ///< cookie, at relinquish
  std::map<std::pair<int, std::uint32_t>, bool> m_resizing; ///< pid, c
  std::map<std::pair<int, std::uint32_t>, bool> m_last_modify;
  bool m_bound = false;
};

void Builder::run()
{
  sizes();
  for (std::size_t i = 0; i < m_evs.size(); ++i)
    event(i);
  finish();
}

// What a cookie's size was, from what its objects show: the expanded
// tmpfile (round_up(size, 4096)), else the end of its last write or read
// (a file found in the cache holds data there). The
// trace prints no size at acquire; a never-used cookie's relinquish shows
// NO_DATA_TO_READ (f bit 3) only for size 0.
void Builder::sizes()
{
  for (const Ev& e : m_evs) {
    if (e.event == "cachefiles_ref") {
      auto c = id_of(e.f.get("c"));
      auto o = id_of(e.f.get("o"));
      if (c && o)
        m_cookie_of_obj[*o] = *c;
      continue;
    }
    if (e.event == "fscache_relinquish") {
      auto c = id_of(e.f.get("c"));
      auto fl = hex_of(e.f.get("f"));
      if (c && fl)
        m_flags[*c] = unsigned(*fl);
      continue;
    }
    if (e.event != "cachefiles_trunc" && e.event != "cachefiles_write" &&
        e.event != "cachefiles_read")
      continue;
    auto o = id_of(e.f.get("o"));
    auto it = o ? m_cookie_of_obj.find(*o) : m_cookie_of_obj.end();
    if (it == m_cookie_of_obj.end())
      continue;
    std::uint64_t end = 0;
    if (e.event == "cachefiles_trunc" && e.f.words.find("EXPTMP") == 0) {
      auto l = e.f.get("l");
      auto arrow = l ? l->find("->") : std::string_view::npos;
      if (arrow != std::string_view::npos)
        end = hex_of(l->substr(arrow + 2)).value_or(0);
    } else if (e.event == "cachefiles_write" ||
               e.event == "cachefiles_read") { // a read: data found there
      end = hex_of(e.f.get("s")).value_or(0) + hex_of(e.f.get("l")).value_or(0);
    }
    m_size[it->second] = std::max(m_size[it->second], end);
  }
}

void Builder::event(std::size_t i)
{
  const Ev& e = m_evs[i];
  std::string thing = thing_of(e.event, e.f);
  if (!thing.empty())
    m_out.steps[thing].push_back(
        {e.line, e.pid, e.ts_ns, e.event + ": " + rtrim(e.body)});
  std::string marked = thing;
  if (marked.empty() && e.event.rfind("cachefiles_", 0) == 0)
    if (auto o = id_of(e.f.get("o")); o && *o) {
      auto c = m_cookie_of_obj.find(*o);
      if (c != m_cookie_of_obj.end())
        marked = thing_name('c', c->second);
    }
  if (!marked.empty() && marked[0] != 'C')
    m_out.marks[marked].push_back({e.line, e.pid, e.event});
  if (e.event == "fscache_volume" || e.event == "fscache_access_volume" ||
      e.event == "fscache_cache" || e.event == "fscache_access_cache")
    m_out.shared[e.pid].push_back(e.line);
  if (e.event == "fscache_cache" || e.event == "fscache_access_cache")
    cache_line(e);
  else if (e.event == "fscache_volume")
    volume_line(e);
  else if (e.event == "fscache_cookie" || e.event == "fscache_active" ||
           e.event == "fscache_relinquish" || e.event == "fscache_acquire" ||
           e.event == "fscache_invalidate" || e.event == "fscache_resize")
    cookie_line(e);
  else if (e.event == "fscache_access")
    access_line(e);
  if (e.event == "fscache_access_volume" || e.event == "fscache_access_cache")
    creation_rest(e);
  else if (e.event == "cachefiles_ref")
    ref_line(i);
  else if (e.event == "cachefiles_lookup" || e.event == "cachefiles_coherency")
    found_line(e);
  else if (e.event == "cachefiles_tmpfile")
    if (auto o = id_of(e.f.get("o")))
      m_negative.erase(*o);
}

void Builder::cache_line(const Ev& e)
{
  if (e.event != "fscache_access_cache")
    return;
  if (e.f.words == "PIN cache") {
    m_out.calls.push_back(call(e, V2Call::add_cache, 0));
    m_bound = true;
  } else if (e.f.words == "UNPIN cache") {
    m_out.calls.push_back(call(e, V2Call::withdraw_cache, 0));
  }
}

void Builder::volume_line(const Ev& e)
{
  auto V = id_of(e.f.get("V"));
  if (!V) {
    note(e, "fscache_volume without a V= id: skipped");
    return;
  }
  const std::string& w = e.f.words;
  if (w == "NEW acq") {
    m_volumes.insert(*V);
    m_last_volume_acq[e.pid] = m_out.calls.size();
    m_out.calls.push_back(call(e, V2Call::acquire_volume, *V));
  } else if (w == "SEE creat") {
    m_creating[*V] = e.pid;
    ++m_creations[*V];
    m_unpinned.insert(*V);
  } else if (w == "PUT creat" && m_unpinned.erase(*V)) {
    // The creation's end with no PIN cache: the backend failed.
    m_out.volume_failed[*V].insert(m_creations[*V]);
  } else if (w == "PUT relnq" && m_volumes.count(*V)) {
    m_out.calls.push_back(call(e, V2Call::relinquish_volume, *V));
  } else if (w == "*COLLIDE*" || w == "GET hcoll") {
    // The volume this task is acquiring has the key of the one printed.
    auto it = m_last_volume_acq.find(e.pid);
    if (it != m_last_volume_acq.end() && m_out.calls[it->second].id != *V)
      m_out.calls[it->second].twin = *V;
  }
}

void Builder::cookie_line(const Ev& e)
{
  auto c = id_of(e.f.get("c"));
  if (!c) {
    note(e, fmt::format("{} without a c= id: skipped", e.event));
    return;
  }
  const std::string& w = e.f.words;
  if (e.event == "fscache_cookie") {
    if (w == "NEW acq") {
      m_cookies.insert(*c);
      m_acquire_call[*c] = m_out.calls.size();
      m_last_cookie_acq[e.pid] = m_out.calls.size();
      V2Call k = call(e, V2Call::acquire_cookie, *c);
      auto s = m_size.find(*c);
      auto fl = m_flags.find(*c);
      if (s != m_size.end())
        k.size = s->second;
      else if (fl != m_flags.end() && fl->second & 0x08)
        k.size = 0; // NO_DATA_TO_READ and no object: acquired with size 0
      else
        k.size = 4096;
      m_out.calls.push_back(k);
    } else if (w == "*COLLIDE*" || w == "GET hcoll") {
      auto it = m_last_cookie_acq.find(e.pid);
      if (it != m_last_cookie_acq.end() && m_out.calls[it->second].id != *c)
        m_out.calls[it->second].twin = *c;
    }
    return;
  }
  if (e.event == "fscache_acquire") {
    auto V = id_of(e.f.get("V"));
    auto it = m_acquire_call.find(*c);
    if (V && it != m_acquire_call.end()) {
      m_out.calls[it->second].volume = *V;
      m_volume_of[*c] = *V;
    }
    return;
  }
  if (!known_cookie(e, *c))
    return;
  V2Call k = call(e, V2Call::use, *c);
  if (e.event == "fscache_active") {
    if (w == "USE" || w == "USE-m") {
      k.flag = w == "USE-m";
      m_last_modify[{e.pid, *c}] = k.flag;
    } else if (w == "UNUSE") {
      k.kind = V2Call::unuse;
    } else {
      note(e, fmt::format("fscache_active {}: not a 6.1 call, skipped", w));
      return;
    }
  } else if (e.event == "fscache_relinquish") {
    k.kind = V2Call::relinquish;
    k.flag = hex_of(e.f.get("rt")).value_or(0) != 0;
  } else if (e.event == "fscache_invalidate") {
    k.kind = V2Call::invalidate;
    k.size = hex_of(e.f.get("sz")).value_or(0);
    // NFS invalidates with FSCACHE_INVAL_DIO_WRITE right after a use
    // for writing (fs/nfs/fscache.c nfs_fscache_open_file()).
    k.flag = m_last_modify[{e.pid, *c}];
  } else {
    k.kind = V2Call::resize;
    k.size = hex_of(e.f.get("sz")).value_or(0);
    m_resizing[{e.pid, *c}] = true;
  }
  m_out.calls.push_back(k);
}

void Builder::access_line(const Ev& e)
{
  auto c = id_of(e.f.get("c"));
  if (!c) {
    note(e, "fscache_access without a c= id: skipped");
    return;
  }
  const std::string& w = e.f.words;
  V2Call::Kind k;
  if (w == "BEGIN io_read") {
    k = V2Call::begin_read;
  } else if (w == "BEGIN io_writ") {
    k = V2Call::begin_write;
  } else if (w == "END io") {
    // A resize begins and ends its own operation (BEGIN io_resz).
    bool& resizing = m_resizing[{e.pid, *c}];
    if (resizing) {
      resizing = false;
      return;
    }
    k = V2Call::end_operation;
  } else {
    return;
  }
  if (known_cookie(e, *c))
    m_out.calls.push_back(call(e, k, *c));
}

// Where the end of a volume's creation runs: its pin, or (when the backend
// failed) the cache's END acq_vol on the worker that printed its SEE creat.
void Builder::creation_rest(const Ev& e)
{
  auto it = m_creating.end();
  if (e.event == "fscache_access_volume" && e.f.words == "PIN cache") {
    auto V = id_of(e.f.get("V"));
    if (V)
      m_unpinned.erase(*V);
    it = V ? m_creating.find(*V) : m_creating.end();
  } else if (e.event == "fscache_access_cache" && e.f.words == "END acq_vol") {
    it = std::find_if(m_creating.begin(), m_creating.end(),
                      [&e](const auto& c) { return c.second == e.pid; });
  }
  if (it == m_creating.end())
    return;
  m_out.work_starts[thing_name('V', it->first) + "+"].push_back(e.line);
  m_creating.erase(it);
}

// A cookie's first object whose lookup found a file (B= not 0, e=0), and
// the verdict of its coherency check: the trace's cache held that file.
void Builder::found_line(const Ev& e)
{
  auto o = id_of(e.f.get("o"));
  if (!o || *o == 0)
    return;
  if (e.event == "cachefiles_lookup") {
    if (hex_of(e.f.get("B")).value_or(0) != 0 && e.f.get("e") == "0")
      m_found_obj.insert(*o);
    else if (e.f.get("e") == "-2")
      m_negative.insert(*o);
    return;
  }
  if (e.f.words.rfind("BAD", 0) == 0)
    m_negative.insert(*o); // replaced: a tmpfile is made next
  if (!m_found_obj.erase(*o))
    return; // a commit's SET, or a lookup that found nothing
  auto c = m_cookie_of_obj.find(*o);
  if (c == m_cookie_of_obj.end())
    return;
  const auto& objs = m_out.objects[c->second];
  if (!objs.empty() && objs.front() == *o)
    m_out.found[c->second] = e.f.words;
}

// GET ioreq: the read or write the same task prints next for the object.
// PUT ioreq: a write's or a read's completion (6.12 completes reads
// after the task's next calls).
void Builder::ref_line(std::size_t i)
{
  const Ev& e = m_evs[i];
  auto c = id_of(e.f.get("c"));
  auto o = id_of(e.f.get("o"));
  if (!c || !o) {
    note(e, "cachefiles_ref without c= and o= ids: skipped");
    return;
  }
  const std::string& w = e.f.words;
  if (w == "NEW obj") {
    m_out.objects[*c].push_back(*o);
    return;
  }
  if (w == "SEE lookup_failed" && m_negative.erase(*o)) {
    m_out.no_space.insert(*o);
    return;
  }
  if (w == "PUT ioreq") { // a write's or read's completion
    if (known_cookie(e, *c))
      m_out.calls.push_back(call(e, V2Call::complete_write, *c));
    return;
  }
  if (w != "GET ioreq" || !known_cookie(e, *c))
    return;
  for (std::size_t j = i + 1; j < m_evs.size() && j < i + 256; ++j) {
    const Ev& n = m_evs[j];
    if (n.pid != e.pid ||
        (n.event != "cachefiles_write" && n.event != "cachefiles_read") ||
        id_of(n.f.get("o")) != o)
      continue;
    V2Call k = call(e, V2Call::write, *c);
    if (n.event == "cachefiles_read")
      k.kind = V2Call::read;
    k.pos = hex_of(n.f.get("s")).value_or(0);
    k.len = hex_of(n.f.get("l")).value_or(0);
    m_out.calls.push_back(k);
    return;
  }
  if (i + 256 >= m_evs.size() && !m_out.cut_at) {
    m_out.cut_at = e.line; // the trace ends before its write
    note(e, "the trace ends inside this write: from here on nothing is "
            "compared");
    return;
  }
  note(e, "GET ioreq without its cachefiles_read/_write: skipped");
}

/// A count a line shows: a cookie's accesses (fscache_access a=, printed
/// after the change) or an object's refs (cachefiles_ref u=, printed
/// before it), the change the line makes, and whose count it is.
struct Count {
  long v = 0;
  int d = 0;
  bool before = false;
  std::string key;
};

/// The change the words after an id (`id` and 8 hex digits) make: +1
/// for a get (GET, GQ), -1 for a put (PUT, PQ), 0 else.
std::optional<int> change_after(const std::string& text, std::string_view id)
{
  auto w = text.find(id);
  if (w == std::string::npos || w + id.size() + 9 > text.size())
    return std::nullopt;
  const std::string_view words =
      std::string_view(text).substr(w + id.size() + 9);
  return words.starts_with("GET ") || words.starts_with("GQ ")   ? 1
         : words.starts_with("PUT ") || words.starts_with("PQ ") ? -1
                                                                 : 0;
}

std::optional<Count> count_of(const std::string& text)
{
  Count c;
  std::string::size_type at;
  if (text.rfind("fscache_active: ", 0) == 0) {
    at = text.find(" a="); // USE/UNUSE print the accesses, unchanged
    c.key = "a";
  } else if (text.rfind("fscache_access: ", 0) == 0) {
    at = text.rfind(" a=");
    c.d = text.find(" BEGIN ") != std::string::npos ? 1
          : text.find(" END ") != std::string::npos ? -1
                                                    : 0;
    c.key = "a";
  } else if (text.rfind("cachefiles_ref: ", 0) == 0) {
    at = text.find(" u=");
    c.before = true;
    c.d = text.find(" GET ") != std::string::npos   ? 1
          : text.find(" PUT ") != std::string::npos ? -1
                                                    : 0;
    auto o = text.find(" o=");
    if (o == std::string::npos)
      return std::nullopt;
    c.key = text.substr(o + 1, 10);
  } else if (text.rfind("fscache_volume: ", 0) == 0) {
    at = text.rfind(" u="); // the volume's refs, after the change
    auto d = change_after(text, "V=");
    if (!d)
      return std::nullopt;
    c.d = *d;
    c.key = "u";
  } else if (text.rfind("fscache_cookie: ", 0) == 0) {
    at = text.rfind(" r="); // the cookie's refs, after the change
    auto d = change_after(text, " c=");
    if (!d)
      return std::nullopt;
    c.d = *d;
    c.key = "r";
  } else {
    return std::nullopt;
  }
  if (at == std::string::npos)
    return std::nullopt;
  c.v = std::strtol(text.c_str() + at + 3, nullptr, 10);
  return c;
}

/// Did the change `change` queue the work item whose start is `line`?
bool queued_it(const std::string& change, const std::string& line)
{
  return change.find(" GQ ") != std::string::npos &&
         line.find(" -   work ") != std::string::npos;
}

/// The refs (r=) every fscache_access line prints, read when it prints
/// (after its own access change, if any): counted with the fscache_cookie
/// lines' r= (6.1: a reader's END io r=2 printed before the worker's PQ
/// work r=2 that came first).
std::optional<Count> refs_of_access(const std::string& text)
{
  if (text.rfind("fscache_access: ", 0) != 0)
    return std::nullopt;
  auto at = text.find(" r=");
  if (at == std::string::npos)
    return std::nullopt;
  Count c;
  c.key = "r";
  c.v = std::strtol(text.c_str() + at + 3, nullptr, 10);
  return c;
}

/// Did step i's task print a line of the thing after step `from`? Then
/// step i ran after that line, so after `from` too.
bool printed_between(const std::vector<V2Step>& steps, std::size_t from,
                     std::size_t i)
{
  for (std::size_t k = from + 1; k < i; ++k)
    if (steps[k].pid == steps[i].pid)
      return true;
  return false;
}

/// A change of a count printed at the same timestamp as the ones before
/// it (a tie), and the count's value before it.
struct TieChange {
  std::size_t at = 0;
  long before = 0;
  std::int64_t ts_ns = 0;
};

/// Where in the tie `th` the change `c` at step i fits, had it run
/// earlier: the latest of the tie's changes (past none of its own task's)
/// before which the value it shows holds.
std::optional<std::size_t> tie_anchor(const std::vector<V2Step>& steps,
                                      const std::vector<TieChange>& th,
                                      std::size_t i, const Count& c)
{
  if (c.d == 0)
    return std::nullopt;
  for (std::size_t a = th.size(); a-- > 0;) {
    if (steps[th[a].at].pid == steps[i].pid ||
        th[a].ts_ns != steps[i].ts_ns)
      break;
    if (c.v == (c.before ? th[a].before : th[a].before + c.d))
      return a;
  }
  return std::nullopt;
}

// A cookie's access count (a=) runs +1 at each BEGIN line and -1 at each
// END; its refs (r= of fscache_cookie) +1 at each GET (GQ) and -1 at each
// PUT (PQ); an object's refs (u=) +1 at each GET and -1 at each PUT. Where a
// line shows another value, and a later line of another task (within
// 20 ms) shows the value it would have had first, that one happened
// first and was printed late (its task stopped between the change and
// its trace line: seen for milliseconds in TCG guests, 35 ms once with the
// host busy, the window fsc refs uses for them: 100 ms). Its call runs
// before this line's, and it may match ahead by as much.
void Builder::late_ends()
{
  constexpr std::int64_t k_window = 100'000'000;
  std::map<std::uint64_t, std::uint64_t> before; // late line -> line
  for (auto& [thing, steps] : m_out.steps) {
    if (thing[0] != 'c' && thing[0] != 'V')
      continue;
    std::set<std::size_t> done;
    std::map<std::string, std::vector<TieChange>> tie; // per count
    std::map<std::string, long> cur; // per count, its value now
    /// per count, its last changing line and the value before it
    std::map<std::string, std::pair<std::size_t, long>> last;
    // Each count line once; a wait (or any fscache_access line that
    // changes no access) also prints the refs, read when it was made.
    std::vector<std::pair<std::size_t, Count>> lines;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto ci = count_of(steps[i].text);
      if (!ci)
        continue;
      lines.emplace_back(i, *ci);
      if (auto r = refs_of_access(steps[i].text))
        lines.emplace_back(i, *r);
    }
    for (auto& [i, count] : lines) {
      const Count* ci = &count;
      if (done.count(i))
        continue;
      auto it = cur.find(ci->key);
      const long after = ci->before ? ci->v + ci->d : ci->v;
      if (it == cur.end() ||
          steps[i].text.find(" NEW obj") != std::string::npos ||
          steps[i].text.find(" NEW acq") != std::string::npos) {
        cur[ci->key] = after;
        continue;
      }
      const long now = it->second;
      std::vector<TieChange>& th = tie[ci->key];
      if (!th.empty() && th.back().ts_ns != steps[i].ts_ns)
        th.clear();
      if (ci->v == (ci->before ? now : now + ci->d)) {
        if (ci->d) {
          last[ci->key] = {i, now};
          th.push_back({i, now, steps[i].ts_ns});
        }
        it->second = after;
        continue;
      }
      if (auto a = tie_anchor(steps, th, i, *ci)) {
        // Its task's change came before another task's at the same
        // timestamp (ftrace prints a tie CPU 0 first): it ran there.
        for (std::size_t b = *a; b < th.size(); ++b)
          th[b].before += ci->d;
        steps[i].late = true;
        before[steps[i].line] = steps[th[*a].at].line;
        it->second = now + ci->d;
        continue;
      }
      // A line that changes nothing, printed after another task's change
      // that it preceded (its count is the one before that change); never
      // a work item's start before the GQ that queued it (a put printed
      // late explains that one: below).
      if (auto l = last.find(ci->key);
          ci->d == 0 && l != last.end() &&
          !queued_it(steps[l->second.first].text, steps[i].text) &&
          steps[l->second.first].pid != steps[i].pid &&
          steps[i].ts_ns - steps[l->second.first].ts_ns <= k_window &&
          ci->v == l->second.second &&
          !printed_between(steps, l->second.first, i)) {
        steps[i].late = true;
        steps[i].late_ns = steps[i].ts_ns - steps[l->second.first].ts_ns;
        before[steps[i].line] = steps[l->second.first].line;
        continue;
      }
      for (std::size_t j = i + 1;
           j < steps.size() && steps[j].ts_ns - steps[i].ts_ns <= k_window;
           ++j) {
        auto cj = count_of(steps[j].text);
        if (!cj || cj->key != ci->key || steps[j].pid == steps[i].pid ||
            done.count(j) || cj->d == 0)
          continue;
        const long mid = now + cj->d; // after j, had it come first
        if (cj->v == (cj->before ? now : mid) &&
            ci->v == (ci->before ? mid : mid + ci->d)) {
          done.insert(j);
          last[ci->key] = {i, mid};
          steps[j].late = true;
          steps[j].late_ns = steps[j].ts_ns - steps[i].ts_ns;
          before[steps[j].line] = steps[i].line;
          break;
        }
      }
      it->second = after;
    }
  }
  m_out.ran_at = before;
  auto& calls = m_out.calls;
  for (const auto& [late, at] : before) {
    auto from = std::find_if(calls.begin(), calls.end(), [&](const V2Call& k) {
      return k.line == late && k.kind >= V2Call::acquire_cookie;
    });
    auto to = std::find_if(calls.begin(), calls.end(),
                           [&](const V2Call& k) { return k.line >= at; });
    if (from == calls.end() || to == calls.end() || to > from)
      continue;
    // It ran there (before the line at `at`), and so did its own task's
    // calls between: they go with it, in their order (a late BEGIN
    // io_writ moved already, its write's GET ioreq later still: 6.1, a
    // clock that stood still while two kworkers wrote one cookie).
    const int pid = from->pid;
    std::stable_partition(to, std::next(from), [pid](const V2Call& c) {
      return c.pid == pid;
    });
    for (auto it = to; it != calls.end() && it->pid == pid; ++it)
      if (it->line > at) {
        it->line = at;
        it->ran_before = true;
      }
    m_out.late.push_back(fmt::format("{}->{}", late, at));
  }
}

/// A task's put (`word`) of a cookie after the line `from`, printed after
/// another task's worker started the cookie's work; and the task's last
/// GQ endac before it.
struct LatePut {
  const V2Step* put = nullptr;
  std::uint64_t queued = 0;
};
LatePut put_after_work(const std::vector<V2Step>& steps, std::uint64_t from,
                       int pid, std::string_view word)
{
  LatePut out;
  bool started = false;
  for (const V2Step& s : steps) {
    if (s.line <= from)
      continue;
    if (s.pid != pid) {
      started |= s.text.find(" -   work ") != std::string::npos;
      continue;
    }
    if (s.text.find(" GQ  endac ") != std::string::npos)
      out.queued = s.line;
    if (s.text.find(word) == std::string::npos)
      continue;
    if (started)
      out.put = &s;
    break;
  }
  return out;
}

// The relinquishing task and the LRU worker hold no lock between queuing a
// withdrawal (GQ endac) and their put: where a worker started that
// withdrawal before the put's line, the put is a call of its own, let in
// where the worker stops (6.1 and 6.12: PUT relnq or PUT lru printed after
// the worker's SEE clean_commit, in the middle of the withdrawal).
void Builder::split_late_puts()
{
  std::vector<V2Call> puts;
  for (V2Call& k : m_out.calls) {
    if (k.kind != V2Call::relinquish)
      continue;
    auto t = m_out.steps.find(fmt::format("c={:08x}", k.id));
    if (t == m_out.steps.end())
      continue;
    if (LatePut lp = put_after_work(t->second, k.line, k.pid, " PUT relnq ");
        lp.put) {
      V2Call p = k;
      p.kind = V2Call::put_relinquished;
      p.line = lp.put->line;
      p.ts_ns = lp.put->ts_ns;
      puts.push_back(p);
      k.put_later = true;
    }
  }
  for (const auto& [thing, steps] : m_out.steps) {
    if (thing[0] != 'c')
      continue;
    for (const V2Step& s : steps) {
      if (s.text.find(" -   lrudo ") == std::string::npos)
        continue;
      LatePut lp = put_after_work(steps, s.line, s.pid, " PUT lru ");
      if (!lp.put || !lp.queued)
        continue;
      V2Call p;
      p.kind = V2Call::put_lru;
      p.line = lp.put->line;
      p.pid = s.pid;
      p.ts_ns = lp.put->ts_ns;
      p.id = std::uint32_t(std::strtoul(thing.c_str() + 2, nullptr, 16));
      puts.push_back(p);
      m_out.lru_put_split.insert(lp.queued);
    }
  }
  for (const V2Call& p : puts) {
    auto at = std::upper_bound(
        m_out.calls.begin(), m_out.calls.end(), p.line,
        [](std::uint64_t line, const V2Call& k) { return line < k.line; });
    m_out.calls.insert(at, p);
  }
}

// A line printed late stands among its thing's marks where it ran: the
// k-th line of its event the engine prints is that one (6.12: a worker's
// PIN cache a=1 printed after a read's BEGIN a=2 that followed it).
void Builder::late_marks()
{
  for (auto& [thing, marks] : m_out.marks)
    for (std::size_t i = 0; i < marks.size(); ++i) {
      auto late = m_out.ran_at.find(marks[i].line);
      if (late == m_out.ran_at.end())
        continue;
      std::size_t to = i;
      while (to > 0 && marks[to - 1].line >= late->second)
        --to;
      std::rotate(marks.begin() + std::ptrdiff_t(to),
                  marks.begin() + std::ptrdiff_t(i),
                  marks.begin() + std::ptrdiff_t(i) + 1);
    }
}

// Cookies of a volume acquired before the trace began are not replayed:
// their lines print that volume's counts (vr=, r= of the volume access),
// which rest on cookies the trace never shows.
void Builder::drop_orphans()
{
  std::set<std::uint32_t> orphans, noted;
  for (const V2Call& k : m_out.calls)
    if (k.kind == V2Call::acquire_cookie && !m_volumes.count(k.volume)) {
      orphans.insert(k.id);
      if (noted.insert(k.volume).second)
        m_out.notes.push_back(fmt::format(
            "{}:{}: V={:08x} was acquired before the trace began: its "
            "cookies are not replayed",
            m_path, k.line, k.volume));
    }
  if (orphans.empty())
    return;
  auto cookie_call = [&](const V2Call& k) {
    return k.kind >= V2Call::acquire_cookie && orphans.count(k.id);
  };
  m_out.calls.erase(
      std::remove_if(m_out.calls.begin(), m_out.calls.end(), cookie_call),
      m_out.calls.end());
  for (std::uint32_t c : orphans)
    m_cookies.erase(c);
}

void Builder::finish()
{
  // A cookie that lost a collision (DISCARD) prints no fscache_acquire:
  // it was acquired in its twin's volume.
  for (V2Call& k : m_out.calls)
    if (k.kind == V2Call::acquire_cookie && !k.volume && k.twin)
      k.volume = m_volume_of[k.twin];
  drop_orphans();
  split_late_puts();
  late_ends();
  late_marks();
  // Where each call's timestamp ends (see V2Call::tie_end).
  std::vector<std::uint64_t> later(m_evs.size(), 0);
  std::map<std::uint64_t, std::size_t> index;
  for (std::size_t i = m_evs.size(); i-- > 0;) {
    index[m_evs[i].line] = i;
    if (i + 1 < m_evs.size())
      later[i] = m_evs[i + 1].ts_ns > m_evs[i].ts_ns ? m_evs[i + 1].line
                                                     : later[i + 1];
  }
  for (V2Call& k : m_out.calls)
    if (auto it = index.find(k.line); it != index.end())
      k.tie_end = later[it->second];
  if (!m_bound && !m_out.calls.empty()) {
    V2Call bind;
    bind.kind = V2Call::add_cache;
    m_out.calls.insert(m_out.calls.begin(), bind);
    m_out.cache_compared = false;
    m_out.notes.push_back(fmt::format(
        "{}: the cache was bound before the trace began: the replay binds "
        "one first and does not compare the cache's lines",
        m_path));
    for (auto it = m_out.steps.begin(); it != m_out.steps.end();)
      it = it->first[0] == 'C' ? m_out.steps.erase(it) : std::next(it);
  }
  // Only what the trace shows from its birth can be compared.
  for (auto it = m_out.steps.begin(); it != m_out.steps.end();) {
    std::uint32_t id =
        std::uint32_t(std::strtoul(it->first.c_str() + 2, nullptr, 16));
    bool keep = it->first[0] == 'C' ||
                (it->first[0] == 'c' && m_cookies.count(id)) ||
                (it->first[0] == 'V' && m_volumes.count(id));
    it = keep ? std::next(it) : m_out.steps.erase(it);
  }
  m_out.cookies = m_cookies.size();
  m_out.volumes = m_volumes.size();
  std::vector<std::tuple<std::uint64_t, std::int64_t, std::uint32_t>> lru;
  for (const auto& [thing, steps] : m_out.steps)
    for (const V2Step& s : steps) {
      if (s.text.find(" -   work ") != std::string::npos ||
          s.text.find(" SEE creat ") != std::string::npos)
        m_out.work_starts[thing].push_back(s.line);
      else if (s.text.find(" -   lrudo ") != std::string::npos)
        lru.emplace_back(s.line, s.ts_ns,
                         std::uint32_t(std::strtoul(thing.c_str() + 2,
                                                    nullptr, 16)));
    }
  std::sort(lru.begin(), lru.end());
  for (const auto& [line, ts, c] : lru) {
    m_out.lru_starts.push_back(line);
    m_out.lru_start_ts.push_back(ts);
    m_out.lru_cookies.push_back(c);
  }
}

} // namespace

std::string v2_thing_of(std::string_view event, std::string_view body)
{
  return thing_of(event, split_fields(body));
}

Gen trace_generation(const std::string& path)
{
  LineReader r(path);
  std::string_view text;
  Ev e;
  while (r.next(text)) {
    Parsed p = parse_line(text);
    if (p.kind != Kind::event || !fscache_event(p.line.event))
      continue;
    e.event = std::string(p.line.event);
    e.body = std::string(p.line.body);
    e.f = split_fields(e.body);
    if (e.event == "fscache_cookie" || e.event == "fscache_acquire" ||
        e.event == "fscache_volume" || e.event == "fscache_access" ||
        e.event == "fscache_active" || e.event == "fscache_cache")
      return looks_v6(e) ? Gen::v61 : Gen::v419;
    if (r.line_number() > 100000)
      break;
  }
  return Gen::unknown;
}

V2Rebuilt rebuild_v2(const std::string& path)
{
  V2Rebuilt out;
  std::deque<Ev> evs;
  LineReader r(path);
  std::string_view text;
  bool v6 = false;
  while (r.next(text)) {
    Parsed p = parse_line(text);
    if (p.kind == Kind::malformed) {
      ++out.malformed;
      if (out.notes.size() < 100)
        out.notes.push_back(fmt::format("{}:{}: not a trace line ({}): {}",
                                        path, r.line_number(), p.why,
                                        text.substr(0, 120)));
      continue;
    }
    if (p.kind != Kind::event)
      continue;
    ++out.events;
    std::string_view ev = p.line.event;
    if (ev.rfind("netfs_", 0) == 0) {
      out.gen = Gen::v612; // 6.1 NFS never calls the netfs library
      continue;
    }
    if (!fscache_event(ev) && ev.rfind("cachefiles_", 0) != 0)
      continue;
    Ev& e = evs.emplace_back();
    e.line = r.line_number();
    e.pid = p.line.pid;
    e.ts_ns = p.line.ts_ns;
    e.event = std::string(ev);
    e.body = std::string(p.line.body);
    e.f = split_fields(e.body);
    v6 = v6 || looks_v6(e);
  }
  out.lines = r.line_number();
  out.truncated = r.truncation();
  if (!v6)
    throw Error(fmt::format("{}: no 6.1/6.12 fscache event in it", path));
  if (out.gen != Gen::v612)
    out.gen = Gen::v61;
  Builder(path, evs, out).run();
  return out;
}

} // namespace fsc::trace
