// internal.hpp - the engine's structures, after fs/fscache/internal.h and
// include/linux/fscache-cache.h of 4.19. Pointers link them as in the
// kernel; ids and the fake addresses only exist for traces and the outside.
#pragma once

#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <fsc/fscache/engine.hpp>

namespace fsc::fscache {

struct Object;
struct Op;

struct StorePage {
  bool storing = false; ///< tag STORING (else PENDING)
  Bytes data;
};

struct Cookie {
  CookieId id = 0;
  std::uint64_t addr = 0;
  Cookie* parent = nullptr;
  int usage = 1, n_children = 0, n_active = 1;
  std::uint32_t flags = 0;
  CookieType type = CookieType::data;
  std::string def_name;
  Bytes key, aux;
  std::uint32_t key_hash = 0;
  AuxRule rule = AuxRule::exact;
  std::uint64_t object_size = 0;
  Object* object = nullptr; ///< backing_objects: one cache, at most one
  std::map<std::uint64_t, StorePage> stores;
  bool hashed = false;
  bool freed = false;
  bool relinquished_put = false; ///< PUT rlq done (leak accounting)
  bool test(unsigned bit) const { return flags >> bit & 1U; }
  void set(unsigned bit) { flags |= 1U << bit; }
  bool test_and_clear(unsigned bit)
  {
    bool was = test(bit);
    flags &= ~(1U << bit);
    return was;
  }
};

enum class OobTable : std::uint8_t { none, init, lookup, run };

/// The dispatcher's choice for an object in `state` with pending `events`
/// (fscache_object_sm_dispatcher before it runs a work state): an OOB
/// diversion, a wait-state transition, nothing, or the BUG() of a mask
/// naming an event the wait state has no entry for.
struct Decision {
  enum Kind : std::uint8_t { none, oob, wait, bug } kind = none;
  ObjState next = ObjState::object_dead;
  int event = -1;
};
Decision decide(ObjState state, unsigned events, unsigned event_mask,
                unsigned oob_event_mask, OobTable oob);
/// The events a wait state's table has entries for.
unsigned wait_events_of(ObjState s);

/// Where an object's work item stands (fscache_object_sm_dispatcher's
/// position, kept so that a guided replay can run the item in slices).
struct WorkItem {
  enum At : std::uint8_t {
    idle,           ///< not running
    start,          ///< about to dispatch
    restart,        ///< about to mask events and re-read the state
    restart_masked, ///< about to decide on the next work state
    drop_tail,      ///< DROP_OBJECT about to let go of its parent
    put_work,       ///< dispatcher done, PUT work next
  } at = idle;
  unsigned event_mask = 0; ///< the dispatcher's saved mask
};

struct Object {
  ObjectId id = 0;
  std::uint64_t addr = 0;
  Cookie* cookie = nullptr;
  Object* parent = nullptr;
  ObjState state = ObjState::wait_for_init;
  OobTable oob_table = OobTable::init;
  unsigned events = 0, event_mask = 0, oob_event_mask = 0;
  std::uint32_t flags = 0;
  int usage = 1;
  int n_children = 0, n_ops = 0, n_obj_ops = 0, n_in_progress = 0,
      n_exclusive = 0, n_reads = 0;
  std::list<Object*> dependents; ///< head = front (LIFO, engine §2.1)
  Object* waiting_on = nullptr;  ///< whose dependents list holds us
  std::list<Op*> pending_ops;    ///< empty lists allocate nothing
  std::uint64_t store_limit_l = 0;
  bool queued = false;   ///< work item pending
  WorkItem work;         ///< work item running (started, not finished)
  bool attached = false; ///< on the cookie's backing list
  bool in_cache_list = false;
  std::list<Object*>::iterator cache_link; ///< valid when in_cache_list
  bool freed = false;
  bool root = false; ///< the cache's fsdef object
  int timeouts = 0;  ///< consecutive ETIMEDOUT lookups
  bool test(unsigned bit) const { return flags >> bit & 1U; }
  void set(unsigned bit) { flags |= 1U << bit; }
  void clear(unsigned bit) { flags &= ~(1U << bit); }
};

namespace op_flag {
inline constexpr unsigned async = 0x1, mythread = 0x2, waiting = 1U << 4,
                          exclusive = 1U << 5, dec_read_cnt = 1U << 6,
                          unuse_cookie = 1U << 7;
}

enum class OpKind : std::uint8_t {
  invalidate,
  attr_changed,
  check,
  read,
  alloc,
  write
};

struct Op {
  OpId id = 0;
  std::uint64_t addr = 0;
  OpKind kind = OpKind::read;
  Object* object = nullptr; ///< set when accepted by submission
  Cookie* cookie = nullptr;
  int usage = 1;
  OpState state = OpState::initialised;
  unsigned flags = 0;
  int n_pages = 0; ///< retrieval ops: pages still to complete
  int cancel_calls = 0;
  std::uint64_t store_limit = 0; ///< write ops: pages, as traced (sl=)
  bool queued = false;
  bool freed = false;
  bool gc_pending = false;
  bool has_processor() const
  {
    return kind == OpKind::invalidate || kind == OpKind::attr_changed ||
           kind == OpKind::write;
  }
};

/// What a parked netfs call does first when it resumes, for a scheduler:
/// change its cookie's refcount (relinquish's PUT rlq; with a scheduler
/// such a call waits for its turn even when its condition already holds,
/// as the thread may be slower than a worker on another CPU), or raise an
/// event on the cookie's object (disable's KILL).
struct Resumes {
  enum Kind : std::uint8_t { unknown, cookie_ref, object_event } kind = unknown;
  Cookie* cookie = nullptr;
};

/// A netfs thread asleep in the kernel: resumes when ready() holds.
struct Waiter {
  std::function<bool()> ready;
  std::function<void()> resume;
  std::string what;
  Resumes next;
};

struct Job {
  enum Kind : std::uint8_t { run_object, run_op, run_gc } kind;
  Object* obj = nullptr;
  Op* op = nullptr;
};

struct Engine::Impl {
  Impl(Backend& b, Observer& o, std::uint64_t seed, Fixes f);

