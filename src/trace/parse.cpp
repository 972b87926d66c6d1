// parse.cpp - the ftrace text line: "task-pid [cpu] flags ts: event: body".
#include <fsc/trace/find_byte.hpp>
#include <fsc/trace/trace.hpp>

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace fsc::trace {
namespace {

// Hand-written scans: this runs once per trace line, and the generic
// string_view searches (find_first_not_of asks memchr once per byte) were
// most of the time of `fsc refs`.

bool blank(char c) { return c == ' ' || c == '\t'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s)
{
  // ftrace pads task names to 16 columns: most lines begin with a run of
  // spaces, skipped eight at a time.
  const char* b = skip_spaces(s.data(), s.data() + s.size());
  const char* e = s.data() + s.size();
  while (b < e && blank(*b))
    b = skip_spaces(b + 1, e);
  while (e > b && (blank(e[-1]) || e[-1] == '\r'))
    --e;
  return std::string_view(b, std::size_t(e - b));
}

bool digits(std::string_view s)
{
  if (s.empty())
    return false;
  for (char c : s)
    if (!digit(c))
      return false;
  return true;
}

// Position of c in s at or after from, or npos.
std::size_t find(std::string_view s, char c, std::size_t from = 0)
{
  if (from >= s.size())
    return s.npos;
  auto* p = static_cast<const char*>(
      std::memchr(s.data() + from, c, s.size() - from));
  return p ? std::size_t(p - s.data()) : s.npos;
}

// "CPU:1 [LOST 12 EVENTS]", "CPU:1 [LOST EVENTS]" (the kernel, spec
// v1-tracepoints §2.1) or "CPU:1 [12 EVENTS DROPPED]", "CPU:1 [EVENTS
// DROPPED]" (trace-cmd, §6.4): the number of events (0: unknown). The
// search starts at the first '[' of the line.
std::optional<std::uint64_t> lost_marker(std::string_view s, std::size_t at)
{
  for (; at != s.npos; at = find(s, '[', at + 1)) {
    auto close = find(s, ']', at);
    if (close == s.npos)
      return std::nullopt;
    auto in = s.substr(at + 1, close - at - 1);
    std::string_view num;
    if (in.starts_with("LOST ") && in.ends_with("EVENTS"))
      num = trim(in.substr(5, in.size() - 5 - 6));
    else if (in.ends_with("EVENTS DROPPED"))
      num = trim(in.substr(0, in.size() - 14));
    else
      continue;
    if (!num.empty() && !digits(num))
      continue;
    std::uint64_t n = 0;
    std::from_chars(num.data(), num.data() + num.size(), n);
    return n;
  }
  return std::nullopt;
}

// Six decimal digits at p as a number, all at once; false when one is not
// a digit.
bool micros(const char* p, std::int64_t& out)
{
  if constexpr (std::endian::native != std::endian::little)
    return false;
  char eight[8] = {'0', '0'};
  std::memcpy(eight + 2, p, 6);
  std::uint64_t w;
  std::memcpy(&w, eight, 8);
  constexpr std::uint64_t zeros = 0x3030303030303030ull;
  constexpr std::uint64_t highs = 0xf0f0f0f0f0f0f0f0ull;
  if ((w & highs) != zeros || ((w + 0x0606060606060606ull) & highs) != zeros)
    return false;
  // Digits (the first in the lowest byte) into pairs, fours, the eight.
  std::uint64_t v = w - zeros;
  v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffull;
  v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffull;
  v = (v * 10000 + (v >> 32)) & 0xffffffffull;
  out = std::int64_t(v);
  return true;
}

// "16.931442" → ns; ftrace prints six decimals, trace-cmd up to nine. One
// pass: this runs for every line.
bool timestamp(std::string_view s, std::int64_t& ns)
{
  const char* p = s.data();
  const char* e = p + s.size();
  const char* start = p;
  while (p < e && *p == '0')
    ++p;
  std::int64_t sec = 0;
  int whole = 0;
  for (; p < e && digit(*p); ++p) {
    if (++whole > 12) // ~31,700 years of uptime: not a timestamp
      return false;
    sec = sec * 10 + (*p - '0');
  }
  if (p == start || p == e || *p != '.')
    return false;
  if (sec > 9000000000) // ~285 years: the nanoseconds would not fit
    return false;
  ++p;
  if (std::int64_t us; e - p == 6 && micros(p, us)) { // ftrace prints six
    ns = sec * 1000000000 + us * 1000;
    return true;
  }
  std::int64_t f = 0;
  int frac = 0;
  for (; p < e && digit(*p); ++p) {
    if (++frac > 9)
      return false;
    f = f * 10 + (*p - '0');
  }
  if (p != e || frac == 0)
    return false;
  for (int i = frac; i < 9; ++i)
    f *= 10;
  ns = sec * 1000000000 + f;
  return true;
}

// A run of digits as an int, like std::from_chars: 0 when it overflows.
int small_number(std::string_view s)
{
  if (s.size() > 9) {
    int v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  int v = 0;
  for (char c : s)
    v = v * 10 + (c - '0');
  return v;
}

Parsed bad(const char* why)
{
  Parsed p;
  p.why = why;
  return p;
}

// The shape of nearly every line, "task-pid [cpu] flags ts: event: body",
// in one forward pass with a single search for '[' after the CPU field.
// False sends the line to the general parser below (brackets in the task
// name or the body, where a lost marker may hide; anything unusual), which
// gives the same answer for every line this one accepts.
bool parse_plain(std::string_view s, Parsed& p)
{
  const char* b = s.data();
  const char* e = b + s.size();
  auto* open = static_cast<const char*>(std::memchr(b, '[', s.size()));
  if (!open || open == b || open[-1] != ' ')
    return false;
  const char* q = open + 1;
  int cpu = 0;
  while (q < e && digit(*q) && q - open <= 9)
    cpu = cpu * 10 + (*q++ - '0');
  if (q == open + 1 || q >= e || *q != ']')
    return false;
  const char* after = q + 1;
  if (std::memchr(after, '[', std::size_t(e - after)))
    return false;
  // task-pid: digits back from the blanks before '['.
  const char* te = skip_spaces_back(b, open);
  while (te > b && blank(te[-1]))
    te = skip_spaces_back(b, te - 1);
  const char* d = te;
  while (d > b && digit(d[-1]))
    --d;
  if (d == te || te - d > 9 || d - b < 2 || d[-1] != '-')
    return false;
  int pid = 0;
  for (const char* c = d; c < te; ++c)
    pid = pid * 10 + (*c - '0');
  // Optional flags, then "ts:".
  auto token = [&](const char*& at) {
    at = skip_spaces(at, e);
    while (at < e && blank(*at))
      at = skip_spaces(at + 1, e);
    const char* t = at;
    at = find_byte(at, e, ' ', ' ', ' '); // tokens end at a space, as below
    return std::string_view(t, std::size_t(at - t));
  };
  const char* at = after;
  std::string_view first = token(at);
  if (first.empty())
    return false;
  std::string_view flags;
  if (first.back() != ':') {
    flags = first;
    first = token(at);
    if (first.empty() || first.back() != ':')
      return false;
  }
  std::int64_t ts = 0;
  if (!timestamp(first.substr(0, first.size() - 1), ts))
    return false;
  while (at < e && blank(*at))
    ++at;
  const char* ev = at;
  at = find_byte(at, e, ':', ' ', '\t');
  if (at == ev || at >= e || *at != ':')
    return false;
  p.line.task = std::string_view(b, std::size_t(d - 1 - b));
  p.line.pid = pid;
  p.line.cpu = cpu;
  p.line.flags = flags;
  p.line.ts_ns = ts;
  p.line.event = std::string_view(ev, std::size_t(at - ev));
  p.line.body = trim(std::string_view(at + 1, std::size_t(e - at - 1)));
  p.kind = Kind::event;
  return true;
}

} // namespace

Parsed parse_line(std::string_view text)
{
  auto s = trim(text);
  Parsed p;
  // Not a comment, nor "CPU:n [LOST ...]": parse_plain or the general way.
  if (!s.empty() && s.front() != '#' && s.front() != 'C' &&
      !s.starts_with("cpus=") && !s.starts_with("version = ") &&
      parse_plain(s, p))
    return p;
  return parse_line_general(text);
}

Parsed parse_line_general(std::string_view text)
{
  auto s = trim(text);
  Parsed p;
  if (s.empty()) {
    p.kind = Kind::blank;
    return p;
  }
  if (s.front() == '#' || s.starts_with("cpus=") ||
      s.starts_with("version = ")) {
    p.kind = Kind::comment;
    return p;
  }
  std::size_t open = find(s, '[');
  if (auto n = lost_marker(s, open)) {
    p.kind = Kind::lost;
    p.lost = *n;
    if (s.starts_with("CPU:")) {
      auto cpu = s.substr(4, open == s.npos ? s.npos : open - 4);
      cpu = trim(cpu);
      if (digits(cpu))
        p.lost_cpu = small_number(cpu);
    }
    return p;
  }
  // The CPU field "[ddd]" ends the task-pid; task names may hold spaces,
  // dashes and brackets, so look for the first "[digits]" after a "-pid".
  std::size_t close = 0;
  for (;; open = find(s, '[', open + 1)) {
    if (open == s.npos)
      return bad("no [cpu] field");
    close = find(s, ']', open);
    if (close != s.npos && digits(s.substr(open + 1, close - open - 1)) &&
        open > 0 && s[open - 1] == ' ')
      break;
  }
  auto taskpid = trim(s.substr(0, open));
  std::size_t dash = taskpid.size();
  while (dash > 0 && digit(taskpid[dash - 1]))
    --dash;
  if (dash == 0 || dash == taskpid.size() || taskpid[dash - 1] != '-')
    return bad("no task-pid before [cpu]");
  --dash;
  p.line.task = taskpid.substr(0, dash);
  p.line.pid = small_number(taskpid.substr(dash + 1));
  p.line.cpu = small_number(s.substr(open + 1, close - open - 1));
  auto rest = trim(s.substr(close + 1));
  // Optional flags token (ftrace), then "ts:".
  auto sp = find(rest, ' ');
  auto first = rest.substr(0, sp);
  if (first.empty() || first.back() != ':') {
    p.line.flags = first;
    rest = sp == rest.npos ? std::string_view() : trim(rest.substr(sp + 1));
    sp = find(rest, ' ');
    first = rest.substr(0, sp);
  }
  if (first.empty() || first.back() != ':' ||
      !timestamp(first.substr(0, first.size() - 1), p.line.ts_ns))
    return bad("no timestamp after [cpu]");
  rest = sp == rest.npos ? std::string_view() : trim(rest.substr(sp + 1));
  auto colon = find(rest, ':');
  if (colon == rest.npos || colon == 0 ||
      find(rest.substr(0, colon), ' ') != rest.npos)
    return bad("no event name after the timestamp");
  p.line.event = rest.substr(0, colon);
  p.line.body = trim(rest.substr(colon + 1));
  p.kind = Kind::event;
  return p;
}

std::optional<std::string_view> Fields::get(std::string_view key) const
{
  for (auto& [k, v] : kv)
    if (k == key)
      return v;
  return std::nullopt;
}

Fields split_fields(std::string_view body)
{
  Fields f;
  std::size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && body[i] == ' ')
      ++i;
    auto end = body.find(' ', i);
    if (end == body.npos)
      end = body.size();
    auto tok = body.substr(i, end - i);
    i = end;
    if (tok.empty())
      continue;
    auto eq = tok.find('=');
    if (eq != tok.npos && eq > 0) {
      f.kv.emplace_back(tok.substr(0, eq), tok.substr(eq + 1));
    } else {
      if (!f.words.empty())
        f.words += ' ';
      f.words += tok;
    }
  }
  return f;
}

std::string format_line(const Line& l)
{
  return fmt::format("{:>16}-{:<7} [{:03}] {} {:5}.{:06}: {}: {}", l.task,
                     l.pid, l.cpu, l.flags.empty() ? "...." : l.flags,
                     l.ts_ns / 1000000000, (l.ts_ns / 1000) % 1000000, l.event,
                     l.body);
}

} // namespace fsc::trace
