// backend.hpp - the storage side of the 6.1 engine, after 6.1's struct
// fscache_cache_ops: the engine's cache, volume and cookie as a backend sees
// them (CacheFiles reads and sets cookie flags directly, as in the kernel),
// the fscache helpers a backend calls back (BackendHost), and the operations
// the engine asks of it (Backend).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fsc/bytes.hpp>
#include <fsc/fscache/v2/observer.hpp>
#include <fsc/fscache/v2/types.hpp>

namespace fsc::fscache::v2 {

/// struct fscache_cache.
struct Cache {
  std::uint32_t debug_id = 0;
  std::string name; ///< "" for the placeholder a volume acquire made
  CacheState state = CacheState::not_present;
  int ref = 1, n_accesses = 0, n_volumes = 0, object_count = 0;
  bool freed = false;
};

/// struct fscache_volume.
struct Volume {
  std::uint32_t debug_id = 0;
  std::string key; ///< the netfs's string (the directory is "I" + key)
  Bytes coherency;
  Cache* cache = nullptr;
  int ref = 1, n_cookies = 0, n_accesses = 0;
  std::uint32_t flags = 0;
  bool cache_priv = false; ///< the backend has set the volume up
  bool pinned = false;     ///< the access CacheFiles holds (PIN cache)
  bool hashed = false;
  bool work_pending = false;
  /// A scheduled creation stopped after the backend's part, the rest
  /// (pin, END acq_vol, put) queued; rest_ok: the backend set it up.
  bool work_rest = false, rest_ok = false;
  bool acquire_pending = false; ///< the acquirer waits on a collision
  bool freed = false;
  bool test(unsigned bit) const { return flags >> bit & 1U; }
  void set(unsigned bit) { flags |= 1U << bit; }
  void clear(unsigned bit) { flags &= ~(1U << bit); }
};

/// struct fscache_cookie.
struct Cookie {
  std::uint32_t debug_id = 0;
  Volume* volume = nullptr;
  int ref = 1, n_active = 0, n_accesses = 0;
  CookieState state = CookieState::quiescent;
  std::uint32_t flags = 0;
  Bytes key, aux;
  std::uint64_t object_size = 0;
  std::uint32_t inval_counter = 0;
  std::uint64_t unused_at = 0; ///< virtual ns of the last unuse
  bool on_lru = false;
  std::uint32_t cache_priv = 0; ///< the backend's object (o=), 0: none
  bool work_pending = false;
  bool acquire_pending = false; ///< the acquirer waits on a collision
  int hcoll_holds = 0;          ///< refs held by acquirers waiting on it
  int n_objects = 0;            ///< backend objects holding a ref (attch)
  bool freed = false;
  bool leaked = false; ///< ref reached 0 while hashed (6.1 WARNs, keeps it)
  bool test(unsigned bit) const { return flags >> bit & 1U; }
  void set(unsigned bit) { flags |= 1U << bit; }
  void clear(unsigned bit) { flags &= ~(1U << bit); }
  bool test_and_set(unsigned bit)
  {
    bool was = test(bit);
    set(bit);
    return was;
  }
  bool test_and_clear(unsigned bit)
  {
    bool was = test(bit);
    clear(bit);
    return was;
  }
};

/// struct netfs_cache_resources of one operation.
struct Operation {
  std::uint32_t id = 0;
  Cookie* cookie = nullptr;
  std::uint32_t inval_counter = 0;
  bool has_file = false; ///< cache_priv2: a file ref taken at begin
};

/// The fscache helpers CacheFiles calls.
class BackendHost {
public:
  virtual ~BackendHost() = default;
  virtual Observer& observer() = 0;
  virtual void get_cookie(Cookie&, CookieTrace) = 0;
  virtual void put_cookie(Cookie&, CookieTrace) = 0;
  /// fscache_cookie_lookup_negative: CREATING, NO_DATA_TO_READ.
  virtual void lookup_negative(Cookie&) = 0;
  /// A point inside a cookie's work item where 6.1 holds no lock of the
  /// cookie (the lookup runs unlocked: fscache_perform_lookup()), so
  /// another task's netfs calls may come in; only a v2::Scheduler (a trace
  /// replay) makes any there. lookup_negative() is one too.
  virtual void preempt_point(Cookie&) = 0;
  /// fscache_caching_failed: IS_CACHING cleared, FAILED.
  virtual void caching_failed(Cookie&) = 0;
  /// fscache_resume_after_invalidation: ACTIVE.
  virtual void resume_after_invalidation(Cookie&) = 0;
  /// fscache_withdraw_cookie (cachefiles_withdraw_objects).
  virtual void withdraw_cookie(Cookie&) = 0;
  /// fscache_count_object / fscache_uncount_object.
  virtual void count_object(Cache&) = 0;
  virtual void uncount_object(Cache&) = 0;
  /// cachefiles_io_error: the cache stops (GOT_IOERROR).
  virtual void io_error(std::string_view why) = 0;
  /// The kernel fixes in force (CacheFiles has some of them).
  virtual const Fixes& fixes() const = 0;
};

/// fscache_cache_ops, as CacheFiles implements them. true = success.
class Backend {
public:
  virtual ~Backend() = default;
  virtual void set_host(BackendHost&) = 0;

  /// cachefiles_add_cache's directory work (cache/, graveyard/).
  virtual bool bind_cache(Cache&) = 0;
  /// cachefiles_daemon_unbind's end: put graveyard/ and cache/.
  virtual void unbind_cache(Cache&) = 0;
  /// cachefiles_acquire_volume; on true the engine sets cache_priv and pins.
  virtual bool acquire_volume(Volume&) = 0;
  /// cachefiles_free_volume (the volume's last put).
  virtual void free_volume(Volume&) = 0;
  /// cachefiles_withdraw_volume (cache withdrawal).
  virtual void withdraw_volume(Volume&) = 0;
  /// cachefiles_withdraw_objects: host.withdraw_cookie() for each listed
  /// object.
  virtual void withdraw_objects() = 0;

  /// cachefiles_lookup_cookie.
  virtual bool lookup_cookie(Cookie&) = 0;
  /// cachefiles_withdraw_cookie: commit or delete, detach the object.
  virtual void withdraw_cookie(Cookie&) = 0;
  /// cachefiles_invalidate_cookie.
  virtual bool invalidate_cookie(Cookie&) = 0;
  /// cachefiles_prepare_to_write.
  virtual void prepare_to_write(Cookie&) = 0;
  /// cachefiles_begin_operation.
  virtual bool begin_operation(Operation&, Want) = 0;
  /// cachefiles_end_operation without the access end (the engine ends it).
  virtual void end_operation(Operation&) = 0;
  /// cachefiles_resize_cookie.
  virtual void resize_cookie(Operation&, std::uint64_t new_size) = 0;
  /// cachefiles_read with NETFS_READ_HOLE_FAIL, completed at once: 0, or
  /// -ENODATA (nothing cached there), -ENOBUFS.
  virtual int read(Operation&, std::uint64_t pos, std::uint64_t len) = 0;
  /// __cachefiles_write: issues the write and returns its id (> 0), or
  /// -errno; complete_write() finishes it (kiocb completion).
  virtual int write(Operation&, std::uint64_t pos, std::uint64_t len) = 0;
  virtual void complete_write(int io) = 0;
};

} // namespace fsc::fscache::v2
