// refs.cpp - refcount histories from trace lines. What a printed count
// means differs by kernel (spec v1-tracepoints §0.1): 6.1 cachefiles_ref
// prints the count before the change, everything else the count after it.
#include <fsc/trace/refs.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace fsc::trace {

const char* gen_name(Gen g)
{
  switch (g) {
  case Gen::v419: return "4.19";
  case Gen::v61: return "6.1";
  case Gen::unknown: break;
  }
  return "unknown";
}

std::string normal_id(std::string_view id)
{
  if (id.rfind("0x", 0) == 0)
    id.remove_prefix(2);
  while (id.size() > 1 && id.front() == '0')
    id.remove_prefix(1);
  std::string out(id);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

namespace {

std::int64_t number(std::string_view s)
{
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

/// +1 for a get, -1 for a put, 0 for a look; 2 for "set" (NEW).
int delta_of(std::string_view reason)
{
  if (reason.empty())
    return 0;
  switch (reason[0]) {
  case 'G': return 1;
  case 'P': return -1;
  case 'N': return reason.rfind("NEW", 0) == 0 ? 2 : 0;
  default: return 0;
  }
}

bool is_fscache(std::string_view event)
{
  return event.rfind("fscache_", 0) == 0 ||
         event.rfind("cachefiles_", 0) == 0 || event.rfind("netfs_", 0) == 0;
}

} // namespace

RefsAnalyzer::RefsAnalyzer(RefsOptions opt) : m_opt(std::move(opt))
{
  if (!m_opt.cookie.empty())
    m_opt.cookie = normal_id(m_opt.cookie);
  if (!m_opt.object.empty())
    m_opt.object = normal_id(m_opt.object);
}

void RefsAnalyzer::feed(std::string_view text, std::uint64_t lineno)
{
  ++m_r.lines;
  Parsed p = parse_line(text);
  if (p.kind == Kind::malformed) {
    ++m_r.malformed;
    if (m_r.malformed <= 20)
      m_r.findings.push_back({"malformed-line", "", 0, lineno, p.why});
    return;
  }
  Pending e;
  e.line = lineno;
  if (p.kind == Kind::lost) {
    ++m_r.lost_markers;
    m_r.lost_events += p.lost;
    e.type = 'L';
    e.lost = p.lost;
    e.ts = m_window.empty() ? 0 : m_window.back().ts;
    m_window.push_back(std::move(e));
    return;
  }
  if (p.kind != Kind::event)
    return;
  ++m_r.events;
  const Line& l = p.line;
  if (!is_fscache(l.event)) {
    ++m_r.unknown_events;
    ++m_r.unknown[std::string(l.event)];
    return;
  }
  ++m_r.fscache_events;
  Fields f = split_fields(l.body);
  e.ts = l.ts_ns;
  e.cpu = l.cpu;
  e.task = fmt::format("{}-{}", l.task, l.pid);
  e.event = l.event;
  e.body = l.body;
  e.reason = f.words;
  if (auto c = f.get("c"))
    e.cookie = normal_id(*c);
  if (auto o = f.get("o"))
    e.object = normal_id(*o);
  if (l.event == "fscache_cookie") {
    if (m_r.gen == Gen::unknown)
      m_r.gen = f.get("r") ? Gen::v61 : Gen::v419;
    auto n = f.get("r") ? f.get("r") : f.get("u");
    if (n) {
      e.type = 'c';
      e.id = e.cookie;
      e.printed = number(*n);
    }
  } else if (l.event == "cachefiles_ref" && f.get("u")) {
    e.type = 'o';
    e.id = e.object;
    e.printed = number(*f.get("u"));
    if (m_r.gen == Gen::unknown) // 6.1 ids are 8-digit debug ids
      m_r.gen = f.get("c") && f.get("c")->size() == 8 ? Gen::v61 : Gen::v419;
  } else if (l.event == "fscache_volume" && f.get("u") && f.get("V")) {
    e.type = 'V';
    e.id = normal_id(*f.get("V"));
    e.printed = number(*f.get("u"));
  } else if (l.event == "fscache_acquire") {
    if (m_r.gen == Gen::unknown)
      m_r.gen = f.get("V") ? Gen::v61 : Gen::v419;
    if (f.get("pu")) { // 4.19: the cookie is born with usage 1, untraced
      e.type = 'c';
      e.id = e.cookie;
      e.printed = 1;
      e.acquire = true;
      e.reason = "acquire";
    }
  } else if (l.event == "fscache_relinquish") {
    e.relinquish = true;
  }
  // Put back in timestamp order: lines of two CPUs interleave out of order.
  auto at = m_window.end();
  while (at != m_window.begin() && std::prev(at)->ts > e.ts)
    --at;
  m_window.insert(at, std::move(e));
  release(false);
}

bool RefsAnalyzer::counted(const Pending& p, std::int64_t& after) const
{
  int d = delta_of(p.reason);
  after = p.printed;
  if (m_r.gen == Gen::v61 && p.type == 'o' && d != 2)
    after = p.printed + d; // 6.1 cachefiles_ref prints the count before
  auto it = m_live.find(p.key());
  if (it == m_live.end() || p.acquire || d == 2)
    return true;
  const Life& l = m_r.lives[it->second];
  return after == l.count + (d == 2 ? 0 : d);
}

void RefsAnalyzer::release(bool all)
{
  while (!m_window.empty()) {
    Pending& front = m_window.front();
    if (!all && m_window.back().ts - front.ts <= m_opt.reorder_ns)
      return;
    std::int64_t after = 0;
    if (front.type == 'c' || front.type == 'o' || front.type == 'V') {
      if (!counted(front, after)) {
        // An event of the same counter printed just after may be the one
        // that happened first (spec §0.6): take it if it fits the chain.
        for (auto it = std::next(m_window.begin()); it != m_window.end(); ++it) {
          if (it->ts - front.ts > m_opt.reorder_ns)
            break;
          std::int64_t a2 = 0;
          if (it->type == front.type && it->id == front.id && counted(*it, a2)) {
            Pending moved = std::move(*it);
            m_window.erase(it);
            apply(moved);
            break;
          }
        }
      }
    }
    Pending p = std::move(m_window.front());
    m_window.pop_front();
    apply(p);
  }
}

Life& RefsAnalyzer::life_of(char type, const std::string& id,
                            const Pending& p, bool new_life)
{
  std::string key = std::string(1, type) + id;
  auto it = m_live.find(key);
  if (it != m_live.end() && !new_life)
    return m_r.lives[it->second];
  std::uint32_t n = 1;
  for (auto i = m_r.lives.rbegin(); i != m_r.lives.rend(); ++i)
    if (i->type == type && i->id == id) {
      n = i->life + 1;
      break;
    }
  Life l;
  l.type = type;
  l.id = id;
  l.cookie = p.cookie;
  l.life = n;
  l.first_ns = p.ts;
  l.first_line = p.line;
  m_r.lives.push_back(std::move(l));
  m_live[key] = m_r.lives.size() - 1;
  return m_r.lives.back();
}

void RefsAnalyzer::finding(const char* kind, const Life& l, const Pending& p,
                           std::string msg)
{
  m_r.findings.push_back({kind, fmt::format("{}={}", l.type, l.id), p.ts,
                          p.line, std::move(msg)});
}

void RefsAnalyzer::apply(Pending& p)
{
  if (p.type == 'L') {
    for (auto& [key, idx] : m_live)
      m_r.lives[idx].unknowable = true;
    m_r.findings.push_back(
        {"lost-events", "", p.ts, p.line,
         fmt::format("{} events lost here: the {} histories alive at this "
                     "point cannot be checked",
                     p.lost, m_live.size())});
    return;
  }
  const Life* touched = nullptr;
  if (p.type) {
    std::int64_t after = 0;
    const bool fits = counted(p, after);
    const int d = delta_of(p.reason);
    const bool known = m_live.count(p.key()) > 0;
    // 4.19 allocates objects at usage 1 untraced; their first line is the
    // GET that makes 2, also when the allocator reuses a freed pointer.
    const bool born = p.acquire || d == 2 ||
                      (m_r.gen == Gen::v419 && p.type == 'o' && !known &&
                       d == 1 && after == 2);
    Life* freed = nullptr; // the last life of this id, when it ended
    if (!known && !born && !p.id.empty())
      for (auto i = m_r.lives.rbegin(); i != m_r.lives.rend(); ++i)
        if (i->type == p.type && i->id == p.id) {
          freed = i->freed ? &*i : nullptr;
          break;
        }
    if (freed && d < 0) { // a put after the end: that life goes below zero
      finding("over-put", *freed, p,
              fmt::format("{} on a count of {} (it reached 0 at line {})",
                          p.reason, freed->count, freed->last_line));
      freed->count = after < 0 ? after : freed->count - 1;
      freed->last_ns = p.ts;
      freed->last_line = p.line;
      ++freed->events;
      ++freed->reasons[p.reason];
      track(p, freed);
      return;
    }
    if (freed) // a pointer is reused only by a new acquire
      finding("use-after-free", *freed, p,
              fmt::format("{} after the count reached 0 (line {})", p.reason,
                          freed->last_line));
    Life& l = life_of(p.type, p.id, p, born);
    // A cookie acquired before the trace began (the static fsdef index,
    // netfs primary indices) has changes no line shows: 5.10 printed the
    // fsdef cookie's put one higher than its last get. Check only its floor.
    if (!known && !born && p.type == 'c')
      l.partial = true;
    if (known && !born && !fits && !l.unknowable &&
        !(l.partial && after >= 0)) {
      if (after < 0 || (d < 0 && l.count <= 0))
        finding("over-put", l, p,
                fmt::format("{} takes the count from {} to {}: put at zero",
                            p.reason, l.count, after));
      else
        finding("count-jump", l, p,
                fmt::format("{} printed {}, the history says {}: an "
                            "untraced change or lost lines",
                            p.reason, after, l.count + d));
    } else if (after < 0 && !l.unknowable) {
      finding("over-put", l, p,
              fmt::format("{} leaves the count at {}", p.reason, after));
    }
    l.count = after;
    l.last_ns = p.ts;
    l.last_line = p.line;
    ++l.events;
    ++l.reasons[p.reason];
    if (after <= 0 && p.type != 'V') {
      l.freed = true;
      m_live.erase(p.key());
    }
    touched = &l;
  }
  if (p.relinquish && !p.cookie.empty()) {
    auto it = m_live.find("c" + p.cookie);
    if (it != m_live.end())
      m_r.lives[it->second].relinquished = true;
  }
  track(p, touched);
}

void RefsAnalyzer::track(const Pending& p, const Life* l)
{
  const bool want =
      (!m_opt.cookie.empty() && p.cookie == m_opt.cookie) ||
      (!m_opt.object.empty() && p.object == m_opt.object);
  if (!want)
    return;
  m_r.timeline.push_back({p.ts, p.line, p.cpu, p.task, p.event, p.body,
                          l ? l->count : k_no_count});
}

RefsReport RefsAnalyzer::finish()
{
  release(true);
  // Which cookies are gone, for objects that stayed behind.
  std::unordered_map<std::string, bool> cookie_freed;
  for (auto& l : m_r.lives)
    if (l.type == 'c')
      cookie_freed[l.id] = l.freed;
  for (auto& [key, idx] : m_live) {
    Life& l = m_r.lives[idx];
    Pending at;
    at.ts = l.last_ns;
    at.line = l.last_line;
    if (l.unknowable)
      continue;
    if (l.type == 'c' && l.relinquished)
      finding("leak", l, at,
              fmt::format("relinquished but the count is still {} at the end "
                          "of the trace",
                          l.count));
    else if (l.type == 'o' && cookie_freed.count(l.cookie) &&
             cookie_freed[l.cookie])
      finding("object-outlives-cookie", l, at,
              fmt::format("count {} at the end, cookie c={} already freed",
                          l.count, l.cookie));
  }
  std::stable_sort(m_r.findings.begin(), m_r.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return a.line < b.line;
                   });
  return std::move(m_r);
}

} // namespace fsc::trace
