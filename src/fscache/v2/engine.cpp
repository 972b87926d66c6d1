// engine.cpp - the 6.1 FS-Cache engine: cache, volumes, cookies, the cookie
// state machine and LRU, I/O operation gating, and the executor that runs
// their work items (docs/engine-v2.md §1-§3).
#include <fsc/fscache/v2/engine.hpp>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <random>

#include <fmt/format.h>

namespace fsc::fscache::v2 {

namespace {

/// A netfs thread asleep in 6.1: resumes when ready() holds.
struct Waiter {
  std::function<bool()> ready;
  std::function<void()> resume;
  std::string what;
  std::uint32_t op = 0; ///< the operation that waits (0: another call)
};

struct Job {
  enum Kind : std::uint8_t { cookie, volume, lru, volume_rest } kind = cookie;
  Cookie* c = nullptr;
  Volume* v = nullptr;
};

struct OpRec {
  Operation op;
  OpInfo info;
  Want want = Want::params;
  bool checked_late = false;        ///< Scheduler::check_later() said so once
  bool wait_unprinted = false;      ///< waits; its WAIT  io line comes later
  std::function<void(OpRec&)> then; ///< run once the operation begins or
                                    ///< is refused (resize)
};

constexpr std::uint64_t k_max_steps = 50'000'000;

} // namespace

std::string_view state_name(CookieState s)
{
  static constexpr std::array<std::string_view, k_cookie_states> names = {
      "QUIESCENT",     "LOOKING_UP", "CREATING",       "ACTIVE",
      "INVALIDATING",  "FAILED",     "LRU_DISCARDING", "WITHDRAWING",
      "RELINQUISHING", "DROPPED"};
  return names[static_cast<std::size_t>(s)];
}

struct Engine::Impl final : BackendHost {
  Impl(Backend& b, Observer& o, std::uint64_t s)
      : be(b), obs(o), seed(s), rng(s)
  {
  }

  Backend& be;
  Observer& obs;
  std::uint64_t seed;
  std::mt19937_64 rng;
  Stats stats;
  Task task = Task::netfs;

  std::uint64_t now_ns = 0;
  bool timer_armed = false;
  std::uint64_t timer_at = 0;
  bool lru_work_pending = false;
  std::list<Cookie*> lru;

  std::vector<std::unique_ptr<Cache>> caches;
  std::map<VolumeId, std::unique_ptr<Volume>> volumes;
  std::map<CookieId, std::unique_ptr<Cookie>> cookies;
  std::multimap<std::string, Volume*> volume_hash;
  std::multimap<std::pair<VolumeId, Bytes>, Cookie*> cookie_hash;
  std::uint32_t next_cache = 1, next_volume = 1, next_cookie = 2, next_op = 1;
  std::map<OpId, OpRec> ops;

  std::deque<Job> runq;
  std::uint64_t queued = 0; ///< jobs ever queued (a call may queue one)
  void queue_job(const Job& j)
  {
    runq.push_back(j);
    ++queued;
  }
  Scheduler* sched = nullptr;
  std::vector<Runnable> sched_ready; // scratch for sched->pick()
  std::list<Waiter> waiters;
  bool withdrawn = false;
  Fixes fix;

  // ---- BackendHost -------------------------------------------------------
  Observer& observer() override { return obs; }
  void get_cookie(Cookie& c, CookieTrace why) override
  {
    if (why == CookieTrace::get_attach_object)
      ++c.n_objects;
    ++c.ref;
    obs.cookie(c.debug_id, c.ref, why);
  }
  void put_cookie(Cookie& c, CookieTrace why) override;
  void lookup_negative(Cookie& c) override
  {
    preempt_point(c); // the lookup's result traced, no lock held
    c.set(cookie_flag::no_data_to_read);
    set_state(c, CookieState::creating);
    preempt_point(c);
  }
  void preempt_point(Cookie& c) override
  {
    preempt_at({Runnable::cookie, c.debug_id});
  }
  /// A point where the running task holds no lock of the thing: the
  /// scheduler's calls come in, and the work items it lets run meanwhile,
  /// in its order.
  void preempt_at(const Runnable& stopped);
  std::optional<Runnable> pick_inside(const Runnable& stopped);
  void caching_failed(Cookie& c) override
  {
    c.clear(cookie_flag::is_caching);
    set_state(c, CookieState::failed);
    obs.cookie(c.debug_id, c.ref, CookieTrace::failed);
  }
  void resume_after_invalidation(Cookie& c) override
  {
    set_state(c, CookieState::active);
  }
  void withdraw_cookie(Cookie& c) override
  {
    c.set(cookie_flag::do_withdraw);
    drop_withdraw_cookie(c);
  }
  const Fixes& fixes() const override { return fix; }
  void count_object(Cache& k) override { ++k.object_count; }
  void uncount_object(Cache& k) override { --k.object_count; }
  void io_error(std::string_view why) override
  {
    for (auto& k : caches)
      if (!k->freed && k->state == CacheState::active) {
        k->state = CacheState::got_ioerror;
        obs.printk(fmt::format("CacheFiles: I/O error: {}", why));
        obs.printk(fmt::format("FS-Cache: Cache '{}' stopped due to I/O error",
                               k->name));
      }
  }

  // ---- helpers -----------------------------------------------------------
  void set_state(Cookie& c, CookieState s)
  {
    if (c.state == s)
      return;
    obs.state(c.debug_id, c.state, s);
    c.state = s;
  }
  void set_task(Task t)
  {
    if (t != task) {
      task = t;
      obs.context(t);
    }
  }
  /// The live cookie or volume a netfs call names, or null (and why).
  template <class Map>
  auto find_live(Map& map, std::uint32_t id, const char* call, char letter,
                 const char* what) -> decltype(map.begin()->second.get())
  {
    auto it = map.find(id);
    if (it == map.end() || it->second->freed) {
      obs.finding(fmt::format("6.1 would use freed memory: {}() on {} "
                              "{}={:08x}, which does not exist",
                              call, what, letter, id));
      return nullptr;
    }
    if (it->second->acquire_pending) {
      obs.printk(fmt::format("{}() on {}={:08x} while its acquirer sleeps: "
                             "refused",
                             call, letter, id));
      return nullptr;
    }
    return it->second.get();
  }
  Cookie* find_cookie(CookieId id, const char* call)
  {
    return find_live(cookies, id, call, 'c', "cookie");
  }
  Volume* find_volume(VolumeId id, const char* call)
  {
    return find_live(volumes, id, call, 'V', "volume");
  }
  void park(std::function<bool()> ready, std::function<void()> resume,
            std::string what, std::uint32_t op = 0)
  {
    if (ready()) {
      resume();
      return;
    }
    waiters.push_back(
        {std::move(ready), std::move(resume), std::move(what), op});
  }
  void timer_reduce(std::uint64_t at)
  {
    if (!timer_armed || at < timer_at) {
      timer_armed = true;
      timer_at = at;
    }
  }

  // ---- cache -------------------------------------------------------------
  static bool cache_live(const Cache* k)
  {
    return k && k->state == CacheState::active;
  }
  Cache* lookup_cache(std::string_view name, bool is_cache);
  void put_cache(Cache& k, CacheTrace why)
  {
    --k.ref;
    obs.cache(k.debug_id, k.ref, why);
    if (k.ref == 0)
      k.freed = true;
  }
  bool begin_cache_access(Cache& k, AccessTrace why)
  {
    if (!cache_live(&k))
      return false;
    ++k.n_accesses;
    obs.access_cache(k.debug_id, k.ref, k.n_accesses, why);
    return true;
  }
  void end_cache_access(Cache& k, AccessTrace why)
  {
    --k.n_accesses;
    obs.access_cache(k.debug_id, k.ref, k.n_accesses, why);
  }
  void relinquish_cache(Cache& k)
  {
    CacheTrace why = k.state == CacheState::preparing
                         ? CacheTrace::put_prep_failed
                         : CacheTrace::put_relinquish;
    k.state = CacheState::not_present;
    put_cache(k, why);
  }
  void withdraw_stage_volumes(Cache& k);
  void withdraw_stage_objects(Cache& k);
  void withdraw_stage_end(Cache& k);

