// refs.cpp - refcount histories from trace lines. What a printed count
// means differs by kernel (spec v1-tracepoints §0.1): 6.1 cachefiles_ref
// prints the count before the change, everything else the count after it.
// 6.12's netfs requests (netfs_rreq_ref) and subrequests (netfs_sreq_ref)
// print the count after it; a subrequest is born at 2 without a line
// (netfs_alloc_subrequest), and a read and its copy-to-cache write can hold
// the same R= id at once (seen on 6.12.117), so a request id may have two
// lives alive: each line goes to the life whose count it continues.
//
// This runs once per line of traces of millions of lines, so the state is
// kept in numbers, not text: ids are their hex values (text ids that are not
// hex get a number from a table), reasons are indices into a table, and the
// live histories sit in an open-addressing table keyed by (type, id). Text
// is made again only for what is reported.
#include <fsc/trace/refs.hpp>

#include <fsc/hex.hpp>
#include <fsc/trace/find_byte.hpp>
#include <fsc/trace/key_map.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <deque>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fsc::trace {

const char* gen_name(Gen g)
{
  switch (g) {
  case Gen::v419:
    return "4.19";
  case Gen::v61:
    return "6.1";
  case Gen::v612:
    return "6.12";
  case Gen::unknown:
    break;
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

// Eight hex digits as loaded from memory (the first digit in the lowest
// byte) to their value, all at once: this runs for two ids of nearly every
// counted line, and a digit at a time was a twentieth of `fsc refs`.
bool hex8(std::uint64_t x, std::uint32_t& out)
{
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = ones * 0x80;
  if (x & highs)
    return false;
  // Per byte (all below 0x80, so no carry crosses a byte): the high bit of
  // x + (0x80 - lo) is set when the byte is lo or above.
  const std::uint64_t digit =
      (x + ones * (0x80 - '0')) & ~(x + ones * (0x80 - '9' - 1)) & highs;
  const std::uint64_t low = x | ones * 0x20; // 'A'-'F' as 'a'-'f'
  const std::uint64_t alpha =
      (low + ones * (0x80 - 'a')) & ~(low + ones * (0x80 - 'f' - 1)) & highs;
  if ((digit | alpha) != highs)
    return false;
  // A digit's low nibble, plus 9 for a letter (bit 6), then pairs of
  // nibbles into bytes, bytes into halves, halves into the word.
  std::uint64_t v = (x & ones * 0x0f) + (x >> 6 & ones) * 9;
  v = (v << 4 | v >> 8) & 0x00ff00ff00ff00ffull;
  v = (v << 8 | v >> 16) & 0x0000ffff0000ffffull;
  v = (v << 16 | v >> 32) & 0xffffffffull;
  out = std::uint32_t(v);
  return true;
}

} // namespace

std::optional<std::uint64_t> parse_hex_id(std::string_view id)
{
  // The same prefix rules as normal_id (an optional "0x", then leading
  // zeros), so that equal values mean equal normal texts.
  if (id.size() >= 2 && id[0] == '0' && id[1] == 'x')
    id.remove_prefix(2);
  while (id.size() > 16 && id.front() == '0')
    id.remove_prefix(1);
  if (id.empty() || id.size() > 16)
    return std::nullopt;
  // Right-aligned in sixteen digits, zeros before; pointers (16) and debug
  // ids (8) are loaded as they are.
  std::uint64_t w[2];
  if (id.size() == 16) {
    std::memcpy(w, id.data(), 16);
  } else if (id.size() == 8) {
    std::memset(&w[0], '0', 8);
    std::memcpy(&w[1], id.data(), 8);
  } else {
    char digits[16];
    std::memset(digits, '0', sizeof digits);
    std::memcpy(digits + 16 - id.size(), id.data(), id.size());
    std::memcpy(w, digits, sizeof w);
  }
  if constexpr (std::endian::native == std::endian::big) {
    w[0] = __builtin_bswap64(w[0]);
    w[1] = __builtin_bswap64(w[1]);
  }
  std::uint32_t hi = 0, lo = 0;
  if (!hex8(w[0], hi) || !hex8(w[1], lo))
    return std::nullopt;
  return std::uint64_t(hi) << 32 | lo;
}

namespace {

// A count as printed ("2", "-1"), like std::from_chars (0 when it is not a
// number); short ones, nearly all, without its call.
std::int64_t number(std::string_view s)
{
  const bool minus = !s.empty() && s[0] == '-';
  const std::size_t from = minus;
  if (s.size() > from && s.size() - from <= 18) {
    std::int64_t v = 0;
    std::size_t i = from;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      v = v * 10 + (s[i] - '0');
    if (i > from)
      return minus ? -v : v;
  }
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
  case 'G':
    return 1;
  case 'P':
    return -1;
  case 'N':
    return reason.rfind("NEW", 0) == 0 ? 2 : 0;
  default:
    return 0;
  }
}

/// The events the analysis tells apart; `other` is not fscache's. rreq and
/// sreq are netfs_rreq_ref/netfs_sreq_ref, io netfs_read/netfs_write (which
/// tie a request to its cookie), state netfs_rreq/netfs_sreq (FREE).
enum class Ev {
  other,
  fscache,
  cookie,
  ref,
  volume,
  acquire,
  relinquish,
  rreq,
  sreq,
  io,
  state
};

// netfs events: only 6.12 traces have them.
// e is the literal: a memcmp of a known length, which the compiler turns
// into a few loads (std::string_view's == called out for every event).
template <std::size_t N> bool is(std::string_view e, const char (&lit)[N])
{
  return e.size() == N - 1 && std::memcmp(e.data(), lit, N - 1) == 0;
}

template <std::size_t N> bool begins(std::string_view e, const char (&lit)[N])
{
  return e.size() >= N - 1 && std::memcmp(e.data(), lit, N - 1) == 0;
}

Ev classify_netfs(std::string_view e)
{
  if (is(e, "netfs_rreq_ref"))
    return Ev::rreq;
  if (is(e, "netfs_sreq_ref"))
    return Ev::sreq;
  if (is(e, "netfs_read") || is(e, "netfs_write"))
    return Ev::io;
  if (is(e, "netfs_rreq") || is(e, "netfs_sreq"))
    return Ev::state;
  return Ev::fscache;
}

Ev classify(std::string_view e)
{
  if (!e.empty() && e[0] == 'n')
    return begins(e, "netfs_") ? classify_netfs(e) : Ev::other;
  switch (e.size()) {
  case 14:
    if (is(e, "fscache_cookie"))
      return Ev::cookie;
    if (is(e, "cachefiles_ref"))
      return Ev::ref;
    if (is(e, "fscache_volume"))
      return Ev::volume;
    break;
  case 15:
    if (is(e, "fscache_acquire"))
      return Ev::acquire;
    break;
  case 18:
    if (is(e, "fscache_relinquish"))
      return Ev::relinquish;
    break;
  }
  if (begins(e, "fscache_") || begins(e, "cachefiles_"))
    return Ev::fscache;
  return Ev::other;
}

/// The body fields the analysis reads: the first of each key, as
/// split_fields() and Fields::get() would find it, and the words (the
/// reason) joined by one space into a reused buffer.
struct Body {
  enum : unsigned { c = 1, o = 2, u = 4, r = 8, V = 16, pu = 32, R = 64 };
  unsigned have = 0;
  std::string_view vc, vo, vu, vr, vV, vR;

  void set(unsigned bit, std::string_view& slot, std::string_view v)
  {
    if (!(have & bit)) {
      have |= bit;
      slot = v;
    }
  }

  void scan(std::string_view body, std::string* words)
  {
#if defined(__SSE2__)
    if (body.size() <= 64) {
      scan_short(body, words);
      return;
    }
#endif
    const char* p = body.data();
    const char* end = p + body.size();
    while (p < end) {
      while (p < end && *p == ' ')
        ++p;
      if (p == end)
        break;
      const char* t = p;
      const char* eq = nullptr;
      for (; p < end && *p != ' '; ++p)
        if (*p == '=' && !eq)
          eq = p;
      token(t, eq, p, words);
    }
  }

  void token(const char* t, const char* eq, const char* end,
             std::string* words)
  {
    if (eq && eq != t)
      field(std::string_view(t, std::size_t(eq - t)),
            std::string_view(eq + 1, std::size_t(end - eq - 1)));
    else if (words) {
      if (!words->empty())
        *words += ' ';
      words->append(t, std::size_t(end - t));
    }
  }

#if defined(__SSE2__)
  // Nearly every body is one of a few dozen bytes: the places of all its
  // spaces and equals signs as two bit masks, from four compares of
  // sixteen bytes each, then a token per step (a test per byte was a
  // tenth of `fsc refs`).
  void scan_short(std::string_view body, std::string* words)
  {
    alignas(16) char block[64] = {};
    std::memcpy(block, body.data(), body.size());
    std::uint64_t spaces = 0, equals = 0;
    for (int k = 0; k < 4; ++k) {
      const __m128i v =
          _mm_load_si128(reinterpret_cast<const __m128i*>(block + 16 * k));
      const auto bits = [&](char byte) {
        return std::uint64_t(std::uint16_t(
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(byte)))));
      };
      spaces |= bits(' ') << 16 * k;
      equals |= bits('=') << 16 * k;
    }
    const std::size_t n = body.size();
    const std::uint64_t inside = n == 64 ? ~0ull : (1ull << n) - 1;
    const std::uint64_t ends = spaces | ~inside; // a token ends at either
    const char* p = body.data();
    for (std::size_t t = 0; t < n;) {
      const std::uint64_t from = ~0ull << t;
      const std::uint64_t start = ~spaces & inside & from;
      if (!start)
        break;
      t = std::size_t(std::countr_zero(start));
      const std::uint64_t after = ends & (~0ull << t);
      const std::size_t e = after ? std::size_t(std::countr_zero(after)) : 64;
      const std::uint64_t before = e == 64 ? ~0ull : (1ull << e) - 1;
      const std::uint64_t eq = equals & (~0ull << t) & before;
      token(p + t, eq ? p + std::countr_zero(eq) : nullptr, p + e, words);
      t = e;
    }
  }
