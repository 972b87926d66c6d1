// engine.cpp - the executor that stands in for the fscache_object and
// fscache_operation workqueues, parked netfs callers, hooks and findings.
#include "internal.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace fsc::fscache {

namespace {
constexpr std::uint64_t k_fsdef_addr = 0xffffffffc0001540ULL;
constexpr std::uint64_t k_cookie_base = 0xffff888100000000ULL;
} // namespace

const std::vector<std::pair<std::string_view, bool Fixes::*>>& fix_names()
{
  static const std::vector<std::pair<std::string_view, bool Fixes::*>> names{
      {"attach-ref-at-init", &Fixes::attach_ref_at_init},
      {"dead-state-work", &Fixes::dead_state_work},
      {"clear-writes-on-disable", &Fixes::clear_writes_on_disable},
      {"submit-checks-live", &Fixes::submit_checks_live},
      {"cancel-everywhere", &Fixes::cancel_everywhere},
      {"duplicate-detection", &Fixes::duplicate_detection},
      {"size-passed-in", &Fixes::size_passed_in},
      {"drop-clears-looking-up", &Fixes::drop_clears_looking_up},
      {"collision-tests-old", &Fixes::collision_tests_old},
  };
  return names;
}

Engine::Impl::Impl(Backend& b, Observer& o, std::uint64_t s, Fixes f)
    : backend(b), obs(o), fixes(f), seed(s), rng(s)
{
  // The static root index cookie (fscache_fsdef_index): never freed.
  auto c = std::make_unique<Cookie>();
  c->id = fsdef_cookie;
  c->addr = k_fsdef_addr;
  c->type = CookieType::index;
  c->def_name = ".FS-Cache";
  c->rule = AuxRule::none;
  c->set(cookie_flag::enabled);
  c->set(cookie_flag::acquired);
  cookies.emplace(c->id, std::move(c));
}

void Engine::Impl::bug(const std::string& what)
{
  if (halted)
    return;
  obs.finding(what);
  halted = true;
}

void Engine::Impl::set_task(Task t)
{
  if (t == task)
    return;
  task = t;
  obs.context(t);
}

Cookie* Engine::Impl::find_cookie(CookieId id, const char* call)
{
  auto it = cookies.find(id);
  if (it != cookies.end() && !it->second->freed)
    return it->second.get();
  bug(fmt::format("4.19 would crash here: {}() on cookie #{} after it was "
                  "freed (use after free)",
                  call, id));
  return nullptr;
}

void Engine::Impl::enqueue_job(Job j) { runq.push_back(j); }

void Engine::Impl::park(std::function<bool()> ready,
                        std::function<void()> resume, std::string what,
                        Resumes next)
{
  if (ready() && !(next.kind == Resumes::cookie_ref && scheduler)) {
    resume();
    return;
  }
  waiters.push_back(
      {std::move(ready), std::move(resume), std::move(what), next});
}

bool Engine::Impl::resume_waiters()
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
  return false;
}

void Engine::Impl::fire_hooks(Object* obj, int state)
{
  if (hooks.empty() || !obj->cookie)
    return;
  for (auto it = hooks.begin(); it != hooks.end(); ++it) {
    if (it->cookie != obj->cookie->id || it->state != state)
      continue;
    auto call = std::move(it->call);
    hooks.erase(it);
    Task was = task;
    set_task(Task::netfs);
    call();
    set_task(was);
    return;
  }
}

bool Engine::Impl::run_one_job(std::size_t forced)
{
  std::size_t i = 0;
  if (forced != SIZE_MAX)
    i = forced;
  else if (seed != 0 && runq.size() > 1)
    i = rng() % runq.size();
  Job j = runq[i];
  runq.erase(runq.begin() + static_cast<std::ptrdiff_t>(i));
  switch (j.kind) {
  case Job::run_object:
    start_work_item(j.obj, false);
    break;
  case Job::run_op:
    set_task(Task::op_wq);
    j.op->queued = false;
    op_work(j.op);
    break;
  case Job::run_gc:
    set_task(Task::op_wq);
    gc_queued = false;
    op_gc();
    break;
  }
  return true;
}

