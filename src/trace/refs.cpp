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
  for (char& c : out) // ASCII only: std::tolower asks the locale per byte
    if (c >= 'A' && c <= 'Z')
      c = char(c - 'A' + 'a');
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

RefsReport::Totals& RefsAnalyzer::totals(char type)
{
  return type == 'c' ? m_r.cookies : type == 'o' ? m_r.objects : m_r.volumes;
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
  const bool cookie_ev = l.event == "fscache_cookie";
  const bool ref_ev = l.event == "cachefiles_ref";
  const bool vol_ev = l.event == "fscache_volume";
  const bool acq_ev = l.event == "fscache_acquire";
  const bool rlq_ev = l.event == "fscache_relinquish";
  const bool tracking = !m_opt.cookie.empty() || !m_opt.object.empty();
  // Most lines (pages, ops, state changes) move no counter: only a
  // timeline asked for looks at them.
  if (!cookie_ev && !ref_ev && !vol_ev && !acq_ev && !rlq_ev && !tracking)
    return;
  Fields f = split_fields(l.body);
  e.ts = l.ts_ns;
  e.reason = std::move(f.words);
  if (auto c = f.get("c"))
    e.cookie = normal_id(*c);
  if (auto o = f.get("o"))
    e.object = normal_id(*o);
  if (cookie_ev) {
    if (m_r.gen == Gen::unknown)
      m_r.gen = f.get("r") ? Gen::v61 : Gen::v419;
    auto n = f.get("r") ? f.get("r") : f.get("u");
    if (n) {
      e.type = 'c';
      e.id = e.cookie;
      e.printed = number(*n);
    }
  } else if (ref_ev && f.get("u")) {
    e.type = 'o';
    e.id = e.object;
    e.printed = number(*f.get("u"));
    if (m_r.gen == Gen::unknown) // 6.1 ids are 8-digit debug ids
      m_r.gen = f.get("c") && f.get("c")->size() == 8 ? Gen::v61 : Gen::v419;
  } else if (vol_ev && f.get("u") && f.get("V")) {
    e.type = 'V';
    e.id = normal_id(*f.get("V"));
    e.printed = number(*f.get("u"));
  } else if (acq_ev) {
    if (m_r.gen == Gen::unknown)
      m_r.gen = f.get("V") ? Gen::v61 : Gen::v419;
    if (f.get("pu")) { // 4.19: the cookie is born with usage 1, untraced
      e.type = 'c';
      e.id = e.cookie;
      e.printed = 1;
      e.acquire = true;
      e.reason = "acquire";
    }
  } else if (rlq_ev) {
    e.relinquish = true;
  }
  if (tracking && ((!m_opt.cookie.empty() && e.cookie == m_opt.cookie) ||
                   (!m_opt.object.empty() && e.object == m_opt.object)))
    e.text = text;
  if (!e.type && !e.relinquish && e.text.empty())
    return;
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
  return after == it->second.count + d;
}

