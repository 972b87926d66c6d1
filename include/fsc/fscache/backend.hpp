// backend.hpp - the storage side of the engine, after 4.19's struct
// fscache_cache_ops: the engine never touches paths or files, a backend does
// (CacheFiles on a directory: fsc/cachefiles/backend.hpp). Results are
// kernel-style: 0 or -errno.
#pragma once

#include <cstdint>

#include <fsc/bytes.hpp>
#include <fsc/fscache/observer.hpp>
#include <fsc/fscache/types.hpp>

namespace fsc::fscache {

/// What the engine does for a backend in the middle of a backend call: the
/// fscache_* helpers CacheFiles calls back into (object.c, cookie.c).
class BackendHost {
public:
  virtual ~BackendHost() = default;
  virtual Observer& observer() = 0;
  virtual std::uint64_t object_addr(ObjectId) = 0;
  /// fscache_object_lookup_negative.
  virtual void lookup_negative(ObjectId) = 0;
  /// fscache_obtained_object.
  virtual void obtained_object(ObjectId) = 0;
  /// fscache_check_aux: the cookie's check_aux verdict on stored aux.
  virtual CheckAux check_aux(ObjectId, ByteView stored_aux,
                             std::uint64_t object_size) = 0;
  /// fscache_object_retrying_stale (counts CacheEv nsp: a 4.19 quirk).
  virtual void retrying_stale(ObjectId) = 0;
  /// fscache_object_mark_killed: the backend buried the entry of `obj`.
  virtual void mark_killed(ObjectId, KillReason) = 0;
  /// Sets EV_ERROR without queueing (cachefiles_lookup_object's error path).
  virtual void set_error_event(ObjectId) = 0;
  /// State of another object, for the active-tree collision (wait_active).
  virtual bool object_live(ObjectId) = 0;
  virtual unsigned object_flags(ObjectId) = 0;
  virtual bool object_work_pending(ObjectId) = 0;
  /// The untraced get and the traced put wait_active does on the old object.
  virtual void get_object_untraced(ObjectId) = 0;
  virtual void put_object(ObjectId, ObjRefTrace) = 0;
  /// Whether the CacheFiles collision fix is in (Fixes::collision_tests_old).
  virtual bool fix_collision_tests_old() = 0;
  /// A BUG() on the backend side: the engine reports it and stops.
  virtual void crash(std::string_view what) = 0;
  /// fscache_io_error: latches the cache I/O error.
  virtual void io_error(std::string_view why) = 0;
};

class Backend {
public:
  virtual ~Backend() = default;

  virtual void set_host(BackendHost&) = 0;

  /// cachefiles_alloc_object: cooks the key and builds the xattr now.
  virtual int alloc_object(ObjectId, CookieType, ByteView key,
                           ByteView aux) = 0;
  /// cachefiles_lookup_object, walking from the parent object's directory
  /// (no_parent = the cache's root object, cache/). Reports negative/positive
  /// through the host. -ETIMEDOUT asks the engine to retry later.
  virtual int lookup_object(ObjectId, ObjectId parent,
                            std::uint64_t store_limit) = 0;
  virtual void lookup_complete(ObjectId) = 0;
  virtual void update_object(ObjectId, CookieType, ByteView aux) = 0;
  /// check_consistency: 0, or -ESTALE when the stored aux no longer passes.
  virtual int check_consistency(ObjectId) = 0;
  virtual int attr_changed(ObjectId, std::uint64_t new_size) = 0;
  virtual int invalidate_object(ObjectId, std::uint64_t new_size) = 0;
  /// Bury if retired (and not already killed by the cache), mark inactive.
  virtual void drop_object(ObjectId, bool retired, bool killed_by_cache) = 0;
  /// The last ref is gone: forget the object.
  virtual void put_object(ObjectId) = 0;
  /// 0 and the page's bytes, -ENODATA for a hole with space to fill it,
  /// -ENOBUFS when there is no space or no backing file.
  virtual int read_or_alloc_page(ObjectId, std::uint64_t index, Bytes* out) = 0;
  virtual int allocate_page(ObjectId, std::uint64_t index) = 0;
  /// Writes the page clipped at the store limit (bytes, not pages).
  virtual int write_page(ObjectId, std::uint64_t index, ByteView page,
                         std::uint64_t store_limit) = 0;
};

inline constexpr ObjectId no_parent = 0;
inline constexpr std::uint64_t page_size = 4096;

} // namespace fsc::fscache
