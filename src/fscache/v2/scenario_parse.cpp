// scenario_parse.cpp - reading 6.1 dialect scenarios: the 4.19 lexer and
// values, the 6.1 calls and `expect` lines, checked before anything runs.
#include <fsc/fscache/v2/scenario.hpp>

#include "scenario_syntax.hpp"

#include <fsc/error.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <set>

namespace fsc::fscache::v2 {

using fscache::fail_at;
using fscache::Grammar;
using fscache::parse_errno;
using fscache::parse_num;
using fscache::Parsed;
using fscache::Statement;
using fscache::Word;

namespace {

const std::map<std::string, Grammar>& grammar()
{
  static const std::map<std::string, Grammar> g{
      {"bind", {0, 0, {}, {}, true}},
      {"withdraw", {0, 0, {}, {}, false}},
      {"io-error", {0, 0, {}, {}, false}},
      {"acquire-volume", {1, 1, {"key", "coherency"}, {}, false}},
      {"relinquish-volume", {1, 1, {"coherency"}, {"invalidate"}, false}},
      {"acquire", {2, 2, {"key", "aux", "size"}, {}, false}},
      {"use", {1, 1, {}, {"modify"}, false}},
      {"unuse", {1, 1, {"aux", "size"}, {}, false}},
      {"update", {1, 1, {"aux", "size"}, {}, false}},
      {"resize", {1, 1, {"size"}, {}, false}},
      {"invalidate", {1, 1, {"aux", "size"}, {"dio-write"}, false}},
      {"relinquish", {1, 1, {}, {"retire"}, false}},
      {"begin-read", {1, 1, {}, {}, true}},
      {"begin-write", {1, 1, {}, {}, true}},
      {"read", {3, 3, {}, {}, true}},
      {"write", {3, 3, {}, {"pending"}, true}},
      {"complete", {1, 1, {}, {}, false}},
      {"end", {1, 1, {}, {}, false}},
      {"run", {0, 0, {}, {}, false}},
      {"step", {0, 1, {}, {}, false}},
      {"advance", {1, 1, {}, {"queue-only"}, false}},
      {"cull", {1, 1, {}, {}, true}},
      {"inuse", {1, 1, {}, {}, true}},
      {"space",
       {0,
        0,
        {"files", "ffree", "blocks", "bavail", "frun", "fcull", "fstop",
         "brun", "bcull", "bstop"},
        {},
        false}},
  };
  return g;
}

const char* const k_calls =
    "bind, withdraw, io-error, acquire-volume, relinquish-volume, acquire, "
    "use, unuse, update, resize, invalidate, relinquish, begin-read, "
    "begin-write, read, write, complete, end, run, step, advance, cull, "
    "inuse, space";

void check_values(const Parsed& p, const std::vector<Word>& w, std::size_t from,
                  const std::string& file, int line)
{
  for (const auto& [key, v] : p.opt) {
    if (key == "size" && !parse_num(v.text))
      fail_at(file, line, v.column, "expected a number for size=");
    if (key != "size" && !fscache::parse_value(v.text, v.quoted))
      fail_at(file, line, v.column,
              "expected a string, \"quoted string\" or hex:BYTES for " + key +
                  "=");
  }
  const std::string& c = p.cmd;
  if ((c == "acquire-volume" || c == "acquire") && !p.opt.count("key"))
    fail_at(file, line, w[from].column, c + " needs key=");
  if ((c == "resize" || c == "invalidate") && !p.opt.count("size"))
    fail_at(file, line, w[from].column, c + " needs size=");
  if (c == "read" || c == "write")
    for (std::size_t i = 1; i < 3; ++i)
      if (!parse_num(p.pos[i].text))
        fail_at(file, line, p.pos[i].column,
                i == 1 ? "expected a position in bytes"
                       : "expected a length in bytes");
  if (c == "write" && p.flags.count("pending") && p.as.empty())
    fail_at(file, line, w[from].column,
            "a pending write needs 'as NAME' for its complete");
  if (c == "step" && !p.pos.empty() && !parse_num(p.pos[0].text))
    fail_at(file, line, p.pos[0].column, "expected a number of steps");
  if (c == "advance" && !parse_duration(p.pos[0].text))
    fail_at(file, line, p.pos[0].column,
            "expected a time such as 10s, 500ms or 20ns");
}

void check_fault(const std::vector<Word>& w, const std::string& file, int line)
{
  if (w.size() < 3)
    fail_at(file, line, w[0].column,
            "expected fault POINT [cookie=H] [nth=N|every] ERRNO");
  const auto& pts = FaultPlan::points();
  if (std::find(pts.begin(), pts.end(), w[1].text) == pts.end())
    fail_at(file, line, w[1].column,
            fmt::format("unknown fault point '{}' (known: {})", w[1].text,
                        fmt::join(pts, ", ")));
  for (std::size_t i = 2; i + 1 < w.size(); ++i) {
    const std::string& t = w[i].text;
    if (t == "every" || (t.starts_with("cookie=") && t.size() > 7))
      continue;
    if (t.starts_with("nth=") && parse_num(t.substr(4)).value_or(0) > 0)
      continue;
    fail_at(file, line, w[i].column, "expected cookie=HANDLE, nth=N or every");
  }
  auto e = parse_errno(w.back().text);
  if (!e || *e <= 0)
    fail_at(file, line, w.back().column,
            "expected an errno name such as EIO or ENOSPC");
}

const std::set<std::string>& count_fields()
{
  static const std::set<std::string> f{"ref",        "n_active",  "n_accesses",
                                       "n_cookies",  "n_volumes", "objects",
                                       "object_size"};
  return f;
}

void check_expect(const std::vector<Word>& w, const std::string& file, int line)
{
  auto need = [&](std::size_t n) {
    if (w.size() < n)
      fail_at(file, line, w.back().column + int(w.back().text.size()),
              "expect: missing value");
  };
  need(3);
  const std::string& subject = w[1].text;
  const std::string& what = w[2].text;
  auto number_at = [&](std::size_t i) {
    need(i + 1);
    if (!parse_num(w[i].text))
      fail_at(file, line, w[i].column, "expected a number");
  };
  if (subject == "finding" || subject == "printk")
    return;
  if (subject == "stuck") {
    if (what != "none" && what != "some")
      fail_at(file, line, w[2].column, "expected none or some");
    return;
  }
  if (subject == "counts") {
    if (what != "balanced")
      fail_at(file, line, w[2].column, "expected balanced");
    return;
  }
  if (subject == "stat") {
    if (!stat_by_name(Stats{}, what))
      fail_at(file, line, w[2].column, "unknown stat '" + what + "'");
    number_at(3);
    return;
  }
  if (subject == "cache" && what == "culling") {
    need(4);
    if (w[3].text != "yes" && w[3].text != "no")
      fail_at(file, line, w[3].column, "expected yes or no");
    return;
  }
  if (subject == "cache" && (what == "no_create_space" ||
                             what == "no_write_space" || what == "culled")) {
    number_at(3);
    return;
  }
  if (what == "=") {
    need(4);
    if (!parse_errno(w[3].text))
      fail_at(file, line, w[3].column, "expected 0 or -ERRNO");
    return;
  }
  if (what == "null" || what == "freed" || what == "exists")
    return;
  if (count_fields().count(what)) {
    number_at(3);
    return;
  }
  if (what == "file") {
    fscache::check_file_expect(w, file, line);
    return;
  }
  if (what == "lru") {
    need(4);
    if (w[3].text != "yes" && w[3].text != "no")
      fail_at(file, line, w[3].column, "expected yes or no");
    return;
  }
  if (what == "flags") {
    for (std::size_t i = 3; i < w.size(); ++i) {
      const std::string& f = w[i].text;
      if (f.size() < 2 || (f[0] != '+' && f[0] != '-') ||
          !cookie_flag_names().count(f.substr(1)))
        fail_at(file, line, w[i].column,
                "expected +FLAG or -FLAG (a cookie flag such as HAVE_DATA)");
    }
    return;
  }
  if (what == "state") {
    need(4);
    const std::string& s = w[3].text;
    if (subject == "cache" ? !parse_cache_state(s)
                           : !parse_cookie_state(s) && s != "waiting" &&
                                 s != "ready" && s != "refused" && s != "ended")
      fail_at(file, line, w[3].column,
              subject == "cache"
                  ? "expected a cache state (NOT_PRESENT, PREPARING, "
                    "ACTIVE, GOT_IOERROR, WITHDRAWN)"
                  : "expected a cookie state (QUIESCENT, LOOKING_UP, "
                    "CREATING, ACTIVE, INVALIDATING, FAILED, "
                    "LRU_DISCARDING, WITHDRAWING, RELINQUISHING, DROPPED) "
                    "or an operation's (waiting, ready, refused, ended)");
    return;
  }
  fail_at(file, line, w[2].column,
          "expected null, freed, exists, state, flags, lru, file, ref, "
          "n_active, n_accesses, n_cookies, n_volumes, objects, object_size "
          "or '='");
}

void check_statement(const Statement& st, const std::string& file)
{
  const auto& w = st.words;
  const std::string& cmd = w[0].text;
  if (cmd == "expect") {
    if (w.size() < 2)
      fail_at(file, st.line, w[0].column, "expect: what?");
    check_expect(w, file, st.line);
  } else if (cmd == "fault") {
    check_fault(w, file, st.line);
  } else {
    split_v2_call(w, 0, file, st.line);
  }
}

} // namespace

Parsed split_v2_call(const std::vector<Word>& w, std::size_t from,
                     const std::string& file, int line)
{
  Parsed p = fscache::split_with(w, from, grammar(), k_calls, file, line);
  check_values(p, w, from, file, line);
  return p;
}

std::optional<CookieState> parse_cookie_state(const std::string& s)
{
  for (std::size_t i = 0; i < k_cookie_states; ++i)
    if (state_name(static_cast<CookieState>(i)) == s)
      return static_cast<CookieState>(i);
  return std::nullopt;
}

namespace {
const std::vector<std::string>& cache_state_names()
{
  static const std::vector<std::string> n{"NOT_PRESENT", "PREPARING", "ACTIVE",
                                          "GOT_IOERROR", "WITHDRAWN"};
  return n;
}
} // namespace

std::optional<CacheState> parse_cache_state(const std::string& s)
{
  const auto& n = cache_state_names();
  auto it = std::find(n.begin(), n.end(), s);
  if (it == n.end())
    return std::nullopt;
  return static_cast<CacheState>(it - n.begin());
}

std::string cache_state_name(CacheState s)
{
  return cache_state_names()[static_cast<std::size_t>(s)];
}

const std::map<std::string, unsigned>& cookie_flag_names()
{
  namespace f = cookie_flag;
  static const std::map<std::string, unsigned> names{
      {"RELINQUISHED", f::relinquished},
      {"RETIRED", f::retired},
      {"IS_CACHING", f::is_caching},
      {"NO_DATA_TO_READ", f::no_data_to_read},
      {"NEEDS_UPDATE", f::needs_update},
      {"HAS_BEEN_CACHED", f::has_been_cached},
      {"DISABLED", f::disabled},
      {"LOCAL_WRITE", f::local_write},
      {"NO_ACCESS_WAKE", f::no_access_wake},
      {"DO_RELINQUISH", f::do_relinquish},
      {"DO_WITHDRAW", f::do_withdraw},
      {"DO_LRU_DISCARD", f::do_lru_discard},
      {"DO_PREP_TO_WRITE", f::do_prep_to_write},
      {"HAVE_DATA", f::have_data},
      {"IS_HASHED", f::is_hashed},
      {"DO_INVALIDATE", f::do_invalidate}};
  return names;
}

std::optional<std::uint64_t> parse_duration(const std::string& s)
{
  static const std::pair<const char*, std::uint64_t> units[] = {
      {"ns", 1}, {"ms", 1'000'000}, {"s", k_ns_per_s}};
  for (const auto& [suffix, mult] : units)
    if (s.ends_with(suffix)) {
      auto n = parse_num(s.substr(0, s.size() - std::string(suffix).size()));
      if (!n)
        return std::nullopt;
      return *n * mult;
    }
  auto n = parse_num(s);
  if (!n)
    return std::nullopt;
  return *n * k_ns_per_s;
}

std::optional<long> stat_by_name(const Stats& st, const std::string& name)
{
  const std::map<std::string, long> v{{"acquire_n", st.acquire_n},
                                      {"acquire_ok", st.acquire_ok},
                                      {"lru_n", st.lru_n},
                                      {"lru_exp", st.lru_exp},
                                      {"lru_rmv", st.lru_rmv},
                                      {"lru_drp", st.lru_drp},
                                      {"invals", st.invals},
                                      {"updates", st.updates},
                                      {"resizes", st.resizes},
                                      {"resizes_null", st.resizes_null},
                                      {"relinqs", st.relinqs},
                                      {"relinqs_retire", st.relinqs_retire},
                                      {"relinqs_drop", st.relinqs_drop},
                                      {"cookies", st.cookies},
                                      {"volumes", st.volumes}};
  auto it = v.find(name);
  if (it == v.end())
    return std::nullopt;
  return it->second;
}

const std::vector<std::string>& FaultPlan::points()
{
  static const std::vector<std::string> p{
      "bind",     "acquire_volume", "alloc_object",
      "cook_key", "lookup",         "open",
      "getxattr", "create_tmpfile", "invalidate_tmpfile",
      "setxattr", "link",           "write",
      "bury"};
  return p;
}

int FaultPlan::check(std::string_view point, CookieId c)
{
  for (Rule& r : m_rules) {
    if (r.point != point || (r.cookie != 0 && r.cookie != c))
      continue;
    ++r.seen;
    if (r.nth == 0 || r.seen == r.nth)
      return -r.err;
  }
  return 0;
}

Scenario Scenario::parse(const std::string& text, const std::string& file)
{
  Scenario s;
  s.file = file;
  s.statements = fscache::lex(text, file);
  for (const auto& st : s.statements)
    check_statement(st, file);
  return s;
}

} // namespace fsc::fscache::v2
