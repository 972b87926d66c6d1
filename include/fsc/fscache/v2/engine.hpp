// engine.hpp - a userspace FS-Cache as Linux 6.1 runs it (the 5.17+
// rewrite): cache, volumes and cookies with their ref/n_accesses/n_active
// counts, the cookie state machine run as work items by a deterministic
// executor on a virtual clock, the LRU that discards idle cookies after
// 10 s, and the netfs API (docs/engine-v2.md §1-§3). Storage goes through
// a v2::Backend.
//
// Netfs calls return at once; one that would sleep in 6.1 (an operation
// waiting for a lookup, a use waiting for an LRU discard, an acquire
// waiting for a relinquished twin, cache withdrawal) parks and resumes when
// the executor makes its condition true. With seed 0 the run queue is
// FIFO; another seed picks a different legal order among queued items.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/bytes.hpp>
#include <fsc/fscache/v2/backend.hpp>
#include <fsc/fscache/v2/observer.hpp>
#include <fsc/fscache/v2/types.hpp>

namespace fsc::fscache::v2 {

using VolumeId = std::uint32_t; ///< the volume's debug_id (V=)
using CookieId = std::uint32_t; ///< the cookie's debug_id (c=)
using OpId = std::uint32_t;

inline constexpr std::uint64_t k_ns_per_s = 1'000'000'000;
/// fscache_lru_cookie_timeout (10 * HZ).
inline constexpr std::uint64_t k_lru_timeout_ns = 10 * k_ns_per_s;

/// A cookie's counts and state as seen from outside.
struct CookieInfo {
  bool exists = false; ///< false once freed (ref reached 0)
  CookieState state = CookieState::quiescent;
  int ref = 0, n_active = 0, n_accesses = 0;
  std::uint32_t flags = 0;
  bool on_lru = false;
  std::uint32_t object = 0; ///< cache_priv
  bool acquire_pending = false;
  std::uint64_t object_size = 0;
};

struct VolumeInfo {
  bool exists = false;
  int ref = 0, n_cookies = 0, n_accesses = 0;
  std::uint32_t flags = 0;
  bool cache_priv = false;
  bool acquire_pending = false;
};

struct CacheInfo {
  bool exists = false;
  CacheState state = CacheState::not_present;
  int ref = 0, n_accesses = 0, n_volumes = 0, object_count = 0;
};

/// An I/O operation begun by begin_read/begin_write (or a resize).
struct OpInfo {
  enum Status : std::uint8_t { waiting, ready, refused, ended } status = ended;
  int ret = 0;
};

/// The counters of /proc/fs/fscache/stats the engine keeps (§7.2).
struct Stats {
  unsigned acquire_n = 0, acquire_ok = 0;
  unsigned lru_n = 0, lru_exp = 0, lru_rmv = 0, lru_drp = 0;
  unsigned invals = 0;
  unsigned updates = 0, resizes = 0, resizes_null = 0;
  unsigned relinqs = 0, relinqs_retire = 0, relinqs_drop = 0;
  int cookies = 0, volumes = 0;
};

/// A queued work item as a Scheduler sees it.
struct Runnable {
  /// volume_rest: the end of a volume's creation (its PIN cache, END
  /// acq_vol and PUT creat), queued apart when a scheduler is set because
  /// another CPU's netfs calls may come while system_wq makes the 257
  /// directories (the real 6.1 trace relinquishes a volume there).
  /// call: never queued; a netfs call stopped at a preemption point (its
  /// task holds no lock there), at the cookie of `id`.
  enum Kind : std::uint8_t {
    cookie,
    volume,
    lru,
    volume_rest,
    call
  } kind = cookie;
  /// The cookie's c= or the volume's V=; for lru, 0 when queued, and the
  /// cookie it stands at when stopped at a preemption point.
  std::uint32_t id = 0;
};

/// Chooses which queued work item runs next, in place of the seeded order:
/// a replay of a kernel trace runs them in the order the trace shows.
/// Parked netfs calls whose condition holds resume first, as before.
class Scheduler {
public:
  virtual ~Scheduler() = default;
  /// The index in `ready` of what runs next, or ready.size() to run
  /// nothing more for now (step() then returns false).
  virtual std::size_t pick(const std::vector<Runnable>& ready) = 0;
  /// A running work item reached a point where 6.1 has dropped the
  /// cookie's lock and other tasks' netfs calls may come in: a lookup
  /// gone negative, the cookie CREATING while CacheFiles makes its file
  /// (I/O may begin then). The scheduler may make netfs calls here (not
  /// step() or run()); the work item then goes on.
  virtual void preempt(const Runnable& /*running*/) {}
  /// When a netfs call that began an access to the cookie (BEGIN io_*)
  /// and finds it in a state that makes it wait checks that state.
  enum class Check : std::uint8_t {
    now,          ///< at once, printing WAIT  io
    after_change, ///< once the state has changed, printing nothing for the
                  ///< wait (the task printed no WAIT: preempted between
                  ///< its BEGIN and its check, the lookup went on)
    print_later,  ///< at once, its WAIT printed when
                  ///< Engine::resume_operation() says so or the state
                  ///< changes (a task stopped between its check and its
                  ///< trace line, which shows the counts of then)
  };
  virtual Check check_later(std::uint32_t /*cookie*/) { return Check::now; }
  /// At a preemption point, before preempt(): the queued work item (an
  /// index in `ready`) that runs after the calls preempt() makes, while
  /// the stopped one waits, or ready.size() for none; asked again after
  /// it ran. Another worker of the pool runs while this one sleeps (a step
  /// of the backing filesystem can sleep). `ready` never holds the LRU
  /// worker nor an item of a thing whose item is running (one work item
  /// never runs twice at once).
  virtual std::size_t pick_inside(const Runnable& /*stopped*/,
                                  const std::vector<Runnable>& ready)
  {
    return ready.size();
  }
  /// The item pick_inside() chose runs now (it may choose again instead,
  /// when preempt()'s calls queued work).
  virtual void runs_inside(const Runnable& /*item*/) {}
  /// The item runs_inside() announced has returned.
  virtual void ran_inside(const Runnable& /*item*/) {}
  /// The LRU worker at a cookie whose 10 s end lies within a few jiffies
  /// of now: has it ended? 6.1 counts in jiffies (4 ms at HZ=250) from a
  /// tick the engine's nanoseconds cannot place; a trace replay answers
  /// from the trace's own run, std::nullopt lets the clock decide.
  virtual std::optional<bool> lru_expired(std::uint32_t /*cookie*/)
  {
    return std::nullopt;
  }
  /// The LRU worker queued the discarded cookie's withdrawal: is its put
  /// made later, by Engine::put_lru() (a trace replay whose LRU worker
  /// printed it in the middle of that withdrawal)?
  virtual bool lru_put_later(std::uint32_t /*cookie*/) { return false; }
};

class Engine {
public:
  Engine(Backend& backend, Observer& observer, std::uint64_t seed = 0);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// cachefiles bind: fscache_acquire_cache + the backend's directories +
  /// fscache_add_cache. 0, or -EBUSY (tag in use), -EIO (bind failed).
  int add_cache(std::string_view name = "CacheFiles");
  /// fscache_io_error: the cache stops accepting accesses.
  void io_error();
  /// cachefiles_withdraw_cache (daemon unbind); finishes as the executor
  /// runs (cache_withdrawn() then holds).
  void withdraw_cache();
  bool cache_withdrawn() const;