  // ---- volumes -----------------------------------------------------------
  void get_volume(Volume& v, VolumeTrace why)
  {
    ++v.ref;
    obs.volume(v.debug_id, v.ref, why);
  }
  void see_volume(Volume& v, VolumeTrace why)
  {
    obs.volume(v.debug_id, v.ref, why);
  }
  void put_volume(Volume& v, VolumeTrace why)
  {
    --v.ref;
    obs.volume(v.debug_id, v.ref, why);
    if (v.ref == 0)
      free_volume(v);
  }
  void free_volume(Volume& v);
  void unhash_volume(Volume& v);
  bool begin_volume_access(Volume& v, Cookie* c, AccessTrace why, bool check)
  {
    if (check && !cache_live(v.cache))
      return false;
    ++v.n_accesses;
    obs.access_volume(v.debug_id, c ? c->debug_id : 0, v.ref, v.n_accesses,
                      why);
    return true;
  }
  void end_volume_access(Volume& v, Cookie* c, AccessTrace why)
  {
    --v.n_accesses;
    obs.access_volume(v.debug_id, c ? c->debug_id : 0, v.ref, v.n_accesses,
                      why);
  }
  /// fscache_create_volume(); `waiter`, a cookie's lookup, sleeps until
  /// the creation is done.
  void create_volume(Volume& v, Cookie* waiter);
  void volume_work(Volume& v);
  void volume_work_rest(Volume& v);

  // ---- cookies -----------------------------------------------------------
  void see_cookie(Cookie& c, CookieTrace why)
  {
    obs.cookie(c.debug_id, c.ref, why);
  }
  void free_cookie(Cookie& c)
  {
    if (c.test(cookie_flag::is_hashed)) {
      // fscache_free_cookie's WARN_ON_ONCE: the cookie stays hashed and
      // allocated for ever (a later acquire of its key waits for ever).
      obs.printk(fmt::format("WARNING: c={:08x} freed while still hashed: "
                             "leaked",
                             c.debug_id));
      c.leaked = true;
      return;
    }
    c.freed = true;
    --stats.cookies;
  }
  void queue_cookie(Cookie& c, CookieTrace why)
  {
    get_cookie(c, why);
    if (c.work_pending) {
      put_cookie(c, CookieTrace::put_over_queued);
      return;
    }
    c.work_pending = true;
    queue_job({Job::cookie, &c, nullptr});
  }
  void begin_cookie_access_raw(Cookie& c, AccessTrace why)
  {
    ++c.n_accesses;
    obs.access(c.debug_id, c.ref, c.n_accesses, why);
  }
  bool begin_cookie_access(Cookie& c, AccessTrace why)
  {
    if (!c.test(cookie_flag::is_caching))
      return false;
    begin_cookie_access_raw(c, why);
    if (!c.test(cookie_flag::is_caching) || !cache_live(c.volume->cache)) {
      end_cookie_access(c, AccessTrace::unlive);
      return false;
    }
    return true;
  }
  void end_cookie_access(Cookie& c, AccessTrace why)
  {
    --c.n_accesses;
    obs.access(c.debug_id, c.ref, c.n_accesses, why);
    if (c.n_accesses == 0 && !c.test(cookie_flag::no_access_wake))
      queue_cookie(c, CookieTrace::get_end_access);
  }
  void withdraw_cookie_inner(Cookie& c)
  {
    bool unpinned = c.test_and_clear(cookie_flag::no_access_wake);
    if (unpinned)
      obs.access(c.debug_id, c.ref, c.n_accesses, AccessTrace::cache_unpin);
    if (c.n_accesses == 0)
      queue_cookie(c, CookieTrace::get_end_access);
  }
  void drop_from_lru(Cookie& c)
  {
    if (!c.on_lru)
      return;
    lru.remove(&c);
    c.on_lru = false;
    --stats.lru_n;
    ++stats.lru_drp;
    put_cookie(c, CookieTrace::put_lru);
  }
  void drop_withdraw_cookie(Cookie& c)
  {
    drop_from_lru(c);
    withdraw_cookie_inner(c);
  }
  void unhash_cookie(Cookie& c)
  {
    auto range = cookie_hash.equal_range({c.volume->debug_id, c.key});
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == &c) {
        cookie_hash.erase(it);
        break;
      }
    c.clear(cookie_flag::is_hashed);
    ++stats.relinqs_drop;
  }
  bool begin_lookup(Cookie& c, bool will_modify)
  {
    if (will_modify) {
      c.set(cookie_flag::local_write);
      c.set(cookie_flag::do_prep_to_write);
    }
    if (!begin_volume_access(*c.volume, &c, AccessTrace::lookup_cookie, true))
      return false;
    begin_cookie_access_raw(c, AccessTrace::lookup_cookie);
    set_state(c, CookieState::looking_up);
    c.set(cookie_flag::is_caching);
    c.set(cookie_flag::has_been_cached);
    return true;
  }
  void use_again(Cookie& c, bool will_modify);
  void unuse_locked(Cookie& c)
  {
    c.clear(cookie_flag::disabled);
    if (!c.test(cookie_flag::is_caching))
      return;
    c.unused_at = now_ns;
    if (!c.on_lru) {
      get_cookie(c, CookieTrace::get_lru);
      ++stats.lru_n;
      c.on_lru = true;
    } else {
      lru.remove(&c);
    }
    lru.push_back(&c);
    timer_reduce(now_ns + k_lru_timeout_ns);
  }
  void update_aux(Cookie& c, const Bytes* aux, const std::uint64_t* size)
  {
    if (aux) {
      Bytes a = *aux;
      a.resize(c.aux.size());
      c.aux = std::move(a);
    }
    if (size)
      c.object_size = *size;
  }
  void perform_lookup(Cookie& c);
  void state_machine(Cookie& c);
  void cookie_worker(Cookie& c)
  {
    set_task(Task::fscache_wq);
    c.work_pending = false;
    see_cookie(c, CookieTrace::see_work);
    state_machine(c);
    put_cookie(c, CookieTrace::put_work);
  }
  void lru_worker();
  /// Has the cookie's 10 s on the LRU ended (see Scheduler::lru_expired)?
  bool lru_expired(const Cookie& c)
  {
    constexpr std::uint64_t k_jiffies_ns = 10'000'000; // 2.5 ticks at HZ=250
    const std::uint64_t end = c.unused_at + k_lru_timeout_ns;
    const std::uint64_t gap = now_ns > end ? now_ns - end : end - now_ns;
    if (sched && gap < k_jiffies_ns)
      if (auto said = sched->lru_expired(c.debug_id))
        return *said;
    return now_ns >= end;
  }
  /// Its 10 s ended: the worker popped it so, and jiffies only grow.
  void lru_do_one(Cookie& c)
  {
    see_cookie(c, CookieTrace::see_lru_do_one);
    if (c.state != CookieState::active || c.n_active > 0) {
      ++stats.lru_rmv;
    } else {
      c.set(cookie_flag::do_lru_discard);
      ++stats.lru_exp;
      withdraw_cookie_inner(c);
      if (sched && sched->lru_put_later(c.debug_id))
        return;
      // The cookie's work is queued and the lock dropped before the put:
      // another worker may run that work first (6.1 kernel suite, 114761).
      preempt_at({Runnable::lru, c.debug_id});
    }
    put_cookie(c, CookieTrace::put_lru);
  }
  void finish_acquire(Cookie& c)
  {
    c.acquire_pending = false;
    obs.acquire(c.debug_id, c.volume->debug_id, c.volume->ref,
                c.volume->n_cookies);
    ++stats.acquire_ok;
  }