#endif

  void field(std::string_view key, std::string_view val)
  {
    if (key.size() == 1) {
      switch (key[0]) {
      case 'c':
        set(c, vc, val);
        break;
      case 'o':
        set(o, vo, val);
        break;
      case 'u':
        set(u, vu, val);
        break;
      case 'r':
        set(r, vr, val);
        break;
      case 'V':
        set(V, vV, val);
        break;
      case 'R':
        set(R, vR, val);
        break;
      default:
        break;
      }
    } else if (key == "pu") {
      have |= pu;
    }
  }
};

struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const
  {
    return std::hash<std::string_view>{}(s);
  }
};

/// Counts by name, looked up without making a string per call.
template <class V>
using TextMap = std::unordered_map<std::string, V, TextHash, std::equal_to<>>;

/// Times each reason was seen in one life: most lives have two to four.
struct Reasons {
  std::array<std::pair<std::uint32_t, std::uint64_t>, 4> in{};
  std::uint32_t n = 0;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> more;

  void add(std::uint32_t reason)
  {
    for (std::uint32_t i = 0; i < n; ++i)
      if (in[i].first == reason) {
        ++in[i].second;
        return;
      }
    for (auto& m : more)
      if (m.first == reason) {
        ++m.second;
        return;
      }
    if (n < in.size())
      in[n++] = {reason, 1};
    else
      more.emplace_back(reason, 1);
  }
  template <class F> void for_each(F f) const
  {
    for (std::uint32_t i = 0; i < n; ++i)
      f(in[i].first, in[i].second);
    for (auto& m : more)
      f(m.first, m.second);
  }
};

/// A Life being built, with numbers for its ids and reasons.
struct Rec {
  char type = 'c';
  Id id, cookie;
  std::uint32_t life = 1;
  std::int64_t count = 0;
  std::int64_t first_ns = 0, last_ns = 0;
  std::uint64_t first_line = 0, last_line = 0;
  std::uint64_t events = 0;
  bool relinquished = false, freed = false, unknowable = false;
  bool partial = false;
  std::uint32_t loss = 0;       ///< the first loss while alive: Loss index + 1
  std::uint32_t losses = 0;     ///< losses while alive
  std::uint32_t doubts = 0;     ///< counts that did not follow after a loss
  std::uint64_t doubt_line = 0; ///< the first of them
  Reasons reasons;
};

/// What a netfs life keeps beside its Rec (kept apart: cookies and objects,
/// millions of lines of them, do not carry it).
struct NetfsRec {
  std::int64_t balance = 0;    ///< the count its gets and puts make
  std::uint64_t free_line = 0; ///< see Life::free_line
  struct {
    std::int64_t ts = 0;
    std::uint64_t line = 0;
    std::uint32_t reason = 0;
    std::int64_t printed = 0;
  } suspect; ///< its first put that did not lower the count
};

/// Events lost, or the input cut short, at one point of the trace.
struct Loss {
  std::uint64_t line = 0;
  int cpu = -1;           ///< -1: not printed
  std::uint64_t lost = 0; ///< 0: unknown
  std::uint32_t cut = 0;  ///< RefsReport::cuts index + 1 for a cut input
};

struct Pending { // an event waiting in the reorder window
  std::int64_t ts = 0;
  std::uint64_t line = 0;
  int cpu = 0;
  char type = 0; ///< counter changed: 'c', 'o', 'V'; 'L' lost; 0 none
  Id id;         ///< that counter
  Id cookie;     ///< c= of the line
  std::uint32_t reason = 0;
  std::int64_t printed = 0;
  bool relinquish = false;
  bool acquire = false;  ///< 4.19 fscache_acquire: a cookie born at 1
  bool implicit = false; ///< a netfs subrequest's first line: born at 2
  char freed = 0;        ///< netfs FREE of the live counter (freed, id)
  std::uint64_t lost = 0;
  std::uint32_t cut = 0; ///< 'L' for an input cut short: RefsReport::cuts + 1
  int lost_cpu = -1;
  bool flagged = false; ///< out of the printed count chain when it came
  std::string text;     ///< the whole line, kept for --cookie/--object
  Key key() const { return Key(type, id); }
  bool counter() const { return type != 0 && type != 'L'; }
};

/// The events of one counter waiting in the window: how many, how many of
/// them did not follow the chain of printed counts when they came, and the
/// count after the last one.
struct Waiting {
  std::uint32_t pending = 0, flagged = 0;
  std::int64_t last_after = 0;
};

/// What is kept of an id whose last life ended.
struct Ended {
  std::uint32_t life = 0;
  std::int64_t count = 0;
  std::uint64_t line = 0;
  std::uint32_t losses = 0; ///< losses in the trace when it ended
};

/// A live life of a netfs request or subrequest id, as the lines come (in
/// file order): which slot of the id's key it is and its printed count.
struct Route {
  std::uint8_t slot = 0;
  std::int64_t count = 0;
  Id cookie{0, true};
  std::uint64_t born = 0; ///< its first line
  int pid = 0;            ///< the task of its last line
  std::string new_text;   ///< its NEW line, for a --cookie timeline
};

bool netfs_type(char type) { return type == 'R' || type == 'S'; }

/// The routing key of a request id or a subrequest (id, index).
std::uint64_t route_key(std::uint64_t rid, std::optional<std::uint64_t> sub)
{
  return sub ? 1ull << 63 | rid << 24 | (*sub & 0xffffff) : rid;
}

/// The counter id of one slot of a request or subrequest: the slot keeps
/// two lives of one id apart.
Id netfs_id(std::uint64_t rid, std::optional<std::uint64_t> sub,
            std::uint8_t slot)
{
  return {sub ? rid << 32 | (*sub & 0xffffff) << 8 | slot : rid << 8 | slot,
          false};
}

