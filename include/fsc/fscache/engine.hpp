// engine.hpp - a userspace 4.19 FS-Cache: cookies, objects and their state
// machine, operations and reference counts, driven by netfs-level calls and
// run by a deterministic executor in place of the kernel's workqueues.
//
// Netfs calls return at once like the kernel's do (defer_lookup=1); a call
// that would sleep (relinquish waiting for n_active, a read waiting for the
// lookup) parks a continuation that resumes when the executor makes its
// condition true. With seed 0 the run queue is FIFO; another seed picks a
// different legal order among queued work items.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/bytes.hpp>
#include <fsc/fscache/backend.hpp>
#include <fsc/fscache/observer.hpp>
#include <fsc/fscache/stats.hpp>
#include <fsc/fscache/types.hpp>

namespace fsc::fscache {

inline constexpr CookieId no_cookie = 0;
inline constexpr CookieId fsdef_cookie = 1; ///< the static root index

/// The object.c-history fixes 4.19 carries (spec §7.3, §7.4). All on by
/// default; turning one off brings the old bug back so a scenario can show
/// what it did.
struct Fixes {
  bool attach_ref_at_init = true;      ///< f29507ce: GET obj at object init
  bool dead_state_work = true;         ///< e26bfebd: OBJECT_DEAD has a function
  bool clear_writes_on_disable = true; ///< 6bdded59
  bool submit_checks_live = true;      ///< f09b443d: IS_LIVE tested under lock
  bool cancel_everywhere = true;       ///< d3b97ca4: op->cancel on every path
  bool duplicate_detection = true; ///< 402cb8dd: hashed cookies, dups refused
  bool size_passed_in = true;      ///< ee1235a9: object size at acquire
  bool drop_clears_looking_up = true; ///< c5a94f43
  bool collision_tests_old = true;    ///< CacheFiles in-memory collision test
};

/// Names for --unfix and the scenario's `fixes` line.
const std::vector<std::pair<std::string_view, bool Fixes::*>>& fix_names();

/// The netfs's coherency rule for a cookie (def->check_aux).
enum class AuxRule : std::uint8_t {
  none,   ///< no check_aux: everything OKAY (ChkAux non)
  exact,  ///< NFS-style: any difference is OBSOLETE
  update, ///< a difference asks for a rewrite (NEEDS_UPDATE)
};

struct AcquireArgs {
  CookieId parent = no_cookie;
  CookieType type = CookieType::data;
  std::string def_name; ///< "NFS.fh" (traced truncated to 7 chars)
  Bytes key, aux;
  std::uint64_t object_size = 0;
  bool enable = true;
  AuxRule rule = AuxRule::exact;
};

/// A cookie's counters and flags as seen from outside.
struct CookieInfo {
  bool exists = false; ///< false once freed (usage reached 0)
  int usage = 0, n_children = 0, n_active = 0;
  std::uint32_t flags = 0;
  std::optional<ObjectId> object;
};

struct ObjectInfo {
  bool exists = false;
  ObjectId id = 0;
  ObjState state = ObjState::wait_for_init;
  int usage = 0, n_children = 0, n_ops = 0, n_in_progress = 0, n_exclusive = 0;
  std::uint32_t flags = 0, events = 0;
};

/// The result of a netfs call that may finish later (reads, relinquish).
struct Pending {
  bool done = false;
  int ret = 0;
  std::string what;
};
using PendingRef = std::shared_ptr<Pending>;

/// Something the engine could run next, as a scheduler sees it: a parked
/// netfs call whose condition now holds, an object work item (new, or one
/// already started on a worker and stopped between two of its steps), an
/// asynchronous operation or the operation GC. Addresses are the ones the
/// Observer sees (0 when none).
struct Runnable {
  enum Kind : std::uint8_t {
    resume_call,
    start_work,
    continue_work,
    op_work,
    op_gc
  } kind = resume_call;
  /// The cookie concerned; for a parked call, the one whose refcount it
  /// changes next (0: the engine cannot tell).
  std::uint64_t cookie = 0;
  /// The object, for work items; for a parked call, the object it raises
  /// an event on next (then cookie is that object's).
  std::uint64_t object = 0;
  std::uint64_t op = 0; ///< the operation, for op_work
  /// What a work item does next: dispatch (fscache_osm lines follow),
  /// release the parent (DROP_OBJECT's PUT drop_obj), or PUT work.
  enum Next : std::uint8_t {
    dispatch,
    release_parent,
    put_work
  } next = dispatch;
};

/// Chooses among runnable things in place of the FIFO/seeded order, and may
/// interleave object work items as two kernel workers on two CPUs do: with
/// a scheduler set, a work item runs in slices (between two work states of
/// the dispatcher, before DROP_OBJECT releases the parent, before PUT work)
/// and other work can run between its slices. The workqueue's rules still
/// hold: one object's work item never runs concurrently with itself, and at
/// most max_active object work items are in progress at once.
class Scheduler {
public:
  virtual ~Scheduler() = default;
  /// The index in `ready` of what runs next, or ready.size() to run
  /// nothing more before the next netfs call.
  virtual std::size_t pick(const std::vector<Runnable>& ready) = 0;
  /// The scenario is about to make its next call, the statement tagged
  /// `tag` (its line); 0 once no call is left.
  virtual void next_call(int /*tag*/) {}
};

class Engine {
public:
  Engine(Backend& backend, Observer& observer, std::uint64_t seed = 0,
         Fixes fixes = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// fscache_add_cache: attaches the cache's root object to the fsdef cookie.
  void add_cache();
  /// fscache_withdraw_cache: kills every object, waits for all to go.
  PendingRef withdraw_cache();
  /// A new cache bound after a withdrawal (add_cache() once the old one's
  /// objects are gone).
  PendingRef bind_cache();

  /// fscache_register_netfs: the primary index (key = name, aux = version).
  CookieId register_netfs(std::string_view name, std::uint32_t version);
  /// no_cookie when 4.19 returns NULL (bad key, duplicate, nbf, noc).
  CookieId acquire_cookie(const AcquireArgs&);
  PendingRef relinquish_cookie(CookieId, std::optional<Bytes> aux, bool retire);
  PendingRef enable_cookie(CookieId, std::optional<Bytes> aux,
                           std::uint64_t object_size);
  PendingRef disable_cookie(CookieId, std::optional<Bytes> aux,
                            bool invalidate);
  void update_cookie(CookieId, std::optional<Bytes> aux);
  void invalidate(CookieId);
  PendingRef wait_on_invalidate(CookieId);
  int attr_changed(CookieId, std::uint64_t new_size);
  PendingRef read_page(CookieId, std::uint64_t index);
  PendingRef alloc_page(CookieId, std::uint64_t index);
  int write_page(CookieId, std::uint64_t index, Bytes data);
  PendingRef uncache_page(CookieId, std::uint64_t index);
  PendingRef check_consistency(CookieId);

  /// Lets `s` choose what runs next (nullptr: FIFO or the seed's order).
  /// max_active bounds the object work items in progress at once
  /// (fscache_object_max_active: the CPU count clamped to at least 4).
  void set_scheduler(Scheduler* s, int max_active);
  /// Tells the scheduler which netfs call comes next (see Scheduler).
  void next_call(int tag);

  /// Runs one queued work item (or parked continuation); false when idle
  /// (or when the scheduler keeps the rest for after the next call).
  bool step();
  /// Runs the queued work item of the cookie's object now, ahead of the
  /// rest of the queue (a legal order: the workqueues are concurrent).
  /// False when that object has no queued work item.
  bool step_object(CookieId);
  /// Steps until idle (or stopped); returns the number of steps.
  std::uint64_t run();
  /// A "4.19 would crash here" finding stopped the engine.
  bool stopped() const;
  /// Parked netfs calls that nothing will ever wake (reported as hangs).
  std::vector<std::string> stuck() const;

  /// Runs `call` once, at the moment the object of `cookie` is about to
  /// execute `state` (hooks make races reproducible without threads).
  void on_state(CookieId, ObjState, std::function<void()> call);
  /// Runs `call` when the object's work item starts, before the dispatcher
  /// masks events.
  void on_dispatch(CookieId, std::function<void()> call);

  CookieInfo cookie_info(CookieId) const;
  /// The cookie an object belongs to (no_cookie once destroyed).
  CookieId cookie_of_object(ObjectId) const;
  ObjectInfo object_info(CookieId) const;
  const Stats& stats() const;
  /// Live objects and cookies (leak checks after withdrawal).
  std::size_t live_objects() const;
  std::size_t live_cookies() const;
  /// Cookies relinquished whose usage never reached zero.
  std::vector<CookieId> leaked_cookies() const;

  struct Impl; ///< opaque: src/fscache/internal.hpp

private:
  std::unique_ptr<Impl> m;
};

/// The 4.19 cookie key hash (engine §1.5): a word sum that ignores parent
/// and type, host (little-endian) order.
std::uint32_t cookie_key_hash(ByteView key);

} // namespace fsc::fscache