bool Engine::Impl::scheduled_step()
{
  // What could run now, in the order an unscheduled engine would take it
  // (woken callers, then the queues in FIFO order); the scheduler picks.
  std::vector<Runnable> ready;
  std::vector<std::list<Waiter>::iterator> woken;
  for (auto it = waiters.begin(); it != waiters.end(); ++it)
    if (it->ready()) {
      const Resumes& n = it->next;
      Object* o = n.kind == Resumes::object_event && n.cookie ? n.cookie->object
                                                              : nullptr;
      ready.push_back(
          {Runnable::resume_call,
           n.kind != Resumes::unknown && n.cookie ? n.cookie->addr : 0,
           o ? o->addr : 0});
      woken.push_back(it);
    }
  for (Object* o : running) {
    Runnable r{Runnable::continue_work, o->cookie ? o->cookie->addr : 0,
               o->addr};
    r.next = o->work.at == WorkItem::drop_tail  ? Runnable::release_parent
             : o->work.at == WorkItem::put_work ? Runnable::put_work
                                                : Runnable::dispatch;
    ready.push_back(r);
  }
  std::vector<std::size_t> queued;
  for (std::size_t i = 0; i < runq.size(); ++i) {
    const Job& j = runq[i];
    Runnable r;
    switch (j.kind) {
    case Job::run_object:
      // Not concurrently with itself, and within max_active.
      if (j.obj->work.at != WorkItem::idle || running.size() >= max_active)
        continue;
      r = {Runnable::start_work, j.obj->cookie ? j.obj->cookie->addr : 0,
           j.obj->addr};
      break;
    case Job::run_op:
      r = {Runnable::op_work, j.op->cookie ? j.op->cookie->addr : 0, 0,
           j.op->addr};
      break;
    case Job::run_gc:
      r = {Runnable::op_gc, 0, 0};
      break;
    }
    ready.push_back(r);
    queued.push_back(i);
  }
  if (ready.empty())
    return false;
  std::size_t k = scheduler->pick(ready);
  if (k >= ready.size())
    return false;
  if (k < woken.size()) {
    auto it = woken[k];
    auto resume = std::move(it->resume);
    waiters.erase(it);
    set_task(Task::netfs);
    resume();
    return true;
  }
  k -= woken.size();
  if (k < running.size()) {
    Object* o = running[k];
    set_task(Task::object_wq);
    if (!work_slice(o, true))
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
    return true;
  }
  std::size_t i = queued[k - running.size()];
  Job j = runq[i];
  if (j.kind != Job::run_object)
    return run_one_job(i);
  runq.erase(runq.begin() + static_cast<std::ptrdiff_t>(i));
  if (start_work_item(j.obj, true))
    running.push_back(j.obj);
  return true;
}

// A worker takes o's work item off the queue (fscache_object_work_func);
// true when the item paused in a slice and is still running.
bool Engine::Impl::start_work_item(Object* o, bool sliced)
{
  set_task(Task::object_wq);
  o->queued = false;
  if (o->freed) {
    bug(fmt::format("4.19 would crash here: OBJ{:x} runs its work item "
                    "after being freed (use after free)",
                    o->id));
    return false;
  }
  o->work.at = WorkItem::start;
  return work_slice(o, sliced);
}

void Engine::Impl::reclaim()
{
  if (!runq.empty() || !waiters.empty() || !gc_list.empty() || !running.empty())
    return;
  dead_objects.clear();
  dead_ops.clear();
}

// --- Engine: thin public wrappers --------------------------------------------

void attach_host(Engine::Impl& e);

Engine::Engine(Backend& backend, Observer& observer, std::uint64_t seed,
               Fixes fixes)
    : m(std::make_unique<Impl>(backend, observer, seed, fixes))
{
  attach_host(*m);
}

Engine::~Engine() = default;

void Engine::set_scheduler(Scheduler* s, int max_active)
{
  m->scheduler = s;
  m->max_active = static_cast<std::size_t>(std::max(max_active, 1));
}

void Engine::next_call(int tag)
{
  if (m->scheduler)
    m->scheduler->next_call(tag);
}