/// "00000002" → (2, none); "00000002[1]" → (2, 1).
bool split_request(std::string_view v, std::uint64_t& rid,
                   std::optional<std::uint64_t>& sub)
{
  const auto open = v.find('[');
  auto id = parse_hex_id(v.substr(0, open));
  if (!id || *id > 0xffffffffu)
    return false;
  rid = *id;
  sub.reset();
  if (open == std::string_view::npos)
    return true;
  if (v.back() != ']')
    return false;
  auto n = parse_hex_id(v.substr(open + 1, v.size() - open - 2));
  if (!n)
    return false;
  sub = *n;
  return true;
}

/// A --cookie/--object/--request timeline entry of one trace line.
TimelineEntry timeline_entry(std::string_view text, std::uint64_t line,
                             std::int64_t count)
{
  Parsed parsed = parse_line(text);
  const Line& l = parsed.line;
  return {l.ts_ns,
          line,
          l.cpu,
          fmt::format("{}-{}", l.task, l.pid),
          std::string(l.event),
          std::string(l.body),
          count};
}

} // namespace

struct RefsAnalyzer::State {
  explicit State(RefsOptions o);

  Id id_of(std::string_view raw); ///< adds text ids to the table
  std::optional<Id> find_id(std::string_view raw) const;
  std::string text_of(Id id) const;
  std::string id_text(char type, Id id) const;
  std::string name(char type, Id id) const; ///< "c=2", "R=2[1]"
  void netfs_line(Ev ev, const Body& f, const Line& l, std::string_view text,
                  Pending& e);
  std::uint8_t route(std::uint64_t rid, std::optional<std::uint64_t> sub,
                     const Pending& e, int pid, bool& implicit, Id& cookie);
  Route* newest(std::uint64_t rid);
  void tie(std::uint64_t rid, Id cookie);
  bool tracks_request(std::uint64_t rid);
  std::uint32_t reason_of(std::string_view words);
  std::uint32_t reason_id(std::string_view words);
  Life life_of(const Rec& l) const;

  void enqueue(Pending&& e);
  void release(bool all);
  std::deque<Pending>::iterator choose();
  void remember_orphan(std::uint64_t rk, const Pending& e);
  std::optional<std::int64_t> take_orphan(std::uint64_t rk, const Pending& e);
  std::deque<Pending>::iterator
  earlier_birth(std::deque<Pending>::iterator front);
  void apply(Pending& p);
  std::int64_t apply_count(Pending& p);
  bool counted(const Pending& p, const Rec* live, std::int64_t& after);
  std::int64_t after_of(const Pending& p) const;
  bool birth(const Pending& p) const
  {
    return p.acquire || p.implicit || delta(p) == 2;
  }
  /// May `next`, printed after `front` (a line of no live life), be the
  /// line that began the life `front` changed? A netfs life begins at its
  /// birth line; a 5.10 object whose address a new object took begins at
  /// an untraced allocation, so a get after a put (both at one µs on two
  /// CPUs, seen on a TCG guest) may be its first.
  bool starts_life(const Pending& front, const Pending& next) const
  {
    if (netfs_type(next.type))
      return birth(next);
    return delta(front) < 0 && delta(next) > 0;
  }
  Rec& born(const Pending& p);
  void end(Key key, Rec& l);
  void unverifiable(const Rec& l, std::string how, bool trouble);
  void settle(const Rec& l);
  std::string held(const Rec& l);
  std::string loss_text(std::uint32_t loss, std::uint32_t losses,
                        bool where = true) const;
  void finding(const char* kind, char type, Id id, const Pending& p,
               std::string msg);
  void track(const Pending& p, std::int64_t count);
  RefsReport::Totals& totals(char type);
  int delta(const Pending& p) const { return m_delta[p.reason]; }
  const std::string& reason_text(const Pending& p) const
  {
    return m_reasons[p.reason];
  }

  RefsOptions m_opt;
  bool m_tracking = false;
  std::optional<Id> m_track_cookie, m_track_object;
  std::optional<std::uint64_t> m_track_request;
  /// netfs ids with lives alive, by route_key(); see Route.
  std::unordered_map<std::uint64_t, std::vector<Route>> m_routes;
  struct Orphan { // a netfs count line that found no live life
    std::uint64_t rk = 0;
    std::int64_t ts = 0, prior = 0, after = 0;
  };
  std::deque<Orphan> m_orphans; ///< the most recent, oldest first
  KeyMap<std::uint64_t> m_relinquish_line; ///< cookie → its last relinquish
  KeyMap<NetfsRec> m_netfs;                ///< live netfs lives' extras
  std::deque<Key> m_netfs_ended;           ///< request ids ended, oldest first
  RefsReport m_r;
  std::deque<Pending> m_window;
  KeyMap<Waiting> m_waiting; ///< counters with events in the window
  struct Memo {
    std::uint64_t code = 0;
    std::uint64_t stamp = 0;
    int run = 0;
  };
  std::vector<Memo> m_memo; ///< choose()'s search table
  std::uint64_t m_stamp = 0;
  KeyMap<Rec> m_live;               ///< each counter's live life
  KeyMap<Ended> m_ended;            ///< counters whose life ended
  std::vector<Loss> m_losses;       ///< lost-events markers and cuts, in order
  std::uint64_t m_last_line = 0;    ///< the last line fed
  std::vector<std::string> m_texts; ///< ids that are not hex, normalised
  TextMap<std::uint64_t> m_text_ids;
  std::vector<std::string> m_reasons; ///< "GET obj", ...
  std::vector<int> m_delta;           ///< delta_of() each reason
  TextMap<std::uint32_t> m_reason_ids;
  /// Recent reasons by a cheap hash: a reason id, or ~0u.
  std::array<std::uint32_t, 32> m_reason_cache = [] {
    std::array<std::uint32_t, 32> a{};
    a.fill(~0u);
    return a;
  }();
  TextMap<std::uint64_t> m_unknown; ///< other events by name
  std::uint32_t m_acquire_reason = 0;
  std::string m_words; ///< reused for each line's reason
};

RefsAnalyzer::State::State(RefsOptions o) : m_opt(std::move(o))
{
  id_of(""); // absent and empty ids are text 0
  m_acquire_reason = reason_of("acquire");
  if (!m_opt.cookie.empty())
    m_opt.cookie = normal_id(m_opt.cookie);
  if (!m_opt.object.empty())
    m_opt.object = normal_id(m_opt.object);
  if (!m_opt.cookie.empty())
    m_track_cookie = id_of(m_opt.cookie);
  if (!m_opt.object.empty())
    m_track_object = id_of(m_opt.object);
  if (!m_opt.request.empty()) {
    m_opt.request = normal_id(m_opt.request);
    m_track_request = parse_hex_id(m_opt.request);
    if (!m_track_request) // no line can name it
      m_track_request = ~0ull;
  }
  m_tracking = m_track_cookie || m_track_object || m_track_request;
}

Id RefsAnalyzer::State::id_of(std::string_view raw)
{
  if (auto v = parse_hex_id(raw))
    return {*v, false};
  std::string text = normal_id(raw);
  auto it = m_text_ids.find(text);
  if (it != m_text_ids.end())
    return {it->second, true};
  m_texts.push_back(text);
  m_text_ids.emplace(std::move(text), m_texts.size() - 1);
  return {m_texts.size() - 1, true};
}

std::optional<Id> RefsAnalyzer::State::find_id(std::string_view raw) const
{
  if (auto v = parse_hex_id(raw))
    return Id{*v, false};
  auto it = m_text_ids.find(normal_id(raw));
  if (it == m_text_ids.end())
    return std::nullopt;
  return Id{it->second, true};
}

std::string RefsAnalyzer::State::text_of(Id id) const
{
  return id.text ? m_texts[id.v] : fmt::format("{:x}", id.v);
}