  /// fscache_acquire_volume: 0 when refused (bad key, -EBUSY collision).
  VolumeId acquire_volume(std::string_view key, ByteView coherency = {});
  void relinquish_volume(VolumeId, std::optional<Bytes> coherency = {},
                         bool invalidate = false);

  /// fscache_acquire_cookie: 0 when refused (bad key, duplicate).
  CookieId acquire_cookie(VolumeId, ByteView key, ByteView aux,
                          std::uint64_t object_size);
  void use_cookie(CookieId, bool will_modify);
  /// fscache_unuse_cookie(aux, size): null pointers pass nothing.
  void unuse_cookie(CookieId, const Bytes* aux = nullptr,
                    const std::uint64_t* object_size = nullptr);
  /// With put_later, its last put is put_relinquished()'s: a trace replay
  /// whose umount printed that put in the middle of the withdrawal it
  /// queued (the relinquishing task holds no lock before it).
  void relinquish_cookie(CookieId, bool retire, bool put_later = false);
  /// The put a relinquish_cookie(…, put_later) left.
  void put_relinquished(CookieId);
  /// The LRU worker's put that Scheduler::lru_put_later() left.
  void put_lru(CookieId);
  /// fscache_invalidate(aux, size, FSCACHE_INVAL_DIO_WRITE if dio_write).
  void invalidate(CookieId, ByteView aux, std::uint64_t new_size,
                  bool dio_write = false);
  /// fscache_update_cookie (inline: only while enabled).
  void update_cookie(CookieId, const Bytes* aux, const std::uint64_t* size);
  /// fscache_resize_cookie; may wait for the cookie like an operation.
  void resize_cookie(CookieId, std::uint64_t new_size);

