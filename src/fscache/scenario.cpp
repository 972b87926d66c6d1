// scenario.cpp - parsing and running replay scenarios.
#include <fsc/fscache/scenario.hpp>

#include <fsc/error.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fmt/format.h>
#include <memory>
#include <set>

namespace fsc::fscache {

namespace {

// --- words and values ------------------------------------------------------------

[[noreturn]] void fail_at(const std::string& file, int line, int col,
                          const std::string& what)
{
  throw Error(fmt::format("{}:{}:{}: {}", file, line, col, what));
}

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
      {"EPERM", EPERM},     {"ENOENT", ENOENT},   {"EIO", EIO},
      {"ENOMEM", ENOMEM},   {"EEXIST", EEXIST},   {"ENOTDIR", ENOTDIR},
      {"EISDIR", EISDIR},   {"EINVAL", EINVAL},   {"ENOSPC", ENOSPC},
      {"EROFS", EROFS},     {"ENODATA", ENODATA}, {"ENOBUFS", ENOBUFS},
      {"ETIMEDOUT", ETIMEDOUT}, {"ESTALE", ESTALE}, {"ENOMEDIUM", ENOMEDIUM},
      {"EDQUOT", EDQUOT},   {"EBUSY", EBUSY},     {"ERESTARTSYS", ERESTARTSYS_},
  };
  return names;
}

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

/// A statement split into its command, positional words, options, flags.
struct Parsed {
  std::string cmd;
  std::vector<Word> pos;
  std::map<std::string, Word> opt;
  std::set<std::string> flags;
  std::string as; ///< result name
};

struct Grammar {
  int min_pos, max_pos;
  std::set<std::string> opts, flags;
  bool takes_as;
};

const std::map<std::string, Grammar>& grammar()
{
  static const std::map<std::string, Grammar> g{
      {"register", {1, 1, {"version"}, {}, true}},
      {"acquire", {3, 3, {"key", "aux", "size", "name", "rule"}, {"disabled"}, false}},
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
      {"run", {0, 0, {}, {}, false}},
      {"step", {0, 1, {}, {}, false}},
  };
  return g;
}