std::string RefsAnalyzer::State::id_text(char type, Id id) const
{
  if (type == 'R')
    return fmt::format("{:x}", id.v >> 8);
  if (type == 'S')
    return fmt::format("{:x}[{:x}]", id.v >> 32, id.v >> 8 & 0xffffff);
  return text_of(id);
}

std::string RefsAnalyzer::State::name(char type, Id id) const
{
  return fmt::format("{}={}", netfs_type(type) ? 'R' : type, id_text(type, id));
}

std::uint32_t RefsAnalyzer::State::reason_of(std::string_view words)
{
  // A few reasons make most lines: a small cache by length and first
  // letters answers them with one compare instead of a hash ("GET obj" and
  // "PUT obj" must not share a slot).
  std::uint64_t w = 0;
  std::memcpy(&w, words.data(), std::min<std::size_t>(words.size(), 7));
  w ^= std::uint64_t(words.size()) << 56;
  auto& slot = m_reason_cache[(w * 0x9e3779b97f4a7c15u) >> 59];
  if (slot != ~0u && m_reasons[slot] == words)
    return slot;
  slot = reason_id(words);
  return slot;
}

std::uint32_t RefsAnalyzer::State::reason_id(std::string_view words)
{
  auto it = m_reason_ids.find(words);
  if (it != m_reason_ids.end())
    return it->second;
  auto n = std::uint32_t(m_reasons.size());
  m_reasons.emplace_back(words);
  m_delta.push_back(delta_of(words));
  m_reason_ids.emplace(std::string(words), n);
  return n;
}

Life RefsAnalyzer::State::life_of(const Rec& r) const
{
  Life l;
  l.type = r.type;
  l.id = id_text(r.type, r.id);
  l.cookie = text_of(r.cookie);
  if (netfs_type(r.type))
    if (const NetfsRec* n = m_netfs.find(Key(r.type, r.id)))
      l.free_line = n->free_line;
  l.life = r.life;
  l.count = r.count;
  l.first_ns = r.first_ns;
  l.last_ns = r.last_ns;
  l.first_line = r.first_line;
  l.last_line = r.last_line;
  l.events = r.events;
  l.relinquished = r.relinquished;
  l.freed = r.freed;
  l.unknowable = r.unknowable;
  l.partial = r.partial;
  r.reasons.for_each([&](std::uint32_t reason, std::uint64_t n) {
    l.reasons.emplace(m_reasons[reason], n);
  });
  return l;
}

RefsAnalyzer::RefsAnalyzer(RefsOptions opt)
    : m_s(std::make_unique<State>(std::move(opt)))
{
}

RefsAnalyzer::~RefsAnalyzer() = default;

RefsReport::Totals& RefsAnalyzer::State::totals(char type)
{
  switch (type) {
  case 'c':
    return m_r.cookies;
  case 'o':
    return m_r.objects;
  case 'R':
    return m_r.requests;
  case 'S':
    return m_r.subrequests;
  default:
    return m_r.volumes;
  }
}

void RefsAnalyzer::feed(std::string_view text, std::uint64_t lineno)
{
  State& s = *m_s;
  RefsReport& r = s.m_r;
  ++r.lines;
  s.m_last_line = lineno;
  Parsed p = parse_line(text);
  if (p.kind == Kind::malformed) {
    ++r.malformed;
    if (r.malformed <= 20)
      r.findings.push_back({"malformed-line", "", 0, lineno, p.why});
    return;
  }
  Pending e;
  e.line = lineno;
  if (p.kind == Kind::lost) {
    ++r.lost_markers;
    r.lost_events += p.lost;
    e.type = 'L';
    e.lost = p.lost;
    e.lost_cpu = p.lost_cpu;
    e.ts = s.m_window.empty() ? 0 : s.m_window.back().ts;
    s.m_window.push_back(std::move(e));
    return;
  }
  if (p.kind != Kind::event)
    return;
  ++r.events;
  const Line& l = p.line;
  const Ev ev = classify(l.event);
  if (ev == Ev::other) {
    ++r.unknown_events;
    auto it = s.m_unknown.find(l.event);
    if (it == s.m_unknown.end())
      s.m_unknown.emplace(std::string(l.event), 1);
    else
      ++it->second;
    return;
  }
  ++r.fscache_events;
  // Most lines (pages, ops, state changes) move no counter: only a
  // timeline asked for looks at them.
  if (ev == Ev::fscache && !s.m_tracking)
    return;
  if (ev == Ev::state && !s.m_tracking &&
      l.body.find(" FREE ") == std::string_view::npos)
    return;
  const bool counter = ev == Ev::cookie || ev == Ev::ref || ev == Ev::volume ||
                       ev == Ev::acquire || ev == Ev::rreq || ev == Ev::sreq;
  Body f;
  s.m_words.clear();
  f.scan(l.body, counter ? &s.m_words : nullptr);
  e.ts = l.ts_ns;
  e.cpu = l.cpu;
  if (ev == Ev::cookie) {
    if (r.gen == Gen::unknown)
      r.gen = f.have & Body::r ? Gen::v61 : Gen::v419;
    if (f.have & (Body::r | Body::u)) {
      e.type = 'c';
      e.cookie = s.id_of(f.vc);
      e.id = e.cookie;
      e.printed = number(f.have & Body::r ? f.vr : f.vu);
    }
  } else if (ev == Ev::ref && f.have & Body::u) {
    e.type = 'o';
    e.cookie = s.id_of(f.vc);
    e.id = s.id_of(f.vo);
    e.printed = number(f.vu);
    if (r.gen == Gen::unknown) // 6.1 ids are 8-digit debug ids
      r.gen = f.have & Body::c && f.vc.size() == 8 ? Gen::v61 : Gen::v419;
  } else if (ev == Ev::volume && f.have & Body::u && f.have & Body::V) {
    e.type = 'V';
    e.cookie = s.id_of(f.vc);
    e.id = s.id_of(f.vV);
    e.printed = number(f.vu);
  } else if (ev == Ev::acquire) {
    if (r.gen == Gen::unknown)
      r.gen = f.have & Body::V ? Gen::v61 : Gen::v419;
    if (f.have & Body::pu) { // 4.19: the cookie is born with usage 1, untraced
      e.type = 'c';
      e.cookie = s.id_of(f.vc);
      e.id = e.cookie;
      e.printed = 1;
      e.acquire = true;
    }
  } else if (ev == Ev::relinquish) {
    e.relinquish = true;
    e.cookie = s.id_of(f.vc);
  } else if (ev == Ev::rreq || ev == Ev::sreq || ev == Ev::io ||
             ev == Ev::state) {
    s.netfs_line(ev, f, l, text, e);
  }
  if (e.type && !netfs_type(e.type))
    e.reason = e.acquire ? s.m_acquire_reason : s.reason_of(s.m_words);
  if (s.m_tracking &&
      ((s.m_track_cookie && s.find_id(f.vc) == s.m_track_cookie) ||
       (s.m_track_object && s.find_id(f.vo) == s.m_track_object))) {
    e.text = text;
    r.target_found = true;
  }
  if (!e.type && !e.relinquish && !e.freed && e.text.empty())
    return;
  s.enqueue(std::move(e));
  s.release(false);
}

