// writer_v2.cpp - 6.1 engine events as 6.1 ftrace text lines.
#include <fsc/trace/writer_v2.hpp>

#include <fmt/format.h>

#include <charconv>
#include <utility>

namespace fsc::trace {

using namespace fsc::fscache::v2;

namespace {

struct TaskName {
  const char* comm;
  int pid;
  int cpu;
};

TaskName task_name(Task t)
{
  switch (t) {
  case Task::fscache_wq:
    return {"kworker/u4:0", 9, 1};
  case Task::system_wq:
    return {"kworker/0:1", 20, 0};
  default:
    return {"fsc-netfs", 100, 0};
  }
}

/// The text of one line's body, into a buffer kept by the writer (a new
/// string a line was most of the cost of tracing).
template <class... A>
const std::string& text(std::string& buf, fmt::format_string<A...> f,
                        A&&... a)
{
  buf.clear();
  fmt::format_to(std::back_inserter(buf), f, std::forward<A>(a)...);
  return buf;
}

std::string make_prefix(Task t)
{
  TaskName n = task_name(t);
  return fmt::format("{:>16}-{:<7} [{:03}] ..... ", n.comm, n.pid, n.cpu);
}

/// "    kworker/u4:0-9       [001] ..... " of a task, made once.
const std::string& prefix(Task t)
{
  static const std::string p[] = {make_prefix(Task::netfs),
                                  make_prefix(Task::fscache_wq),
                                  make_prefix(Task::system_wq)};
  return p[static_cast<std::size_t>(t)];
}

bool is_ref_event(std::string_view e)
{
  return e == "fscache_cache" || e == "fscache_volume" ||
         e == "fscache_cookie" || e == "fscache_acquire" ||
         e == "fscache_relinquish" || e == "cachefiles_ref";
}

} // namespace

FtraceWriterV2::FtraceWriterV2(std::FILE* out, bool refs_only)
    : m_out(out), m_refs_only(refs_only)
{
}

void FtraceWriterV2::header()
{
  std::fputs("# tracer: nop\n#\n# written by fsc: a userspace 6.1 FS-Cache "
             "engine, virtual clock\n#\n",
             m_out);
}

void FtraceWriterV2::clock(std::uint64_t ns)
{
  m_us = std::max(m_us, ns / 1000);
}

void FtraceWriterV2::line(std::string_view event, const std::string& body)
{
  ++m_us; // one virtual microsecond per event keeps lines ordered
  if (m_refs_only && !is_ref_event(event))
    return;
  m_buf.assign(prefix(m_task));
  // "{:5}.{:06}: " by hand.
  char ts[40];
  char* e = std::to_chars(ts, ts + 24, m_us / 1000000).ptr;
  for (std::ptrdiff_t pad = 5 - (e - ts); pad > 0; --pad)
    m_buf += ' ';
  m_buf.append(ts, e);
  std::uint64_t frac = m_us % 1000000;
  char six[8] = {'.', '0', '0', '0', '0', '0', '0', ':'};
  for (int i = 6; i >= 1; --i, frac /= 10)
    six[i] = char('0' + frac % 10);
  m_buf.append(six, 8);
  m_buf += ' ';
  m_buf.append(event);
  m_buf.append(": ");
  m_buf.append(body);
  m_buf += '\n';
  std::fwrite(m_buf.data(), 1, m_buf.size(), m_out);
  ++m_lines;
}

void FtraceWriterV2::cache(std::uint32_t C, int ref, CacheTrace why)
{
  line("fscache_cache",
       text(m_body, "C={:08x} {} r={}", C, name_of(k_cache_trace, why), ref));
}

void FtraceWriterV2::volume(std::uint32_t V, int ref, VolumeTrace why)
{
  line("fscache_volume",
       text(m_body, "V={:08x} {} u={}", V, name_of(k_volume_trace, why), ref));
}

void FtraceWriterV2::cookie(std::uint32_t c, int ref, CookieTrace why)
{
  line("fscache_cookie",
       text(m_body, "c={:08x} {} r={}", c, name_of(k_cookie_trace, why), ref));
}

void FtraceWriterV2::active(std::uint32_t c, int ref, int n_active,
                            int n_accesses, ActiveTrace why)
{
  line("fscache_active",
       text(m_body, "c={:08x} {} r={} a={} c={}", c,
                   name_of(k_active_trace, why), ref, n_accesses, n_active));
}

void FtraceWriterV2::access_cache(std::uint32_t C, int ref, int n_accesses,
                                  AccessTrace why)
{
  line("fscache_access_cache",
       text(m_body, "C={:08x} {} r={} a={}", C, name_of(k_access_trace, why),
                   ref, n_accesses));
}

void FtraceWriterV2::access_volume(std::uint32_t V, std::uint32_t c, int ref,
                                   int n_accesses, AccessTrace why)
{
  line("fscache_access_volume",
       text(m_body, "V={:08x} c={:08x} {} r={} a={}", V, c,
                   name_of(k_access_trace, why), ref, n_accesses));
}

void FtraceWriterV2::access(std::uint32_t c, int ref, int n_accesses,
                            AccessTrace why)
{
  line("fscache_access",
       text(m_body, "c={:08x} {} r={} a={}", c, name_of(k_access_trace, why),
                   ref, n_accesses));
}

void FtraceWriterV2::acquire(std::uint32_t c, std::uint32_t V, int v_ref,
                             int v_n_cookies)
{
  line("fscache_acquire",
       text(m_body, "c={:08x} V={:08x} vr={} vc={}", c, V, v_ref, v_n_cookies));
}

void FtraceWriterV2::relinquish(std::uint32_t c, std::uint32_t V, int ref,
                                int n_active, std::uint8_t flags, bool retire)
{
  line("fscache_relinquish",
       text(m_body, "c={:08x} V={:08x} r={} U={} f={:02x} rt={}", c, V, ref,
                   n_active, flags, retire ? 1 : 0));
}

void FtraceWriterV2::invalidate(std::uint32_t c, std::uint64_t new_size)
{
  line("fscache_invalidate", text(m_body, "c={:08x} sz={:x}", c, new_size));
}

void FtraceWriterV2::resize(std::uint32_t c, std::uint64_t old_size,
                            std::uint64_t new_size)
{
  line("fscache_resize",
       text(m_body, "c={:08x} os={:08x} sz={:08x}", c, old_size, new_size));
}

void FtraceWriterV2::obj_ref(std::uint32_t c, std::uint32_t o, int usage,
                             ObjRefTrace why)
{
  line("cachefiles_ref", text(m_body, "c={:08x} o={:08x} u={} {}", c, o, usage,
                                     name_of(k_obj_ref_trace, why)));
}

void FtraceWriterV2::cf_lookup(std::uint32_t o, std::uint64_t dir,
                               std::uint64_t ino, int error)
{
  line("cachefiles_lookup",
       text(m_body, "o={:08x} dB={:x} B={:x} e={}", o, dir, ino, error));
}

void FtraceWriterV2::cf_mkdir(std::uint64_t dir, std::uint64_t subdir)
{
  line("cachefiles_mkdir", text(m_body, "dB={:x} sB={:x}", dir, subdir));
}

void FtraceWriterV2::cf_tmpfile(std::uint32_t o, std::uint64_t ino)
{
  line("cachefiles_tmpfile", text(m_body, "o={:08x} B={:x}", o, ino));
}

void FtraceWriterV2::cf_link(std::uint32_t o, std::uint64_t ino)
{
  line("cachefiles_link", text(m_body, "o={:08x} B={:x}", o, ino));
}

void FtraceWriterV2::cf_unlink(std::uint32_t o, std::uint64_t ino,
                               KillTrace why)
{
  line("cachefiles_unlink",
       text(m_body, "o={:08x} B={:x} w={}", o, ino, name_of(k_kill_trace, why)));
}

void FtraceWriterV2::cf_rename(std::uint32_t o, std::uint64_t ino,
                               KillTrace why)
{
  line("cachefiles_rename",
       text(m_body, "o={:08x} B={:x} w={}", o, ino, name_of(k_kill_trace, why)));
}

void FtraceWriterV2::cf_coherency(std::uint32_t o, std::uint64_t ino,
                                  CoherencyTrace why, unsigned content)
{
  line("cachefiles_coherency",
       text(m_body, "o={:08x} {} B={:x} c={}", o,
                   name_of(k_coherency_trace, why), ino, content));
}

void FtraceWriterV2::cf_vol_coherency(std::uint32_t V, std::uint64_t ino,
                                      CoherencyTrace why)
{
  line("cachefiles_vol_coherency",
       text(m_body, "V={:08x} {} B={:x}", V, name_of(k_coherency_trace, why),
                   ino));
}

void FtraceWriterV2::cf_read(std::uint32_t o, std::uint64_t ino,
                             std::uint64_t pos, std::uint64_t len)
{
  line("cachefiles_read",
       text(m_body, "o={:08x} B={:x} s={:x} l={:x}", o, ino, pos, len));
}

void FtraceWriterV2::cf_write(std::uint32_t o, std::uint64_t ino,
                              std::uint64_t pos, std::uint64_t len)
{
  line("cachefiles_write",
       text(m_body, "o={:08x} B={:x} s={:x} l={:x}", o, ino, pos, len));
}

void FtraceWriterV2::cf_trunc(std::uint32_t o, std::uint64_t ino,
                              TruncTrace why, std::uint64_t from,
                              std::uint64_t to)
{
  line("cachefiles_trunc",
       text(m_body, "o={:08x} B={:x} {} l={:x}->{:x}", o, ino,
                   name_of(k_trunc_trace, why), from, to));
}

void FtraceWriterV2::cf_mark_active(std::uint32_t o, std::uint64_t ino)
{
  line("cachefiles_mark_active", text(m_body, "o={:08x} B={:x}", o, ino));
}

void FtraceWriterV2::cf_mark_failed(std::uint32_t o, std::uint64_t ino)
{
  line("cachefiles_mark_failed", text(m_body, "o={:08x} B={:x}", o, ino));
}

void FtraceWriterV2::cf_mark_inactive(std::uint32_t o, std::uint64_t ino)
{
  line("cachefiles_mark_inactive", text(m_body, "o={:08x} B={:x}", o, ino));
}

} // namespace fsc::trace
