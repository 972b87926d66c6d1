// parse.cpp - the ftrace text line: "task-pid [cpu] flags ts: event: body".
#include <fsc/trace/trace.hpp>

#include <fmt/format.h>

#include <charconv>

namespace fsc::trace {
namespace {

std::string_view trim(std::string_view s)
{
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool digits(std::string_view s)
{
  return !s.empty() && s.find_first_not_of("0123456789") == s.npos;
}

// "[LOST 12 EVENTS]" (ftrace) or "CPU:1 [LOST 12 EVENTS]" (trace-cmd).
std::optional<std::uint64_t> lost_marker(std::string_view s)
{
  auto at = s.find("[LOST ");
  if (at == s.npos || s.find(" EVENTS]", at) == s.npos)
    return std::nullopt;
  std::uint64_t n = 0;
  auto num = s.substr(at + 6);
  std::from_chars(num.data(), num.data() + num.size(), n);
  return n;
}

// "16.931442" → ns; ftrace prints six decimals, trace-cmd up to nine.
bool timestamp(std::string_view s, std::int64_t& ns)
{
  auto dot = s.find('.');
  if (dot == s.npos || !digits(s.substr(0, dot)))
    return false;
  auto frac = s.substr(dot + 1);
  if (!digits(frac) || frac.size() > 9)
    return false;
  auto whole = s.substr(0, dot);
  while (whole.size() > 1 && whole.front() == '0')
    whole.remove_prefix(1);
  if (whole.size() > 12) // ~31,700 years of uptime: not a timestamp
    return false;
  std::int64_t sec = 0, f = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), sec);
  std::from_chars(frac.data(), frac.data() + frac.size(), f);
  for (std::size_t i = frac.size(); i < 9; ++i)
    f *= 10;
  ns = sec * 1000000000 + f;
  return true;
}

Parsed bad(std::string why)
{
  Parsed p;
  p.why = std::move(why);
  return p;
}

} // namespace

Parsed parse_line(std::string_view text)
{
  auto s = trim(text);
  Parsed p;
  if (s.empty()) {
    p.kind = Kind::blank;
    return p;
  }
  if (s.front() == '#' || s.rfind("cpus=", 0) == 0 ||
      s.rfind("version = ", 0) == 0) {
    p.kind = Kind::comment;
    return p;
  }
  if (auto n = lost_marker(s)) {
    p.kind = Kind::lost;
    p.lost = *n;
    return p;
  }
  // The CPU field "[ddd]" ends the task-pid; task names may hold spaces,
  // dashes and brackets, so look for the first "[digits]" after a "-pid".
  std::size_t open = 0;
  for (;;) {
    open = s.find('[', open);
    if (open == s.npos)
      return bad("no [cpu] field");
    auto close = s.find(']', open);
    if (close != s.npos && digits(s.substr(open + 1, close - open - 1)) &&
        open > 0 && s[open - 1] == ' ')
      break;
    ++open;
  }
  auto close = s.find(']', open);
  auto taskpid = trim(s.substr(0, open));
  auto dash = taskpid.rfind('-');
  if (dash == taskpid.npos || !digits(taskpid.substr(dash + 1)))
    return bad("no task-pid before [cpu]");
  p.line.task = taskpid.substr(0, dash);
  auto pid = taskpid.substr(dash + 1);
  std::from_chars(pid.data(), pid.data() + pid.size(), p.line.pid);
  std::from_chars(s.data() + open + 1, s.data() + close, p.line.cpu);
  auto rest = trim(s.substr(close + 1));
  // Optional flags token (ftrace), then "ts:".
  auto sp = rest.find(' ');
  auto first = rest.substr(0, sp);
  if (first.empty() || first.back() != ':') {
    p.line.flags = first;
    rest = sp == rest.npos ? std::string_view() : trim(rest.substr(sp + 1));
    sp = rest.find(' ');
    first = rest.substr(0, sp);
  }
  if (first.empty() || first.back() != ':' ||
      !timestamp(first.substr(0, first.size() - 1), p.line.ts_ns))
    return bad("no timestamp after [cpu]");
  rest = sp == rest.npos ? std::string_view() : trim(rest.substr(sp + 1));
  auto colon = rest.find(':');
  if (colon == rest.npos || colon == 0 ||
      rest.substr(0, colon).find(' ') != rest.npos)
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