// A netfs line: a request's or subrequest's count (rreq, sreq), the tie of
// a request to its cookie (io), or the kernel freeing one (state).
void RefsAnalyzer::State::netfs_line(Ev ev, const Body& f, const Line& l,
                                     std::string_view text, Pending& e)
{
  std::uint64_t rid = 0;
  std::optional<std::uint64_t> sub;
  if (!(f.have & Body::R) || !split_request(f.vR, rid, sub))
    return;
  if ((ev == Ev::rreq || ev == Ev::sreq) && f.have & Body::r &&
      (ev == Ev::sreq) == sub.has_value()) {
    if (m_r.gen == Gen::unknown || m_r.gen == Gen::v61)
      m_r.gen = Gen::v612;
    e.type = sub ? 'S' : 'R';
    e.reason = reason_of(m_words);
    e.printed = number(f.vr);
    if (e.printed >= 1ll << 31) // "r=%u" of an int: -1 is 4294967295
      e.printed -= 1ll << 32;
    bool implicit = false;
    Id cookie{0, true};
    const std::uint8_t slot = route(rid, sub, e, l.pid, implicit, cookie);
    e.id = netfs_id(rid, sub, slot);
    e.cookie = cookie;
    e.implicit = implicit;
    if (m_track_cookie && !sub && delta(e) == 2)
      if (Route* r = newest(rid)) // its cookie is named by the next line
        r->new_text = text;
  } else if (ev == Ev::io && f.have & Body::c) {
    tie(rid, id_of(f.vc));
  } else if (ev == Ev::state) {
    auto it = m_routes.find(route_key(rid, sub));
    if (it != m_routes.end() && !it->second.empty()) {
      // Freed while a life of the id is still counted: a put is missing.
      const Route* pick = &it->second.front();
      for (auto& r : it->second)
        if (r.count < pick->count)
          pick = &r;
      e.freed = sub ? 'S' : 'R';
      e.id = netfs_id(rid, sub, pick->slot);
    }
  }
  if (m_tracking && tracks_request(rid)) {
    e.text = text;
    m_r.target_found = true;
  }
}

// Which live life of a netfs id a count line continues: the one whose
// count it follows (of two, the one whose last line came from the same
// task, else the newer), else a new subrequest (born at 2), else the
// nearest.
std::uint8_t RefsAnalyzer::State::route(std::uint64_t rid,
                                        std::optional<std::uint64_t> sub,
                                        const Pending& e, int pid,
                                        bool& implicit, Id& cookie)
{
  const std::uint64_t rk = route_key(rid, sub);
  auto& lives = m_routes[rk];
  const int d = delta(e);
  auto add = [&] {
    std::uint8_t slot = 0;
    while (std::any_of(lives.begin(), lives.end(),
                       [&](const Route& r) { return r.slot == slot; }))
      ++slot;
    Route r;
    r.slot = slot;
    r.born = e.line;
    if (sub)
      if (const Route* req = newest(rid))
        r.cookie = req->cookie;
    lives.push_back(std::move(r));
    return &lives.back();
  };
  Route* pick = nullptr;
  if (d == 2) {
    pick = add();
  } else {
    const std::int64_t prior = e.printed - d;
    auto better = [&](const Route& r) {
      if ((r.pid == pid) != (pick->pid == pid))
        return r.pid == pid;
      return r.born > pick->born;
    };
    for (auto& r : lives)
      if (r.count == prior && (!pick || better(r)))
        pick = &r;
    if (!pick && sub && prior == 2) {
      pick = add();
      implicit = true;
    }
    auto gap = [&](const Route& r) { return std::llabs(r.count - prior); };
    if (!pick)
      for (auto& r : lives)
        if (!pick || gap(r) < gap(*pick))
          pick = &r;
  }
  if (!pick) { // no life alive: the line goes to the last one's history
    m_routes.erase(rk);
    if (sub) // only a subrequest is born without a line
      remember_orphan(rk, e);
    return 0;
  }
  const std::uint8_t slot = pick->slot;
  cookie = pick->cookie;
  pick->count = e.printed;
  pick->pid = pid;
  // The new subrequest's later change was printed first (see
  // earlier_birth()): it is this life's, and ends it if it was the last.
  if (implicit && slot == 0)
    if (auto o = take_orphan(rk, e))
      pick->count = *o;
  if (pick->count <= 0) {
    lives.erase(lives.begin() + (pick - lives.data()));
    if (lives.empty())
      m_routes.erase(rk);
  }
  return slot;
}

// The live request of an id born last (the one a netfs_read names).
Route* RefsAnalyzer::State::newest(std::uint64_t rid)
{
  auto it = m_routes.find(route_key(rid, std::nullopt));
  if (it == m_routes.end() || it->second.empty())
    return nullptr;
  Route* best = &it->second.front();
  for (auto& r : it->second)
    if (r.born > best->born)
      best = &r;
  return best;
}

// netfs_read/netfs_write name the cookie of the request just born.
void RefsAnalyzer::State::tie(std::uint64_t rid, Id cookie)
{
  Route* r = newest(rid);
  if (!r)
    return;
  r->cookie = cookie;
  if (r->new_text.empty())
    return;
  std::string text = std::move(r->new_text);
  r->new_text.clear();
  if (m_track_cookie != cookie)
    return;
  // The NEW line came before the cookie was known: add it to the timeline.
  m_r.target_found = true;
  for (auto& p : m_window)
    if (p.line == r->born) {
      p.text = std::move(text);
      return;
    }
  TimelineEntry t = timeline_entry(text, r->born, 1);
  auto at =
      std::find_if(m_r.timeline.begin(), m_r.timeline.end(),
                   [&](const TimelineEntry& x) { return x.line > t.line; });
  m_r.timeline.insert(at, std::move(t));
}

bool RefsAnalyzer::State::tracks_request(std::uint64_t rid)
{
  if (m_track_request == rid)
    return true;
  if (!m_track_cookie)
    return false;
  auto it = m_routes.find(route_key(rid, std::nullopt));
  if (it == m_routes.end())
    return false;
  for (auto& r : it->second)
    if (r.cookie == *m_track_cookie)
      return true;
  return false;
}

// Puts e in the window in timestamp order (lines of two CPUs interleave out
// of order) and notes whether its count follows from the ones before it.
void RefsAnalyzer::State::enqueue(Pending&& e)
{
  auto at = m_window.end();
  while (at != m_window.begin() && std::prev(at)->ts > e.ts)
    --at;
  if (e.counter()) {
    const Key key = e.key();
    bool last = true; // no later event of this counter in the window
    for (auto it = at; it != m_window.end() && last; ++it)
      last = !(it->key() == key);
    Waiting& w = m_waiting[key];
    const std::int64_t after = after_of(e);
    bool fits = birth(e);
    if (!fits && w.pending == 0) {
      // A netfs line of no live life may belong to one whose first line
      // was printed later (see choose()), as may a put on an object whose
      // life ended (its address taken by a new one); others have lives
      // from before the trace began.
      const Rec* live = m_live.find(key);
      fits = live ? after == live->count + delta(e)
                  : !netfs_type(e.type) &&
                        !(delta(e) < 0 && m_ended.find(key));
    } else if (!fits) {
      fits = after == w.last_after + delta(e);
    }
    e.flagged = !fits || !last;
    ++w.pending;
    w.flagged += e.flagged;
    if (last)
      w.last_after = after;
  }
  m_window.insert(at, std::move(e));
}

std::int64_t RefsAnalyzer::State::after_of(const Pending& p) const
{
  const int d = delta(p);
  if ((m_r.gen == Gen::v61 || m_r.gen == Gen::v612) && p.type == 'o' && d != 2)
    return p.printed + d; // 6.1 cachefiles_ref prints the count before
  return p.printed;
}

void RefsAnalyzer::cut(std::string file, std::uint64_t file_line,
                       std::uint64_t lineno, std::string why)
{
  State& s = *m_s;
  s.m_r.cuts.push_back({std::move(file), file_line, std::move(why)});
  Pending e;
  e.line = lineno;
  e.type = 'L';
  e.cut = std::uint32_t(s.m_r.cuts.size());
  e.ts = s.m_window.empty() ? 0 : s.m_window.back().ts;
  s.m_window.push_back(std::move(e));
}

bool RefsAnalyzer::State::counted(const Pending& p, const Rec* live,
                                  std::int64_t& after)
{
  after = after_of(p);
  if (!live || birth(p))
    return true;
  return after == live->count + delta(p);
}

