// scenario_run.cpp - running a 6.1 dialect scenario: each call made through
// the engine's netfs API, fault rules added as they come, `expect` lines
// checked against the engine, and what 6.1 would hang on reported.
#include <fsc/fscache/v2/scenario.hpp>

#include "scenario_syntax.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <type_traits>

namespace fsc::fscache::v2 {

using fscache::parse_errno;
using fscache::parse_num;
using fscache::Parsed;
using fscache::Statement;
using fscache::Word;

namespace {

/// What a handle names: scenario handles share one namespace.
struct Handle {
  enum Kind : std::uint8_t { volume, cookie, op, io, result } kind = result;
  std::uint32_t id = 0; ///< V=, c=, op or write id (0: refused)
  int ret = 0;          ///< a result's return value
};

const char* kind_name(Handle::Kind k)
{
  static const char* const n[] = {"a volume", "a cookie", "an operation",
                                  "a write", "a result"};
  return n[k];
}

class Runner {
public:
  Runner(const Scenario& s, Engine& e, FaultPlan& f, ReportObserver& seen,
         const DiskView& disk)
      : m_s(s), m_e(e), m_faults(f), m_seen(seen), m_disk(disk)
  {
  }

  ReplayReport run()
  {
    for (const auto& st : m_s.statements) {
      m_line = st.line;
      const std::string& cmd = st.words[0].text;
      if (cmd == "expect")
        expect(st);
      else if (cmd == "fault")
        fault(st);
      else
        call(st);
      collect();
    }
    m_e.run();
    collect();
    for (const auto& w : m_e.waiting())
      add_finding("6.1 would wait here forever: " + w);
    for (const auto& b : m_e.check_counts())
      add_finding("counts do not balance: " + b);
    never_freed();
    m_report.printk = m_seen.messages;
    return m_report;
  }

private:
  void add_finding(const std::string& f)
  {
    m_report.findings.push_back(fmt::format("{}:{}: {}", m_s.file, m_line, f));
  }

  /// A relinquished cookie still there when all has run: 6.1 keeps it
  /// (and its volume and cache) for ever. Counts may balance all the same,
  /// e.g. a relinquish while another task's operation waits for the
  /// lookup: the lookup pins the cache after the relinquish's withdrawal
  /// looked, so the end of that access wakes nobody.
  void never_freed()
  {
    for (const auto& [id, line] : m_relinquished) {
      CookieInfo ci = m_e.cookie_info(id);
      if (!ci.exists)
        continue;
      add_finding(fmt::format("c={:08x}, relinquished at line {}, is never "
                              "freed ({}, ref {}, n_accesses {})",
                              id, line, state_name(ci.state), ci.ref,
                              ci.n_accesses));
    }
  }

  void collect()
  {
    while (m_findings_seen < m_seen.findings.size())
      add_finding(m_seen.findings[m_findings_seen++]);
  }

  void failed(const std::string& what)
  {
    m_report.failures.push_back(
        fmt::format("{}:{}: expected {}", m_s.file, m_line, what));
  }

  /// The id of handle w, which must be of kind k.
  std::uint32_t handle(const Word& w, Handle::Kind k)
  {
    auto it = m_handles.find(w.text);
    if (it == m_handles.end())
      fscache::fail_at(m_s.file, m_line, w.column,
                       "unknown handle '" + w.text + "'");
    if (it->second.kind != k)
      fscache::fail_at(m_s.file, m_line, w.column,
                       fmt::format("'{}' is {}, not {}", w.text,
                                   kind_name(it->second.kind), kind_name(k)));
    return it->second.id;
  }

  static std::optional<Bytes> value(const Parsed& p, const char* key)
  {
    auto it = p.opt.find(key);
    if (it == p.opt.end())
      return std::nullopt;
    return fscache::parse_value(it->second.text, it->second.quoted);
  }

  static std::optional<std::uint64_t> num(const Parsed& p, const char* key)
  {
    auto it = p.opt.find(key);
    if (it == p.opt.end())
      return std::nullopt;
    return parse_num(it->second.text);
  }

  void name(const Parsed& p, const std::string& dflt, Handle h)
  {
    m_handles[p.as.empty() ? dflt : p.as] = h;
  }

  void call(const Statement& st)
  {
    Parsed p = split_v2_call(st.words, 0, m_s.file, st.line);
    ++m_report.calls;
    dispatch(p);
    // step runs what it is told; queue-only asks for the LRU worker queued
    // and nothing run.
    if (!st.async && p.cmd != "step" && !p.flags.count("queue-only"))
      m_e.run();
  }