void RefsAnalyzer::release(bool all)
{
  while (!m_window.empty()) {
    Pending& front = m_window.front();
    if (!all && m_window.back().ts - front.ts <= m_opt.reorder_ns)
      return;
    std::int64_t after = 0;
    if ((front.type == 'c' || front.type == 'o' || front.type == 'V') &&
        !counted(front, after)) {
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
    Pending p = std::move(m_window.front());
    m_window.pop_front();
    apply(p);
  }
}

Life& RefsAnalyzer::born(const Pending& p)
{
  const std::string key = p.key();
  auto ended = m_ended.find(key);
  Life l;
  l.type = p.type;
  l.id = p.id;
  l.cookie = p.cookie;
  l.life = ended == m_ended.end() ? 1 : ended->second.life + 1;
  l.first_ns = p.ts;
  l.first_line = p.line;
  ++totals(p.type).lives;
  auto [it, fresh] = m_live.insert_or_assign(key, std::move(l));
  return it->second;
}

// The count reached zero: keep what later lines need, drop the rest.
void RefsAnalyzer::end(const std::string& key, Life& l)
{
  l.freed = true;
  auto& t = totals(l.type);
  ++t.freed;
  t.relinquished += l.relinquished;
  m_ended[key] = {l.life, l.count, l.last_line};
  if (m_opt.keep_lives)
    m_r.lives.push_back(std::move(l));
  m_live.erase(key);
}

void RefsAnalyzer::finding(const char* kind, char type, const std::string& id,
                           const Pending& p, std::string msg)
{
  m_r.findings.push_back({kind, fmt::format("{}={}", type, id), p.ts, p.line,
                          std::move(msg)});
}

void RefsAnalyzer::apply(Pending& p)
{
  if (p.type == 'L') {
    for (auto& [key, l] : m_live)
      l.unknowable = true;
    m_r.findings.push_back(
        {"lost-events", "", p.ts, p.line,
         fmt::format("{} events lost here: the {} histories alive at this "
                     "point cannot be checked",
                     p.lost, m_live.size())});
    return;
  }
  std::int64_t count = k_no_count;
  if (p.type)
    count = apply_count(p);
  if (p.relinquish && !p.cookie.empty()) {
    auto it = m_live.find("c" + p.cookie);
    if (it != m_live.end())
      it->second.relinquished = true;
  }
  if (!p.text.empty())
    track(p, count);
}

std::int64_t RefsAnalyzer::apply_count(Pending& p)
{
  std::int64_t after = 0;
  const bool fits = counted(p, after);
  const int d = delta_of(p.reason);
  const std::string key = p.key();
  auto live = m_live.find(key);
  const bool known = live != m_live.end();
  // 4.19 allocates objects at usage 1 untraced; their first line is the
  // GET that makes 2, also when the allocator reuses a freed pointer.
  const bool is_birth = p.acquire || d == 2 ||
                        (m_r.gen == Gen::v419 && p.type == 'o' && !known &&
                         d == 1 && after == 2);
  auto ended = known || is_birth ? m_ended.end() : m_ended.find(key);
  if (ended != m_ended.end() && d < 0) { // a put after the end
    finding("over-put", p.type, p.id, p,
            fmt::format("{} on a count of {} (it reached 0 at line {})",
                        p.reason, ended->second.count, ended->second.line));
    ended->second.count = after < 0 ? after : ended->second.count - 1;
    return ended->second.count;
  }
  if (ended != m_ended.end()) // a pointer is reused only by a new acquire
    finding("use-after-free", p.type, p.id, p,
            fmt::format("{} after the count reached 0 (line {})", p.reason,
                        ended->second.line));
  Life& l = known && !is_birth ? live->second : born(p);
  // A cookie acquired before the trace began (the static fsdef index,
  // netfs primary indices) has changes no line shows: 5.10 printed the
  // fsdef cookie's put one higher than its last get. Check only its floor.
  if (!known && !is_birth && p.type == 'c')
    l.partial = true;
  if (known && !is_birth && !fits && !l.unknowable &&
      !(l.partial && after >= 0)) {
    if (after < 0 || (d < 0 && l.count <= 0))
      finding("over-put", l.type, l.id, p,
              fmt::format("{} takes the count from {} to {}: put at zero",
                          p.reason, l.count, after));
    else
      finding("count-jump", l.type, l.id, p,
              fmt::format("{} printed {}, the history says {}: an untraced "
                          "change or lost lines",
                          p.reason, after, l.count + d));
  } else if (after < 0 && !l.unknowable) {
    finding("over-put", l.type, l.id, p,
            fmt::format("{} leaves the count at {}", p.reason, after));
  }
  l.count = after;
  l.last_ns = p.ts;
  l.last_line = p.line;
  ++l.events;
  ++l.reasons[p.reason];
  if (after <= 0 && p.type != 'V')
    end(key, l);
  return after;
}

void RefsAnalyzer::track(const Pending& p, std::int64_t count)
{
  Parsed parsed = parse_line(p.text);
  const Line& l = parsed.line;
  m_r.timeline.push_back({l.ts_ns, p.line, l.cpu,
                          fmt::format("{}-{}", l.task, l.pid),
                          std::string(l.event), std::string(l.body), count});
}

RefsReport RefsAnalyzer::finish()
{
  release(true);
  for (auto& [key, l] : m_live) {
    Pending at;
    at.ts = l.last_ns;
    at.line = l.last_line;
    auto& t = totals(l.type);
    ++t.alive;
    t.relinquished += l.relinquished;
    const bool cookie_gone =
        l.type == 'o' && !m_live.count("c" + l.cookie) &&
        m_ended.count("c" + l.cookie);
    if (!l.unknowable && l.type == 'c' && l.relinquished)
      finding("leak", l.type, l.id, at,
              fmt::format("relinquished but the count is still {} at the end "
                          "of the trace",
                          l.count));
    else if (!l.unknowable && cookie_gone)
      finding("object-outlives-cookie", l.type, l.id, at,
              fmt::format("count {} at the end, cookie c={} already freed",
                          l.count, l.cookie));
    m_r.lives.push_back(l);
  }
  std::stable_sort(m_r.lives.begin(), m_r.lives.end(),
                   [](const Life& a, const Life& b) {
                     return a.first_line < b.first_line;
                   });
  std::stable_sort(m_r.findings.begin(), m_r.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return a.line < b.line;
                   });
  return std::move(m_r);
}

} // namespace fsc::trace