void RefsAnalyzer::State::release(bool all)
{
  while (!m_window.empty()) {
    Pending& front = m_window.front();
    if (!all && m_window.back().ts - front.ts <= m_opt.reorder_ns)
      return;
    auto next = m_window.begin();
    Waiting* w = front.counter() ? m_waiting.find(front.key()) : nullptr;
    if (w && w->flagged && !birth(front)) {
      next = choose();
      if (next != m_window.begin() && !front.flagged) {
        // Overtaken, so it did not fit where it stands: the counter's next
        // release searches again (the one moved may have been its only
        // flag, 6.1 at a clock that stood still: a relinquish's GQ before
        // the worker's PQ, printed 100 lines after it).
        front.flagged = true;
        ++w->flagged;
      }
      if (next != m_window.begin())
        w = m_waiting.find(next->key());
    }
    if (next->counter()) {
      w->flagged -= next->flagged;
      if (--w->pending == 0)
        m_waiting.erase(next->key());
    }
    if (next == m_window.begin()) {
      // Nearly always: applied where it stands (apply() adds nothing to
      // the window), then dropped, with no move of the event.
      apply(*next);
      m_window.pop_front();
      continue;
    }
    Pending p = std::move(*next);
    m_window.erase(next);
    apply(p);
  }
}

// The front's counter has events in the window whose printed counts do not
// follow in timestamp order. Lines of different CPUs can be printed in the
// opposite order of the atomic operations, tens of microseconds apart (spec
// v1-tracepoints §0.6 saw 54 µs). Of the orders that keep each CPU's lines
// in their order and move no line before one printed more than the window
// earlier, take one whose counts follow for longest from here, and return
// its first event: the front when timestamp order does as well. Only the
// lines printed in the first half of the window need to follow: all that
// may precede them (by up to half a window) is in it. A new life is a
// barrier: nothing of it moves before the end of the last one.
std::deque<Pending>::iterator RefsAnalyzer::State::choose()
{
  const auto front = m_window.begin();
  const Key key = front->key();
  const Rec* live = m_live.find(key);
  if (!live)
    return earlier_birth(front);
  // The next events of this counter, and the lanes: the events of each
  // CPU, in their order. Ten lane positions of 6 bits make a search state.
  // As many events as 6 bits count: a 6.1 kworker preempted under QEMU
  // printed its GET 35 ms late, after 30 lines of the same object written
  // by the other CPU (24 were looked at, and two count-jumps reported).
  constexpr std::size_t k_events = 63, k_lanes = 10;
  constexpr int k_budget = 4096; // states searched per choice
  std::vector<std::deque<Pending>::iterator> seq;
  std::vector<int> cpus;
  std::vector<std::vector<std::uint8_t>> lanes;
  for (auto it = front; it != m_window.end() && seq.size() < k_events; ++it) {
    if (it->type == 'L')
      break; // the histories are unknowable from there on
    if (!it->counter() || !(it->key() == key))
      continue;
    if (it != front && birth(*it))
      break;
    auto c = std::find(cpus.begin(), cpus.end(), it->cpu);
    if (c == cpus.end()) {
      if (cpus.size() == k_lanes)
        break;
      cpus.push_back(it->cpu);
      lanes.emplace_back();
      c = std::prev(cpus.end());
    }
    lanes[std::size_t(c - cpus.begin())].push_back(std::uint8_t(seq.size()));
    seq.push_back(it);
  }
  if (lanes.size() < 2)
    return front;       // one CPU: its lines keep their order
  std::size_t need = 0; // the events that must follow: see above
  for (auto& e : seq)
    need += e->ts - front->ts <= m_opt.reorder_ns / 2;
  const std::size_t n_lanes = lanes.size();
  std::vector<std::uint8_t> pos(n_lanes, 0);
  // The search table, reused: keys are lane positions (the count follows
  // from them, since only moves whose count follows are searched), entries
  // of older searches are told apart by their stamp.
  if (m_memo.empty())
    m_memo.resize(4 * k_budget);
  ++m_stamp;
  auto slot = [&](std::uint64_t code) -> Memo& {
    std::size_t i = std::size_t(code * 0x9e3779b97f4a7c15u >> 40);
    for (;; ++i) {
      Memo& m = m_memo[i & (m_memo.size() - 1)];
      if (m.stamp != m_stamp || m.code == code)
        return m;
    }
  };
  int budget = k_budget;
  auto oldest = [&] {
    std::int64_t t = INT64_MAX;
    for (std::size_t l = 0; l < n_lanes; ++l)
      if (pos[l] < lanes[l].size())
        t = std::min(t, seq[lanes[l][pos[l]]]->ts);
    return t;
  };
  auto head = [&](std::size_t l, std::int64_t old) -> const Pending* {
    if (pos[l] == lanes[l].size())
      return nullptr;
    const Pending* e = &*seq[lanes[l][pos[l]]];
    return e->ts - old <= m_opt.reorder_ns ? e : nullptr;
  };
  // The put that ends a life goes after every line of the counter printed
  // before it: in a sound trace they all ran before the free, and moving
  // the end forward would turn another CPU's misfit into a use-after-free.
  auto premature_end = [&](const Pending& e) {
    if (delta(e) >= 0 || after_of(e) > 0)
      return false;
    for (std::size_t l = 0; l < n_lanes; ++l)
      if (pos[l] < lanes[l].size() && seq[lanes[l][pos[l]]]->ts < e.ts)
        return true;
    return false;
  };
  auto follows = [&](const Pending& e, std::int64_t count) {
    return after_of(e) == count + delta(e) && !premature_end(e);
  };
  // How many more events (up to `left`) can be placed with counts that
  // follow.
  auto run = [&](auto& self, std::int64_t count, std::size_t left) -> int {
    if (left == 0)
      return 0;
    std::uint64_t code = 0;
    for (auto p : pos)
      code = code << 6 | p;
    Memo& m = slot(code);
    if (m.stamp == m_stamp)
      return m.run;
    if (--budget < 0)
      return 0; // not searched: counts as no further
    const std::int64_t old = oldest();
    // A look that follows goes first: it changes no count, and moving it
    // before the others of a run keeps every count following.
    std::size_t only = n_lanes;
    for (std::size_t l = 0; l < n_lanes && only == n_lanes; ++l)
      if (const Pending* e = head(l, old);
          e && delta(*e) == 0 && follows(*e, count))
        only = l;
    int best = 0;
    for (std::size_t l = 0; l < n_lanes && std::size_t(best) < left; ++l) {
      const Pending* e = head(l, old);
      if (!e || (only != n_lanes && l != only) || !follows(*e, count))
        continue;
      ++pos[l];
      best = std::max(best, 1 + self(self, after_of(*e), left - 1));
      --pos[l];
    }
    Memo& w = slot(code); // the table did not move: the same slot
    w = {code, m_stamp, best};
    return best;
  };
  // The first step: the longest run, and of equal ones the earliest line.
  std::size_t pick = 0;
  int pick_run = 0;
  std::vector<std::size_t> order(n_lanes);
  for (std::size_t l = 0; l < n_lanes; ++l)
    order[l] = l;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return lanes[a][0] < lanes[b][0];
  });
  const std::int64_t old = oldest();
  for (std::size_t l : order) {
    const Pending* e = head(l, old);
    if (!e || !follows(*e, live->count))
      continue;
    ++pos[l];
    const int n = 1 + run(run, after_of(*e), need > 1 ? need - 1 : 0);
    --pos[l];
    if (n > pick_run) {
      pick = lanes[l][0];
      pick_run = n;
    }
    if (std::size_t(n) >= need)
      break;
  }
  return seq[pick]; // the front when no first step follows
}

// A netfs line that found no live life: kept for a window, in case the
// line that starts its life was printed after it.
void RefsAnalyzer::State::remember_orphan(std::uint64_t rk, const Pending& e)
{
  if (m_orphans.size() == 64)
    m_orphans.pop_front();
  m_orphans.push_back({rk, e.ts, e.printed - delta(e), e.printed});
}