  void dispatch(const Parsed& p)
  {
    const std::string& c = p.cmd;
    if (c == "bind") {
      int r = m_e.add_cache();
      if (!p.as.empty())
        m_handles[p.as] = {Handle::result, 0, r};
    } else if (c == "withdraw") {
      m_e.withdraw_cache();
    } else if (c == "io-error") {
      m_e.io_error();
    } else if (c == "run") {
      m_e.run();
    } else if (c == "step") {
      std::uint64_t n = p.pos.empty() ? 1 : *parse_num(p.pos[0].text);
      for (std::uint64_t i = 0; i < n && m_e.step(); ++i) {
      }
    } else if (c == "advance") {
      m_e.advance(*parse_duration(p.pos[0].text), !p.flags.count("queue-only"));
    } else if (c == "acquire-volume" || c == "relinquish-volume") {
      volume_call(p);
    } else if (c == "acquire") {
      VolumeId v = handle(p.pos[1], Handle::volume);
      Bytes aux = value(p, "aux").value_or(Bytes{});
      Bytes key = *value(p, "key");
      CookieId id = m_e.acquire_cookie(v, key, aux, num(p, "size").value_or(0));
      m_handles[p.pos[0].text] = {Handle::cookie, id, 0};
      m_places[p.pos[0].text] = {m_volume_keys[p.pos[1].text], key};
    } else if (c == "cull" || c == "inuse" || c == "space") {
      daemon_call(p);
    } else if (c == "begin-read" || c == "begin-write" || c == "read" ||
               c == "write" || c == "complete" || c == "end") {
      io_call(p);
    } else {
      cookie_call(p);
    }
  }

  void volume_call(const Parsed& p)
  {
    if (p.cmd == "acquire-volume") {
      Bytes key = *value(p, "key");
      Bytes coh = value(p, "coherency").value_or(Bytes{});
      VolumeId v = m_e.acquire_volume(
          std::string_view(reinterpret_cast<const char*>(key.data()),
                           key.size()),
          coh);
      m_handles[p.pos[0].text] = {Handle::volume, v, 0};
      m_volume_keys[p.pos[0].text] = std::string(key.begin(), key.end());
      return;
    }
    VolumeId v = handle(p.pos[0], Handle::volume);
    if (v)
      m_e.relinquish_volume(v, value(p, "coherency"),
                            p.flags.count("invalidate") > 0);
  }

  void cookie_call(const Parsed& p)
  {
    const std::string& c = p.cmd;
    CookieId id = handle(p.pos[0], Handle::cookie);
    if (id == 0)
      return; // the acquire was refused: the netfs holds a NULL cookie
    std::optional<Bytes> aux = value(p, "aux");
    std::optional<std::uint64_t> size = num(p, "size");
    if (c == "use") {
      m_e.use_cookie(id, p.flags.count("modify") > 0);
    } else if (c == "unuse") {
      m_e.unuse_cookie(id, aux ? &*aux : nullptr, size ? &*size : nullptr);
    } else if (c == "update") {
      m_e.update_cookie(id, aux ? &*aux : nullptr, size ? &*size : nullptr);
    } else if (c == "resize") {
      m_e.resize_cookie(id, *size);
    } else if (c == "invalidate") {
      m_e.invalidate(id, aux.value_or(Bytes{}), *size,
                     p.flags.count("dio-write") > 0);
    } else if (c == "relinquish") {
      m_e.relinquish_cookie(id, p.flags.count("retire") > 0);
      m_relinquished.push_back({id, m_line});
    }
  }

  /// cachefilesd's requests: cull or inuse of a cookie's data file (in
  /// its directory, as the daemon asks), or new statfs figures and limits.
  void daemon_call(const Parsed& p)
  {
    if (!m_disk.daemon || !m_disk.path_of)
      fscache::fail_at(m_s.file, m_line, 1,
                       p.cmd + " needs the CacheFiles daemon side, which "
                               "this run has not");
    Daemon& d = *m_disk.daemon;
    if (p.cmd == "space") {
      Space sp = d.space().space();
      auto set = [&](const char* k, auto& field) {
        if (auto v = num(p, k))
          field = static_cast<std::remove_reference_t<decltype(field)>>(*v);
      };
      set("files", sp.files);
      set("ffree", sp.ffree);
      set("blocks", sp.blocks);
      set("bavail", sp.bavail);
      set("frun", sp.frun);
      set("fcull", sp.fcull);
      set("fstop", sp.fstop);
      set("brun", sp.brun);
      set("bcull", sp.bcull);
      set("bstop", sp.bstop);
      if (!d.space().set(sp))
        fscache::fail_at(m_s.file, m_line, 1,
                         "Free space limits must be in range 0%<=stop<cull<"
                         "run<100%");
      return;
    }
    handle(p.pos[0], Handle::cookie);
    const auto& [vol, key] = m_places.at(p.pos[0].text);
    const std::string path = m_disk.path_of(vol, key);
    const auto slash = path.rfind('/');
    const std::string dir = path.substr(0, slash);
    const std::string file = path.substr(slash + 1);
    int r = p.cmd == "cull" ? d.cull(dir, file) : d.inuse(dir, file);
    name(p, p.pos[0].text + "." + p.cmd, {Handle::result, 0, r});
  }

