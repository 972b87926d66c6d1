// observer.hpp - every traced moment of the 6.1 engine and its backend, one
// method per 6.1 tracepoint with the values TP_printk prints (debug ids,
// counts already taken before or after the change as 6.1 takes them), so a
// writer prints lines a 6.1 kernel would print (docs/engine-v2.md §1.3).
#pragma once

#include <cstdint>
#include <string_view>

#include <fsc/fscache/v2/types.hpp>

namespace fsc::fscache::v2 {

/// Who is running: the netfs caller, the unbound fscache workqueue (cookie
/// work items, the LRU worker) or system_wq (volume creation).
enum class Task : std::uint8_t { netfs, fscache_wq, system_wq };

class Observer {
public:
  virtual ~Observer() = default;

  virtual void context(Task) {}
  /// The virtual clock moved to `ns` (nanoseconds since the start).
  virtual void clock(std::uint64_t /*ns*/) {}

  /// A cookie changed state (no tracepoint: for checkers and tests).
  virtual void state(std::uint32_t /*c*/, CookieState /*from*/,
                     CookieState /*to*/)
  {
  }

  // include/trace/events/fscache.h (6.1)
  virtual void cache(std::uint32_t /*C*/, int /*ref*/, CacheTrace) {}
  virtual void volume(std::uint32_t /*V*/, int /*ref*/, VolumeTrace) {}
  virtual void cookie(std::uint32_t /*c*/, int /*ref*/, CookieTrace) {}
  virtual void active(std::uint32_t /*c*/, int /*ref*/, int /*n_active*/,
                      int /*n_accesses*/, ActiveTrace)
  {
  }
  virtual void access_cache(std::uint32_t /*C*/, int /*ref*/,
                            int /*n_accesses*/, AccessTrace)
  {
  }
  virtual void access_volume(std::uint32_t /*V*/, std::uint32_t /*c*/,
                             int /*ref*/, int /*n_accesses*/, AccessTrace)
  {
  }
  virtual void access(std::uint32_t /*c*/, int /*ref*/, int /*n_accesses*/,
                      AccessTrace)
  {
  }
  virtual void acquire(std::uint32_t /*c*/, std::uint32_t /*V*/, int /*v_ref*/,
                       int /*v_n_cookies*/)
  {
  }
  virtual void relinquish(std::uint32_t /*c*/, std::uint32_t /*V*/, int /*ref*/,
                          int /*n_active*/, std::uint8_t /*flags*/,
                          bool /*retire*/)
  {
  }
  virtual void invalidate(std::uint32_t /*c*/, std::uint64_t /*new_size*/) {}
  virtual void resize(std::uint32_t /*c*/, std::uint64_t /*old_size*/,
                      std::uint64_t /*new_size*/)
  {
  }

  // include/trace/events/cachefiles.h (6.1)
  virtual void obj_ref(std::uint32_t /*c*/, std::uint32_t /*o*/, int /*usage*/,
                       ObjRefTrace)
  {
  }
  virtual void cf_lookup(std::uint32_t /*o*/, std::uint64_t /*dir*/,
                         std::uint64_t /*ino*/, int /*error*/)
  {
  }
  virtual void cf_mkdir(std::uint64_t /*dir*/, std::uint64_t /*subdir*/) {}
  virtual void cf_tmpfile(std::uint32_t /*o*/, std::uint64_t /*ino*/) {}
  virtual void cf_link(std::uint32_t /*o*/, std::uint64_t /*ino*/) {}
  virtual void cf_unlink(std::uint32_t /*o*/, std::uint64_t /*ino*/, KillTrace)
  {
  }
  virtual void cf_rename(std::uint32_t /*o*/, std::uint64_t /*ino*/, KillTrace)
  {
  }
  virtual void cf_coherency(std::uint32_t /*o*/, std::uint64_t /*ino*/,
                            CoherencyTrace, unsigned /*content*/)
  {
  }
  virtual void cf_vol_coherency(std::uint32_t /*V*/, std::uint64_t /*ino*/,
                                CoherencyTrace)
  {
  }
  virtual void cf_read(std::uint32_t /*o*/, std::uint64_t /*ino*/,
                       std::uint64_t /*pos*/, std::uint64_t /*len*/)
  {
  }
  virtual void cf_write(std::uint32_t /*o*/, std::uint64_t /*ino*/,
                        std::uint64_t /*pos*/, std::uint64_t /*len*/)
  {
  }
  virtual void cf_trunc(std::uint32_t /*o*/, std::uint64_t /*ino*/, TruncTrace,
                        std::uint64_t /*from*/, std::uint64_t /*to*/)
  {
  }
  /// o = 0 for directories.
  virtual void cf_mark_active(std::uint32_t /*o*/, std::uint64_t /*ino*/) {}
  virtual void cf_mark_failed(std::uint32_t /*o*/, std::uint64_t /*ino*/) {}
  virtual void cf_mark_inactive(std::uint32_t /*o*/, std::uint64_t /*ino*/) {}

  /// A printk 6.1 would log ("Duplicate cookie detected", a WARN).
  virtual void printk(std::string_view) {}
  /// Something 6.1 would crash or hang on; the engine reports it.
  virtual void finding(std::string_view) {}
};

} // namespace fsc::fscache::v2