  Backend& backend;
  Observer& obs;
  Fixes fixes;
  std::uint64_t seed;
  std::mt19937_64 rng;
  Stats stats;

  std::unordered_map<CookieId, std::unique_ptr<Cookie>> cookies;
  std::unordered_map<ObjectId, std::unique_ptr<Object>> objects;
  std::unordered_map<OpId, std::unique_ptr<Op>> ops;
  std::vector<std::unique_ptr<Object>>
      dead_objects; ///< freed, reclaimed when idle
  std::vector<std::unique_ptr<Op>> dead_ops;
  std::vector<std::unique_ptr<Cookie>> dead_cookies;
  std::unordered_multimap<std::uint32_t, Cookie*> hash; ///< bucket → cookies
  std::list<Object*> cache_objects; ///< head = newest (engine §7.1)
  std::deque<Op*> gc_list;
  bool gc_queued = false;
  std::deque<Job> runq;
  std::list<Waiter> waiters;
  Scheduler* scheduler = nullptr;
  std::size_t max_active = 4;   ///< object work items in progress at once
  std::vector<Object*> running; ///< work items started, between slices
  std::vector<CookieId> relinquished;

  std::unique_ptr<BackendHost> host;
  Object* root = nullptr;
  bool cache_bound = false;
  int withdrawing = 0; ///< withdrawals waiting for their objects
  bool io_error = false;
  int cache_object_count = 0;
  CookieId next_cookie = 2;
  ObjectId next_object = 1;
  OpId next_op = 1;
  bool halted = false;
  Task task = Task::netfs;

  struct Hook {
    CookieId cookie;
    int state;
    std::function<void()> call;
  };
  std::vector<Hook> hooks; ///< state -1: dispatch start

