// compare_v2.cpp - the rebuilt calls of a 6.x trace through the 6.1
// engine, and the comparison of what the engine printed with what the
// kernel printed, per cookie (volume, cache), counts included.
#include <fsc/trace/rebuild_v2.hpp>

#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/memory_backend.hpp>
#include <fsc/trace/trace.hpp>
#include <fsc/trace/writer_v2.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <deque>
#include <functional>
#include <limits>
#include <set>
#include <utility>

namespace fsc::trace {

namespace {

namespace v2 = fsc::fscache::v2;

constexpr std::uint64_t k_never = std::numeric_limits<std::uint64_t>::max();

/// Every cookie's aux: a trace does not print it.
const Bytes k_aux = {'f', 's', 'c', '-', 'a', 'u', 'x', '1'};

/// Lines of two CPUs may be printed in another order than their counts
/// were taken (docs/engine-v2.md §5.3 #1): a line of one thing may match
/// ahead of lines of other tasks printed up to this much earlier. 6.1's
/// global clock orders CPUs to the microsecond, so only a tie (one
/// printed value) is unordered; 6.12's local clock is per CPU: the window
/// fsc refs uses for such traces.
std::int64_t match_window_ns(Gen g)
{
  return g == Gen::v612 ? 20'000'000 : 1'000;
}

/// Calls of two tasks this close may have run in either order: 6.1's
/// global clock prints microseconds (a tie is one printed value); 6.12's
/// local clock is per CPU, so its CPUs' stamps are compared more loosely.
std::int64_t swap_window_ns(Gen g)
{
  return g == Gen::v612 ? 1'000'000 : 1'000;
}

/// One line the engine printed, and the call it ran under (its position
/// in the call order).
struct EStep {
  std::string text;
  std::size_t pos = 0;
};

using Steps = std::map<std::string, std::vector<EStep>>;

/// Takes the engine's lines as text, and writes them too when given a
/// file (--trace).
class Capture final : public FtraceWriterV2 {
public:
  Capture(std::function<void(std::string_view, const std::string&)> f,
          std::FILE* out)
      : FtraceWriterV2(out), m_f(std::move(f)), m_write(out != nullptr)
  {
    if (m_write)
      header();
  }
  std::vector<std::string> printks, findings;
  void printk(std::string_view s) override { printks.emplace_back(s); }
  void finding(std::string_view s) override { findings.emplace_back(s); }

protected:
  void line(std::string_view event, const std::string& body) override
  {
    m_f(event, body);
    if (m_write)
      FtraceWriterV2::line(event, body);
  }

private:
  std::function<void(std::string_view, const std::string&)> m_f;
  bool m_write;
};

bool hex8(std::string_view s, std::size_t at)
{
  if (at + 8 > s.size())
    return false;
  for (std::size_t i = at; i < at + 8; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  return at + 8 == s.size() || s[at + 8] == ' ';
}

/// One run of the calls in one order through a fresh engine.
class Run final : public v2::Scheduler {
public:
  Run(const V2Rebuilt& rb, const std::vector<std::size_t>& order,
      const std::set<std::size_t>& deferred, std::optional<std::uint64_t> seed,
      std::FILE* trace_to = nullptr)
      : m_rb(rb), m_order(order), m_deferred(deferred),
        m_cap([this](std::string_view e,
                     const std::string& b) { engine_line(e, b); },
              trace_to),
        m_e(m_be, m_cap, seed.value_or(0))
  {
    if (!seed)
      m_e.set_scheduler(this);
    for (const auto& [c, objs] : rb.objects)
      for (std::uint32_t o : objs)
        m_c_of_o[o] = c;
    m_be.hold_reads(true); // completed at their PUT ioreq
    if (!rb.no_space.empty() || !rb.volume_failed.empty())
      m_be.set_faults([this](v2::MemoryBackend::Fault f, std::uint32_t id) {
        using F = v2::MemoryBackend::Fault;
        if (f == F::create_tmpfile && no_space(id))
          return -ENOBUFS;
        if (f == F::acquire_volume && volume_fails(id))
          return -ENOSPC;
        return 0;
      });
  }

  Steps steps;
  std::vector<std::string> printk() const { return m_cap.printks; }
  std::vector<std::string> findings() const { return m_cap.findings; }

  void run()
  {
    const std::int64_t t0 = m_order.empty() ? 0 : first_ts();
    m_t0 = t0;
    m_pos = 0;
    while (m_pos < m_order.size()) {
      const std::size_t at = m_pos;
      const V2Call& k = m_rb.calls[m_order[at]];
      m_horizon = m_deferred.count(m_order[at]) ? tie_end(at) : k.line;
      run_lru_before(k.line);
      if (k.ts_ns > t0 && std::uint64_t(k.ts_ns - t0) > m_e.now())
        m_e.advance(std::uint64_t(k.ts_ns - t0) - m_e.now(), false);
      m_e.run();
      if (m_pos != at) // a work item let calls in (preempt)
        continue;
      ++m_pos;
      issue_at(at);
    }
    m_horizon = k_never;
    m_e.run();
  }

  /// The LRU worker's run the trace shows before the call at `line` runs
  /// on the clock of its first line: a cookie whose 10 s end between that
  /// line and the call is left alone, as the kernel's late timer left it.
  void run_lru_before(std::uint64_t line)
  {
    while (m_lru < m_rb.lru_starts.size() && m_rb.lru_starts[m_lru] < line) {
      const std::size_t done = m_lru;
      const std::int64_t ts = m_rb.lru_start_ts[m_lru];
      if (ts > m_t0 && std::uint64_t(ts - m_t0) > m_e.now())
        m_e.advance(std::uint64_t(ts - m_t0) - m_e.now(), false);
      m_e.run();
      if (m_lru == done)
        break;
    }
  }

  std::size_t pick(const std::vector<v2::Runnable>& ready) override
  {
    std::size_t best = ready.size();
    std::uint64_t best_at = k_never;
    for (std::size_t i = 0; i < ready.size(); ++i) {
      std::uint64_t at = start_of(ready[i]);
      if (at < best_at) {
        best_at = at;
        best = i;
      }
    }
    if (best_at >= m_horizon)
      return ready.size();
    started(ready[best]);
    return best;
  }

  /// The calls the trace shows while the task was at this point: those
  /// printed before its next line of the thing (see stop_of).
  void preempt(const v2::Runnable& running) override
  {
    auto stop = m_preempting ? std::nullopt : stop_of(running);
    const std::uint64_t before = std::exchange(m_inside_at, k_never);
    if (!stop)
      return;
    // What the woken operations print is their tasks' (as the calls let
    // in below): the stopped task stays where it was.
    m_preempting = true;
    if (running.kind == v2::Runnable::cookie)
      wake_ready_ops(running.id, stop->line);
    // Nor past a call of the stopped task itself, nor past the start of
    // the work item run next (pick_inside).
    while (m_pos < m_order.size() &&
           runs_before(m_rb.calls[m_order[m_pos]],
                       std::min(stop->limit, before)) &&
           m_rb.calls[m_order[m_pos]].pid != stop->worker &&
           !m_deferred.count(m_order[m_pos]) &&
           !ends_a_waiting_op(m_rb.calls[m_order[m_pos]])) {
      const std::uint64_t queued = m_e.jobs_queued();
      // At its own time: an UNUSE's 10 s on the LRU count from there.
      const std::int64_t ts = m_rb.calls[m_order[m_pos]].ts_ns;
      if (ts > m_t0)
        m_e.clock_to(std::uint64_t(ts - m_t0));
      issue_at(m_pos++);
      if (m_e.jobs_queued() != queued)
        break; // the engine asks pick_inside() again
    }
    m_preempting = false;
    if (m_pos < m_order.size())
      m_horizon = m_rb.calls[m_order[m_pos]].line;
  }

  /// A call printed before `line`, or printed late and moved to `line`
  /// itself: it ran before that line (6.1: a read's BEGIN a=2 printed
  /// after the lookup's END a=1 it preceded, past the stopped worker's
  /// next line).
  static bool runs_before(const V2Call& k, std::uint64_t line)
  {
    return k.line < line || (k.ran_before && k.line == line);
  }

  /// The work item the trace starts first while the task is stopped
  /// (before its next line of the thing): another worker ran it then.
  std::size_t pick_inside(const v2::Runnable& running,
                          const std::vector<v2::Runnable>& ready) override
  {
    auto stop = m_preempting ? std::nullopt : stop_of(running);
    if (!stop)
      return ready.size();
    std::size_t best = ready.size();
    // Nor past where a task stopped further out goes on: what runs here
    // runs before it too.
    std::uint64_t limit = stop->limit;
    for (std::uint64_t outer : m_outer_limits)
      limit = std::min(limit, outer);
    std::uint64_t best_at = limit;
    for (std::size_t i = 0; i < ready.size(); ++i) {
      std::uint64_t at = start_of(ready[i]);
      if (at > stop->line && at < best_at &&
          run_end(ready[i], at) < stop->shared) {
        best_at = at;
        best = i;
      }
    }
    if (best < ready.size()) {
      m_inside_at = best_at;
      m_chosen_limit = limit;
    }
    return best;
  }

  void runs_inside(const v2::Runnable& r) override
  {
    started(r);
    m_outer_limits.push_back(m_chosen_limit);
  }
  void ran_inside(const v2::Runnable&) override
  {
    if (!m_outer_limits.empty())
      m_outer_limits.pop_back();
  }

  /// Within a few jiffies of its end, a cookie's LRU discard is the
  /// trace's: ended if the LRU worker's next traced line is its lrudo,
  /// printed by now (else a later run of the worker, as the engine's next
  /// run will be).
  std::optional<bool> lru_expired(std::uint32_t engine_c) override
  {
    constexpr std::int64_t k_run_ns = 1'000'000;
    auto tc = m_c_e2t.find(engine_c);
    if (tc == m_c_e2t.end())
      return std::nullopt;
    return m_lru < m_rb.lru_cookies.size() &&
           m_rb.lru_cookies[m_lru] == tc->second &&
           m_rb.lru_start_ts[m_lru] - m_t0 <=
               std::int64_t(m_e.now()) + k_run_ns;
  }

  /// The LRU worker at the GQ endac whose put the trace prints after
  /// another worker began that withdrawal (V2Rebuilt::lru_put_split).
  bool lru_put_later(std::uint32_t engine_c) override
  {
    auto tc = m_c_e2t.find(engine_c);
    if (tc == m_c_e2t.end())
      return false;
    const std::string thing = fmt::format("c={:08x}", tc->second);
    const std::size_t at = mark_at(thing);
    return at != SIZE_MAX &&
           m_rb.lru_put_split.count(m_rb.marks.at(thing)[at].line);
  }

  /// The stopped task's next line that prints a volume's or the cache's
  /// counts, after `line`: an item run inside it must end before that.
  std::uint64_t next_shared(int pid, std::uint64_t line) const
  {
    auto it = m_rb.shared.find(pid);
    if (it == m_rb.shared.end())
      return k_never;
    auto n = std::upper_bound(it->second.begin(), it->second.end(), line);
    return n == it->second.end() ? k_never : *n;
  }

  /// Did the task of the call being made print no WAIT before its next
  /// line of the cookie? Then it checked the state only after it changed.
  /// Did it print one after other tasks' lines of the cookie? Then it
  /// prints it at the first preemption point past the last of them
  /// (Held::tell_at), with the counts of then.
  Check check_later(std::uint32_t engine_c) override
  {
    auto tc = m_c_e2t.find(engine_c);
    if (!m_issuing || tc == m_c_e2t.end())
      return Check::now;
    const std::string thing = fmt::format("c={:08x}", tc->second);
    auto t = m_rb.steps.find(thing);
    if (t == m_rb.steps.end())
      return Check::now;
    auto next = std::find_if(
        t->second.begin(), t->second.end(), [this](const V2Step& s) {
          return s.line > m_issuing->line && s.pid == m_issuing->pid;
        });
    if (next == t->second.end())
      return Check::now;
    if (next->text.find(" WAIT  io ") == std::string::npos)
      return Check::after_change;
    if (next->late) // its counts were taken at once, its line came later
      return Check::now;
    m_tell_at = 0;
    if (auto ms = m_rb.marks.find(thing); ms != m_rb.marks.end())
      for (const V2Rebuilt::Mark& m : ms->second)
        if (m.line > m_issuing->line && m.line < next->line &&
            m.pid != m_issuing->pid)
          m_tell_at = m.line;
    return m_tell_at ? Check::print_later : Check::now;
  }

private:
  /// Where a task stopped in the trace: the line of the engine's last
  /// line of the thing (the k-th of its event, compared or the backing
  /// filesystem's, so a point between two lines of the backend, NEW obj
  /// then cachefiles_lookup, is told from the next), its task, and that
  /// task's next line of the thing, where it goes on.
  struct Stop {
    int worker = 0;
    std::uint64_t line = 0, limit = k_never;
    /// The task's next line that prints a volume's or the cache's counts
    /// (limit is never past it): an item run inside must end before it.
    std::uint64_t shared = k_never;
  };
  std::optional<Stop> stop_of(const v2::Runnable& running) const
  {
    const std::string thing = thing_of(running);
    const std::size_t at = mark_at(thing);
    if (at == SIZE_MAX)
      return std::nullopt;
    const std::vector<V2Rebuilt::Mark>& ms = m_rb.marks.at(thing);
    Stop s;
    s.worker = ms[at].pid;
    s.line = ms[at].line;
    for (std::size_t i = at + 1; i < ms.size(); ++i)
      if (ms[i].pid == s.worker) {
        // A next line printed late happened before the line it ran at.
        auto late = m_rb.ran_at.find(ms[i].line);
        s.limit = late == m_rb.ran_at.end()
                      ? ms[i].line
                      : std::min(ms[i].line, late->second);
        break;
      }
    s.shared = next_shared(s.worker, shared_from(running, s));
    s.limit = std::min(s.limit, s.shared);
    return s;
  }

  /// Where the stopped task is among its lines of shared counts: past its
  /// last line of the cookie, or of the cookie's volume when it printed
  /// that later (a lookup waiting for its volume's creation, WAIT crea).
  std::uint64_t shared_from(const v2::Runnable& running, const Stop& stop) const
  {
    auto v = running.kind == v2::Runnable::cookie ? m_volume_of.find(running.id)
                                                  : m_volume_of.end();
    const std::string thing = v == m_volume_of.end()
                                  ? std::string()
                                  : thing_of({v2::Runnable::volume, v->second});
    auto t = m_rb.marks.find(thing);
    const std::size_t at = mark_at(thing);
    if (t == m_rb.marks.end() || at == SIZE_MAX)
      return stop.line;
    for (std::size_t i = at + 1; i-- > 0;) // its last line of the volume
      if (t->second[i].pid == stop.worker)
        return std::max(stop.line, t->second[i].line);
    return stop.line;
  }

  /// Where the engine's last line of the thing is among the trace's lines
  /// of it (V2Rebuilt::marks), SIZE_MAX if nowhere.
  std::size_t mark_at(const std::string& thing) const
  {
    auto last = m_last_mark.find(thing);
    auto t = m_rb.marks.find(thing);
    if (thing.empty() || last == m_last_mark.end() || t == m_rb.marks.end())
      return SIZE_MAX;
    std::size_t k = 0;
    for (std::size_t i = 0; i < t->second.size(); ++i)
      if (t->second[i].event == last->second.first &&
          ++k == last->second.second)
        return i;
    return SIZE_MAX;
  }

  /// The trace's name of the thing a work item (or a stopped task) is
  /// about: "c=…" or "V=…"; "" for the LRU worker or an unmapped id.
  std::string thing_of(const v2::Runnable& r) const
  {
    // The LRU worker or a netfs call stopped at a cookie (Runnable::id)
    // is at that cookie's lines; the LRU worker queued is at none.
    const bool cookie = r.kind == v2::Runnable::cookie ||
                        r.kind == v2::Runnable::lru ||
                        r.kind == v2::Runnable::call;
    if (r.kind == v2::Runnable::lru && r.id == 0)
      return {};
    auto& map = cookie ? m_c_e2t : m_v_e2t;
    auto it = map.find(r.id);
    return it == map.end()
               ? std::string()
               : fmt::format("{}={:08x}", cookie ? 'c' : 'V', it->second);
  }

  /// A waiting operation whose task's next line of the cookie is its END
  /// io went on, so it checked the state while that let it (a read woken
  /// when the lookup went negative, CREATING, that ends normally though
  /// the lookup then fails): it resumes at the first point it may.
  /// An operation whose WAIT is printed later (Check::print_later) prints
  /// it once the stopped task is at or past the line it waits for.
  void wake_ready_ops(std::uint32_t engine_c, std::uint64_t at)
  {
    auto tc = m_c_e2t.find(engine_c);
    if (tc == m_c_e2t.end())
      return;
    auto ops = m_ops.find(tc->second);
    auto t = m_rb.steps.find(fmt::format("c={:08x}", tc->second));
    if (ops == m_ops.end() || t == m_rb.steps.end())
      return;
    for (Held& h : ops->second) {
      if (m_e.op_info(h.id).status != v2::OpInfo::waiting)
        continue;
      // Its WAIT, printed late, comes first: nothing resumes it before
      // the stopped task reaches that line (6.1: a read's WAIT r=3 after
      // the worker's NEW obj, its END once the lookup went on).
      if (h.tell_at) {
        if (h.tell_at <= at) {
          h.tell_at = 0;
          m_e.resume_operation(h.id);
        }
        continue;
      }
      auto next = std::find_if(
          t->second.begin(), t->second.end(), [&h](const V2Step& s) {
            return s.line > h.line && s.pid == h.pid &&
                   s.text.find(" WAIT  io ") == std::string::npos;
          });
      // 6.12 ends a read on the kworker that completes it: an END io of
      // another task before the reader's next line ends this one.
      auto end = std::find_if(
          t->second.begin(), t->second.end(), [&h](const V2Step& s) {
            return s.line > h.line &&
                   s.text.find(" END   io ") != std::string::npos;
          });
      const bool ends =
          (next != t->second.end() &&
           next->text.find(" END   io ") != std::string::npos) ||
          (m_rb.gen == Gen::v612 && end != t->second.end() &&
           end->pid != h.pid && (next == t->second.end() || end < next));
      if (ends)
        m_e.resume_operation(h.id, true);
    }
  }

  /// The trace line where the work item's run that starts at `start`
  /// ends (its PQ  work, or PUT creat): one ending after the stopped task
  /// printed counts it shares is not run inside it (the engine's items
  /// nest, the kernel's workers interleave freely), but after it.
  std::uint64_t run_end(const v2::Runnable& r, std::uint64_t start) const
  {
    auto t = m_rb.steps.find(thing_of(r));
    if (t == m_rb.steps.end())
      return k_never;
    for (const V2Step& s : t->second)
      if (s.line >= start && (s.text.find(" PQ  work ") != std::string::npos ||
                              s.text.find(" PUT creat ") != std::string::npos))
        return s.line;
    return k_never;
  }

  /// A volume creation's rest prints no line at its start: counted here.
  void started(const v2::Runnable& r)
  {
    if (r.kind == v2::Runnable::volume_rest)
      ++m_started[rest_name(r.id)];
  }

  /// A deferred call waits for the work the trace starts at its own
  /// time (its line and theirs print one timestamp: 6.1's clock stood
  /// still for hundreds of lines in a TCG guest): up to the first line
  /// printed later.
  std::uint64_t tie_end(std::size_t at) const
  {
    const V2Call& k = m_rb.calls[m_order[at]];
    return k.tie_end ? k.tie_end : k_never;
  }

  std::int64_t first_ts() const
  {
    std::int64_t t = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i : m_order)
      if (m_rb.calls[i].line)
        t = std::min(t, m_rb.calls[i].ts_ns);
    return t == std::numeric_limits<std::int64_t>::max() ? 0 : t;
  }

  /// The trace line where the work item's next run starts; 0 (now) when
  /// the trace shows no more: the engine's extra run then shows at once.
  std::uint64_t start_of(const v2::Runnable& r) const
  {
    std::string thing;
    if (r.kind == v2::Runnable::lru) {
      return m_lru < m_rb.lru_starts.size() ? m_rb.lru_starts[m_lru] : k_never;
    }
    auto& map = r.kind == v2::Runnable::cookie ? m_c_e2t : m_v_e2t;
    auto it = map.find(r.id);
    if (r.kind == v2::Runnable::volume_rest)
      thing = rest_name(r.id);
    else if (it == map.end())
      return 0;
    else
      thing = fmt::format(
          "{}={:08x}", r.kind == v2::Runnable::cookie ? 'c' : 'V', it->second);
    auto ws = m_rb.work_starts.find(thing);
    auto n = m_started.find(thing);
    std::size_t done = n == m_started.end() ? 0 : n->second;
    if (ws == m_rb.work_starts.end() || done >= ws->second.size())
      return 0;
    return ws->second[done];
  }

  /// The key of a volume creation's rest in V2Rebuilt::work_starts.
  std::string rest_name(std::uint32_t engine_v) const
  {
    auto it = m_v_e2t.find(engine_v);
    return fmt::format("V={:08x}+", it == m_v_e2t.end() ? 0 : it->second);
  }

  /// The engine's ids in a line, replaced by the trace's.
  std::string remap(std::string_view body)
  {
    std::string out(body);
    for (std::size_t i = 0; i + 2 < out.size(); ++i) {
      if ((i && out[i - 1] != ' ') || out[i + 1] != '=' || !hex8(out, i + 2))
        continue;
      std::map<std::uint32_t, std::uint32_t>* m = nullptr;
      switch (out[i]) {
      case 'c':
        m = &m_c_e2t;
        break;
      case 'V':
        m = &m_v_e2t;
        break;
      case 'o':
        m = &m_o_e2t;
        break;
      default:
        continue;
      }
      auto id = std::uint32_t(std::stoul(out.substr(i + 2, 8), nullptr, 16));
      auto it = m->find(id);
      // The acquire being made prints the new id before it returns it.
      if (it == m->end() && m_issuing && id != 0 &&
          ((out[i] == 'V' && m_issuing->kind == V2Call::acquire_volume) ||
           (out[i] == 'c' && m_issuing->kind == V2Call::acquire_cookie)))
        it = m->emplace(id, m_issuing->id).first;
      if (it != m->end())
        out.replace(i + 2, 8, fmt::format("{:08x}", it->second));
    }
    return out;
  }

  void engine_line(std::string_view event, const std::string& body)
  {
    Fields f = split_fields(body);
    if (event == "cachefiles_ref" && f.words == "NEW obj")
      new_object(f);
    std::string mapped = remap(body);
    std::string thing = v2_thing_of(event, mapped);
    mark(event, thing, f);
    if (thing.empty())
      return;
    std::string text = std::string(event) + ": " + mapped;
    if (text.find(" -   work ") != std::string::npos ||
        text.find(" SEE creat ") != std::string::npos)
      ++m_started[thing];
    else if (text.find(" -   lrudo ") != std::string::npos)
      ++m_lru;
    steps[thing].push_back(
        {std::move(text), m_call_pos != SIZE_MAX ? m_call_pos : m_pos});
  }

  /// Is the engine cookie's object being made one the trace saw fail
  /// for want of space (V2Rebuilt::no_space)?
  bool no_space(std::uint32_t engine_c) const
  {
    auto tc = m_c_e2t.find(engine_c);
    if (tc == m_c_e2t.end())
      return false;
    auto seen = m_objects_seen.find(tc->second);
    auto objs = m_rb.objects.find(tc->second);
    if (seen == m_objects_seen.end() || objs == m_rb.objects.end() ||
        seen->second == 0 || seen->second > objs->second.size())
      return false;
    return m_rb.no_space.count(objs->second[seen->second - 1]) != 0;
  }

  /// Is this creation of the engine's volume one the trace saw fail
  /// (V2Rebuilt::volume_failed)? Counts the creations.
  bool volume_fails(std::uint32_t engine_v)
  {
    auto tv = m_v_e2t.find(engine_v);
    if (tv == m_v_e2t.end())
      return false;
    const unsigned n = ++m_creations[tv->second];
    auto f = m_rb.volume_failed.find(tv->second);
    return f != m_rb.volume_failed.end() && f->second.count(n) != 0;
  }

  /// Counts the engine's lines of each cookie per event (see preempt).
  void mark(std::string_view event, const std::string& thing, const Fields& f)
  {
    std::string marked = thing;
    if (marked.empty() && event.rfind("cachefiles_", 0) == 0) {
      auto o = f.get("o");
      auto eo = o && o->size() == 8
                    ? std::uint32_t(std::stoul(std::string(*o), nullptr, 16))
                    : 0;
      auto to = m_o_e2t.find(eo);
      auto c = to == m_o_e2t.end() ? m_c_of_o.end() : m_c_of_o.find(to->second);
      if (c != m_c_of_o.end())
        marked = fmt::format("c={:08x}", c->second);
    }
    if (marked.empty() || marked[0] == 'C')
      return;
    std::size_t n = ++m_marks[marked][std::string(event)];
    // A call let in at a preemption point is another task's: the stopped
    // one stays where it was.
    if (!m_preempting)
      m_last_mark[marked] = {std::string(event), n};
  }

  /// The engine's k-th object of a cookie is the trace's k-th.
  void new_object(const Fields& f)
  {
    auto c = f.get("c"), o = f.get("o");
    if (!c || !o)
      return;
    auto ec = std::uint32_t(std::stoul(std::string(*c), nullptr, 16));
    auto eo = std::uint32_t(std::stoul(std::string(*o), nullptr, 16));
    auto tc = m_c_e2t.find(ec);
    if (tc == m_c_e2t.end())
      return;
    std::size_t k = m_objects_seen[tc->second]++;
    auto objs = m_rb.objects.find(tc->second);
    if (objs != m_rb.objects.end() && k < objs->second.size())
      m_o_e2t[eo] = objs->second[k];
  }

  struct Held {
    int pid;
    std::uint32_t id;
    std::uint64_t line = 0; ///< the trace line of its call
    /// Its state check waits for a task to be at this trace line (0: no).
    std::uint64_t tell_at = 0;
  };
  /// The operation (or write) of the task, else the oldest of the cookie;
  /// taken off the list when `take`.
  std::optional<std::uint32_t> held(std::deque<Held>& q, int pid, bool take)
  {
    if (q.empty())
      return std::nullopt;
    auto it = std::find_if(q.begin(), q.end(),
                           [pid](const Held& h) { return h.pid == pid; });
    if (it == q.end())
      it = q.begin();
    std::uint32_t id = it->id;
    if (take)
      q.erase(it);
    return id;
  }
  /// Would this call end an operation that still waits? It came after
  /// the state change that let that one go on: at a later point of the
  /// stopped task (a negative lookup's two points around CREATING print
  /// the same line).
  bool ends_a_waiting_op(const V2Call& k)
  {
    if (k.kind != V2Call::end_operation)
      return false;
    auto ops = m_ops.find(k.id);
    if (ops == m_ops.end())
      return false;
    auto op = held(ops->second, k.pid, false);
    return op && m_e.op_info(*op).status == v2::OpInfo::waiting;
  }

  /// Drops operations the engine refused after a wait (END io_notl).
  void prune(std::deque<Held>& q)
  {
    q.erase(std::remove_if(q.begin(), q.end(),
                           [this](const Held& h) {
                             auto s = m_e.op_info(h.id).status;
                             return s == v2::OpInfo::refused ||
                                    s == v2::OpInfo::ended;
                           }),
            q.end());
  }

  Bytes key_of(std::map<std::uint32_t, std::string>& keys, char letter,
               const V2Call& k)
  {
    std::string key = k.twin && keys.count(k.twin)
                          ? keys[k.twin]
                          : fmt::format("fsc-replay,{}={:08x}", letter, k.id);
    keys[k.id] = key;
    return Bytes(key.begin(), key.end());
  }

  /// The file the trace's first lookup of the cookie found, put there.
  void put_found(const V2Call& k, const Bytes& key)
  {
    using F = v2::MemoryBackend::Found;
    static const std::map<std::string, F, std::less<>> verdicts = {
        {"OK", F::coherent},       {"BAD aux", F::bad_aux},
        {"BAD osiz", F::bad_size}, {"BAD type", F::bad_type},
        {"BAD dirt", F::dirty},    {"BAD xatt", F::no_xattr}};
    auto f = m_rb.found.find(k.id);
    auto vk = m_vkeys.find(k.volume);
    if (f == m_rb.found.end() || vk == m_vkeys.end())
      return;
    auto how = verdicts.find(f->second);
    if (how != verdicts.end())
      m_be.put_file(vk->second, key, k_aux, k.size, how->second);
  }

  /// The call at position p of the order (m_pos already past it).
  void issue_at(std::size_t p)
  {
    const std::size_t outer = m_call_pos;
    m_call_pos = p;
    issue(m_rb.calls[m_order[p]]);
    m_call_pos = outer;
  }
  void issue(const V2Call& k);
  void issue_call(const V2Call& k);
  void issue_io(const V2Call& k, v2::CookieId c);

  const V2Rebuilt& m_rb;
  const std::vector<std::size_t>& m_order;
  const std::set<std::size_t>& m_deferred; ///< calls (indices) run after
                                           ///< work of their timestamp
  v2::MemoryBackend m_be;
  Capture m_cap;
  v2::Engine m_e;
  std::size_t m_pos = 0;
  std::uint64_t m_horizon = k_never;
  std::int64_t m_t0 = 0; ///< the trace's time of the engine's 0
  /// Where each task stopped further out goes on (its stop's limit), for
  /// the items running inside it: nothing inside starts past them.
  std::vector<std::uint64_t> m_outer_limits;
  std::uint64_t m_chosen_limit = k_never; ///< the last pick_inside()'s stop
  bool m_preempting = false;
  const V2Call* m_issuing = nullptr; ///< the call being made
  std::size_t m_call_pos = SIZE_MAX; ///< its position, SIZE_MAX: none
  std::uint64_t m_tell_at = 0;       ///< what check_later() chose last
  std::map<std::uint32_t, std::uint32_t> m_volume_of; ///< engine c -> V
  /// Where the work item pick_inside() chose starts (k_never: none).
  std::uint64_t m_inside_at = k_never;
  std::map<std::string, std::size_t> m_started;
  std::size_t m_lru = 0;
  std::map<std::uint32_t, std::uint32_t> m_c_t2e, m_c_e2t, m_v_t2e, m_v_e2t,
      m_o_e2t;
  std::map<std::uint32_t, std::size_t> m_objects_seen;
  std::map<std::uint32_t, std::uint32_t> m_c_of_o; ///< trace o= -> c=
  std::map<std::uint32_t, unsigned> m_creations;   ///< trace V= -> made
  std::map<std::string, std::map<std::string, std::size_t>> m_marks;
  std::map<std::string, std::pair<std::string, std::size_t>> m_last_mark;
  std::map<std::uint32_t, std::string> m_vkeys, m_ckeys;
  std::map<std::uint32_t, std::uint64_t> m_size; ///< trace cookie
  std::map<std::uint32_t, std::deque<Held>> m_ops, m_ios;
};

void Run::issue(const V2Call& k)
{
  const V2Call* outer = m_issuing;
  m_issuing = &k;
  issue_call(k);
  m_issuing = outer;
}

void Run::issue_call(const V2Call& k)
{
  switch (k.kind) {
  case V2Call::add_cache:
    m_e.add_cache();
    return;
  case V2Call::withdraw_cache:
    m_e.withdraw_cache();
    return;
  case V2Call::acquire_volume: {
    Bytes key = key_of(m_vkeys, 'V', k);
    v2::VolumeId v = m_e.acquire_volume(std::string_view(
        reinterpret_cast<const char*>(key.data()), key.size()));
    if (v) {
      m_v_t2e[k.id] = v;
      m_v_e2t[v] = k.id;
    }
    return;
  }
  case V2Call::relinquish_volume:
    if (m_v_t2e.count(k.id))
      m_e.relinquish_volume(m_v_t2e[k.id]);
    return;
  case V2Call::acquire_cookie: {
    auto v = m_v_t2e.find(k.volume);
    if (v == m_v_t2e.end())
      return;
    Bytes key = key_of(m_ckeys, 'c', k);
    put_found(k, key);
    v2::CookieId c = m_e.acquire_cookie(v->second, key, k_aux, k.size);
    m_size[k.id] = k.size;
    if (c)
      m_volume_of[c] = v->second;
    if (c) {
      m_c_t2e[k.id] = c;
      m_c_e2t[c] = k.id;
    }
    return;
  }
  default:
    break;
  }
  auto it = m_c_t2e.find(k.id);
  if (it == m_c_t2e.end())
    return;
  v2::CookieId c = it->second;
  std::uint64_t& size = m_size[k.id];
  switch (k.kind) {
  case V2Call::use:
    m_e.use_cookie(c, k.flag);
    return;
  case V2Call::unuse: // NFS passes its aux and i_size every time
    m_e.unuse_cookie(c, &k_aux, &size);
    return;
  case V2Call::relinquish:
    m_e.relinquish_cookie(c, k.flag, k.put_later);
    return;
  case V2Call::put_relinquished:
    m_e.put_relinquished(c);
    return;
  case V2Call::put_lru:
    m_e.put_lru(c);
    return;
  case V2Call::invalidate:
    size = k.size;
    m_e.invalidate(c, k_aux, k.size, k.flag);
    return;
  case V2Call::resize:
    size = k.size;
    m_e.resize_cookie(c, k.size);
    return;
  default:
    issue_io(k, c);
  }
}

void Run::issue_io(const V2Call& k, v2::CookieId c)
{
  std::deque<Held>& ops = m_ops[k.id];
  // A task whose operation waits makes no call: seen making one, it was
  // woken (a work item stopped at a preemption point changed the state).
  for (const Held& h : ops)
    if (h.pid == k.pid && m_e.op_info(h.id).status == v2::OpInfo::waiting)
      m_e.resume_operation(h.id);
  prune(ops);
  switch (k.kind) {
  case V2Call::begin_read:
  case V2Call::begin_write: {
    m_tell_at = 0;
    v2::OpId op =
        k.kind == V2Call::begin_read ? m_e.begin_read(c) : m_e.begin_write(c);
    if (m_e.op_info(op).status != v2::OpInfo::refused)
      ops.push_back({k.pid, op, k.line, m_tell_at});
    return;
  }
  case V2Call::read:
    if (auto op = held(ops, k.pid, false)) {
      const int before = m_be.last_read();
      if (m_e.read(*op, k.pos, k.len) == 0 && m_be.last_read() != before)
        m_ios[k.id].push_back({k.pid, std::uint32_t(m_be.last_read())});
    }
    return;
  case V2Call::write:
    if (auto op = held(ops, k.pid, false)) {
      int io = m_e.write(*op, k.pos, k.len, false);
      if (io > 0)
        m_ios[k.id].push_back({k.pid, std::uint32_t(io)});
    }
    return;
  case V2Call::complete_write:
    if (auto io = held(m_ios[k.id], k.pid, true))
      m_e.complete_write(int(*io));
    return;
  case V2Call::end_operation:
    if (auto op = held(ops, k.pid, true))
      m_e.end_operation(*op);
    return;
  default:
    return;
  }
}

/// The outcome of comparing one run with the trace.
struct Outcome {
  V2Divergence d;
  std::uint64_t compared = 0;
  std::size_t pos = SIZE_MAX; ///< the call position behind the divergence
  std::size_t cut = 0; ///< engine lines past a trace cut inside a work run
  std::vector<std::string> cuts; ///< compare_all: which things, how many
};

/// How late a line the rebuild found printed late (V2Step::late) may be:
/// 20 ms, or its own lateness (V2Step::late_ns) up to the rebuild's window.
constexpr std::int64_t k_late_ns = 20'000'000;
constexpr std::int64_t k_late_max_ns = 100'000'000;

/// May trace line j match before the unmatched lines [from, j)? Only
/// when they are other tasks' lines printed shortly before.
bool may_skip(const std::vector<V2Step>& t, const std::vector<bool>& matched,
              std::size_t from, std::size_t j, std::int64_t window)
{
  for (std::size_t k = from; k < j; ++k)
    if (!matched[k] &&
        (t[k].pid == t[j].pid || t[j].ts_ns - t[k].ts_ns > window))
      return false;
  return true;
}

/// Does the trace end inside one of the thing's work runs (a "-   work "
/// without its "PQ  work ", a "SEE creat" without its "PUT creat")? In a
/// whole trace every run ends.
bool ends_in_work(const std::vector<V2Step>& t)
{
  int open = 0;
  for (const V2Step& s : t) {
    if (s.text.find(" -   work ") != std::string::npos ||
        s.text.find(" SEE creat ") != std::string::npos)
      ++open;
    else if (s.text.find(" PQ  work ") != std::string::npos ||
             s.text.find(" PUT creat ") != std::string::npos)
      open = std::max(0, open - 1);
  }
  return open > 0;
}

/// The line of the thing's last matched step before step `at` (0: none).
std::uint64_t last_matched_before(const std::vector<V2Step>& t,
                                  const std::vector<bool>& matched,
                                  std::size_t at)
{
  for (std::size_t i = std::min(at, t.size()); i-- > 0;)
    if (matched[i])
      return t[i].line;
  return 0;
}

/// One thing's comparison: the engine's lines in order, each matched to
/// the trace's first unmatched line or one that may pass it.
Outcome compare_thing(const std::string& thing, const std::vector<V2Step>& t,
                      const std::vector<EStep>& e, std::int64_t window)
{
  Outcome o;
  o.d.thing = thing;
  const bool cut = ends_in_work(t);
  std::vector<bool> matched(t.size(), false);
  std::size_t first = 0;
  for (const EStep& s : e) {
    while (first < t.size() && matched[first])
      ++first;
    if (first == t.size() && cut) { // the kernel went on past the trace
      o.cut = e.size() - std::size_t(&s - e.data());
      return o;
    }
    std::size_t j = first;
    for (; j < t.size(); ++j) {
      const std::int64_t gap = t[j].ts_ns - t[first].ts_ns;
      if (gap > std::max(window, k_late_max_ns)) {
        j = t.size();
        break;
      }
      if (gap > window && !t[j].late)
        continue;
      // The first equal line that may pass those before it: one of the
      // same text behind its own task's lines may not, a later one may
      // (two kworkers writing one cookie print the same BEGIN).
      if (!matched[j] && t[j].text == s.text &&
          may_skip(t, matched, first, j,
                   t[j].late ? std::max({window, k_late_ns, t[j].late_ns})
                             : window))
        break;
    }
    if (j < t.size()) {
      matched[j] = true;
      ++o.compared;
      continue;
    }
    o.d.found = true;
    o.d.line =
        first < t.size() ? t[first].line : (t.empty() ? 0 : t.back().line);
    o.d.trace_step = first < t.size() ? t[first].text : std::string();
    o.d.engine_step = s.text;
    o.d.previous = last_matched_before(t, matched, first);
    o.pos = s.pos;
    return o;
  }
  while (first < t.size() && matched[first])
    ++first;
  if (first < t.size()) {
    o.d.found = true;
    o.d.line = t[first].line;
    o.d.trace_step = t[first].text;
    o.d.previous = last_matched_before(t, matched, first);
  }
  return o;
}

/// Every thing compared; the divergence with the earliest trace line wins.
Outcome compare_all(const V2Rebuilt& rb, const Steps& engine,
                    std::uint64_t& things)
{
  std::set<std::string> all;
  for (const auto& [k, v] : rb.steps)
    all.insert(k);
  for (const auto& [k, v] : engine)
    if (k[0] != 'C' || rb.cache_compared)
      all.insert(k);
  things = all.size();
  static const std::vector<V2Step> no_t;
  static const std::vector<EStep> no_e;
  Outcome best;
  for (const std::string& th : all) {
    auto t = rb.steps.find(th);
    auto e = engine.find(th);
    std::vector<V2Step> kept;
    const std::vector<V2Step>* ts = t == rb.steps.end() ? &no_t : &t->second;
    if (rb.cut_at) { // the trace ends inside a call: compare up to it
      for (const V2Step& s : *ts)
        if (s.line < rb.cut_at)
          kept.push_back(s);
      ts = &kept;
    }
    Outcome o = compare_thing(th, *ts, e == engine.end() ? no_e : e->second,
                              match_window_ns(rb.gen));
    best.compared += o.compared;
    if (o.cut)
      best.cuts.push_back(fmt::format("{} after line {}: {} lines", th,
                                      ts->back().line, o.cut));
    if (o.d.found && (!best.d.found || o.d.line < best.d.line)) {
      std::uint64_t n = best.compared;
      std::vector<std::string> cuts = std::move(best.cuts);
      best = o;
      best.compared = n;
      best.cuts = std::move(cuts);
    }
  }
  return best;
}

/// The call position whose trace line is the last at or before `line`.
std::size_t pos_at(const V2Rebuilt& rb, const std::vector<std::size_t>& order,
                   std::uint64_t line)
{
  std::size_t best = SIZE_MAX;
  for (std::size_t p = 0; p < order.size(); ++p)
    if (rb.calls[order[p]].line <= line &&
        (best == SIZE_MAX ||
         rb.calls[order[p]].line > rb.calls[order[best]].line))
      best = p;
  return best;
}

/// Is the kernel's line of the cookie at `line` inside a write: its
/// task's last line of the cookie before it, waits skipped, a BEGIN
/// io_writ?
bool in_write(const V2Rebuilt& rb, const std::string& thing,
              std::uint64_t line)
{
  auto t = rb.steps.find(thing);
  if (t == rb.steps.end())
    return false;
  const std::vector<V2Step>& ss = t->second;
  auto at = std::find_if(ss.begin(), ss.end(),
                         [line](const V2Step& s) { return s.line == line; });
  if (at == ss.end())
    return false;
  for (auto it = at; it != ss.begin();) {
    --it;
    if (it->pid != at->pid || it->text.find(" WAIT  io ") != std::string::npos)
      continue;
    return it->text.find(" BEGIN io_writ ") != std::string::npos;
  }
  return false;
}

/// 6.12 is compared with a 6.1 engine. The one difference its compared
/// lines can show: the netfs library writes to the cache with
/// fscache_write_to_cache() (WANT_WRITE: waits while the cookie is
/// CREATING), where 6.1 NFS begins a write operation (WANT_PARAMS: goes
/// on); the replay begins every write the 6.1 way. So a wait (or a
/// refusal after one) that only one side prints is that difference; any
/// other is a divergence, as on 6.1: a read's wait (a read waits in
/// LOOKING_UP on both) is not this one.
std::string modelled_reason(const V2Rebuilt& rb, const V2Divergence& d)
{
  if (rb.gen != Gen::v612 || d.thing.empty() || d.thing[0] != 'c')
    return {};
  if (d.trace_step.find(" WAIT  io ") == std::string::npos &&
      d.trace_step.find(" END   io_notl ") == std::string::npos)
    return {};
  if (!in_write(rb, d.thing, d.line))
    return {};
  return "6.12 writes to the cache through the netfs library "
         "(fscache_write_to_cache(), which waits for a CREATING cookie) "
         "where 6.1 NFS begins a write operation that does not "
         "(docs/engine-v2.md §2.6, §6.2)";
}

struct Attempt {
  Outcome out;
  std::vector<std::string> printk, findings;
};

Attempt attempt(const V2Rebuilt& rb, const std::vector<std::size_t>& order,
                const std::set<std::size_t>& deferred,
                std::optional<std::uint64_t> seed)
{
  Run r(rb, order, deferred, seed);
  r.run();
  if (rb.cut_at) // what the engine did for calls the trace no longer shows
    for (auto& [thing, steps] : r.steps)
      steps.erase(std::remove_if(steps.begin(), steps.end(),
                                 [&](const EStep& s) {
                                   return s.pos >= order.size() ||
                                          rb.calls[order[s.pos]].line >=
                                              rb.cut_at;
                                 }),
                  steps.end());
  Attempt a;
  std::uint64_t things = 0;
  a.out = compare_all(rb, r.steps, things);
  if (a.out.d.found && a.out.pos == SIZE_MAX)
    a.out.pos = pos_at(rb, order, a.out.d.line);
  a.printk = r.printk();
  a.findings = r.findings();
  return a;
}

/// Another order to try: a call of another task, printed within the swap
/// window of the call behind the divergence, moved to run before it (or
/// it before that one). Empty when none is left untried.
std::vector<std::size_t> other_order(
    const V2Rebuilt& rb, const std::vector<std::size_t>& order, std::size_t pos,
    std::set<std::pair<std::uint64_t, std::uint64_t>>& tried, std::string& what)
{
  if (pos >= order.size())
    return {};
  const V2Call& k = rb.calls[order[pos]];
  for (std::size_t dist = 1; dist <= 4; ++dist)
    for (int sign : {1, -1}) {
      std::ptrdiff_t p = std::ptrdiff_t(pos) + sign * std::ptrdiff_t(dist);
      if (p < 0 || std::size_t(p) >= order.size())
        continue;
      const V2Call& o = rb.calls[order[std::size_t(p)]];
      std::int64_t gap =
          o.ts_ns > k.ts_ns ? o.ts_ns - k.ts_ns : k.ts_ns - o.ts_ns;
      if (o.pid == k.pid || gap > swap_window_ns(rb.gen) ||
          !tried.insert({std::min(k.line, o.line), std::max(k.line, o.line)})
               .second)
        continue;
      std::vector<std::size_t> out = order;
      std::size_t from = std::max(pos, std::size_t(p));
      std::size_t to = std::min(pos, std::size_t(p));
      std::size_t moved = out[from];
      out.erase(out.begin() + std::ptrdiff_t(from));
      out.insert(out.begin() + std::ptrdiff_t(to), moved);
      what = fmt::format("{}<->{}", std::min(k.line, o.line),
                         std::max(k.line, o.line));
      return out;
    }
  return {};
}

} // namespace

V2Replay replay_v2(const V2Rebuilt& rb, std::optional<std::uint64_t> seed,
                   std::FILE* trace_to)
{
  std::vector<std::size_t> order(rb.calls.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  V2Replay out;
  std::set<std::size_t> deferred;
  Attempt best = attempt(rb, order, deferred, seed);
  std::set<std::pair<std::uint64_t, std::uint64_t>> tried;
  std::set<std::size_t> tried_defer;
  // Each try reruns everything: the engine cannot go back a step.
  while (!seed && best.out.d.found && out.orders < 64) {
    std::string what;
    std::vector<std::size_t> next =
        other_order(rb, order, best.out.pos, tried, what);
    std::set<std::size_t> next_deferred = deferred;
    if (next.empty()) {
      // Else the work the trace starts at the call's own timestamp, run
      // before it.
      const std::size_t pos = best.out.pos;
      if (pos >= order.size() || !tried_defer.insert(order[pos]).second)
        break;
      next = order;
      next_deferred.insert(order[pos]);
      what = fmt::format("{} after the work of its time",
                         rb.calls[order[pos]].line);
    }
    ++out.orders;
    Attempt a = attempt(rb, next, next_deferred, seed);
    if (!a.out.d.found || a.out.d.line > best.out.d.line) {
      best = std::move(a);
      order = std::move(next);
      deferred = std::move(next_deferred);
      out.reordered.push_back(what);
    }
  }
  out.d = best.out.d;
  out.d.modelled = out.d.found ? modelled_reason(rb, out.d) : std::string();
  out.compared = best.out.compared;
  out.cut = best.out.cuts;
  std::uint64_t things = 0;
  for (const auto& [k, v] : rb.steps)
    things += !v.empty();
  out.things = things;
  out.printk = std::move(best.printk);
  out.findings = std::move(best.findings);
  if (trace_to) { // the chosen order once more, written as 6.1 writes it
    Run r(rb, order, deferred, seed, trace_to);
    r.run();
  }
  return out;
}

} // namespace fsc::trace