  void io_call(const Parsed& p)
  {
    const std::string& c = p.cmd;
    if (c == "begin-read" || c == "begin-write") {
      CookieId id = handle(p.pos[0], Handle::cookie);
      OpId op = c == "begin-read" ? m_e.begin_read(id) : m_e.begin_write(id);
      name(p, p.pos[0].text + ".op", {Handle::op, op, 0});
      return;
    }
    if (c == "complete") {
      std::uint32_t io = handle(p.pos[0], Handle::io);
      if (io)
        m_e.complete_write(int(io));
      m_handles[p.pos[0].text] = {Handle::io, 0, 0}; // completed once
      return;
    }
    OpId op = handle(p.pos[0], Handle::op);
    if (c == "end") {
      m_e.end_operation(op);
      return;
    }
    std::uint64_t pos = *parse_num(p.pos[1].text);
    std::uint64_t len = *parse_num(p.pos[2].text);
    if (c == "read") {
      int r = m_e.read(op, pos, len);
      if (!p.as.empty())
        m_handles[p.as] = {Handle::result, 0, r};
      return;
    }
    const bool pending = p.flags.count("pending") > 0;
    int r = m_e.write(op, pos, len, !pending);
    // A pending write refused at once is a write with nothing to complete.
    if (!p.as.empty())
      m_handles[p.as] =
          pending ? Handle{Handle::io, std::uint32_t(std::max(r, 0)), 0}
                  : Handle{Handle::result, 0, r > 0 ? 0 : r};
  }

  void fault(const Statement& st)
  {
    FaultPlan::Rule r;
    r.point = st.words[1].text;
    for (std::size_t i = 2; i + 1 < st.words.size(); ++i) {
      const std::string& t = st.words[i].text;
      if (t == "every") {
        r.nth = 0;
      } else if (t.starts_with("nth=")) {
        r.nth = int(*parse_num(t.substr(4)));
      } else if (t.starts_with("cookie=")) {
        Word w = st.words[i];
        w.text = t.substr(7);
        w.column += 7;
        r.cookie = handle(w, Handle::cookie);
      }
    }
    r.err = *parse_errno(st.words.back().text);
    m_faults.add(r);
  }

  void expect(const Statement& st)
  {
    ++m_report.expectations;
    const auto& w = st.words;
    const std::string& subject = w[1].text;
    if (subject == "finding" || subject == "printk") {
      expect_message(w);
    } else if (subject == "stuck") {
      m_e.run();
      auto parked = m_e.waiting();
      if (w[2].text == "none" ? !parked.empty() : parked.empty())
        failed(fmt::format("stuck {}, {} call(s) parked{}", w[2].text,
                           parked.size(),
                           parked.empty() ? "" : ": " + parked.front()));
    } else if (subject == "counts") {
      auto bad = m_e.check_counts();
      if (!bad.empty())
        failed("counts balanced, " + bad.front());
    } else if (subject == "stat") {
      long got = *stat_by_name(m_e.stats(), w[2].text);
      if (std::uint64_t(got) != *parse_num(w[3].text))
        failed(fmt::format("stat {} {}, engine has {}", w[2].text, w[3].text,
                           got));
    } else if (subject == "cache") {
      expect_cache(w);
    } else {
      expect_handle(w);
    }
  }

  void expect_message(const std::vector<Word>& w)
  {
    const bool finding = w[1].text == "finding";
    std::vector<std::string>& from =
        finding ? m_report.findings : m_seen.messages;
    if (w[2].text == "none") {
      if (!from.empty())
        failed(fmt::format("no {}, got: {}", w[1].text, from.front()));
      return;
    }
    for (auto it = from.begin(); it != from.end(); ++it)
      if (it->find(w[2].text) != std::string::npos) {
        if (finding) {
          m_report.expected_findings.push_back(*it);
          from.erase(it);
        }
        return;
      }
    failed(fmt::format("a {} containing '{}'", w[1].text, w[2].text));
  }

