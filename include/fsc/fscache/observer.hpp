// observer.hpp - every traced moment of the engine, one method per 4.19
// tracepoint, with kernel-like pointer values (0 = NULL) so that a writer can
// print lines a 4.19 kernel would print and a reader cannot tell them apart.
#pragma once

#include <cstdint>
#include <string_view>

#include <fsc/fscache/types.hpp>

namespace fsc::fscache {

/// What fscache_cookie and friends record about a cookie.
struct CookieSnap {
  std::uint64_t c = 0, parent = 0;
  int usage = 0, n_children = 0, n_active = 0;
  std::uint8_t flags = 0; ///< low byte of cookie->flags, as traced
};

/// Who is running: the netfs caller or one of the workqueues.
enum class Task : std::uint8_t { netfs, object_wq, op_wq };

class Observer {
public:
  virtual ~Observer() = default;

  virtual void context(Task) {}

  // include/trace/events/fscache.h (4.19)
  virtual void cookie(CookieTrace, const CookieSnap&) {}
  virtual void netfs(std::uint64_t /*c*/, std::string_view /*name*/) {}
  virtual void acquire(std::uint64_t /*c*/, const CookieSnap& /*parent*/,
                       std::string_view /*def name*/)
  {
  }
  virtual void relinquish(const CookieSnap&, bool /*retire*/) {}
  virtual void enable(const CookieSnap&) {}
  virtual void disable(const CookieSnap&) {}
  virtual void osm(std::uint64_t /*c*/, std::uint64_t /*o*/, ObjState,
                   bool /*wait*/, bool /*oob*/, int /*event*/)
  {
  }
  virtual void page(std::uint64_t /*c*/, std::uint64_t /*index*/, PageTrace) {}
  virtual void wake_cookie(std::uint64_t /*c*/) {}
  virtual void op(std::uint64_t /*c*/, std::uint64_t /*op*/, OpTrace) {}
  virtual void page_op(std::uint64_t /*c*/, std::uint64_t /*index*/,
                       std::uint64_t /*op*/, PageOpTrace)
  {
  }
  virtual void wrote_page(std::uint64_t /*c*/, std::uint64_t /*index*/,
                          std::uint64_t /*op*/, int /*ret*/)
  {
  }

  // include/trace/events/cachefiles.h (4.19)
  virtual void obj_ref(std::uint64_t /*c*/, std::uint64_t /*o*/, int /*usage*/,
                       ObjRefTrace)
  {
  }
  virtual void cf_lookup(std::uint64_t /*o*/, std::uint64_t /*d*/,
                         std::uint64_t /*inode*/)
  {
  }
  virtual void cf_mkdir(std::uint64_t /*o*/, std::uint64_t /*d*/, int /*r*/) {}
  virtual void cf_create(std::uint64_t /*o*/, std::uint64_t /*d*/, int /*r*/) {}
  virtual void cf_unlink(std::uint64_t /*o*/, std::uint64_t /*d*/, KillReason)
  {
  }
  virtual void cf_rename(std::uint64_t /*o*/, std::uint64_t /*d*/,
                         std::uint64_t /*to*/, KillReason)
  {
  }
  virtual void cf_mark_active(std::uint64_t /*o*/, std::uint64_t /*d*/) {}
  virtual void cf_wait_active(std::uint64_t /*o*/, std::uint64_t /*d*/,
                              std::uint64_t /*xo*/, unsigned /*wf*/,
                              unsigned /*wff*/)
  {
  }
  virtual void cf_mark_inactive(std::uint64_t /*o*/, std::uint64_t /*d*/,
                                std::uint64_t /*inode*/)
  {
  }
  virtual void cf_mark_buried(std::uint64_t /*o*/, std::uint64_t /*d*/,
                              KillReason)
  {
  }

  /// A printk the kernel would log ("Duplicate cookie detected", ...).
  virtual void printk(std::string_view) {}
  /// "4.19 would crash here: ..." (BUG, oops) or "... would hang here":
  /// the engine stops after reporting one.
  virtual void finding(std::string_view) {}
  /// A 4.19 misbehaviour that does not stop the kernel (a leaked ref).
  virtual void warning(std::string_view) {}
};

} // namespace fsc::fscache