bool Engine::step()
{
  if (m->halted)
    return false;
  if (m->scheduler)
    return m->scheduled_step();
  if (m->resume_waiters())
    return true;
  if (m->runq.empty())
    return false;
  return m->run_one_job();
}

bool Engine::step_object(CookieId id)
{
  auto it = m->cookies.find(id);
  if (m->halted || it == m->cookies.end() || !it->second->object)
    return false;
  Object* o = it->second->object;
  for (std::size_t i = 0; i < m->runq.size(); ++i)
    if (m->runq[i].kind == Job::run_object && m->runq[i].obj == o &&
        o->work.at == WorkItem::idle)
      return m->run_one_job(i);
  return false;
}

std::uint64_t Engine::run()
{
  std::uint64_t n = 0;
  while (step())
    ++n;
  m->reclaim();
  m->set_task(Task::netfs);
  return n;
}

bool Engine::stopped() const { return m->halted; }

std::vector<std::string> Engine::stuck() const
{
  std::vector<std::string> out;
  for (const auto& w : m->waiters)
    out.push_back(w.what);
  return out;
}

void Engine::on_state(CookieId c, ObjState s, std::function<void()> call)
{
  m->hooks.push_back({c, static_cast<int>(s), std::move(call)});
}

void Engine::on_dispatch(CookieId c, std::function<void()> call)
{
  m->hooks.push_back({c, -1, std::move(call)});
}

CookieInfo Engine::cookie_info(CookieId id) const
{
  CookieInfo ci;
  auto it = m->cookies.find(id);
  if (it == m->cookies.end() || it->second->freed)
    return ci;
  const Cookie& c = *it->second;
  ci.exists = true;
  ci.usage = c.usage;
  ci.n_children = c.n_children;
  ci.n_active = c.n_active;
  ci.flags = c.flags;
  if (c.object)
    ci.object = c.object->id;
  return ci;
}

ObjectInfo Engine::object_info(CookieId id) const
{
  ObjectInfo oi;
  auto it = m->cookies.find(id);
  if (it == m->cookies.end() || it->second->freed || !it->second->object)
    return oi;
  const Object& o = *it->second->object;
  oi.exists = true;
  oi.id = o.id;
  oi.state = o.state;
  oi.usage = o.usage;
  oi.n_children = o.n_children;
  oi.n_ops = o.n_ops;
  oi.n_in_progress = o.n_in_progress;
  oi.n_exclusive = o.n_exclusive;
  oi.flags = o.flags;
  oi.events = o.events;
  return oi;
}

const Stats& Engine::stats() const { return m->stats; }

std::size_t Engine::live_objects() const
{
  return static_cast<std::size_t>(
      std::count_if(m->objects.begin(), m->objects.end(),
                    [](const auto& kv) { return !kv.second->freed; }));
}

std::size_t Engine::live_cookies() const
{
  // The fsdef cookie is static; netfs primary indexes live until
  // unregistered, which a replay never does.
  return m->cookies.size() - 1;
}

std::vector<CookieId> Engine::leaked_cookies() const
{
  std::vector<CookieId> out;
  for (CookieId id : m->relinquished) {
    auto it = m->cookies.find(id);
    if (it != m->cookies.end() && !it->second->freed)
      out.push_back(id);
  }
  return out;
}

std::uint64_t cookie_addr_for(CookieId id)
{
  return k_cookie_base + std::uint64_t(id) * 0x100;
}

} // namespace fsc::fscache

namespace fsc::fscache {

namespace {

/// The fscache_* helpers CacheFiles calls back into, on the engine's state.
class Host final : public BackendHost {
public:
  explicit Host(Engine::Impl& e) : m(e) {}

  Observer& observer() override { return m.obs; }

  Object* obj(ObjectId id)
  {
    auto it = m.objects.find(id);
    return it == m.objects.end() ? nullptr : it->second.get();
  }

  std::uint64_t object_addr(ObjectId id) override
  {
    Object* o = obj(id);
    return o ? o->addr : 0;
  }

