// writer.cpp - engine events as 4.19 ftrace text lines.
#include <fsc/trace/writer.hpp>

#include <fmt/format.h>

namespace fsc::trace {

using namespace fsc::fscache;

namespace {

std::string ptr(std::uint64_t p) { return fmt::format("{:016x}", p); }

struct TaskName {
  const char* comm;
  int pid;
};

TaskName task_name(Task t)
{
  switch (t) {
  case Task::object_wq:
    return {"kworker/u4:0", 7};
  case Task::op_wq:
    return {"kworker/u4:1", 22};
  default:
    return {"fsc-netfs", 100};
  }
}

std::string snap_body(const CookieSnap& s)
{
  return fmt::format("c={} u={} Nc={} Na={} f={:02x}", ptr(s.c), s.usage,
                     s.n_children, s.n_active, s.flags);
}

} // namespace

FtraceWriter::FtraceWriter(std::FILE* out, bool refs_only)
    : m_out(out), m_refs_only(refs_only)
{
  for (Task t : {Task::netfs, Task::object_wq, Task::op_wq}) {
    TaskName n = task_name(t);
    m_prefix[static_cast<int>(t)] =
        fmt::format("{:>16}-{:<5} [000] .... ", n.comm, n.pid);
  }
}

void FtraceWriter::header()
{
  std::fputs("# tracer: nop\n#\n# written by fsc replay: a userspace 4.19 "
             "FS-Cache engine, virtual clock\n#\n",
             m_out);
}

bool FtraceWriter::begin(std::string_view event, bool ref_line)
{
  ++m_us; // one virtual microsecond per event keeps lines ordered
  if (m_refs_only && !ref_line)
    return false;
  m_buf.assign(m_prefix[static_cast<int>(m_task)]);
  // " %5lu.%06lu: " without the format machinery: this runs per event.
  char ts[32];
  std::uint64_t sec = m_us / 1000000, usec = m_us % 1000000;
  char* p = ts + sizeof ts;
  for (int i = 0; i < 6; ++i, usec /= 10)
    *--p = char('0' + usec % 10);
  *--p = '.';
  int digits = 0;
  do {
    *--p = char('0' + sec % 10);
    sec /= 10;
    ++digits;
  } while (sec);
  for (; digits < 5; ++digits)
    *--p = ' ';
  m_buf.append(p, std::size_t(ts + sizeof ts - p));
  m_buf.append(": ");
  m_buf.append(event);
  m_buf.append(": ");
  return true;
}

void FtraceWriter::end()
{
  m_buf.push_back('\n');
  std::fwrite(m_buf.data(), 1, m_buf.size(), m_out);
  ++m_lines;
}

void FtraceWriter::line(std::string_view event, const std::string& body,
                        bool ref_line)
{
  if (!begin(event, ref_line))
    return;
  m_buf += body;
  end();
}

void FtraceWriter::cookie(CookieTrace why, const CookieSnap& s)
{
  if (!begin("fscache_cookie", true))
    return;
  fmt::format_to(std::back_inserter(m_buf),
                 "{} c={:016x} u={} p={:016x} Nc={} Na={} f={:02x}",
                 cookie_trace_names[int(why)], s.c, s.usage, s.parent,
                 s.n_children, s.n_active, s.flags);
  end();
}

void FtraceWriter::netfs(std::uint64_t c, std::string_view name)
{
  line("fscache_netfs", fmt::format("c={} n={}", ptr(c), name), true);
}

void FtraceWriter::acquire(std::uint64_t c, const CookieSnap& p,
                           std::string_view name)
{
  line("fscache_acquire",
       fmt::format("c={} p={} pu={} pc={} pf={:02x} n={}", ptr(c), ptr(p.c),
                   p.usage, p.n_children, p.flags, name),
       true); // a cookie's birth (count 1) belongs in the journal
}

void FtraceWriter::relinquish(const CookieSnap& s, bool retire)
{
  line("fscache_relinquish",
       fmt::format("c={} u={} p={} Nc={} Na={} f={:02x} r={}", ptr(s.c),
                   s.usage, ptr(s.parent), s.n_children, s.n_active, s.flags,
                   retire ? 1 : 0),
       true);
}

void FtraceWriter::enable(const CookieSnap& s)
{
  line("fscache_enable", snap_body(s));
}

void FtraceWriter::disable(const CookieSnap& s)
{
  line("fscache_disable", snap_body(s));
}

void FtraceWriter::osm(std::uint64_t c, std::uint64_t o, ObjState s, bool wait,
                       bool oob, int event)
{
  if (!begin("fscache_osm"))
    return;
  fmt::format_to(std::back_inserter(m_buf), "c={:016x} o={:016x} {} {}{}ev={}",
                 c, o, state_name(s), wait ? "WAIT" : "WORK",
                 oob ? " OOB " : " ", event);
  end();
}

void FtraceWriter::page(std::uint64_t c, std::uint64_t index, PageTrace why)
{
  if (!begin("fscache_page"))
    return;
  fmt::format_to(std::back_inserter(m_buf), "c={:016x} {} pg={:x}", c,
                 page_trace_names[int(why)], index);
  end();
}

void FtraceWriter::wake_cookie(std::uint64_t c)
{
  line("fscache_wake_cookie", "c=" + ptr(c));
}

void FtraceWriter::op(std::uint64_t c, std::uint64_t o, OpTrace why)
{
  if (!begin("fscache_op"))
    return;
  fmt::format_to(std::back_inserter(m_buf), "c={:016x} op={:016x} {}", c, o,
                 op_trace_names[int(why)]);
  end();
}

void FtraceWriter::page_op(std::uint64_t c, std::uint64_t index,
                           std::uint64_t o, PageOpTrace what)
{
  line("fscache_page_op",
       fmt::format("c={} {} pg={:x} op={}", ptr(c),
                   page_op_trace_names[int(what)], index, ptr(o)));
}

void FtraceWriter::wrote_page(std::uint64_t c, std::uint64_t index,
                              std::uint64_t o, int ret)
{
  line("fscache_wrote_page",
       fmt::format("c={} pg={:x} op={} ret={}", ptr(c), index, ptr(o), ret));
}

void FtraceWriter::obj_ref(std::uint64_t c, std::uint64_t o, int usage,
                           ObjRefTrace why)
{
  if (!begin("cachefiles_ref", true))
    return;
  fmt::format_to(std::back_inserter(m_buf), "c={:016x} o={:016x} u={} {}", c, o,
                 usage, obj_ref_trace_names[int(why)]);
  end();
}

void FtraceWriter::cf_lookup(std::uint64_t o, std::uint64_t d, std::uint64_t i)
{
  line("cachefiles_lookup",
       fmt::format("o={} d={} i={}", ptr(o), ptr(d), ptr(i)));
}

void FtraceWriter::cf_mkdir(std::uint64_t o, std::uint64_t d, int r)
{
  // r=%u: a negative errno prints as a large unsigned number.
  line("cachefiles_mkdir",
       fmt::format("o={} d={} r={}", ptr(o), ptr(d), static_cast<unsigned>(r)));
}

void FtraceWriter::cf_create(std::uint64_t o, std::uint64_t d, int r)
{
  line("cachefiles_create",
       fmt::format("o={} d={} r={}", ptr(o), ptr(d), static_cast<unsigned>(r)));
}

void FtraceWriter::cf_unlink(std::uint64_t o, std::uint64_t d, KillReason w)
{
  line("cachefiles_unlink", fmt::format("o={} d={} w={}", ptr(o), ptr(d),
                                        kill_reason_names[int(w)]));
}

void FtraceWriter::cf_rename(std::uint64_t o, std::uint64_t d, std::uint64_t to,
                             KillReason w)
{
  line("cachefiles_rename", fmt::format("o={} d={} t={} w={}", ptr(o), ptr(d),
                                        ptr(to), kill_reason_names[int(w)]));
}

void FtraceWriter::cf_mark_active(std::uint64_t o, std::uint64_t d)
{
  line("cachefiles_mark_active", fmt::format("o={} d={}", ptr(o), ptr(d)));
}

void FtraceWriter::cf_wait_active(std::uint64_t o, std::uint64_t d,
                                  std::uint64_t xo, unsigned wf, unsigned wff)
{
  line("cachefiles_wait_active", fmt::format("o={} d={} wo={} wf={:x} wff={:x}",
                                             ptr(o), ptr(d), ptr(xo), wf, wff));
}

void FtraceWriter::cf_mark_inactive(std::uint64_t o, std::uint64_t d,
                                    std::uint64_t i)
{
  line("cachefiles_mark_inactive",
       fmt::format("o={} d={} i={}", ptr(o), ptr(d), ptr(i)));
}

void FtraceWriter::cf_mark_buried(std::uint64_t o, std::uint64_t d,
                                  KillReason w)
{
  line("cachefiles_mark_buried", fmt::format("o={} d={} w={}", ptr(o), ptr(d),
                                             kill_reason_names[int(w)]));
}

} // namespace fsc::trace
