// scenario_parse.cpp - reading replay scenarios: words, values, the
// grammar of calls and `expect` lines, checked before anything runs.
#include <fsc/fscache/scenario.hpp>

#include "scenario_syntax.hpp"

#include <fsc/error.hpp>
#include <fsc/fscache/fault.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fmt/format.h>
#include <memory>
#include <set>

namespace fsc::fscache {

// --- words and values
// ------------------------------------------------------------

void fail_at(const std::string& file, int line, int col,
             const std::string& what)
{
  throw Error(fmt::format("{}:{}:{}: {}", file, line, col, what));
}

namespace {

std::vector<Word> split(const std::string& text, const std::string& file,
                        int line)
{
  std::vector<Word> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    if (text[i] == '#')
      break;
    Word w;
    w.column = int(i) + 1;
    // A word may be key="quoted value"; quotes keep spaces and '#'.
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
      if (text[i] == '"') {
        std::size_t end = text.find('"', i + 1);
        if (end == std::string::npos)
          fail_at(file, line, int(i) + 1, "expected a closing '\"'");
        w.text += text.substr(i + 1, end - i - 1);
        w.quoted = true;
        i = end + 1;
      } else {
        w.text += text[i++];
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

const std::map<std::string, int>& errno_names()
{
  static const std::map<std::string, int> names{
      {"EPERM", EPERM},
      {"ENOENT", ENOENT},
      {"EIO", EIO},
      {"ENOMEM", ENOMEM},
      {"EEXIST", EEXIST},
      {"ENOTDIR", ENOTDIR},
      {"EISDIR", EISDIR},
      {"EINVAL", EINVAL},
      {"ENOSPC", ENOSPC},
      {"EROFS", EROFS},
      {"ENODATA", ENODATA},
      {"ENOBUFS", ENOBUFS},
      {"ETIMEDOUT", ETIMEDOUT},
      {"ESTALE", ESTALE},
      {"ENOMEDIUM", ENOMEDIUM},
      {"EDQUOT", EDQUOT},
      {"EBUSY", EBUSY},
      {"ERESTARTSYS", ERESTARTSYS_},
  };
  return names;
}

} // namespace

std::optional<int> parse_errno(std::string s)
{
  bool neg = !s.empty() && s[0] == '-';
  if (neg)
    s.erase(0, 1);
  if (s == "0")
    return 0;
  auto it = errno_names().find(s);
  if (it == errno_names().end())
    return std::nullopt;
  return neg ? -it->second : it->second;
}

std::string errno_name(int e)
{
  if (e == 0)
    return "0";
  for (const auto& [name, v] : errno_names())
    if (v == -e)
      return "-" + name;
  return std::to_string(e);
}

std::optional<std::uint64_t> parse_num(const std::string& s)
{
  std::uint64_t v = 0;
  int base = 10;
  std::string_view t = s;
  if (t.starts_with("0x")) {
    base = 16;
    t.remove_prefix(2);
  }
  auto r = std::from_chars(t.data(), t.data() + t.size(), v, base);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || t.empty())
    return std::nullopt;
  return v;
}

std::optional<ObjState> parse_state(const std::string& s)
{
  for (std::size_t i = 0; i < obj_state_names.size(); ++i)
    if (obj_state_names[i] == s)
      return static_cast<ObjState>(i);
  return std::nullopt;
}

const std::map<std::string, unsigned>& cookie_flag_names()
{
  static const std::map<std::string, unsigned> names{
      {"LOOKING_UP", cookie_flag::looking_up},
      {"NO_DATA_YET", cookie_flag::no_data_yet},
      {"UNAVAILABLE", cookie_flag::unavailable},
      {"INVALIDATING", cookie_flag::invalidating},
      {"RELINQUISHED", cookie_flag::relinquished},
      {"ENABLED", cookie_flag::enabled},
      {"AUX_UPDATED", cookie_flag::aux_updated},
      {"ACQUIRED", cookie_flag::acquired}};
  return names;
}

namespace {

const std::map<std::string, Grammar>& grammar()
{
  static const std::map<std::string, Grammar> g{
      {"register", {1, 1, {"version"}, {}, true}},
      {"acquire",
       {3, 3, {"key", "aux", "size", "name", "rule"}, {"disabled"}, false}},
      {"enable", {1, 1, {"aux", "size"}, {}, true}},
      {"disable", {1, 1, {"aux"}, {"invalidate"}, true}},
      {"update", {1, 1, {"aux"}, {}, false}},
      {"invalidate", {1, 1, {}, {}, false}},
      {"wait-invalidate", {1, 1, {}, {}, true}},
      {"resize", {1, 1, {"size"}, {}, true}},
      {"read", {2, 2, {}, {}, true}},
      {"alloc", {2, 2, {}, {}, true}},
      {"write", {2, 2, {"data"}, {}, true}},
      {"uncache", {2, 2, {}, {}, true}},
      {"check", {1, 1, {}, {}, true}},
      {"relinquish", {1, 1, {"aux"}, {"retire"}, true}},
      {"withdraw", {0, 0, {}, {}, true}},
      {"bind", {0, 0, {}, {}, true}},
      {"run", {0, 0, {}, {}, false}},
      {"step", {0, 1, {}, {}, false}},
  };
  return g;
}

} // namespace

Parsed split_with(const std::vector<Word>& w, std::size_t from,
                  const std::map<std::string, Grammar>& gram,
                  const std::string& calls, const std::string& file, int line)
{
  Parsed p;
  p.cmd = w[from].text;
  auto g = gram.find(p.cmd);
  if (g == gram.end())
    fail_at(file, line, w[from].column,
            "expected a call (" + calls + "), got '" + p.cmd + "'");
  for (std::size_t i = from + 1; i < w.size(); ++i) {
    const Word& x = w[i];
    auto eq = x.text.find('=');
    if (x.text == "as" && g->second.takes_as) {
      if (i + 1 >= w.size())
        fail_at(file, line, x.column, "expected a name after 'as'");
      p.as = w[++i].text;
    } else if (eq != std::string::npos) {
      std::string key = x.text.substr(0, eq);
      if (!g->second.opts.count(key))
        fail_at(file, line, x.column,
                fmt::format("'{}' takes no option '{}'", p.cmd, key));
      Word v = x;
      v.text = x.text.substr(eq + 1);
      if (!x.quoted)
        v.column += int(eq) + 1;
      p.opt[key] = v;
    } else if (g->second.flags.count(x.text)) {
      p.flags.insert(x.text);
    } else {
      p.pos.push_back(x);
    }
  }
  int n = int(p.pos.size());
  if (n < g->second.min_pos || n > g->second.max_pos)
    fail_at(file, line, w[from].column,
            fmt::format("'{}' expects {} argument(s), got {}", p.cmd,
                        g->second.min_pos, n));
  return p;
}

Parsed split_call(const std::vector<Word>& w, std::size_t from,
                  const std::string& file, int line)
{
  Parsed p = split_with(w, from, grammar(),
                        "register, acquire, enable, disable, update, "
                        "invalidate, wait-invalidate, resize, read, alloc, "
                        "write, uncache, check, relinquish, withdraw, bind, "
                        "run, step",
                        file, line);
  for (const auto& [key, v] : p.opt) {
    if ((key == "size" || key == "version") && !parse_num(v.text))
      fail_at(file, line, v.column, "expected a number for " + key + "=");
    if ((key == "key" || key == "aux" || key == "data") &&
        !parse_value(v.text, v.quoted))
      fail_at(file, line, v.column,
              "expected a string, \"quoted string\" or hex:BYTES for " + key +
                  "=");
    if (key == "rule" && v.text != "exact" && v.text != "none" &&
        v.text != "update")
      fail_at(file, line, v.column, "expected rule=exact|none|update");
  }
  if (p.cmd == "acquire") {
    const Word& t = p.pos[1];
    if (t.text != "index" && t.text != "data" && t.text != "special")
      fail_at(file, line, t.column, "expected index, data or special");
    if (!p.opt.count("key"))
      fail_at(file, line, w[from].column, "acquire needs key=");
  }
  if ((p.cmd == "read" || p.cmd == "alloc" || p.cmd == "write" ||
       p.cmd == "uncache") &&
      !p.pos.empty() && !parse_num(p.pos.back().text))
    fail_at(file, line, p.pos.back().column, "expected a page number");
  if (p.cmd == "resize" && !p.opt.count("size"))
    fail_at(file, line, w[from].column, "resize needs size=");
  return p;
}

namespace {

void check_expect(const std::vector<Word>& w, const std::string& file, int line)
{
  auto need = [&](std::size_t n) {
    if (w.size() < n)
      fail_at(file, line, w.back().column + int(w.back().text.size()),
              "expect: missing value");
  };
  need(3);
  const std::string& what = w[2].text;
  if (w[1].text == "stat") {
    need(4);
    if (!parse_num(w[3].text))
      fail_at(file, line, w[3].column, "expected a number");
    return;
  }
  if (w[1].text == "finding" || w[1].text == "stuck")
    return;
  if (what == "=") {
    need(4);
    if (!parse_errno(w[3].text))
      fail_at(file, line, w[3].column, "expected 0 or -ERRNO");
    return;
  }
  static const std::set<std::string> cookie_fields{"usage", "n_children",
                                                   "n_active"};
  static const std::set<std::string> object_fields{
      "usage", "n_ops", "n_children", "n_in_progress", "n_exclusive"};
  if (what == "null" || what == "freed" || what == "exists")
    return;
  if (cookie_fields.count(what)) {
    need(4);
    if (!parse_num(w[3].text))
      fail_at(file, line, w[3].column, "expected a number");
    return;
  }
  if (what == "flags") {
    for (std::size_t i = 3; i < w.size(); ++i) {
      std::string f = w[i].text;
      if (f.size() < 2 || (f[0] != '+' && f[0] != '-') ||
          !cookie_flag_names().count(f.substr(1)))
        fail_at(file, line, w[i].column,
                "expected +FLAG or -FLAG (LOOKING_UP, NO_DATA_YET, "
                "UNAVAILABLE, INVALIDATING, RELINQUISHED, ENABLED, "
                "AUX_UPDATED, ACQUIRED)");
    }
    return;
  }
  if (what == "state") {
    need(4);
    if (w[3].text != "none" && !parse_state(w[3].text))
      fail_at(file, line, w[3].column, "expected a state short name");
    return;
  }
  if (what == "object") {
    need(5);
    if (!object_fields.count(w[3].text) || !parse_num(w[4].text))
      fail_at(file, line, w[3].column,
              "expected usage|n_ops|n_children|n_in_progress|n_exclusive N");
    return;
  }
  if (what == "file") {
    check_file_expect(w, file, line);
    return;
  }
  fail_at(file, line, w[2].column,
          "expected null, freed, exists, usage, n_children, n_active, "
          "flags, state, object, file or '='");
}

void check_statement(const Statement& st, const std::string& file)
{
  const auto& w = st.words;
  const std::string& cmd = w[0].text;
  if (cmd == "fixes") {
    Fixes f;
    for (std::size_t i = 1; i < w.size(); ++i) {
      try {
        apply_fix_switch(f, w[i].text);
      } catch (const Error& e) {
        fail_at(file, st.line, w[i].column, e.what());
      }
    }
    return;
  }
  if (cmd == "expect") {
    if (w.size() < 2)
      fail_at(file, st.line, w[0].column, "expect: what?");
    check_expect(w, file, st.line);
    return;
  }
  if (cmd == "fault") {
    if (w.size() < 3)
      fail_at(file, st.line, w[0].column,
              "expected fault POINT [cookie=H] [nth=N|every] ERRNO");
    const auto& pts = FaultPlan::points();
    if (std::find(pts.begin(), pts.end(), w[1].text) == pts.end())
      fail_at(file, st.line, w[1].column,
              "unknown fault point '" + w[1].text + "'");
    for (std::size_t i = 2; i + 1 < w.size(); ++i) {
      const std::string& t = w[i].text;
      if (t == "every" || t.starts_with("cookie="))
        continue;
      if (t.starts_with("nth=") && parse_num(t.substr(4)))
        continue;
      fail_at(file, st.line, w[i].column,
              "expected cookie=HANDLE, nth=N or every");
    }
    auto e = parse_errno(w.back().text);
    if (!e || *e <= 0)
      fail_at(file, st.line, w.back().column,
              "expected an errno name "
              "such as EIO or ENOSPC");
    return;
  }
  if (cmd == "on") {
    if (w.size() < 4)
      fail_at(file, st.line, w[0].column, "expected on HANDLE STATE CALL...");
    if (w[2].text != "dispatch" && !parse_state(w[2].text))
      fail_at(file, st.line, w[2].column,
              "expected a state short name (INIT, LOOK, KILL, DROP, ...) or "
              "dispatch");
    split_call(w, 3, file, st.line);
    return;
  }
  split_call(w, 0, file, st.line);
}

} // namespace

std::optional<Bytes> parse_value(const std::string& text, bool quoted)
{
  if (quoted || !(text.starts_with("hex:")))
    return Bytes(text.begin(), text.end());
  Bytes out;
  if (!from_hex(std::string_view(text).substr(4), out))
    return std::nullopt;
  return out;
}

void apply_fix_switch(Fixes& fixes, const std::string& word)
{
  bool on = true;
  std::string name = word;
  if (!name.empty() && (name[0] == '-' || name[0] == '+')) {
    on = name[0] == '+';
    name.erase(0, 1);
  }
  for (const auto& [n, member] : fix_names())
    if (n == name) {
      fixes.*member = on;
      return;
    }
  std::string known;
  for (const auto& [n, member] : fix_names())
    known += (known.empty() ? "" : ", ") + std::string(n);
  throw Error("unknown fix '" + name + "' (known: " + known + ")");
}

void check_file_expect(const std::vector<Word>& w, const std::string& file,
                       int line)
{
  auto missing = [&] {
    fail_at(file, line, w.back().column + int(w.back().text.size()),
            "expect: missing value");
  };
  if (w.size() < 4)
    missing();
  const std::string& k = w[3].text;
  if (k == "exists" || k == "absent")
    return;
  if (w.size() < 5)
    missing();
  if (k == "size" && parse_num(w[4].text))
    return;
  if ((k == "aux" || k == "xattr") && parse_value(w[4].text, w[4].quoted))
    return;
  fail_at(file, line, w[3].column,
          "expected exists, absent, size N, aux V or xattr V");
}

std::vector<Statement> lex(const std::string& text, const std::string& file)
{
  std::vector<Statement> out;
  int line = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string raw = text.substr(
        pos, nl == std::string::npos ? std::string::npos : nl - pos);
    ++line;
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    Statement st;
    st.line = line;
    st.words = split(raw, file, line);
    if (st.words.empty())
      continue;
    if (st.words.back().text == "&") {
      st.async = true;
      st.words.pop_back();
    } else if (st.words.back().text.size() > 1 &&
               st.words.back().text.back() == '&' && !st.words.back().quoted) {
      st.async = true;
      st.words.back().text.pop_back();
    }
    if (st.words.empty())
      fail_at(file, line, 1, "expected a call before '&'");
    out.push_back(std::move(st));
  }
  return out;
}

Scenario Scenario::parse(const std::string& text, const std::string& file)
{
  Scenario s;
  s.file = file;
  s.statements = lex(text, file);
  for (const auto& st : s.statements)
    check_statement(st, file);
  return s;
}

Fixes scenario_fixes(const Scenario& s, Fixes base)
{
  for (const auto& st : s.statements)
    if (st.words[0].text == "fixes")
      for (std::size_t i = 1; i < st.words.size(); ++i)
        apply_fix_switch(base, st.words[i].text);
  return base;
}

} // namespace fsc::fscache