// The count an orphan of this route key left, when the implicit birth `e`
// leaves the count it changed and came within the window.
std::optional<std::int64_t>
RefsAnalyzer::State::take_orphan(std::uint64_t rk, const Pending& e)
{
  for (auto it = m_orphans.begin(); it != m_orphans.end(); ++it)
    if (it->rk == rk && e.ts - it->ts <= m_opt.reorder_ns &&
        it->prior == e.printed) {
      const std::int64_t after = it->after;
      m_orphans.erase(it);
      return after;
    }
  return std::nullopt;
}

// A netfs line of no live life at the front: a subrequest is born at 2
// without a line, so when another CPU prints a later change first (6.12
// printed PUT DONE r=0 5 us before PUT TERM r=1), the line that starts the
// life comes after it. Its birth goes first when it leaves the count this
// line changed and was printed within the window.
std::deque<Pending>::iterator
RefsAnalyzer::State::earlier_birth(std::deque<Pending>::iterator front)
{
  const Key key = front->key();
  const std::int64_t prior = after_of(*front) - delta(*front);
  for (auto it = std::next(front); it != m_window.end(); ++it) {
    if (it->ts - front->ts > m_opt.reorder_ns || it->type == 'L')
      break;
    if (it->key() == key) // one CPU prints its lines in the order they ran
      return it->cpu != front->cpu && starts_life(*front, *it) &&
                     after_of(*it) == prior
                 ? it
                 : front;
  }
  return front;
}

Rec& RefsAnalyzer::State::born(const Pending& p)
{
  const Key key = p.key();
  const Ended* ended = m_ended.find(key);
  Rec& l = m_live[key];
  l = Rec();
  l.type = p.type;
  l.id = p.id;
  l.cookie = p.cookie;
  l.life = ended ? ended->life + 1 : 1;
  l.first_ns = p.ts;
  l.first_line = p.line;
  ++totals(p.type).lives;
  return l;
}

// The count reached zero: keep what later lines need, drop the rest.
void RefsAnalyzer::State::end(Key key, Rec& l)
{
  settle(l);
  l.freed = true;
  auto& t = totals(l.type);
  ++t.freed;
  t.relinquished += l.relinquished;
  m_ended[key] = {l.life, l.count, l.last_line, std::uint32_t(m_losses.size())};
  if (netfs_type(l.type)) { // ids are not reused: keep only recent ones
    m_netfs_ended.push_back(key);
    if (m_netfs_ended.size() > 4096) {
      m_ended.erase(m_netfs_ended.front());
      m_netfs_ended.pop_front();
    }
  }
  if (l.unknowable)
    unverifiable(l, fmt::format("freed at line {}", l.last_line), l.doubts > 0);
  if (m_opt.keep_lives)
    m_r.lives.push_back(life_of(l));
  const bool netfs = netfs_type(l.type);
  m_live.erase(key); // l is gone from here
  if (netfs)
    m_netfs.erase(key);
}

// Why a netfs request or subrequest still counted at the end of the trace
// is a leak, or "" while it may still be in flight: the kernel freed it
// (its put is missing), or its cookie was relinquished after its last line
// (inode eviction waits for the requests: none may outlive it).
std::string RefsAnalyzer::State::held(const Rec& l)
{
  if (!netfs_type(l.type))
    return "";
  const NetfsRec* n = m_netfs.find(Key(l.type, l.id));
  if (n && n->free_line)
    return fmt::format("count {} at the end of the trace, but line {} frees "
                       "it: the put that ended it is missing",
                       l.count, n->free_line);
  if (l.cookie == Id{0, true})
    return "";
  const std::uint64_t* rel = m_relinquish_line.find(Key('c', l.cookie));
  if (!rel || *rel < l.last_line)
    return "";
  return fmt::format("count {} at the end of the trace; its cookie c={} was "
                     "relinquished at line {}, after its last event",
                     l.count, text_of(l.cookie), *rel);
}

// A netfs life with a put that did not lower its count, judged when it
// ends: more puts than its gets and births explain is an over-put there;
// else the lines were printed out of order on one CPU, a count jump.
void RefsAnalyzer::State::settle(const Rec& l)
{
  if (!netfs_type(l.type))
    return;
  const NetfsRec* n = m_netfs.find(Key(l.type, l.id));
  if (!n || !n->suspect.line || l.unknowable)
    return;
  const auto& s = n->suspect;
  Pending at;
  at.ts = s.ts;
  at.line = s.line;
  const std::string& reason = m_reasons[s.reason];
  const std::int64_t extra = l.count - n->balance;
  if (extra > 0)
    finding("over-put", l.type, l.id, at,
            fmt::format("{} printed {}, the count was already {}: {} put{} "
                        "more than the gets over its life",
                        reason, s.printed, s.printed, extra,
                        extra > 1 ? "s" : ""));
  else
    finding("count-jump", l.type, l.id, at,
            fmt::format("{} printed {}, the history says {}: an untraced "
                        "change or lost lines",
                        reason, s.printed, s.printed - 1));
}

// A history that lost events: how it ended, and why that cannot be checked.
void RefsAnalyzer::State::unverifiable(const Rec& l, std::string how,
                                       bool trouble)
{
  if (l.doubts)
    how += fmt::format(" after {} count{} that did not follow (first at line "
                       "{})",
                       l.doubts, l.doubts > 1 ? "s" : "", l.doubt_line);
  m_r.findings.push_back({trouble ? "unverifiable" : "unverifiable-clean",
                          name(l.type, l.id), l.last_ns, l.last_line,
                          fmt::format("{}; unverifiable: {} while it was alive",
                                      how, loss_text(l.loss, l.losses))});
}

// "12 events lost on CPU 3 (line 40)", and how many more.
std::string RefsAnalyzer::State::loss_text(std::uint32_t loss,
                                           std::uint32_t losses,
                                           bool where) const
{
  const Loss& x = m_losses[loss - 1];
  std::string t;
  if (x.cut) {
    const Cut& c = m_r.cuts[x.cut - 1];
    t = fmt::format("{} was cut after its line {}", c.file, c.after_line);
  } else {
    t = fmt::format("{}events lost{}", x.lost ? fmt::format("{} ", x.lost) : "",
                    x.cpu >= 0 ? fmt::format(" on CPU {}", x.cpu) : "");
  }
  if (where && !x.cut) // a cut names its own line
    t += fmt::format(" (line {})", x.line);
  if (losses > 1)
    t += fmt::format(" and at {} more point{}", losses - 1,
                     losses > 2 ? "s" : "");
  return t;
}

std::uint64_t RefsAnalyzer::recognised() const
{
  return m_s->m_r.events + m_s->m_r.lost_markers;
}

std::uint64_t RefsAnalyzer::malformed() const { return m_s->m_r.malformed; }

void RefsAnalyzer::State::finding(const char* kind, char type, Id id,
                                  const Pending& p, std::string msg)
{
  m_r.findings.push_back({kind, name(type, id), p.ts, p.line, std::move(msg)});
}

void RefsAnalyzer::State::apply(Pending& p)
{
  if (p.type == 'L') {
    m_losses.push_back({p.line, p.lost_cpu, p.lost, p.cut});
    const auto loss = std::uint32_t(m_losses.size());
    m_live.for_each([&](Key, Rec& l) {
      l.unknowable = true;
      if (!l.loss)
        l.loss = loss;
      ++l.losses;
    });
    if (p.cut) {
      const Cut& c = m_r.cuts[p.cut - 1];
      m_r.findings.push_back(
          {"truncated-input", "", p.ts, p.line,
           fmt::format("{} ends after its line {} ({}): the {} histories "
                       "alive at this point cannot be checked",
                       c.file, c.after_line, c.why, m_live.size())});
      return;
    }
    m_r.findings.push_back(
        {"lost-events", "", p.ts, p.line,
         fmt::format("{}: the {} histories alive at this point cannot be "
                     "checked (each is named as unverifiable where it ends)",
                     loss_text(loss, 1, false), m_live.size())});
    return;
  }
  std::int64_t count = k_no_count;
  if (p.type)
    count = apply_count(p);
  if (p.relinquish && p.cookie != Id{0, true}) { // "" is text 0
    if (Rec* l = m_live.find(Key('c', p.cookie)))
      l->relinquished = true;
    // Only requests ask (held()), and none comes before the first netfs
    // line: 4.19 and 6.1 traces keep no table of relinquishes.
    if (m_r.gen == Gen::v612)
      m_relinquish_line[Key('c', p.cookie)] = p.line;
  }
  if (p.freed)
    if (m_live.find(Key(p.freed, p.id)))
      if (NetfsRec& n = m_netfs[Key(p.freed, p.id)]; !n.free_line)
        n.free_line = p.line;
  if (!p.text.empty())
    track(p, count);
}