  void cmp(const std::string& who, const std::string& field, const Word& want,
           long got)
  {
    if (std::uint64_t(got) != *parse_num(want.text))
      failed(
          fmt::format("{} {} {}, engine has {}", who, field, want.text, got));
  }

  void expect_cache(const std::vector<Word>& w)
  {
    CacheInfo ci = m_e.cache_info();
    const std::string& f = w[2].text;
    if (f == "state") {
      std::string got = cache_state_name(ci.state);
      if (got != w[3].text)
        failed(fmt::format("cache state {}, engine has {}", w[3].text, got));
    } else if (f == "ref") {
      cmp("cache", f, w[3], ci.ref);
    } else if (f == "n_accesses") {
      cmp("cache", f, w[3], ci.n_accesses);
    } else if (f == "n_volumes") {
      cmp("cache", f, w[3], ci.n_volumes);
    } else if (f == "objects") {
      cmp("cache", f, w[3], ci.object_count);
    } else if (f == "freed" || f == "exists") {
      if (ci.exists != (f == "exists"))
        failed("cache " + f);
    } else if (f == "culling" || f == "no_create_space" ||
               f == "no_write_space" || f == "culled") {
      expect_daemon(w);
    } else {
      failed("a field of the cache (state, ref, n_accesses, n_volumes, "
             "objects), not '" +
             f + "'");
    }
  }

  void expect_daemon(const std::vector<Word>& w)
  {
    if (!m_disk.daemon) {
      failed("cache " + w[2].text + ", but this run has no daemon side");
      return;
    }
    const SpaceState& sp = m_disk.daemon->space();
    const std::string& f = w[2].text;
    if (f == "culling") {
      if (sp.culling() != (w[3].text == "yes"))
        failed(fmt::format("cache culling {}, CacheFiles has {}", w[3].text,
                           sp.culling() ? "yes" : "no"));
    } else {
      cmp("cache", f, w[3],
          long(f == "culled"            ? sp.counts.cull
               : f == "no_write_space" ? sp.counts.nwr
                                        : sp.counts.ncr));
    }
  }

  void expect_handle(const std::vector<Word>& w)
  {
    auto h = m_handles.find(w[1].text);
    if (h == m_handles.end()) {
      failed(fmt::format("handle '{}' to exist in the scenario", w[1].text));
      return;
    }
    const Handle& hd = h->second;
    const std::string& what = w[2].text;
    if (what == "=") {
      int want = *parse_errno(w[3].text);
      if (hd.kind != Handle::result)
        failed(fmt::format("{} = {}, but it is {}", w[1].text, w[3].text,
                           kind_name(hd.kind)));
      else if (hd.ret != want)
        failed(fmt::format("{} = {}, got {}", w[1].text, w[3].text,
                           fscache::errno_name(hd.ret)));
      return;
    }
    if (what == "null") {
      if (hd.id != 0)
        failed(w[1].text + " to be NULL (acquire refused)");
      return;
    }
    if (hd.kind == Handle::cookie && what == "file")
      expect_file(w);
    else if (hd.kind == Handle::cookie)
      expect_cookie(w, hd.id);
    else if (hd.kind == Handle::volume)
      expect_volume(w, hd.id);
    else if (hd.kind == Handle::op && what == "state")
      expect_op(w, hd.id);
    else
      failed(fmt::format("{} of {}, which is {}", what, w[1].text,
                         kind_name(hd.kind)));
  }

