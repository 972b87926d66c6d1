// writer.hpp - writes engine events as a 4.19 kernel writes them to
// /sys/kernel/tracing/trace: the same context prefix, event names and
// TP_printk formats (spec v1-tracepoints §1-§2), with raw 64-bit pointers
// as 5.10 printed them and a virtual clock, so `fsc refs` and any tool
// that reads kernel traces read a replay the same way.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fsc/fscache/observer.hpp>

namespace fsc::trace {

class FtraceWriter : public fscache::Observer {
public:
  /// refs_only: the refcount journal: fscache_cookie and cachefiles_ref
  /// lines, and the netfs/acquire/relinquish lines that begin and end a
  /// cookie's count. Lines go to out (not owned).
  explicit FtraceWriter(std::FILE* out, bool refs_only = false);

  void header();
  std::uint64_t lines() const { return m_lines; }
  /// Virtual time now, microseconds since the start.
  std::uint64_t now_us() const { return m_us; }

  void context(fscache::Task t) override { m_task = t; }
  void cookie(fscache::CookieTrace, const fscache::CookieSnap&) override;
  void netfs(std::uint64_t c, std::string_view name) override;
  void acquire(std::uint64_t c, const fscache::CookieSnap& parent,
               std::string_view name) override;
  void relinquish(const fscache::CookieSnap&, bool retire) override;
  void enable(const fscache::CookieSnap&) override;
  void disable(const fscache::CookieSnap&) override;
  void osm(std::uint64_t c, std::uint64_t o, fscache::ObjState, bool wait,
           bool oob, int event) override;
  void page(std::uint64_t c, std::uint64_t index, fscache::PageTrace) override;
  void wake_cookie(std::uint64_t c) override;
  void op(std::uint64_t c, std::uint64_t op, fscache::OpTrace) override;
  void page_op(std::uint64_t c, std::uint64_t index, std::uint64_t op,
               fscache::PageOpTrace) override;
  void wrote_page(std::uint64_t c, std::uint64_t index, std::uint64_t op,
                  int ret) override;
  void obj_ref(std::uint64_t c, std::uint64_t o, int usage,
               fscache::ObjRefTrace) override;
  void cf_lookup(std::uint64_t o, std::uint64_t d, std::uint64_t i) override;
  void cf_mkdir(std::uint64_t o, std::uint64_t d, int r) override;
  void cf_create(std::uint64_t o, std::uint64_t d, int r) override;
  void cf_unlink(std::uint64_t o, std::uint64_t d,
                 fscache::KillReason) override;
  void cf_rename(std::uint64_t o, std::uint64_t d, std::uint64_t to,
                 fscache::KillReason) override;
  void cf_mark_active(std::uint64_t o, std::uint64_t d) override;
  void cf_wait_active(std::uint64_t o, std::uint64_t d, std::uint64_t xo,
                      unsigned wf, unsigned wff) override;
  void cf_mark_inactive(std::uint64_t o, std::uint64_t d,
                        std::uint64_t i) override;
  void cf_mark_buried(std::uint64_t o, std::uint64_t d,
                      fscache::KillReason) override;

private:
  void line(std::string_view event, const std::string& body,
            bool ref_line = false);
  /// Starts a line in m_buf (context prefix and event name); false when the
  /// event is filtered out (the virtual clock still ticks).
  bool begin(std::string_view event, bool ref_line = false);
  void end();

  std::FILE* m_out;
  bool m_refs_only;
  fscache::Task m_task = fscache::Task::netfs;
  std::uint64_t m_us = 10'000'000;
  std::uint64_t m_lines = 0;
  std::string m_buf;
  std::string m_prefix[3]; ///< "comm-pid [000] .... " per Task
};

/// A fan-out to several observers (trace file, journal, counters).
class Tee : public fscache::Observer {
public:
  void add(fscache::Observer& o) { m_all.push_back(&o); }
#define FSC_TEE(name, params, args)                                            \
  void name params override                                                    \
  {                                                                            \
    for (auto* sink_ : m_all)                                                  \
      sink_->name args;                                                        \
  }
  FSC_TEE(context, (fscache::Task t), (t))
  FSC_TEE(cookie, (fscache::CookieTrace w, const fscache::CookieSnap& s),
          (w, s))
  FSC_TEE(netfs, (std::uint64_t c, std::string_view n), (c, n))
  FSC_TEE(acquire,
          (std::uint64_t c, const fscache::CookieSnap& p, std::string_view n),
          (c, p, n))
  FSC_TEE(relinquish, (const fscache::CookieSnap& s, bool r), (s, r))
  FSC_TEE(enable, (const fscache::CookieSnap& s), (s))
  FSC_TEE(disable, (const fscache::CookieSnap& s), (s))
  FSC_TEE(osm,
          (std::uint64_t c, std::uint64_t o, fscache::ObjState s, bool w,
           bool b, int e),
          (c, o, s, w, b, e))
  FSC_TEE(page, (std::uint64_t c, std::uint64_t i, fscache::PageTrace t),
          (c, i, t))
  FSC_TEE(wake_cookie, (std::uint64_t c), (c))
  FSC_TEE(op, (std::uint64_t c, std::uint64_t p, fscache::OpTrace t), (c, p, t))
  FSC_TEE(page_op,
          (std::uint64_t c, std::uint64_t i, std::uint64_t p,
           fscache::PageOpTrace t),
          (c, i, p, t))
  FSC_TEE(wrote_page,
          (std::uint64_t c, std::uint64_t i, std::uint64_t p, int r),
          (c, i, p, r))
  FSC_TEE(obj_ref,
          (std::uint64_t c, std::uint64_t o, int u, fscache::ObjRefTrace t),
          (c, o, u, t))
  FSC_TEE(cf_lookup, (std::uint64_t o, std::uint64_t d, std::uint64_t i),
          (o, d, i))
  FSC_TEE(cf_mkdir, (std::uint64_t o, std::uint64_t d, int r), (o, d, r))
  FSC_TEE(cf_create, (std::uint64_t o, std::uint64_t d, int r), (o, d, r))
  FSC_TEE(cf_unlink, (std::uint64_t o, std::uint64_t d, fscache::KillReason w),
          (o, d, w))
  FSC_TEE(cf_rename,
          (std::uint64_t o, std::uint64_t d, std::uint64_t t,
           fscache::KillReason w),
          (o, d, t, w))
  FSC_TEE(cf_mark_active, (std::uint64_t o, std::uint64_t d), (o, d))
  FSC_TEE(cf_wait_active,
          (std::uint64_t o, std::uint64_t d, std::uint64_t x, unsigned f,
           unsigned ff),
          (o, d, x, f, ff))
  FSC_TEE(cf_mark_inactive, (std::uint64_t o, std::uint64_t d, std::uint64_t i),
          (o, d, i))
  FSC_TEE(cf_mark_buried,
          (std::uint64_t o, std::uint64_t d, fscache::KillReason w), (o, d, w))
  FSC_TEE(printk, (std::string_view s), (s))
  FSC_TEE(finding, (std::string_view s), (s))
  FSC_TEE(warning, (std::string_view s), (s))
#undef FSC_TEE

private:
  std::vector<fscache::Observer*> m_all;
};

} // namespace fsc::trace