  // ---- operations --------------------------------------------------------
  OpId begin_operation(Cookie& c, Want want, AccessTrace why,
                       std::function<void(OpRec&)> then);
  void begin_operation_again(OpId id);
  void print_wait(OpRec& r)
  {
    if (!r.wait_unprinted)
      return;
    r.wait_unprinted = false;
    const Cookie& c = *r.op.cookie;
    obs.access(c.debug_id, c.ref, c.n_accesses, AccessTrace::io_wait);
  }
  void op_done(OpRec& r, OpInfo::Status s, int ret)
  {
    r.info.status = s;
    r.info.ret = ret;
    if (r.then) {
      auto then = std::move(r.then);
      r.then = nullptr;
      then(r);
    }
  }
  void end_op(OpRec& r)
  {
    if (r.info.status == OpInfo::ready) {
      be.end_operation(r.op);
      end_cookie_access(*r.op.cookie, AccessTrace::io_end);
    }
    r.info.status = OpInfo::ended;
  }
  /// fscache_wait_for_operation without the sleep: whether I/O may go on.
  bool io_may_proceed(const Cookie& c) const
  {
    return cache_live(c.volume->cache) && c.state == CookieState::active;
  }

  // ---- executor ----------------------------------------------------------
  bool step();
  std::size_t pick_scheduled();
  /// The work items running now, outermost first (one runs inside
  /// another at a preemption point, run_inside()).
  std::vector<Job> running;
  void run_job(const Job& j)
  {
    running.push_back(j);
    run_job_body(j);
    running.pop_back();
  }
  void run_job_body(const Job& j)
  {
    switch (j.kind) {
    case Job::cookie:
      cookie_worker(*j.c);
      break;
    case Job::volume:
      volume_work(*j.v);
      break;
    case Job::volume_rest:
      set_task(Task::system_wq);
      volume_work_rest(*j.v);
      break;
    case Job::lru:
      lru_worker();
      break;
    }
  }
};

// ---- cookies ---------------------------------------------------------------

void Engine::Impl::put_cookie(Cookie& c, CookieTrace why)
{
  if (why == CookieTrace::put_object)
    --c.n_objects;
  --c.ref;
  obs.cookie(c.debug_id, c.ref, why);
  if (c.ref == 0) {
    Volume& v = *c.volume;
    free_cookie(c);
    put_volume(v, VolumeTrace::put_cookie);
  } else if (c.ref < 0) {
    obs.finding(
        fmt::format("6.1 would underflow c={:08x}'s refcount", c.debug_id));
  }
}

void Engine::Impl::use_again(Cookie& c, bool will_modify)
{
  bool queue = false;
  switch (c.state) {
  case CookieState::quiescent:
    queue = begin_lookup(c, will_modify);
    break;
  case CookieState::looking_up:
  case CookieState::creating:
    if (will_modify)
      c.set(cookie_flag::local_write);
    break;
  case CookieState::active:
  case CookieState::invalidating:
    if (will_modify && !c.test_and_set(cookie_flag::local_write)) {
      c.set(cookie_flag::do_prep_to_write);
      queue = true;
    }
    // b5b52de3214a: a use racing the LRU worker keeps the cookie.
    if (fix.lru_use_race && c.test_and_clear(cookie_flag::do_lru_discard))
      see_cookie(c, CookieTrace::see_lru_discard_clear);
    break;
  case CookieState::failed:
  case CookieState::withdrawing:
    break;
  case CookieState::lru_discarding: {
    Cookie* cp = &c;
    park(
        [cp] { return cp->state != CookieState::lru_discarding; },
        [this, cp, will_modify] { use_again(*cp, will_modify); },
        fmt::format("use of c={:08x} waiting for its LRU discard", c.debug_id));
    return;
  }
  case CookieState::dropped:
  case CookieState::relinquishing:
    obs.printk(fmt::format("WARNING: Can't use cookie in state {}",
                           static_cast<unsigned>(c.state)));
    break;
  }
  if (queue)
    queue_cookie(c, CookieTrace::get_use_work);
}

void Engine::Impl::perform_lookup(Cookie& c)
{
  Volume& v = *c.volume;
  AccessTrace trace = AccessTrace::lookup_cookie_end_failed;
  bool need_withdraw = false;

  if (!v.cache_priv) {
    create_volume(v, &c);
    set_task(Task::fscache_wq);
    if (!v.cache_priv) {
      set_state(c, CookieState::quiescent);
      goto out;
    }
  }
  if (!be.lookup_cookie(c)) {
    if (c.state != CookieState::failed)
      set_state(c, CookieState::quiescent);
    need_withdraw = true;
    goto out;
  }
  preempt_point(c);
  see_cookie(c, CookieTrace::see_active);
  if (c.test_and_clear(cookie_flag::do_invalidate))
    set_state(c, CookieState::invalidating);
  else
    set_state(c, CookieState::active);
  trace = AccessTrace::lookup_cookie_end;

out:
  preempt_point(c); // the state set, the lock dropped before the end
  end_cookie_access(c, trace);
  preempt_point(c); // fscache_perform_lookup() holds no lock
  if (need_withdraw)
    withdraw_cookie(c);
  end_volume_access(v, &c, trace);
  preempt_point(c);
}

void Engine::Impl::state_machine(Cookie& c)
{
  for (;;) {
    CookieState state = c.state;
    switch (state) {
    case CookieState::quiescent:
      if (c.n_accesses == 0 && c.test(cookie_flag::do_relinquish)) {
        set_state(c, CookieState::relinquishing);
        continue;
      }
      return;

    case CookieState::looking_up:
      // The cookie's lock is dropped before the gate opens.
      preempt_point(c);
      // fscache_init_access_gate.
      obs.access(c.debug_id, c.ref, c.n_accesses, AccessTrace::cache_pin);
      c.set(cookie_flag::no_access_wake);
      preempt_point(c); // nor before the lookup
      perform_lookup(c);
      continue;

    case CookieState::invalidating:
      if (!be.invalidate_cookie(c))
        caching_failed(c);
      end_cookie_access(c, AccessTrace::invalidate_cookie_end);
      continue;

    case CookieState::active:
      if (c.test_and_clear(cookie_flag::do_prep_to_write))
        be.prepare_to_write(c);
      if (c.test(cookie_flag::do_lru_discard)) {
        if (c.n_accesses != 0)
          return; // postponed: the last access end queues us again
        set_state(c, CookieState::lru_discarding);
        continue;
      }
      [[fallthrough]];
    case CookieState::failed:
      // fb24771faf72: before it, the access of an invalidation pending
      // when the lookup failed was never ended.
      if (fix.inval_access_leak &&
          c.test_and_clear(cookie_flag::do_invalidate))
        end_cookie_access(c, AccessTrace::invalidate_cookie_end);
      if (c.n_accesses != 0)
        return;
      if (c.test(cookie_flag::do_relinquish)) {
        set_state(c, CookieState::relinquishing);
        continue;
      }
      if (c.test(cookie_flag::do_withdraw)) {
        set_state(c, CookieState::withdrawing);
        continue;
      }
      return;

    case CookieState::lru_discarding:
    case CookieState::relinquishing:
    case CookieState::withdrawing:
      if (c.cache_priv)
        be.withdraw_cookie(c);
      if (c.test_and_clear(cookie_flag::do_invalidate))
        end_cookie_access(c, AccessTrace::invalidate_cookie_end);
      if (state == CookieState::relinquishing) {
        see_cookie(c, CookieTrace::see_relinquish);
        unhash_cookie(c);
        set_state(c, CookieState::dropped);
        return;
      }
      see_cookie(c, state == CookieState::lru_discarding
                        ? CookieTrace::see_lru_discard
                        : CookieTrace::see_withdraw);
      c.clear(cookie_flag::needs_update);
      c.clear(cookie_flag::do_withdraw);
      c.clear(cookie_flag::do_lru_discard);
      c.clear(cookie_flag::do_prep_to_write);
      c.set(cookie_flag::no_data_to_read);
      set_state(c, CookieState::quiescent);
      continue;

    case CookieState::creating:
    case CookieState::dropped:
      return;
    }
  }
}

