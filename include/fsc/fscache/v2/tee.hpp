// tee.hpp - one 6.1 engine observer that passes every event to several
// (the trace, the refcount journal and the report of one replay).
#pragma once

#include <vector>

#include <fsc/fscache/v2/observer.hpp>

namespace fsc::fscache::v2 {

class TeeObserver final : public Observer {
public:
  /// o is not owned and must outlive the tee.
  void add(Observer& o) { m_to.push_back(&o); }

  void context(Task t) override
  {
    for (Observer* sink : m_to)
      sink->context(t);
  }
  void clock(std::uint64_t ns) override
  {
    for (Observer* sink : m_to)
      sink->clock(ns);
  }
  void state(std::uint32_t c, CookieState from, CookieState to) override
  {
    for (Observer* sink : m_to)
      sink->state(c, from, to);
  }
  void cache(std::uint32_t C, int ref, CacheTrace why) override
  {
    for (Observer* sink : m_to)
      sink->cache(C, ref, why);
  }
  void volume(std::uint32_t V, int ref, VolumeTrace why) override
  {
    for (Observer* sink : m_to)
      sink->volume(V, ref, why);
  }
  void cookie(std::uint32_t c, int ref, CookieTrace why) override
  {
    for (Observer* sink : m_to)
      sink->cookie(c, ref, why);
  }
  void active(std::uint32_t c, int ref, int n_active, int n_accesses,
              ActiveTrace why) override
  {
    for (Observer* sink : m_to)
      sink->active(c, ref, n_active, n_accesses, why);
  }
  void access_cache(std::uint32_t C, int ref, int n_accesses,
                    AccessTrace why) override
  {
    for (Observer* sink : m_to)
      sink->access_cache(C, ref, n_accesses, why);
  }
  void access_volume(std::uint32_t V, std::uint32_t c, int ref, int n_accesses,
                     AccessTrace why) override
  {
    for (Observer* sink : m_to)
      sink->access_volume(V, c, ref, n_accesses, why);
  }
  void access(std::uint32_t c, int ref, int n_accesses,
              AccessTrace why) override
  {
    for (Observer* sink : m_to)
      sink->access(c, ref, n_accesses, why);
  }
  void acquire(std::uint32_t c, std::uint32_t V, int v_ref,
               int v_n_cookies) override
  {
    for (Observer* sink : m_to)
      sink->acquire(c, V, v_ref, v_n_cookies);
  }
  void relinquish(std::uint32_t c, std::uint32_t V, int ref, int n_active,
                  std::uint8_t flags, bool retire) override
  {
    for (Observer* sink : m_to)
      sink->relinquish(c, V, ref, n_active, flags, retire);
  }
  void invalidate(std::uint32_t c, std::uint64_t new_size) override
  {
    for (Observer* sink : m_to)
      sink->invalidate(c, new_size);
  }
  void resize(std::uint32_t c, std::uint64_t old_size,
              std::uint64_t new_size) override
  {
    for (Observer* sink : m_to)
      sink->resize(c, old_size, new_size);
  }
  void obj_ref(std::uint32_t c, std::uint32_t o, int usage,
               ObjRefTrace why) override
  {
    for (Observer* sink : m_to)
      sink->obj_ref(c, o, usage, why);
  }
  void cf_lookup(std::uint32_t o, std::uint64_t dir, std::uint64_t ino,
                 int error) override
  {
    for (Observer* sink : m_to)
      sink->cf_lookup(o, dir, ino, error);
  }
  void cf_mkdir(std::uint64_t dir, std::uint64_t subdir) override
  {
    for (Observer* sink : m_to)
      sink->cf_mkdir(dir, subdir);
  }
  void cf_tmpfile(std::uint32_t o, std::uint64_t ino) override
  {
    for (Observer* sink : m_to)
      sink->cf_tmpfile(o, ino);
  }
  void cf_link(std::uint32_t o, std::uint64_t ino) override
  {
    for (Observer* sink : m_to)
      sink->cf_link(o, ino);
  }
  void cf_unlink(std::uint32_t o, std::uint64_t ino, KillTrace why) override
  {
    for (Observer* sink : m_to)
      sink->cf_unlink(o, ino, why);
  }
  void cf_rename(std::uint32_t o, std::uint64_t ino, KillTrace why) override
  {
    for (Observer* sink : m_to)
      sink->cf_rename(o, ino, why);
  }
  void cf_coherency(std::uint32_t o, std::uint64_t ino, CoherencyTrace why,
                    unsigned content) override
  {
    for (Observer* sink : m_to)
      sink->cf_coherency(o, ino, why, content);
  }
  void cf_vol_coherency(std::uint32_t V, std::uint64_t ino,
                        CoherencyTrace why) override
  {
    for (Observer* sink : m_to)
      sink->cf_vol_coherency(V, ino, why);
  }
  void cf_read(std::uint32_t o, std::uint64_t ino, std::uint64_t pos,
               std::uint64_t len) override
  {
    for (Observer* sink : m_to)
      sink->cf_read(o, ino, pos, len);
  }
  void cf_write(std::uint32_t o, std::uint64_t ino, std::uint64_t pos,
                std::uint64_t len) override
  {
    for (Observer* sink : m_to)
      sink->cf_write(o, ino, pos, len);
  }
  void cf_trunc(std::uint32_t o, std::uint64_t ino, TruncTrace why,
                std::uint64_t from, std::uint64_t to) override
  {
    for (Observer* sink : m_to)
      sink->cf_trunc(o, ino, why, from, to);
  }
  void cf_mark_active(std::uint32_t o, std::uint64_t ino) override
  {
    for (Observer* sink : m_to)
      sink->cf_mark_active(o, ino);
  }
  void cf_mark_failed(std::uint32_t o, std::uint64_t ino) override
  {
    for (Observer* sink : m_to)
      sink->cf_mark_failed(o, ino);
  }
  void cf_mark_inactive(std::uint32_t o, std::uint64_t ino) override
  {
    for (Observer* sink : m_to)
      sink->cf_mark_inactive(o, ino);
  }
  void printk(std::string_view s) override
  {
    for (Observer* sink : m_to)
      sink->printk(s);
  }
  void finding(std::string_view s) override
  {
    for (Observer* sink : m_to)
      sink->finding(s);
  }

private:
  std::vector<Observer*> m_to;
};

} // namespace fsc::fscache::v2
