// writer_v2.hpp - writes the 6.1 engine's events as a 6.1 kernel writes
// them to /sys/kernel/tracing/trace: the context prefix, the event names
// and the TP_printk formats of include/trace/events/{fscache,cachefiles}.h
// (docs/engine-v2.md §1.3), timestamps from the engine's virtual clock.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <fsc/fscache/v2/observer.hpp>

namespace fsc::trace {

class FtraceWriterV2 : public fscache::v2::Observer {
public:
  /// Lines go to out (not owned). refs_only: the refcount journal, the
  /// events `fsc refs` follows counts by (fscache_cache, _volume, _cookie,
  /// _acquire, _relinquish, cachefiles_ref), as FtraceWriter's.
  explicit FtraceWriterV2(std::FILE* out, bool refs_only = false);

  void header();
  std::uint64_t lines() const { return m_lines; }

  void context(fscache::v2::Task t) override { m_task = t; }
  void clock(std::uint64_t ns) override;
  void cache(std::uint32_t C, int ref, fscache::v2::CacheTrace) override;
  void volume(std::uint32_t V, int ref, fscache::v2::VolumeTrace) override;
  void cookie(std::uint32_t c, int ref, fscache::v2::CookieTrace) override;
  void active(std::uint32_t c, int ref, int n_active, int n_accesses,
              fscache::v2::ActiveTrace) override;
  void access_cache(std::uint32_t C, int ref, int n_accesses,
                    fscache::v2::AccessTrace) override;
  void access_volume(std::uint32_t V, std::uint32_t c, int ref, int n_accesses,
                     fscache::v2::AccessTrace) override;
  void access(std::uint32_t c, int ref, int n_accesses,
              fscache::v2::AccessTrace) override;
  void acquire(std::uint32_t c, std::uint32_t V, int v_ref,
               int v_n_cookies) override;
  void relinquish(std::uint32_t c, std::uint32_t V, int ref, int n_active,
                  std::uint8_t flags, bool retire) override;
  void invalidate(std::uint32_t c, std::uint64_t new_size) override;
  void resize(std::uint32_t c, std::uint64_t old_size,
              std::uint64_t new_size) override;
  void obj_ref(std::uint32_t c, std::uint32_t o, int usage,
               fscache::v2::ObjRefTrace) override;
  void cf_lookup(std::uint32_t o, std::uint64_t dir, std::uint64_t ino,
                 int error) override;
  void cf_mkdir(std::uint64_t dir, std::uint64_t subdir) override;
  void cf_tmpfile(std::uint32_t o, std::uint64_t ino) override;
  void cf_link(std::uint32_t o, std::uint64_t ino) override;
  void cf_unlink(std::uint32_t o, std::uint64_t ino,
                 fscache::v2::KillTrace) override;
  void cf_rename(std::uint32_t o, std::uint64_t ino,
                 fscache::v2::KillTrace) override;
  void cf_coherency(std::uint32_t o, std::uint64_t ino,
                    fscache::v2::CoherencyTrace, unsigned content) override;
  void cf_vol_coherency(std::uint32_t V, std::uint64_t ino,
                        fscache::v2::CoherencyTrace) override;
  void cf_read(std::uint32_t o, std::uint64_t ino, std::uint64_t pos,
               std::uint64_t len) override;
  void cf_write(std::uint32_t o, std::uint64_t ino, std::uint64_t pos,
                std::uint64_t len) override;
  void cf_trunc(std::uint32_t o, std::uint64_t ino, fscache::v2::TruncTrace,
                std::uint64_t from, std::uint64_t to) override;
  void cf_mark_active(std::uint32_t o, std::uint64_t ino) override;
  void cf_mark_failed(std::uint32_t o, std::uint64_t ino) override;
  void cf_mark_inactive(std::uint32_t o, std::uint64_t ino) override;

protected:
  /// Writes one event line; a subclass may take the text instead (the
  /// trace replay compares it with the kernel's, rebuild_v2.cpp).
  virtual void line(std::string_view event, const std::string& body);

private:
  std::FILE* m_out;
  bool m_refs_only = false;
  fscache::v2::Task m_task = fscache::v2::Task::netfs;
  std::uint64_t m_us = 0;
  std::uint64_t m_lines = 0;
  std::string m_buf;
  std::string m_body; ///< the body of the line being made
};

} // namespace fsc::trace