  void lookup_negative(ObjectId id) override
  {
    Object* o = obj(id);
    if (o->test(object_flag::is_looked_up))
      return;
    o->set(object_flag::is_looked_up);
    ++m.stats.lookups_neg;
    Cookie* c = o->cookie;
    c->set(cookie_flag::no_data_yet);
    c->test_and_clear(cookie_flag::unavailable);
    c->test_and_clear(cookie_flag::looking_up);
  }

  void obtained_object(ObjectId id) override
  {
    Object* o = obj(id);
    Cookie* c = o->cookie;
    if (!o->test(object_flag::is_looked_up)) {
      o->set(object_flag::is_looked_up);
      ++m.stats.lookups_pos;
      c->test_and_clear(cookie_flag::no_data_yet);
      c->test_and_clear(cookie_flag::unavailable);
      c->test_and_clear(cookie_flag::looking_up);
    } else {
      ++m.stats.lookups_crt;
    }
    o->set(object_flag::is_available);
  }

  CheckAux check_aux(ObjectId id, ByteView aux, std::uint64_t) override
  {
    Cookie* c = obj(id)->cookie;
    bool same = aux.size() == c->aux.size() &&
                std::equal(aux.begin(), aux.end(), c->aux.begin());
    switch (c->rule) {
    case AuxRule::none:
      ++m.stats.chkaux_non;
      return CheckAux::okay;
    case AuxRule::update:
      ++(same ? m.stats.chkaux_ok : m.stats.chkaux_upd);
      return same ? CheckAux::okay : CheckAux::needs_update;
    default:
      ++(same ? m.stats.chkaux_ok : m.stats.chkaux_obs);
      return same ? CheckAux::okay : CheckAux::obsolete;
    }
  }

  void retrying_stale(ObjectId) override { ++m.stats.cacheev_nsp; }

  void mark_killed(ObjectId id, KillReason why) override
  {
    Object* o = obj(id);
    if (!o)
      return;
    if (o->test(object_flag::killed_by_cache)) {
      m.obs.printk("FS-Cache: Error: Object already killed by cache");
      return;
    }
    o->set(object_flag::killed_by_cache);
    switch (why) {
    case KillReason::stale:
      ++m.stats.cacheev_stl;
      break;
    case KillReason::no_space:
      ++m.stats.cacheev_nsp;
      break;
    case KillReason::was_retired:
      ++m.stats.cacheev_rtr;
      break;
    case KillReason::was_culled:
      ++m.stats.cacheev_cul;
      break;
    }
  }

  void set_error_event(ObjectId id) override
  {
    obj(id)->events |= ev_bit(ObjEvent::error);
  }

  bool object_live(ObjectId id) override
  {
    Object* o = obj(id);
    return o && o->test(object_flag::is_live);
  }

  unsigned object_flags(ObjectId id) override
  {
    Object* o = obj(id);
    return o ? o->flags : 0;
  }

  bool object_work_pending(ObjectId id) override
  {
    Object* o = obj(id);
    return o && o->queued;
  }

  void get_object_untraced(ObjectId id) override { ++obj(id)->usage; }

  void put_object(ObjectId id, ObjRefTrace why) override
  {
    m.obj_put(obj(id), why);
  }

  bool fix_collision_tests_old() override
  {
    return m.fixes.collision_tests_old;
  }

  void crash(std::string_view what) override { m.bug(std::string(what)); }

  void io_error(std::string_view why) override
  {
    if (m.io_error)
      return;
    m.io_error = true;
    m.obs.printk("CacheFiles: I/O Error: " + std::string(why));
    m.obs.printk("FS-Cache: Cache cachefiles stopped due to I/O error");
  }

private:
  Engine::Impl& m;
};

} // namespace

void attach_host(Engine::Impl& e)
{
  e.host = std::make_unique<Host>(e);
  e.backend.set_host(*e.host);
}

CookieId Engine::cookie_of_object(ObjectId id) const
{
  auto it = m->objects.find(id);
  if (it == m->objects.end() || !it->second->cookie)
    return no_cookie;
  return it->second->cookie->id;
}

} // namespace fsc::fscache