  void expect_cookie(const std::vector<Word>& w, CookieId id)
  {
    CookieInfo ci = m_e.cookie_info(id);
    const std::string& who = w[1].text;
    const std::string& what = w[2].text;
    if (what == "freed" || what == "exists") {
      if (ci.exists != (what == "exists"))
        failed(fmt::format("{} {}{}", who, what,
                           ci.exists ? fmt::format(", still has ref {}", ci.ref)
                                     : std::string()));
    } else if (what == "state") {
      std::string got = ci.exists ? std::string(state_name(ci.state)) : "freed";
      if (got != w[3].text)
        failed(fmt::format("{} state {}, engine has {}", who, w[3].text, got));
    } else if (what == "flags") {
      for (std::size_t i = 3; i < w.size(); ++i) {
        bool want = w[i].text[0] == '+';
        unsigned bit = cookie_flag_names().at(w[i].text.substr(1));
        if (bool(ci.flags >> bit & 1U) != want)
          failed(fmt::format("{} flags {} (flags are {:x})", who, w[i].text,
                             ci.flags));
      }
    } else if (what == "lru") {
      if (ci.on_lru != (w[3].text == "yes"))
        failed(fmt::format("{} lru {}, engine has {}", who, w[3].text,
                           ci.on_lru ? "yes" : "no"));
    } else if (what == "ref") {
      cmp(who, what, w[3], ci.ref);
    } else if (what == "n_active") {
      cmp(who, what, w[3], ci.n_active);
    } else if (what == "n_accesses") {
      cmp(who, what, w[3], ci.n_accesses);
    } else if (what == "object_size") {
      cmp(who, what, w[3], long(ci.object_size));
    } else {
      failed(fmt::format("{} of a cookie, not of {}", what, who));
    }
  }

  /// The cookie's data file where 6.1 puts it, freed cookie or not.
  void expect_file(const std::vector<Word>& w)
  {
    const auto& [vol, key] = m_places.at(w[1].text);
    const std::string& k = w[3].text;
    if (!m_disk.size_of || !m_disk.xattr_of) {
      failed(w[1].text + " file " + k + ", but no cache is there to look");
      return;
    }
    auto size = m_disk.size_of(vol, key);
    if (k == "exists" || k == "absent") {
      if (bool(size) != (k == "exists"))
        failed(fmt::format("{} file {}", w[1].text, k));
      return;
    }
    if (!size) {
      failed(fmt::format("{} file to exist for '{}'", w[1].text, k));
      return;
    }
    if (k == "size") {
      if (*size != *parse_num(w[4].text))
        failed(fmt::format("{} file size {}, it has {}", w[1].text, w[4].text,
                           *size));
      return;
    }
    // The xattr: 18 bytes of cachefiles_xattr, then the aux (§4.4).
    auto x = m_disk.xattr_of(vol, key);
    Bytes want = *fscache::parse_value(w[4].text, w[4].quoted);
    Bytes got = x ? *x : Bytes{};
    if (k == "aux")
      got.erase(got.begin(),
                got.begin() + std::min<std::size_t>(18, got.size()));
    if (!x || got != want)
      failed(fmt::format("{} file {} {}, it has {}", w[1].text, k, to_hex(want),
                         x ? to_hex(got) : "none"));
  }

  void expect_volume(const std::vector<Word>& w, VolumeId id)
  {
    VolumeInfo vi = m_e.volume_info(id);
    const std::string& who = w[1].text;
    const std::string& what = w[2].text;
    if (what == "freed" || what == "exists") {
      if (vi.exists != (what == "exists"))
        failed(fmt::format("{} {}", who, what));
    } else if (what == "ref") {
      cmp(who, what, w[3], vi.ref);
    } else if (what == "n_cookies") {
      cmp(who, what, w[3], vi.n_cookies);
    } else if (what == "n_accesses") {
      cmp(who, what, w[3], vi.n_accesses);
    } else {
      failed(fmt::format("{} of a volume, not of {}", what, who));
    }
  }

  void expect_op(const std::vector<Word>& w, OpId op)
  {
    static const char* const names[] = {"waiting", "ready", "refused", "ended"};
    OpInfo oi = m_e.op_info(op);
    std::string got = names[oi.status];
    if (got != w[3].text)
      failed(
          fmt::format("{} state {}, engine has {}", w[1].text, w[3].text, got));
  }

  const Scenario& m_s;
  Engine& m_e;
  FaultPlan& m_faults;
  ReportObserver& m_seen;
  ReplayReport m_report;
  const DiskView& m_disk;
  std::map<std::string, Handle> m_handles;
  std::map<std::string, std::string> m_volume_keys; ///< by volume handle
  /// Volume key and index key of each cookie handle (file checks).
  std::map<std::string, std::pair<std::string, Bytes>> m_places;
  std::vector<std::pair<CookieId, int>> m_relinquished; ///< and its line
  std::size_t m_findings_seen = 0;
  int m_line = 0;
};

} // namespace

ReplayReport run_scenario(const Scenario& s, Engine& engine, FaultPlan& faults,
                          ReportObserver& seen, const DiskView& disk)
{
  Runner r(s, engine, faults, seen, disk);
  return r.run();
}

} // namespace fsc::fscache::v2