Parsed split_call(const std::vector<Word>& w, std::size_t from,
                  const std::string& file, int line)
{
  Parsed p;
  p.cmd = w[from].text;
  auto g = grammar().find(p.cmd);
  if (g == grammar().end())
    fail_at(file, line, w[from].column,
            "expected a call (register, acquire, enable, disable, update, "
            "invalidate, wait-invalidate, resize, read, alloc, write, "
            "uncache, check, relinquish, withdraw, run, step), got '" +
                p.cmd + "'");
  for (std::size_t i = from + 1; i < w.size(); ++i) {
    const Word& x = w[i];
    auto eq = x.text.find('=');
    if (x.text == "as" && g->second.takes_as) {
      if (i + 1 >= w.size())
        fail_at(file, line, x.column, "expected a name after 'as'");
      p.as = w[++i].text;
    } else if (eq != std::string::npos && !x.quoted) {
      std::string key = x.text.substr(0, eq);
      if (!g->second.opts.count(key))
        fail_at(file, line, x.column,
                fmt::format("'{}' takes no option '{}'", p.cmd, key));
      Word v = x;
      v.text = x.text.substr(eq + 1);
      v.column += int(eq) + 1;
      p.opt[key] = v;
    } else if (eq != std::string::npos) {
      std::string key = x.text.substr(0, eq);
      if (!g->second.opts.count(key))
        fail_at(file, line, x.column,
                fmt::format("'{}' takes no option '{}'", p.cmd, key));
      Word v = x;
      v.text = x.text.substr(eq + 1);
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

void check_expect(const std::vector<Word>& w, const std::string& file,
                  int line)
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
  static const std::set<std::string> cookie_fields{
      "usage", "n_children", "n_active"};
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
    need(4);
    const std::string& k = w[3].text;
    if (k == "exists" || k == "absent")
      return;
    need(5);
    if (k == "size" && parse_num(w[4].text))
      return;
    if ((k == "aux" || k == "xattr") && parse_value(w[4].text, w[4].quoted))
      return;
    fail_at(file, line, w[3].column,
            "expected exists, absent, size N, aux V or xattr V");
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
      fail_at(file, st.line, w.back().column, "expected an errno name "
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

Scenario Scenario::parse(const std::string& text, const std::string& file)
{
  Scenario s;
  s.file = file;
  int line = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string raw = text.substr(pos, nl == std::string::npos ? std::string::npos
                                                               : nl - pos);
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
    check_statement(st, file);
    s.statements.push_back(std::move(st));
  }
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

// --- running -------------------------------------------------------------------------

namespace {

class Runner {
public:
  Runner(const Scenario& s, Engine& e, FaultPlan& f, const DiskView& d,
         ReportObserver& seen)
      : m_s(s), m_e(e), m_faults(f), m_disk(d), m_seen(seen)
  {
  }

  ReplayReport run()
  {
    // The calls' lines, so that a scheduler knows which call comes next.
    std::vector<int> calls;
    for (const auto& st : m_s.statements) {
      const std::string& cmd = st.words[0].text;
      if (cmd != "expect" && cmd != "fixes" && cmd != "fault" && cmd != "on")
        calls.push_back(st.line);
    }
    std::size_t next = 0;
    for (const auto& st : m_s.statements) {
      m_line = st.line;
      const std::string& cmd = st.words[0].text;
      if (cmd == "expect") {
        expect(st);
        continue;
      }
      if (m_e.stopped())
        continue;
      if (cmd == "fixes")
        continue;
      if (cmd == "fault") {
        fault(st);
        continue;
      }
      if (cmd == "on") {
        hook(st);
        continue;
      }
      ++next;
      m_e.next_call(next < calls.size() ? calls[next] : 0);
      PendingRef p = call(split_call(st.words, 0, m_s.file, st.line));
      if (!st.async) {
        while (p && !p->done && m_e.step()) {
        }
        m_e.run();
      }
      collect();
    }
    m_e.next_call(0);
    m_e.run();
    collect();
    for (const auto& w : m_e.stuck())
      add_finding("4.19 would hang here: " + w);
    collect();
    m_report.warnings = m_seen.warnings;
    m_report.printk = m_seen.messages;
    return m_report;
  }

private:
  void add_finding(const std::string& f)
  {
    m_report.findings.push_back(fmt::format("{}:{}: {}", m_s.file, m_line, f));
  }

  void collect()
  {
    while (m_findings_seen < m_seen.findings.size())
      add_finding(m_seen.findings[m_findings_seen++]);
  }

  CookieId handle(const Word& w)
  {
    auto it = m_handles.find(w.text);
    if (it == m_handles.end())
      fail_at(m_s.file, m_line, w.column,
              "unknown cookie handle '" + w.text + "'");
    return it->second;
  }

  PendingRef done(int ret)
  {
    auto p = std::make_shared<Pending>();
    p->done = true;
    p->ret = ret;
    return p;
  }

  std::optional<Bytes> value(const Parsed& p, const char* key)
  {
    auto it = p.opt.find(key);
    if (it == p.opt.end())
      return std::nullopt;
    return parse_value(it->second.text, it->second.quoted);
  }

  std::uint64_t num(const Parsed& p, const char* key, std::uint64_t dflt = 0)
  {
    auto it = p.opt.find(key);
    return it == p.opt.end() ? dflt : *parse_num(it->second.text);
  }

  PendingRef call(const Parsed& p)
  {
    PendingRef r = dispatch(p);
    if (!p.as.empty())
      m_results[p.as] = r;
    m_last = r;
    return r;
  }

  PendingRef dispatch(const Parsed& p)
  {
    const std::string& c = p.cmd;
    if (c == "register") {
      // `as HANDLE` names the primary index when the netfs name is not
      // unique enough (traces: one handle per cookie pointer).
      m_handles[p.as.empty() ? p.pos[0].text : p.as] = m_e.register_netfs(
          p.pos[0].text, std::uint32_t(num(p, "version")));
      return done(0);
    }
    if (c == "acquire")
      return acquire(p);
    if (c == "run") {
      m_e.run();
      return done(0);
    }
    if (c == "step") {
      if (!p.pos.empty() && !parse_num(p.pos[0].text)) {
        if (!m_e.step_object(handle(p.pos[0])))
          m_report.failures.push_back(fmt::format(
              "{}:{}: step {}: its object has no queued work item", m_s.file,
              m_line, p.pos[0].text));
        return done(0);
      }
      std::uint64_t n = p.pos.empty() ? 1 : *parse_num(p.pos[0].text);
      for (std::uint64_t i = 0; i < n && m_e.step(); ++i) {
      }
      return done(0);
    }
    if (c == "withdraw")
      return m_e.withdraw_cache();
    CookieId h = handle(p.pos[0]);
    auto page = [&] { return *parse_num(p.pos[1].text); };
    if (c == "enable")
      return m_e.enable_cookie(h, value(p, "aux"), num(p, "size"));
    if (c == "disable")
      return m_e.disable_cookie(h, value(p, "aux"), p.flags.count("invalidate"));
    if (c == "update") {
      m_e.update_cookie(h, value(p, "aux"));
      return done(0);
    }
    if (c == "invalidate") {
      m_e.invalidate(h);
      return done(0);
    }
    if (c == "wait-invalidate")
      return m_e.wait_on_invalidate(h);
    if (c == "resize")
      return done(m_e.attr_changed(h, num(p, "size")));
    if (c == "read")
      return m_e.read_page(h, page());
    if (c == "alloc")
      return m_e.alloc_page(h, page());
    if (c == "write") {
      auto d = value(p, "data");
      Bytes data = d ? *d : Bytes(page_size, std::uint8_t('A' + page() % 26));
      return done(m_e.write_page(h, page(), std::move(data)));
    }
    if (c == "uncache")
      return m_e.uncache_page(h, page());
    if (c == "check")
      return m_e.check_consistency(h);
    if (c == "relinquish")
      return m_e.relinquish_cookie(h, value(p, "aux"), p.flags.count("retire"));
    return done(-EINVAL);
  }

  PendingRef acquire(const Parsed& p)
  {
    AcquireArgs a;
    a.parent = p.pos[2].text == "fsdef" ? fsdef_cookie : handle(p.pos[2]);
    const std::string& t = p.pos[1].text;
    a.type = t == "index" ? CookieType::index
             : t == "data" ? CookieType::data : CookieType::special;
    a.key = *value(p, "key");
    if (auto aux = value(p, "aux"))
      a.aux = *aux;
    a.object_size = num(p, "size");
    a.enable = !p.flags.count("disabled");
    auto name = p.opt.find("name");
    a.def_name = name != p.opt.end() ? name->second.text
                 : a.type == CookieType::index ? "index" : "data";
    auto rule = p.opt.find("rule");
    std::string r = rule != p.opt.end() ? rule->second.text
                    : a.type == CookieType::index ? "none" : "exact";
    a.rule = r == "none" ? AuxRule::none
             : r == "update" ? AuxRule::update : AuxRule::exact;
    CookieId id = m_e.acquire_cookie(a);
    m_handles[p.pos[0].text] = id;
    return done(id == no_cookie ? -ENOBUFS : 0);
  }

  void fault(const Statement& st)
  {
    FaultPlan::Rule r;
    r.point = st.words[1].text;
    for (std::size_t i = 2; i + 1 < st.words.size(); ++i) {
      const std::string& t = st.words[i].text;
      if (t == "every")
        r.nth = 0;
      else if (t.starts_with("nth="))
        r.nth = int(*parse_num(t.substr(4)));
      else if (t.starts_with("cookie=")) {
        Word w = st.words[i];
        w.text = t.substr(7);
        r.cookie = handle(w);
      }
    }
    r.err = *parse_errno(st.words.back().text);
    m_faults.add(r);
  }

  void hook(const Statement& st)
  {
    CookieId h = handle(st.words[1]);
    Parsed call_p = split_call(st.words, 3, m_s.file, st.line);
    int line = st.line;
    auto fire = [this, call_p, line] {
      int was = m_line;
      m_line = line;
      call(call_p);
      m_line = was;
    };
    if (st.words[2].text == "dispatch")
      m_e.on_dispatch(h, fire);
    else
      m_e.on_state(h, *parse_state(st.words[2].text), fire);
  }

  void failed(const std::string& what)
  {
    m_report.failures.push_back(
        fmt::format("{}:{}: expected {}", m_s.file, m_line, what));
  }

  void expect(const Statement& st)
  {
    ++m_report.expectations;
    const auto& w = st.words;
    const std::string& subject = w[1].text;
    if (subject == "finding") {
      expect_finding(w);
      return;
    }
    if (subject == "stuck") {
      auto stuck = m_e.stuck();
      if (w[2].text == "none" ? !stuck.empty() : stuck.empty())
        failed(fmt::format("stuck {}, {} call(s) parked", w[2].text,
                           stuck.size()));
      return;
    }
    if (subject == "stat") {
      auto v = stat_by_name(m_e.stats(), w[2].text);
      auto want = parse_num(w[3].text);
      if (!v || std::uint64_t(*v) != *want)
        failed(fmt::format("stat {} = {}, engine has {}", w[2].text,
                           w[3].text, v ? std::to_string(*v) : "no such stat"));
      return;
    }
    if (w[2].text == "=") {
      auto it = m_results.find(subject);
      int want = *parse_errno(w[3].text);
      if (it == m_results.end() || !it->second->done)
        failed(fmt::format("{} = {}, but that call {}", subject, w[3].text,
                           it == m_results.end() ? "never ran"
                                                 : "has not finished"));
      else if (it->second->ret != want)
        failed(fmt::format("{} = {}, got {}", subject, w[3].text,
                           errno_name(it->second->ret)));
      return;
    }
    expect_cookie(w);
  }

  void expect_finding(const std::vector<Word>& w)
  {
    collect();
    if (w[2].text == "none") {
      if (!m_report.findings.empty())
        failed("no finding, got: " + m_report.findings.front());
      return;
    }
    for (auto it = m_report.findings.begin(); it != m_report.findings.end();
         ++it)
      if (it->find(w[2].text) != std::string::npos) {
        m_report.expected_findings.push_back(*it);
        m_report.findings.erase(it);
        return;
      }
    failed(fmt::format("a finding containing '{}'", w[2].text));
  }

  void expect_cookie(const std::vector<Word>& w)
  {
    auto h = m_handles.find(w[1].text);
    if (h == m_handles.end()) {
      failed(fmt::format("cookie handle '{}' to exist in the scenario",
                         w[1].text));
      return;
    }
    CookieInfo ci = m_e.cookie_info(h->second);
    ObjectInfo oi = m_e.object_info(h->second);
    const std::string& what = w[2].text;
    auto number = [&](std::size_t i) { return std::int64_t(*parse_num(w[i].text)); };
    auto cmp = [&](const std::string& field, std::int64_t want, std::int64_t got) {
      if (want != got)
        failed(fmt::format("{} {} {}, engine has {}", w[1].text, field, want,
                           got));
    };
    if (what == "null") {
      if (h->second != no_cookie)
        failed(w[1].text + " to be NULL (acquire refused)");
    } else if (what == "freed") {
      if (ci.exists)
        failed(fmt::format("{} freed, still has usage {}", w[1].text, ci.usage));
    } else if (what == "exists") {
      if (!ci.exists)
        failed(w[1].text + " to exist");
    } else if (what == "usage") {
      cmp("usage", number(3), ci.usage);
    } else if (what == "n_children") {
      cmp("n_children", number(3), ci.n_children);
    } else if (what == "n_active") {
      cmp("n_active", number(3), ci.n_active);
    } else if (what == "flags") {
      for (std::size_t i = 3; i < w.size(); ++i) {
        bool want = w[i].text[0] == '+';
        unsigned bit = cookie_flag_names().at(w[i].text.substr(1));
        if (bool(ci.flags >> bit & 1U) != want)
          failed(fmt::format("{} flags {} (flags are {:x})", w[1].text,
                             w[i].text, ci.flags));
      }
    } else if (what == "state") {
      std::string got = oi.exists ? std::string(state_name(oi.state)) : "none";
      if (got != w[3].text)
        failed(fmt::format("{} state {}, object is {}", w[1].text, w[3].text,
                           got));
    } else if (what == "object") {
      if (!oi.exists) {
        failed(w[1].text + " to have an object");
        return;
      }
      const std::string& f = w[3].text;
      std::int64_t got = f == "usage" ? oi.usage
                         : f == "n_ops" ? oi.n_ops
                         : f == "n_children" ? oi.n_children
                         : f == "n_in_progress" ? oi.n_in_progress
                                                : oi.n_exclusive;
      cmp("object " + f, number(4), got);
    } else if (what == "file") {
      expect_file(w, oi);
    }
  }

  void expect_file(const std::vector<Word>& w, const ObjectInfo& oi)
  {
    std::string path = oi.exists ? m_disk.path_of(oi.id) : m_paths[w[1].text];
    if (oi.exists && !path.empty())
      m_paths[w[1].text] = path;
    const std::string& k = w[3].text;
    auto size = path.empty() ? std::nullopt : m_disk.size_of(path);
    if (k == "exists" || k == "absent") {
      if (bool(size) != (k == "exists"))
        failed(fmt::format("{} file {} ({})", w[1].text, k,
                           path.empty() ? "never looked up" : path));
      return;
    }
    if (!size) {
      failed(fmt::format("{} file to exist for '{}'", w[1].text, k));
      return;
    }
    if (k == "size") {
      if (*size != *parse_num(w[4].text))
        failed(fmt::format("{} file size {}, {} has {}", w[1].text, w[4].text,
                           path, *size));
      return;
    }
    auto x = m_disk.xattr_of(path);
    Bytes want = *parse_value(w[4].text, w[4].quoted);
    Bytes got = x ? *x : Bytes{};
    if (k == "aux" && !got.empty())
      got.erase(got.begin());
    if (!x || got != want)
      failed(fmt::format("{} file {} {}, {} has {}", w[1].text, k,
                         to_hex(want), path, x ? to_hex(got) : "none"));
  }

  const Scenario& m_s;
  Engine& m_e;
  FaultPlan& m_faults;
  const DiskView& m_disk;
  ReportObserver& m_seen;
  ReplayReport m_report;
  std::map<std::string, CookieId> m_handles{{"fsdef", fsdef_cookie}};
  std::map<std::string, PendingRef> m_results;
  std::map<std::string, std::string> m_paths;
  PendingRef m_last;
  std::size_t m_findings_seen = 0;
  int m_line = 0;
};

} // namespace

ReplayReport run_scenario(const Scenario& s, Engine& engine, FaultPlan& faults,
                          const DiskView& disk, ReportObserver& seen)
{
  Runner r(s, engine, faults, disk, seen);
  return r.run();
}

} // namespace fsc::fscache