void Engine::Impl::lru_worker()
{
  set_task(Task::fscache_wq);
  lru_work_pending = false;
  while (!lru.empty()) {
    Cookie* c = lru.front();
    if (!lru_expired(*c)) {
      // Not ended by the trace's word though past its time: look again
      // at the next tick.
      const std::uint64_t expiry = c->unused_at + k_lru_timeout_ns;
      timer_reduce(std::max(expiry, now_ns + 1));
      break;
    }
    lru.pop_front();
    c->on_lru = false;
    --stats.lru_n;
    lru_do_one(*c);
  }
}

// ---- cache -----------------------------------------------------------------

Cache* Engine::Impl::lookup_cache(std::string_view name, bool is_cache)
{
  Cache* unnamed = nullptr;
  for (auto& k : caches) {
    if (k->freed)
      continue;
    if (!is_cache || (!name.empty() && k->name == name)) {
      ++k->ref;
      obs.cache(k->debug_id, k->ref, CacheTrace::get_acquire);
      return k.get();
    }
    if (k->name.empty() && !unnamed)
      unnamed = k.get();
  }
  if (unnamed) {
    ++unnamed->ref;
    obs.cache(unnamed->debug_id, unnamed->ref, CacheTrace::get_acquire);
    unnamed->name = std::string(name);
    return unnamed;
  }
  auto k = std::make_unique<Cache>();
  k->debug_id = next_cache++;
  if (is_cache)
    k->name = std::string(name);
  obs.cache(k->debug_id, k->ref, CacheTrace::new_acquire);
  caches.push_back(std::move(k));
  return caches.back().get();
}

void Engine::Impl::withdraw_stage_volumes(Cache& k)
{
  // cachefiles_withdraw_fscache_volumes: each volume the backend holds that
  // still has accesses is unpinned and drained, then the list is walked
  // again (a volume created meanwhile is on it too).
  Volume* v = nullptr;
  for (auto& [id, vp] : volumes)
    if (!vp->freed && vp->cache == &k && vp->cache_priv &&
        vp->n_accesses != 0 && vp->ref > 0) {
      v = vp.get();
      break;
    }
  if (!v) {
    withdraw_stage_objects(k);
    return;
  }
  get_volume(*v, VolumeTrace::get_withdraw);
  v->pinned = false;
  end_volume_access(*v, nullptr, AccessTrace::cache_unpin);
  Cache* kp = &k;
  park([v] { return v->n_accesses == 0; },
       [this, v, kp] {
         set_task(Task::netfs);
         put_volume(*v, VolumeTrace::put_withdraw);
         withdraw_stage_volumes(*kp);
       },
       fmt::format("cache withdrawal waiting for V={:08x}'s accesses",
                   v->debug_id));
}

void Engine::Impl::withdraw_stage_objects(Cache& k)
{
  be.withdraw_objects();
  Cache* kp = &k;
  park([kp] { return kp->object_count == 0; },
       [this, kp] {
         set_task(Task::netfs);
         withdraw_stage_end(*kp);
       },
       "cache withdrawal waiting for its objects");
}

void Engine::Impl::withdraw_stage_end(Cache& k)
{
  // cachefiles_withdraw_volumes.
  std::vector<Volume*> vs;
  for (auto& [id, v] : volumes)
    if (!v->freed && v->cache == &k && v->cache_priv)
      vs.push_back(v.get());
  for (Volume* v : vs) {
    get_volume(*v, VolumeTrace::get_withdraw);
    be.withdraw_volume(*v);
    v->cache_priv = false;
    put_volume(*v, VolumeTrace::put_withdraw);
  }
  relinquish_cache(k);
  be.unbind_cache(k);
  withdrawn = true;
}

// ---- volumes ---------------------------------------------------------------

void Engine::Impl::unhash_volume(Volume& v)
{
  auto range = volume_hash.equal_range(v.key);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second == &v) {
      volume_hash.erase(it);
      break;
    }
  v.hashed = false;
  // fscache_wake_pending_volume.
  range = volume_hash.equal_range(v.key);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second->cache == v.cache &&
        it->second->test(volume_flag::acquire_pending)) {
      it->second->clear(volume_flag::acquire_pending);
      see_volume(*it->second, VolumeTrace::see_hash_wake);
      break;
    }
}

void Engine::Impl::free_volume(Volume& v)
{
  Cache& k = *v.cache;
  if (v.cache_priv) {
    begin_volume_access(v, nullptr, AccessTrace::relinquish_volume, false);
    be.free_volume(v);
    // Releasing the 257 directories can sleep: other work runs meanwhile.
    preempt_at({Runnable::volume, v.debug_id});
    end_volume_access(v, nullptr, AccessTrace::relinquish_volume_end);
  }
  --k.n_volumes;
  if (v.hashed)
    unhash_volume(v);
  obs.volume(v.debug_id, 0, VolumeTrace::free);
  v.freed = true;
  --stats.volumes;
  put_cache(k, CacheTrace::put_volume);
}

void Engine::Impl::create_volume(Volume& v, Cookie* waiter)
{
  if (!v.test(volume_flag::creating)) {
    v.set(volume_flag::creating);
    if (v.cache_priv ||
        !begin_cache_access(*v.cache, AccessTrace::acquire_volume)) {
      v.clear(volume_flag::creating);
      return;
    }
    get_volume(v, VolumeTrace::get_create_work);
    if (v.work_pending) {
      put_volume(v, VolumeTrace::put_create_work);
    } else {
      v.work_pending = true;
      queue_job({Job::volume, nullptr, &v});
    }
  }
  if (waiter) {
    see_volume(v, VolumeTrace::wait_create_work);
    // It sleeps: other calls and work items come in, system_wq's run of
    // the creation among them.
    preempt_point(*waiter);
    // The waiter sleeps until system_wq has run the creation: run it now.
    auto it = std::find_if(runq.begin(), runq.end(), [&v](const Job& j) {
      return j.kind == Job::volume && j.v == &v;
    });
    if (it != runq.end()) {
      runq.erase(it);
      volume_work(v);
    }
    it = std::find_if(runq.begin(), runq.end(), [&v](const Job& j) {
      return j.kind == Job::volume_rest && j.v == &v;
    });
    if (it != runq.end()) {
      runq.erase(it);
      volume_work_rest(v);
    }
  }
}

void Engine::Impl::volume_work(Volume& v)
{
  set_task(Task::system_wq);
  v.work_pending = false;
  see_volume(v, VolumeTrace::see_create_work);
  Cache& k = *v.cache;
  v.rest_ok = k.state != CacheState::not_present && be.acquire_volume(v);
  v.work_rest = true;
  if (sched) { // a trace replay: calls may come before the rest runs
    queue_job({Job::volume_rest, nullptr, &v});
    return;
  }
  volume_work_rest(v);
}