std::int64_t RefsAnalyzer::State::apply_count(Pending& p)
{
  const Key key = p.key();
  Rec* live = m_live.find(key);
  std::int64_t after = 0;
  const bool fits = counted(p, live, after);
  const int d = delta(p);
  const std::string& reason = reason_text(p);
  const bool known = live != nullptr;
  // 4.19 allocates objects at usage 1 untraced; their first line is the
  // GET that makes 2, also when the allocator reuses a freed pointer.
  const bool is_birth =
      p.acquire || p.implicit || d == 2 ||
      (m_r.gen == Gen::v419 && p.type == 'o' && !known && d == 1 && after == 2);
  Ended* ended = known || is_birth ? nullptr : m_ended.find(key);
  // Events were lost since it ended: they may hold a new life of the id
  // (4.19 reuses pointers), which this line continues.
  const Ended* reborn =
      ended && ended->losses < m_losses.size() ? ended : nullptr;
  if (reborn)
    ended = nullptr;
  if (ended && d < 0) { // a put after the end
    finding("over-put", p.type, p.id, p,
            fmt::format("{} on a count of {} (it reached 0 at line {})", reason,
                        ended->count, ended->line));
    ended->count = after < 0 ? after : ended->count - 1;
    return ended->count;
  }
  if (ended) // a pointer is reused only by a new acquire
    finding("use-after-free", p.type, p.id, p,
            fmt::format("{} after the count reached 0 (line {})", reason,
                        ended->line));
  Rec& l = known && !is_birth ? *live : born(p);
  if (netfs_type(l.type) && l.cookie == Id{0, true})
    l.cookie = p.cookie; // tied after its NEW
  // A cookie acquired before the trace began (the static fsdef index,
  // netfs primary indices) has changes no line shows: 5.10 printed the
  // fsdef cookie's put one higher than its last get. Check only its floor.
  if (!known && !is_birth && p.type == 'c')
    l.partial = true;
  if (reborn) {
    l.partial = true;
    l.unknowable = true;
    l.loss = reborn->losses + 1;
    l.losses = std::uint32_t(m_losses.size()) - reborn->losses;
  }
  const bool misfit = known && !is_birth && !fits && !(l.partial && after >= 0);
  if ((misfit || after < 0) && l.unknowable) {
    if (!l.doubts++)
      l.doubt_line = p.line;
  } else if (misfit) {
    if (after < 0 || (d < 0 && l.count <= 0))
      finding("over-put", l.type, l.id, p,
              fmt::format("{} takes the count from {} to {}: put at zero",
                          reason, l.count, after));
    else if (netfs_type(l.type) && d < 0 && after == l.count) {
      // A put that leaves the count where it was: one put too many, or a
      // get printed after it. netfs traces every get, so the balance of
      // the whole life tells (settle()).
      if (NetfsRec& n = m_netfs[key]; !n.suspect.line)
        n.suspect = {p.ts, p.line, p.reason, after};
    } else
      finding("count-jump", l.type, l.id, p,
              fmt::format("{} printed {}, the history says {}: an untraced "
                          "change or lost lines",
                          reason, after, l.count + d));
  } else if (after < 0) {
    finding("over-put", l.type, l.id, p,
            fmt::format("{} leaves the count at {}", reason, after));
  }
  if (netfs_type(l.type)) {
    NetfsRec& n = m_netfs[key];
    if (known && !is_birth)
      n.balance += d;
    else
      n = {after, 0, {}};
  }
  l.count = after;
  l.last_ns = p.ts;
  l.last_line = p.line;
  ++l.events;
  l.reasons.add(p.reason);
  if (after <= 0 && p.type != 'V')
    end(key, l);
  return after;
}

void RefsAnalyzer::State::track(const Pending& p, std::int64_t count)
{
  m_r.timeline.push_back(timeline_entry(p.text, p.line, count));
}

RefsReport RefsAnalyzer::finish()
{
  State& s = *m_s;
  s.release(true);
  s.m_live.for_each([&](Key, Rec& l) {
    s.settle(l);
    Pending at;
    at.ts = l.last_ns;
    at.line = l.last_line;
    auto& t = s.totals(l.type);
    ++t.alive;
    t.relinquished += l.relinquished;
    const Key cookie('c', l.cookie);
    const bool cookie_gone =
        l.type == 'o' && !s.m_live.find(cookie) && s.m_ended.find(cookie);
    const bool leak = l.type == 'c' && l.relinquished;
    const std::string held = s.held(l);
    if (l.unknowable) {
      // Cut off by the end of a truncated input only: as alive at the end
      // of a whole one, unless it looks like a leak.
      const Loss& first = s.m_losses[l.loss - 1];
      const bool only_final_cut =
          l.losses == 1 && first.cut && first.line == s.m_last_line;
      if (leak)
        s.unverifiable(
            l, fmt::format("count {} after relinquish: possible leak", l.count),
            true);
      else if (!held.empty())
        s.unverifiable(l, held + ": possible leak", true);
      else if (cookie_gone)
        s.unverifiable(l,
                       fmt::format("count {}, its cookie c={} freed: "
                                   "possible leak",
                                   l.count, s.text_of(l.cookie)),
                       true);
      else if (l.doubts || !only_final_cut)
        s.unverifiable(l,
                       fmt::format("count {} at the end of the trace", l.count),
                       l.doubts > 0);
    } else if (leak) {
      s.finding("leak", l.type, l.id, at,
                fmt::format("relinquished but the count is still {} at the "
                            "end of the trace",
                            l.count));
    } else if (!held.empty()) {
      s.finding("leak", l.type, l.id, at, held);
    } else if (cookie_gone) {
      s.finding("object-outlives-cookie", l.type, l.id, at,
                fmt::format("count {} at the end, cookie c={} already freed",
                            l.count, s.text_of(l.cookie)));
    }
    s.m_r.lives.push_back(s.life_of(l));
  });
  for (auto& [name, n] : s.m_unknown)
    s.m_r.unknown[name] += n;
  if (s.m_track_request && !s.m_r.target_found) {
    const Key k('c', Id{*s.m_track_request, false});
    if (s.m_live.find(k) || s.m_ended.find(k))
      s.m_r.target_other = 'c';
  } else if (s.m_tracking && !s.m_r.target_found) {
    // Say when the id is one of another kind.
    const Id id = s.m_track_cookie ? *s.m_track_cookie : *s.m_track_object;
    for (char type : {'c', 'o', 'V'}) {
      const Key k(type, id);
      if (type != (s.m_track_cookie ? 'c' : 'o') &&
          (s.m_live.find(k) || s.m_ended.find(k))) {
        s.m_r.target_other = type;
        break;
      }
    }
  }
  RefsReport& r = s.m_r;
  std::stable_sort(
      r.lives.begin(), r.lives.end(),
      [](const Life& a, const Life& b) { return a.first_line < b.first_line; });
  std::stable_sort(
      r.findings.begin(), r.findings.end(),
      [](const Finding& a, const Finding& b) { return a.line < b.line; });
  return std::move(r);
}

} // namespace fsc::trace