  // --- engine.cpp: executor, bugs, refs --------------------------------
  void bug(const std::string& what);
  void set_task(Task t);
  void enqueue_job(Job j);
  bool run_one_job(std::size_t forced = SIZE_MAX);
  bool scheduled_step();
  bool resume_waiters();
  void park(std::function<bool()> ready, std::function<void()> resume,
            std::string what, Resumes next = {});
  void fire_hooks(Object* obj, int state);
  void reclaim();
  Cookie* find_cookie(CookieId id, const char* call);

  // --- cookie.cpp ---------------------------------------------------------
  CookieSnap snap(const Cookie* c) const;
  void cookie_get(Cookie* c, CookieTrace why);
  void cookie_put(Cookie* c, CookieTrace why);
  void free_cookie(Cookie* c);
  Cookie* new_cookie(Cookie* parent, CookieType type, std::string def_name,
                     Bytes key, Bytes aux, AuxRule rule);
  bool hash_cookie(Cookie* candidate);
  int acquire_non_index(Cookie* c, std::uint64_t object_size);
  int alloc_objects(Cookie* c);
  int alloc_object(Cookie* c);
  bool attach_object(Cookie* c, Object* obj);
  void store_aux(Cookie* c, const std::optional<Bytes>& aux);
  bool use_cookie(Cookie* c);
  void unuse_cookie(Cookie* c);
  void disable(Cookie* c, std::optional<Bytes> aux, bool invalidate,
               bool relinquishing, PendingRef result,
               std::function<void()> then);
  void invalidate_writes(Cookie* c);

  // --- object.cpp -----------------------------------------------------------
  Object* new_object(Cookie* c);
  void obj_get(Object* o, ObjRefTrace why);
  void obj_put(Object* o, ObjRefTrace why);
  void destroy_object(Object* o);
  void raise_event(Object* o, ObjEvent ev);
  void enqueue_object(Object* o);
  bool work_slice(Object* o, bool sliced);
  bool start_work_item(Object* o, bool sliced);
  void dispatch_once(Object* o);
  void unmask(Object* o);
  ObjState execute(Object* o, ObjState s, int event, bool& no_transit);
  ObjState st_init(Object* o);
  ObjState st_parent_ready(Object* o);
  ObjState st_look_up(Object* o, bool& no_transit);
  ObjState st_available(Object* o);
  ObjState st_jumpstart(Object* o);
  ObjState st_invalidate(Object* o);
  ObjState st_update(Object* o);
  ObjState st_lookup_failure(Object* o);
  ObjState st_kill(Object* o);
  ObjState st_kill_dependents(Object* o);
  ObjState st_abort_init(Object* o);
  void st_drop_head(Object* o);
  void st_drop_tail(Object* o);
  void st_dead(Object* o);
  void done_parent_op(Object* o);
  void enqueue_dependents(Object* o, ObjEvent ev);
  void mark_dead(Object* o);
  void update_aux_data(Object* o);
  unsigned oob_mask_of(OobTable t) const;
  unsigned wait_mask_of(ObjState s) const;

  // --- operation.cpp --------------------------------------------------------
  Op* new_op(Cookie* c, OpKind kind, unsigned flags);
  void op_cancel_method(Op* op);
  int submit_op(Object* obj, Op* op, bool exclusive);
  void run_op(Object* obj, Op* op);
  void enqueue_operation(Op* op, Cookie* c);
  void start_operations(Object* obj);
  void op_complete(Op* op, bool cancelled);
  int cancel_op(Op* op, bool cancel_in_progress);
  void cancel_all_ops(Object* obj);
  void put_op(Op* op, bool object_locked = false);
  void release_op(Op* op);
  void op_work(Op* op);
  void op_gc();
  void write_op(Op* op);
  void end_page_write(Cookie* c, std::uint64_t index);
  void retrieval_complete(Op* op, int n);
  void abort_object(Object* o);
  int wait_for_activation(Op* op); ///< after WAITING cleared
};

} // namespace fsc::fscache