void Engine::Impl::volume_work_rest(Volume& v)
{
  v.work_rest = false;
  Cache& k = *v.cache;
  if (v.rest_ok) { // cachefiles_acquire_volume()'s last step
    v.cache_priv = true;
    v.pinned = true;
    ++v.n_accesses;
    obs.access_volume(v.debug_id, 0, v.ref, v.n_accesses,
                      AccessTrace::cache_pin);
  }
  end_cache_access(k, AccessTrace::acquire_volume_end);
  v.clear(volume_flag::creating);
  put_volume(v, VolumeTrace::put_create_work);
}

// ---- operations ------------------------------------------------------------

OpId Engine::Impl::begin_operation(Cookie& c, Want want, AccessTrace why,
                                   std::function<void(OpRec&)> then)
{
  OpId id = next_op++;
  OpRec& r = ops[id];
  r.op.id = id;
  r.op.cookie = &c;
  r.op.inval_counter = c.inval_counter;
  r.want = want;
  r.then = std::move(then);
  if (!begin_cookie_access(c, why)) {
    op_done(r, OpInfo::refused, -ENOBUFS);
    return id;
  }
  begin_operation_again(id);
  return id;
}

void Engine::Impl::begin_operation_again(OpId id)
{
  OpRec& r = ops[id];
  print_wait(r); // the task printed its wait before it slept
  Cookie& c = *r.op.cookie;
  CookieState state = c.state;
  bool ready = false;
  switch (state) {
  case CookieState::looking_up:
  case CookieState::lru_discarding:
  case CookieState::invalidating:
    break;
  case CookieState::creating:
    ready = r.want == Want::params;
    break;
  case CookieState::active:
    ready = true;
    break;
  case CookieState::dropped:
  case CookieState::relinquishing:
    obs.printk(fmt::format("WARNING: Can't use cookie in state {}",
                           static_cast<unsigned>(state)));
    [[fallthrough]];
  default:
    end_cookie_access(c, AccessTrace::io_not_live);
    op_done(r, OpInfo::refused, -ENOBUFS);
    return;
  }
  if (ready) {
    if (!be.begin_operation(r.op, r.want)) {
      end_cookie_access(c, AccessTrace::io_not_live);
      op_done(r, OpInfo::refused, -ENOBUFS);
      return;
    }
    op_done(r, OpInfo::ready, 0);
    return;
  }
  const Scheduler::Check how = r.checked_late || !sched
                                   ? Scheduler::Check::now
                                   : sched->check_later(c.debug_id);
  if (how == Scheduler::Check::now) {
    obs.access(c.debug_id, c.ref, c.n_accesses, AccessTrace::io_wait);
  } else {
    r.checked_late = true;
    r.wait_unprinted = how == Scheduler::Check::print_later;
  }
  r.info.status = OpInfo::waiting;
  Cookie* cp = &c;
  park([cp, state] { return cp->state != state; },
       [this, id] { begin_operation_again(id); },
       fmt::format("operation on c={:08x} waiting in state {}", c.debug_id,
                   state_name(state)),
       id);
}

// ---- executor --------------------------------------------------------------

namespace {

Runnable runnable_of(const Job& j)
{
  Runnable r;
  if (j.kind == Job::cookie) {
    r.kind = Runnable::cookie;
    r.id = j.c->debug_id;
  } else if (j.kind == Job::volume || j.kind == Job::volume_rest) {
    r.kind = j.kind == Job::volume ? Runnable::volume : Runnable::volume_rest;
    r.id = j.v->debug_id;
  } else {
    r.kind = Runnable::lru;
  }
  return r;
}

/// Is `r` a work item of the thing `stopped` is (a cookie's, or a
/// volume's creation and its rest)?
bool same_thing(const Runnable& r, const Runnable& stopped)
{
  const bool cookie = r.kind == Runnable::cookie;
  return r.id == stopped.id && cookie == (stopped.kind == Runnable::cookie);
}

} // namespace

std::size_t Engine::Impl::pick_scheduled()
{
  sched_ready.clear();
  for (const Job& j : runq)
    sched_ready.push_back(runnable_of(j));
  return sched->pick(sched_ready);
}

// The LRU worker walks every cookie and is never run inside another item;
// nor is an item of a thing whose item is running (stopped further out).
std::optional<Runnable> Engine::Impl::pick_inside(const Runnable& stopped)
{
  auto busy = [this, &stopped](const Runnable& r) {
    return same_thing(r, stopped) ||
           std::any_of(running.begin(), running.end(), [&r](const Job& j) {
             return same_thing(r, runnable_of(j));
           });
  };
  std::vector<Runnable> ready;
  for (const Job& j : runq) {
    Runnable r = runnable_of(j);
    if (r.kind != Runnable::lru && !busy(r))
      ready.push_back(r);
  }
  std::size_t k = sched->pick_inside(stopped, ready);
  if (k >= ready.size())
    return std::nullopt;
  return ready[k];
}

// The calls the scheduler makes come before the item it chose, which may
// be gone after them (a call that waits for a volume runs its creation).
void Engine::Impl::preempt_at(const Runnable& stopped)
{
  if (!sched)
    return;
  Task t = task;
  for (;;) {
    std::optional<Runnable> next = pick_inside(stopped);
    const std::uint64_t before = queued;
    sched->preempt(stopped);
    if (queued != before)
      continue; // the calls queued work: choose again
    if (!next)
      break;
    auto it = std::find_if(runq.begin(), runq.end(), [&next](const Job& j) {
      Runnable r = runnable_of(j);
      return r.kind == next->kind && r.id == next->id;
    });
    if (it == runq.end())
      continue;
    Job j = *it;
    runq.erase(it);
    sched->runs_inside(*next);
    run_job(j);
    sched->ran_inside(*next);
  }
  set_task(t);
}

bool Engine::Impl::step()
{
  for (auto it = waiters.begin(); it != waiters.end(); ++it) {
    if (!it->ready())
      continue;
    auto resume = std::move(it->resume);
    waiters.erase(it);
    set_task(Task::netfs);
    resume();
    return true;
  }
  if (runq.empty())
    return false;
  std::size_t i = 0;
  if (sched) {
    i = pick_scheduled();
    if (i >= runq.size())
      return false;
  } else if (seed != 0 && runq.size() > 1) {
    i = static_cast<std::size_t>(rng() % runq.size());
  }
  Job j = runq[i];
  runq.erase(runq.begin() + static_cast<std::ptrdiff_t>(i));
  run_job(j);
  return true;
}

// ---- Engine ----------------------------------------------------------------

Engine::Engine(Backend& backend, Observer& observer, std::uint64_t seed)
    : m(std::make_unique<Impl>(backend, observer, seed))
{
  backend.set_host(*m);
}

Engine::~Engine() = default;

int Engine::add_cache(std::string_view name)
{
  m->set_task(Task::netfs);
  Cache* k = m->lookup_cache(name, true);
  if (k->state != CacheState::not_present) {
    m->obs.printk(fmt::format("FS-Cache: Cache tag {} in use", name));
    m->put_cache(*k, CacheTrace::put_cache);
    return -EBUSY;
  }
  k->state = CacheState::preparing;
  if (!m->be.bind_cache(*k)) {
    m->relinquish_cache(*k);
    return -EIO;
  }
  ++k->n_accesses;
  m->obs.access_cache(k->debug_id, k->ref, k->n_accesses,
                      AccessTrace::cache_pin);
  k->state = CacheState::active;
  m->obs.printk(
      fmt::format("FS-Cache: Cache \"{}\" added (type cachefiles)", k->name));
  m->withdrawn = false;
  return 0;
}

