// scenario_run.cpp - running a parsed replay scenario against the engine:
// calls, hooks, faults, and `expect` lines checked as they come.
#include <fsc/fscache/scenario_run.hpp>

#include "scenario_syntax.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>

namespace fsc::fscache {

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
      m_handles[p.as.empty() ? p.pos[0].text : p.as] =
          m_e.register_netfs(p.pos[0].text, std::uint32_t(num(p, "version")));
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
          m_report.failures.push_back(
              fmt::format("{}:{}: step {}: its object has no queued work item",
                          m_s.file, m_line, p.pos[0].text));
        return done(0);
      }
      std::uint64_t n = p.pos.empty() ? 1 : *parse_num(p.pos[0].text);
      for (std::uint64_t i = 0; i < n && m_e.step(); ++i) {
      }
      return done(0);
    }
    if (c == "withdraw")
      return m_e.withdraw_cache();
    if (c == "bind")
      return m_e.bind_cache();
    CookieId h = handle(p.pos[0]);
    auto page = [&] { return *parse_num(p.pos[1].text); };
    if (c == "enable")
      return m_e.enable_cookie(h, value(p, "aux"), num(p, "size"));
    if (c == "disable")
      return m_e.disable_cookie(h, value(p, "aux"),
                                p.flags.count("invalidate"));
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
    a.type = t == "index"  ? CookieType::index
             : t == "data" ? CookieType::data
                           : CookieType::special;
    a.key = *value(p, "key");
    if (auto aux = value(p, "aux"))
      a.aux = *aux;
    a.object_size = num(p, "size");
    a.enable = !p.flags.count("disabled");
    auto name = p.opt.find("name");
    a.def_name = name != p.opt.end()           ? name->second.text
                 : a.type == CookieType::index ? "index"
                                               : "data";
    auto rule = p.opt.find("rule");
    std::string r = rule != p.opt.end()           ? rule->second.text
                    : a.type == CookieType::index ? "none"
                                                  : "exact";
    a.rule = r == "none"     ? AuxRule::none
             : r == "update" ? AuxRule::update
                             : AuxRule::exact;
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
        failed(fmt::format("stat {} = {}, engine has {}", w[2].text, w[3].text,
                           v ? std::to_string(*v) : "no such stat"));
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
    auto number = [&](std::size_t i) {
      return std::int64_t(*parse_num(w[i].text));
    };
    auto cmp = [&](const std::string& field, std::int64_t want,
                   std::int64_t got) {
      if (want != got)
        failed(fmt::format("{} {} {}, engine has {}", w[1].text, field, want,
                           got));
    };
    if (what == "null") {
      if (h->second != no_cookie)
        failed(w[1].text + " to be NULL (acquire refused)");
    } else if (what == "freed") {
      if (ci.exists)
        failed(
            fmt::format("{} freed, still has usage {}", w[1].text, ci.usage));
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
      std::int64_t got = f == "usage"           ? oi.usage
                         : f == "n_ops"         ? oi.n_ops
                         : f == "n_children"    ? oi.n_children
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
      failed(fmt::format("{} file {} {}, {} has {}", w[1].text, k, to_hex(want),
                         path, x ? to_hex(got) : "none"));
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
