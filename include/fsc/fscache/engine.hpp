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
  bool attach_ref_at_init = true;   ///< f29507ce: GET obj at object init
  bool dead_state_work = true;      ///< e26bfebd: OBJECT_DEAD has a function
  bool clear_writes_on_disable = true; ///< 6bdded59
  bool submit_checks_live = true;   ///< f09b443d: IS_LIVE tested under lock
  bool cancel_everywhere = true;    ///< d3b97ca4: op->cancel on every path
  bool duplicate_detection = true;  ///< 402cb8dd: hashed cookies, dups refused
  bool size_passed_in = true;       ///< ee1235a9: object size at acquire
  bool drop_clears_looking_up = true; ///< c5a94f43
  bool collision_tests_old = true;  ///< CacheFiles in-memory collision test
};

/// Names for --unfix and the scenario's `fixes` line.
const std::vector<std::pair<std::string_view, bool Fixes::*>>& fix_names();

/// The netfs's coherency rule for a cookie (def->check_aux).
enum class AuxRule : std::uint8_t {
  none,    ///< no check_aux: everything OKAY (ChkAux non)
  exact,   ///< NFS-style: any difference is OBSOLETE
  update,  ///< a difference asks for a rewrite (NEEDS_UPDATE)
};

struct AcquireArgs {
  CookieId parent = no_cookie;
  CookieType type = CookieType::data;
  std::string def_name;  ///< "NFS.fh" (traced truncated to 7 chars)
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
  int usage = 0, n_children = 0, n_ops = 0, n_in_progress = 0,
      n_exclusive = 0;
  std::uint32_t flags = 0, events = 0;
};

/// The result of a netfs call that may finish later (reads, relinquish).
struct Pending {
  bool done = false;
  int ret = 0;
  std::string what;
};
using PendingRef = std::shared_ptr<Pending>;

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

  /// Runs one queued work item (or parked continuation); false when idle.
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