void Engine::io_error() { m->io_error("injected"); }

void Engine::withdraw_cache()
{
  m->set_task(Task::netfs);
  Cache* k = nullptr;
  for (auto& c : m->caches)
    if (!c->freed &&
        (c->state == CacheState::active || c->state == CacheState::got_ioerror))
      k = c.get();
  if (!k)
    return;
  k->state = CacheState::withdrawn;
  --k->n_accesses;
  m->obs.access_cache(k->debug_id, k->ref, k->n_accesses,
                      AccessTrace::cache_unpin);
  Impl* im = m.get();
  m->park([k] { return k->n_accesses == 0; },
          [im, k] {
            im->set_task(Task::netfs);
            im->withdraw_stage_volumes(*k);
          },
          "cache withdrawal waiting for the cache's accesses");
}

bool Engine::cache_withdrawn() const { return m->withdrawn; }

VolumeId Engine::acquire_volume(std::string_view key, ByteView coherency)
{
  m->set_task(Task::netfs);
  if (key.empty() || key.size() > 255 || coherency.size() > 255)
    return 0;
  Cache* k = m->lookup_cache({}, false);
  auto vp = std::make_unique<Volume>();
  Volume& v = *vp;
  v.debug_id = m->next_volume++;
  v.key = std::string(key);
  v.coherency.assign(coherency.begin(), coherency.end());
  v.cache = k;
  m->volumes.emplace(v.debug_id, std::move(vp));
  ++m->stats.volumes;
  m->see_volume(v, VolumeTrace::new_acquire);
  ++k->n_volumes;

  // fscache_hash_volume.
  Volume* old = nullptr;
  auto range = m->volume_hash.equal_range(v.key);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second->cache == k)
      old = it->second;
  if (old && !old->test(volume_flag::relinquished)) {
    m->see_volume(*old, VolumeTrace::collision);
    m->put_volume(v, VolumeTrace::put_hash_collision);
    return 0;
  }
  if (old) {
    old->set(volume_flag::collided_with);
    m->see_volume(*old, VolumeTrace::get_hash_collision);
    v.set(volume_flag::acquire_pending);
  }
  m->volume_hash.emplace(v.key, &v);
  v.hashed = true;
  Volume* vp2 = &v;
  Impl* im = m.get();
  if (v.test(volume_flag::acquire_pending)) {
    v.acquire_pending = true;
    m->park([vp2] { return !vp2->test(volume_flag::acquire_pending); },
            [im, vp2] {
              vp2->acquire_pending = false;
              im->create_volume(*vp2, nullptr);
            },
            fmt::format("acquire of V={:08x} waiting for its relinquished "
                        "twin",
                        v.debug_id));
    return v.debug_id;
  }
  m->create_volume(v, nullptr);
  return v.debug_id;
}

void Engine::relinquish_volume(VolumeId id, std::optional<Bytes> coherency,
                               bool invalidate)
{
  m->set_task(Task::netfs);
  Volume* v = m->find_volume(id, "fscache_relinquish_volume");
  if (!v)
    return;
  if (v->test(volume_flag::relinquished)) {
    m->obs.printk(fmt::format("WARNING: V={:08x} already relinquished", id));
    return;
  }
  v->set(volume_flag::relinquished);
  if (invalidate)
    v->set(volume_flag::invalidate);
  else if (coherency) {
    Bytes c = *coherency;
    c.resize(v->coherency.size());
    v->coherency = std::move(c);
  }
  m->put_volume(*v, VolumeTrace::put_relinquish);
}

CookieId Engine::acquire_cookie(VolumeId vid, ByteView key, ByteView aux,
                                std::uint64_t object_size)
{
  m->set_task(Task::netfs);
  Volume* v = m->find_volume(vid, "fscache_acquire_cookie");
  if (!v || key.empty() || key.size() > 255 || aux.size() > 255)
    return 0;
  ++m->stats.acquire_n;
  auto cp = std::make_unique<Cookie>();
  Cookie& c = *cp;
  c.debug_id = m->next_cookie++;
  c.volume = v;
  c.key.assign(key.begin(), key.end());
  c.aux.assign(aux.begin(), aux.end());
  c.object_size = object_size;
  if (object_size == 0)
    c.set(cookie_flag::no_data_to_read);
  m->cookies.emplace(c.debug_id, std::move(cp));
  ++m->stats.cookies;
  m->see_cookie(c, CookieTrace::new_acquire);

  // fscache_hash_cookie.
  Cookie* wait_for = nullptr;
  auto range = m->cookie_hash.equal_range({v->debug_id, c.key});
  for (auto it = range.first; it != range.second; ++it) {
    Cookie& old = *it->second;
    if (!old.test(cookie_flag::relinquished)) {
      m->see_cookie(old, CookieTrace::collision);
      m->obs.printk("FS-Cache: Duplicate cookie detected");
      m->see_cookie(c, CookieTrace::discard);
      m->free_cookie(c);
      return 0;
    }
    wait_for = &old;
    m->get_cookie(old, CookieTrace::get_hash_collision);
    ++old.hcoll_holds;
    break;
  }
  m->get_volume(*v, VolumeTrace::get_cookie);
  ++v->n_cookies;
  m->cookie_hash.emplace(std::make_pair(v->debug_id, c.key), &c);
  c.set(cookie_flag::is_hashed);
  if (wait_for) {
    c.acquire_pending = true;
    Impl* im = m.get();
    Cookie* self = &c;
    m->park([wait_for] { return wait_for->state == CookieState::dropped; },
            [im, self, wait_for] {
              --wait_for->hcoll_holds;
              im->put_cookie(*wait_for, CookieTrace::put_hash_collision);
              im->finish_acquire(*self);
            },
            fmt::format("acquire of c={:08x} waiting for c={:08x} to drop",
                        c.debug_id, wait_for->debug_id));
    return c.debug_id;
  }
  m->finish_acquire(c);
  return c.debug_id;
}

const std::vector<FixName>& fix_names()
{
  static const std::vector<FixName> names = {
      {"lru-use-race", &Fixes::lru_use_race,
       "b5b52de3214a fscache: Fix oops due to race with cookie_lru and "
       "use_cookie"},
      {"inval-during-lookup", &Fixes::inval_during_lookup,
       "85e4ea1049c7 fscache: Fix invalidation/lookup race"},
      {"inval-access-leak", &Fixes::inval_access_leak,
       "fb24771faf72 fscache: don't leak cookie access refs if invalidation "
       "is in progress or failed"},
      {"unmark-on-error", &Fixes::unmark_on_error,
       "ea5dc046127e cachefiles: unmark inode in use in error path"},
      {"shorten-length", &Fixes::shorten_length,
       "b08968f196d4 cachefiles: Fix incorrect length to fallocate()"},
  };
  return names;
}

void Engine::set_fixes(const Fixes& f) { m->fix = f; }

const Fixes& Engine::fixes() const { return m->fix; }

void Engine::use_cookie(CookieId id, bool will_modify)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_use_cookie");
  if (!c)
    return;
  if (c->test(cookie_flag::relinquished)) {
    m->obs.printk(fmt::format("WARNING: use of relinquished c={:08x}", id));
    return;
  }
  ++c->n_active;
  m->obs.active(c->debug_id, c->ref, c->n_active, c->n_accesses,
                will_modify ? ActiveTrace::use_modify : ActiveTrace::use);
  m->use_again(*c, will_modify);
}