  /// fscache_begin_read_operation / fscache_begin_write_operation: the
  /// operation may wait (op_info().status == waiting) or be refused.
  OpId begin_read(CookieId);
  OpId begin_write(CookieId);
  OpInfo op_info(OpId) const;
  /// fscache_read (NETFS_READ_HOLE_FAIL), completed at once.
  int read(OpId, std::uint64_t pos, std::uint64_t len);
  /// fscache_write: issues; the returned id (> 0) is completed by
  /// complete_write() (at once when complete_now). < 0: -errno.
  int write(OpId, std::uint64_t pos, std::uint64_t len,
            bool complete_now = true);
  void complete_write(int io);
  /// fscache_end_operation.
  void end_operation(OpId);
  /// A parked operation whose condition holds resumes now, not at the
  /// next step(): its task is seen making its next call while a work item
  /// is stopped at a preemption point (the wake-up came with the state
  /// change). An operation whose WAIT is not yet printed
  /// (Scheduler::Check::print_later) prints it first. Nothing more happens
  /// when it does not wait, or, with `if_ready`, when the cookie's state
  /// would not let it go on.
  void resume_operation(OpId, bool if_ready = false);

  /// The kernel fixes the engine and its backend follow (all by default).
  void set_fixes(const Fixes&);
  const Fixes& fixes() const;

  /// Lets `s` (not owned; null: the seeded order again) pick queued work.
  void set_scheduler(Scheduler* s);

  /// Runs one thing (a woken netfs call, a queued work item); false when
  /// nothing can run (or the scheduler holds everything back).
  bool step();
  /// How many work items were ever queued: a scheduler's call that queues
  /// one at a preemption point stops there, so that it may run next.
  std::uint64_t jobs_queued() const;
  /// Steps until nothing can run; returns the number of steps.
  std::uint64_t run();
  /// Runs until idle, then moves the virtual clock on by ns, firing the LRU
  /// timer (and running what it queues) at its deadline on the way. With
  /// run_queued false the first firing only queues the LRU worker and
  /// nothing more runs (step() then interleaves it with netfs calls).
  void advance(std::uint64_t ns, bool run_queued = true);
  /// Moves the clock forward to `ns` and nothing else: no work runs, a
  /// timer due by then fires at the next advance(). For a call made while
  /// a work item is stopped, at the call's own time.
  void clock_to(std::uint64_t ns);
  std::uint64_t now() const;
  /// Netfs calls parked and not yet resumed.
  std::vector<std::string> waiting() const;

  CookieInfo cookie_info(CookieId) const;
  VolumeInfo volume_info(VolumeId) const;
  CacheInfo cache_info() const;
  const Stats& stats() const;
  /// Cookies not yet freed, oldest first.
  std::vector<CookieId> live_cookies() const;
  /// Every count checked against what holds it (§1.2) while the engine is
  /// idle: one message per mismatch, empty when all balance.
  std::vector<std::string> check_counts() const;

  struct Impl; ///< opaque: src/fscache/v2/engine.cpp

private:
  std::unique_ptr<Impl> m;
};

} // namespace fsc::fscache::v2