void Engine::unuse_cookie(CookieId id, const Bytes* aux,
                          const std::uint64_t* object_size)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_unuse_cookie");
  if (!c)
    return;
  if (c->n_active <= 0 || c->test(cookie_flag::relinquished)) {
    m->obs.printk(fmt::format("WARNING: unuse of c={:08x} with n_active {}", id,
                              c->n_active));
    return;
  }
  int r = c->ref, a = c->n_accesses;
  if (aux || object_size) {
    ++m->stats.updates;
    m->update_aux(*c, aux, object_size);
    c->set(cookie_flag::needs_update);
  }
  if (c->n_active != 1) {
    --c->n_active;
    m->obs.active(c->debug_id, r, c->n_active, a, ActiveTrace::unuse);
    return;
  }
  --c->n_active;
  m->obs.active(c->debug_id, c->ref, c->n_active, c->n_accesses,
                ActiveTrace::unuse);
  // Under cookie->lock, but an access may end meanwhile (no lock).
  m->preempt_point(*c);
  m->unuse_locked(*c);
}

void Engine::relinquish_cookie(CookieId id, bool retire, bool put_later)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_relinquish_cookie");
  if (!c)
    return;
  ++m->stats.relinqs;
  if (retire)
    ++m->stats.relinqs_retire;
  if (c->test_and_set(cookie_flag::relinquished)) {
    m->obs.printk(
        fmt::format("WARNING: Cookie c={:x} already relinquished", id));
    return;
  }
  if (retire)
    c->set(cookie_flag::retired);
  m->obs.relinquish(c->debug_id, c->volume->debug_id, c->ref, c->n_active,
                    static_cast<std::uint8_t>(c->flags & 0xff), retire);
  if (c->n_active != 0)
    m->obs.finding(fmt::format("6.1 would BUG: relinquish of c={:08x} with "
                               "n_active {} (ASSERTCMP)",
                               id, c->n_active));
  --c->volume->n_cookies;
  if (c->test(cookie_flag::has_been_cached)) {
    c->set(cookie_flag::do_relinquish);
    m->drop_withdraw_cookie(*c);
  } else {
    m->set_state(*c, CookieState::dropped);
    m->unhash_cookie(*c);
  }
  if (put_later)
    return;
  // No lock held before the put: a worker may run the queued withdrawal
  // first (6.1 kernel suite, 58388: the relinquish's put freed it).
  m->preempt_at({Runnable::call, c->debug_id});
  m->put_cookie(*c, CookieTrace::put_relinquish);
}

void Engine::put_lru(CookieId id)
{
  Task t = m->task;
  m->set_task(Task::fscache_wq);
  if (Cookie* c = m->find_cookie(id, "fscache_cookie_lru_do_one"))
    m->put_cookie(*c, CookieTrace::put_lru);
  m->set_task(t);
}

void Engine::put_relinquished(CookieId id)
{
  m->set_task(Task::netfs);
  if (Cookie* c = m->find_cookie(id, "fscache_relinquish_cookie"))
    m->put_cookie(*c, CookieTrace::put_relinquish);
}

void Engine::invalidate(CookieId id, ByteView aux, std::uint64_t new_size,
                        bool dio_write)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_invalidate");
  if (!c || c->test(cookie_flag::disabled))
    return;
  ++m->stats.invals;
  if (c->test(cookie_flag::relinquished)) {
    m->obs.printk("WARNING: Trying to invalidate relinquished cookie");
    return;
  }
  if (dio_write && c->test_and_set(cookie_flag::disabled))
    return;
  c->set(cookie_flag::no_data_to_read);
  Bytes a(aux.begin(), aux.end());
  m->update_aux(*c, &a, &new_size);
  ++c->inval_counter;
  m->obs.invalidate(c->debug_id, new_size);
  switch (c->state) {
  case CookieState::looking_up:
    // 85e4ea1049c7: before it, an invalidation during the lookup was
    // forgotten and the old file served. fb24771faf72: before it, each
    // one took an access, and one flag ended one of them.
    if (!m->fix.inval_during_lookup)
      return;
    if (!m->fix.inval_access_leak) {
      c->set(cookie_flag::do_invalidate);
      m->begin_cookie_access_raw(*c, AccessTrace::invalidate_cookie);
    } else if (!c->test_and_set(cookie_flag::do_invalidate)) {
      m->begin_cookie_access_raw(*c, AccessTrace::invalidate_cookie);
    }
    return;
  case CookieState::active:
    if (m->begin_cookie_access(*c, AccessTrace::invalidate_cookie)) {
      m->set_state(*c, CookieState::invalidating);
      m->queue_cookie(*c, CookieTrace::get_inval_work);
    }
    return;
  default:
    return;
  }
}

void Engine::update_cookie(CookieId id, const Bytes* aux,
                           const std::uint64_t* size)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_update_cookie");
  if (!c || c->test(cookie_flag::disabled))
    return;
  ++m->stats.updates;
  m->update_aux(*c, aux, size);
  c->set(cookie_flag::needs_update);
}

void Engine::resize_cookie(CookieId id, std::uint64_t new_size)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_resize_cookie");
  if (!c || c->test(cookie_flag::disabled))
    return;
  m->obs.resize(c->debug_id, c->object_size, new_size);
  Impl* im = m.get();
  m->begin_operation(*c, Want::write, AccessTrace::io_resize,
                     [im, new_size](OpRec& r) {
                       // The netfs's cres lives on its stack: forget it.
                       OpId op = r.op.id;
                       if (r.info.status != OpInfo::ready) {
                         ++im->stats.resizes_null;
                       } else {
                         ++im->stats.resizes;
                         r.op.cookie->set(cookie_flag::needs_update);
                         im->be.resize_cookie(r.op, new_size);
                         im->end_op(r);
                       }
                       im->ops.erase(op);
                     });
}

OpId Engine::begin_read(CookieId id)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_begin_read_operation");
  if (!c)
    return 0;
  if (c->test(cookie_flag::disabled)) {
    OpId op = m->next_op++;
    m->ops[op].info = {OpInfo::refused, -ENOBUFS};
    return op;
  }
  return m->begin_operation(*c, Want::params, AccessTrace::io_read, nullptr);
}

OpId Engine::begin_write(CookieId id)
{
  m->set_task(Task::netfs);
  Cookie* c = m->find_cookie(id, "fscache_begin_write_operation");
  if (!c)
    return 0;
  if (c->test(cookie_flag::disabled)) {
    OpId op = m->next_op++;
    m->ops[op].info = {OpInfo::refused, -ENOBUFS};
    return op;
  }
  return m->begin_operation(*c, Want::params, AccessTrace::io_write, nullptr);
}

OpInfo Engine::op_info(OpId id) const
{
  auto it = m->ops.find(id);
  return it == m->ops.end() ? OpInfo{} : it->second.info;
}

int Engine::read(OpId id, std::uint64_t pos, std::uint64_t len)
{
  auto it = m->ops.find(id);
  if (it == m->ops.end() || it->second.info.status != OpInfo::ready)
    return -ENOBUFS;
  OpRec& r = it->second;
  if (!m->io_may_proceed(*r.op.cookie))
    return -ENOBUFS;
  return m->be.read(r.op, pos, len);
}

int Engine::write(OpId id, std::uint64_t pos, std::uint64_t len,
                  bool complete_now)
{
  auto it = m->ops.find(id);
  if (it == m->ops.end() || it->second.info.status != OpInfo::ready)
    return -ENOBUFS;
  OpRec& r = it->second;
  if (!m->io_may_proceed(*r.op.cookie))
    return -ENOBUFS;
  int io = m->be.write(r.op, pos, len);
  if (io > 0 && complete_now)
    m->be.complete_write(io);
  return io;
}

void Engine::complete_write(int io) { m->be.complete_write(io); }

void Engine::resume_operation(OpId id, bool if_ready)
{
  auto it = std::find_if(m->waiters.begin(), m->waiters.end(),
                         [id](const Waiter& w) { return w.op == id; });
  if (it == m->waiters.end())
    return;
  OpRec& r = m->ops[id];
  m->print_wait(r);
  if (!it->ready())
    return;
  const CookieState s = r.op.cookie->state;
  if (if_ready && s != CookieState::active &&
      !(s == CookieState::creating && r.want == Want::params))
    return;
  auto resume = std::move(it->resume);
  m->waiters.erase(it);
  Task t = m->task;
  m->set_task(Task::netfs);
  resume();
  m->set_task(t);
}

void Engine::end_operation(OpId id)
{
  auto it = m->ops.find(id);
  if (it == m->ops.end())
    return;
  if (it->second.info.status == OpInfo::waiting) {
    m->obs.printk(fmt::format("end_operation of op {} while it waits: "
                              "refused",
                              id));
    return;
  }
  m->set_task(Task::netfs);
  m->end_op(it->second);
  m->ops.erase(it);
}

bool Engine::step() { return m->step(); }

void Engine::set_scheduler(Scheduler* s) { m->sched = s; }

std::uint64_t Engine::jobs_queued() const { return m->queued; }

std::uint64_t Engine::run()
{
  std::uint64_t n = 0;
  while (m->step()) {
    if (++n > k_max_steps) {
      m->obs.finding("6.1 would livelock here: the work queue never "
                     "drains");
      break;
    }
  }
  m->set_task(Task::netfs);
  return n;
}

void Engine::advance(std::uint64_t ns, bool run_queued)
{
  run();
  std::uint64_t target = m->now_ns + ns;
  while (m->timer_armed && m->timer_at <= target) {
    m->now_ns = std::max(m->now_ns, m->timer_at);
    m->obs.clock(m->now_ns);
    m->timer_armed = false;
    if (!m->lru_work_pending) {
      m->lru_work_pending = true;
      m->queue_job({Job::lru, nullptr, nullptr});
    }
    if (!run_queued)
      break;
    run();
  }
  m->now_ns = target;
  m->obs.clock(m->now_ns);
}

void Engine::clock_to(std::uint64_t ns)
{
  if (ns <= m->now_ns)
    return;
  m->now_ns = ns;
  m->obs.clock(m->now_ns);
}

std::uint64_t Engine::now() const { return m->now_ns; }

std::vector<std::string> Engine::waiting() const
{
  std::vector<std::string> out;
  for (const Waiter& w : m->waiters)
    out.push_back(w.what);
  return out;
}

CookieInfo Engine::cookie_info(CookieId id) const
{
  auto it = m->cookies.find(id);
  if (it == m->cookies.end() || it->second->freed)
    return {};
  const Cookie& c = *it->second;
  return {true,    c.state,  c.ref,        c.n_active,        c.n_accesses,
          c.flags, c.on_lru, c.cache_priv, c.acquire_pending, c.object_size};
}

VolumeInfo Engine::volume_info(VolumeId id) const
{
  auto it = m->volumes.find(id);
  if (it == m->volumes.end() || it->second->freed)
    return {};
  const Volume& v = *it->second;
  return {true,    v.ref,        v.n_cookies,      v.n_accesses,
          v.flags, v.cache_priv, v.acquire_pending};
}

CacheInfo Engine::cache_info() const
{
  for (auto it = m->caches.rbegin(); it != m->caches.rend(); ++it)
    if (!(*it)->freed) {
      const Cache& k = **it;
      return {true, k.state, k.ref, k.n_accesses, k.n_volumes, k.object_count};
    }
  return {};
}

const Stats& Engine::stats() const { return m->stats; }

std::vector<CookieId> Engine::live_cookies() const
{
  std::vector<CookieId> out;
  for (const auto& [id, c] : m->cookies)
    if (!c->freed)
      out.push_back(id);
  return out;
}

std::vector<std::string> Engine::check_counts() const
{
  std::vector<std::string> out;
  auto bad = [&out](std::string s) { out.push_back(std::move(s)); };
  std::map<const Cookie*, int> op_accesses;
  for (const auto& [id, r] : m->ops)
    if (r.info.status == OpInfo::ready || r.info.status == OpInfo::waiting)
      ++op_accesses[r.op.cookie];
  std::map<const Volume*, int> vol_cookies, vol_lookups, vol_live;
  for (const auto& [id, cp] : m->cookies) {
    const Cookie& c = *cp;
    if (c.freed || c.leaked)
      continue;
    ++vol_live[c.volume];
    if (c.state == CookieState::looking_up)
      ++vol_lookups[c.volume];
    if (!c.test(cookie_flag::relinquished))
      ++vol_cookies[c.volume];
    int ref = (c.test(cookie_flag::relinquished) ? 0 : 1) + (c.on_lru ? 1 : 0) +
              c.n_objects + c.hcoll_holds + (c.work_pending ? 1 : 0);
    if (c.ref != ref)
      bad(fmt::format("c={:08x} ref {} but its holders make {}", id, c.ref,
                      ref));
    int acc = op_accesses[&c] + (c.state == CookieState::looking_up ? 1 : 0) +
              (c.test(cookie_flag::do_invalidate) ? 1 : 0) +
              (c.state == CookieState::invalidating ? 1 : 0);
    if (c.n_accesses != acc)
      bad(fmt::format("c={:08x} n_accesses {} but {} accesses are held", id,
                      c.n_accesses, acc));
    if (c.n_active < 0)
      bad(fmt::format("c={:08x} n_active {}", id, c.n_active));
    if (c.on_lru !=
        (std::find(m->lru.begin(), m->lru.end(), &c) != m->lru.end()))
      bad(fmt::format("c={:08x} LRU membership disagrees", id));
  }
  std::map<const Cache*, int> cache_vols, cache_creates;
  for (const auto& [id, vp] : m->volumes) {
    const Volume& v = *vp;
    if (v.freed)
      continue;
    ++cache_vols[v.cache];
    const bool creating = v.work_pending || v.work_rest;
    if (creating)
      ++cache_creates[v.cache];
    int ref = (v.test(volume_flag::relinquished) ? 0 : 1) + vol_live[&v] +
              (creating ? 1 : 0);
    if (v.ref != ref)
      bad(fmt::format("V={:08x} ref {} but its holders make {}", id, v.ref,
                      ref));
    if (v.n_cookies != vol_cookies[&v])
      bad(fmt::format("V={:08x} n_cookies {} but {} cookies are hashed", id,
                      v.n_cookies, vol_cookies[&v]));
    int acc = (v.pinned ? 1 : 0) + vol_lookups[&v];
    if (v.n_accesses != acc)
      bad(fmt::format("V={:08x} n_accesses {} but {} accesses are held", id,
                      v.n_accesses, acc));
  }
  for (const auto& kp : m->caches) {
    const Cache& k = *kp;
    if (k.freed)
      continue;
    bool bound = k.state != CacheState::not_present;
    int ref = (bound ? 1 : 0) + cache_vols[&k];
    if (k.ref != ref)
      bad(fmt::format("C={:08x} ref {} but its holders make {}", k.debug_id,
                      k.ref, ref));
    bool pinned =
        k.state == CacheState::active || k.state == CacheState::got_ioerror;
    int acc = (pinned ? 1 : 0) + cache_creates[&k];
    if (k.n_accesses != acc)
      bad(fmt::format("C={:08x} n_accesses {} but {} accesses are held",
                      k.debug_id, k.n_accesses, acc));
    if (k.n_volumes != cache_vols[&k])
      bad(fmt::format("C={:08x} n_volumes {} but {} volumes live", k.debug_id,
                      k.n_volumes, cache_vols[&k]));
  }
  return out;
}

} // namespace fsc::fscache::v2
