// object.cpp - the 4.19 object state machine (fs/fscache/object.c): the
// dispatcher, the work states and the transition tables, kept readable next
// to spec v1-engine §2.4-§2.5.
#include "internal.hpp"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace fsc::fscache {

namespace {

constexpr std::uint64_t k_object_base = 0xffff888200000000ULL;
constexpr unsigned k_oob_events =
    ev_bit(ObjEvent::error) | ev_bit(ObjEvent::kill);

/// The wait states' tables (WAIT_STATE in object.c), in table order.
struct WaitTransition {
  ObjState from;
  unsigned events;
  ObjState to;
};
constexpr WaitTransition k_wait_table[] = {
    {ObjState::wait_for_init, ev_bit(ObjEvent::new_child),
     ObjState::init_object},
    {ObjState::wait_for_parent, ev_bit(ObjEvent::parent_ready),
     ObjState::parent_ready},
    {ObjState::wait_for_cmd, ev_bit(ObjEvent::invalidate),
     ObjState::invalidate_object},
    {ObjState::wait_for_cmd, ev_bit(ObjEvent::update), ObjState::update_object},
    {ObjState::wait_for_cmd, ev_bit(ObjEvent::new_child),
     ObjState::jumpstart_deps},
    {ObjState::wait_for_clearance, ev_bit(ObjEvent::cleared),
     ObjState::kill_object},
};

/// The out-of-band tables: ERROR or KILL divert to one work state.
ObjState oob_target(OobTable t)
{
  switch (t) {
  case OobTable::init:
    return ObjState::abort_init;
  case OobTable::lookup:
    return ObjState::lookup_failure;
  default:
    return ObjState::kill_object;
  }
}

int fls_event(unsigned bits) { return 31 - __builtin_clz(bits); }

} // namespace

Decision decide(ObjState state, unsigned events, unsigned event_mask,
                unsigned oob_event_mask, OobTable oob)
{
  Decision d;
  if (events & oob_event_mask) {
    // Out-of-band events (ERROR, KILL): the highest pending bit wins.
    unsigned hit = events & k_oob_events;
    if (hit) {
      d.kind = Decision::oob;
      d.event = fls_event(hit);
      d.next = oob_target(oob);
      return d;
    }
  }
  if (!is_wait_state(state) || !(events & event_mask))
    return d;
  for (const auto& t : k_wait_table) {
    if (t.from != state || !(events & t.events))
      continue;
    d.kind = Decision::wait;
    d.event = fls_event(events & t.events);
    d.next = t.to;
    return d;
  }
  d.kind = Decision::bug;
  return d;
}

unsigned wait_events_of(ObjState s)
{
  unsigned m = 0;
  for (const auto& t : k_wait_table)
    if (t.from == s)
      m |= t.events;
  return m;
}

namespace {

bool live(const Object* o) { return o->test(object_flag::is_live); }
bool available(const Object* o) { return o->test(object_flag::is_available); }

} // namespace

unsigned Engine::Impl::oob_mask_of(OobTable t) const
{
  return t == OobTable::none ? 0 : k_oob_events;
}

unsigned Engine::Impl::wait_mask_of(ObjState s) const
{
  return wait_events_of(s);
}

Object* Engine::Impl::new_object(Cookie* c)
{
  auto o = std::make_unique<Object>();
  o->id = c->id == fsdef_cookie ? 0 : next_object++;
  o->addr = k_object_base + std::uint64_t(o->id) * 0x100 + 0x80;
  o->cookie = c;
  o->state = ObjState::wait_for_init;
  o->oob_table = OobTable::init;
  o->flags = 1U << object_flag::is_live;
  o->oob_event_mask = oob_mask_of(OobTable::init);
  o->event_mask = o->oob_event_mask | wait_mask_of(ObjState::wait_for_init);
  ++cache_object_count;
  if (fixes.attach_ref_at_init)
    cookie_get(c, CookieTrace::get_attach_object);
  Object* raw = o.get();
  objects.emplace(raw->id, std::move(o));
  return raw;
}

void Engine::Impl::obj_get(Object* o, ObjRefTrace why)
{
  ++o->usage;
  obs.obj_ref(o->cookie ? o->cookie->addr : 0, o->addr, o->usage, why);
}

void Engine::Impl::obj_put(Object* o, ObjRefTrace why)
{
  --o->usage;
  obs.obj_ref(o->cookie ? o->cookie->addr : 0, o->addr, o->usage, why);
  if (o->freed) {
    bug(fmt::format("4.19 would crash here: {} on OBJ{:x} after it was "
                    "freed (use after free, usage {})",
                    obj_ref_trace_names[int(why)], o->id, o->usage));
    return;
  }
  if (o->usage < 0)
    bug(fmt::format("4.19 would crash here: OBJ{:x} usage -1 after {} "
                    "(ASSERTCMP(u, !=, -1) in cachefiles_put_object)",
                    o->id, obj_ref_trace_names[int(why)]));
  else if (o->usage == 0)
    destroy_object(o);
}

void Engine::Impl::destroy_object(Object* o)
{
  // cachefiles_put_object's assertions, then fscache_object_destroy.
  if (o->n_ops != 0) {
    bug(fmt::format("4.19 would crash here: CacheFiles: Assertion failed: "
                    "OBJ{:x} n_ops {} == 0 is false (cachefiles_put_object)",
                    o->id, o->n_ops));
    return;
  }
  if (o->n_children != 0) {
    bug(fmt::format("4.19 would crash here: CacheFiles: Assertion failed: "
                    "OBJ{:x} n_children {} == 0 is false "
                    "(cachefiles_put_object)",
                    o->id, o->n_children));
    return;
  }
  if (o->parent) {
    bug(fmt::format("4.19 would crash here: CacheFiles: Assertion failed: "
                    "OBJ{:x} freed still linked to its parent OBJ{:x} "
                    "(cachefiles_put_object)",
                    o->id, o->parent->id));
    return;
  }
  backend.put_object(o->id);
  Cookie* c = o->cookie;
  o->cookie = nullptr;
  o->freed = true;
  auto it = objects.find(o->id);
  if (it != objects.end()) {
    dead_objects.push_back(std::move(it->second));
    objects.erase(it);
  }
  --cache_object_count;
  if (c)
    cookie_put(c, CookieTrace::put_object);
}

void Engine::Impl::raise_event(Object* o, ObjEvent ev)
{
  unsigned bit = ev_bit(ev);
  bool was_set = o->events & bit;
  o->events |= bit;
  if (!was_set && (o->event_mask & bit))
    enqueue_object(o);
}

void Engine::Impl::enqueue_object(Object* o)
{
  obj_get(o, ObjRefTrace::get_queue);
  if (o->queued) {
    obj_put(o, ObjRefTrace::put_queue);
    return;
  }
  o->queued = true;
  enqueue_job({Job::run_object, o, nullptr});
}

void Engine::Impl::mark_dead(Object* o) { o->clear(object_flag::is_live); }

// --- the dispatcher (fscache_object_sm_dispatcher) ---------------------------

// One object work item (fscache_object_work_func: the dispatcher, then PUT
// work), as a sequence of slices. Unsliced, a call runs the whole item as a
// workqueue worker does. Sliced (a guided replay), a call stops where
// another worker could act on shared state in between: before each work
// state the dispatcher is about to decide on (events masked, as the kernel
// keeps them while its loop runs), before DROP_OBJECT lets go of the parent
// (a parent's KILL can still see this child), and before the final PUT
// work; the kernel's worker can be preempted at each of these points while
// another CPU runs another object's work item.
bool Engine::Impl::work_slice(Object* o, bool sliced)
{
  WorkItem& w = o->work;
  bool first = true;
  auto yield_here = [&] {
    if (sliced && !first)
      return true;
    first = false;
    return false;
  };
  for (;;) {
    if (halted) {
      // Unsliced, the worker still drops its ref as the item returns.
      if (!sliced && w.at != WorkItem::idle) {
        w.at = WorkItem::idle;
        obj_put(o, ObjRefTrace::put_work);
      }
      return false;
    }
    switch (w.at) {
    case WorkItem::idle:
      return false;
    case WorkItem::start:
      first = false;
      fire_hooks(o, -1);
      if (halted)
        return false;
      w.event_mask = o->event_mask;
      w.at = WorkItem::restart;
      continue;
    case WorkItem::restart:
      o->event_mask = 0; // mask normal event handling
      w.at = WorkItem::restart_masked;
      continue;
    case WorkItem::restart_masked:
      if (yield_here())
        return true;
      dispatch_once(o);
      continue;
    case WorkItem::drop_tail:
      if (yield_here())
        return true;
      st_drop_tail(o);
      if (halted)
        return false;
      o->state = ObjState::object_dead;
      w.at = WorkItem::put_work;
      continue;
    case WorkItem::put_work:
      if (yield_here())
        return true;
      w.at = WorkItem::idle;
      obj_put(o, ObjRefTrace::put_work);
      return false;
    }
  }
}

// From restart_masked: one decision and one work state, then where the
// dispatcher goes next (w.at).
void Engine::Impl::dispatch_once(Object* o)
{
  WorkItem& w = o->work;
  ObjState state = o->state;
  int event = -1;
  bool oob = false;
  Decision d =
      decide(state, o->events, w.event_mask, o->oob_event_mask, o->oob_table);
  switch (d.kind) {
  case Decision::oob:
    oob = true;
    state = d.next;
    event = d.event;
    o->oob_event_mask &= ~(1U << event);
    o->events &= ~(1U << event);
    break;
  case Decision::wait:
    event = d.event;
    obs.osm(o->cookie->addr, o->addr, state, true, false, event);
    o->events &= ~(1U << event);
    o->state = state = d.next;
    break;
  case Decision::bug:
    bug(fmt::format("4.19 would crash here: OBJ{:x} event mask {:x} "
                    "names events its wait state {} has no transition for "
                    "(BUG in the dispatcher)",
                    o->id, w.event_mask, state_name(state)));
    return;
  case Decision::none:
    if (is_wait_state(state)) {
      unmask(o); // randomly woke up
      return;
    }
    break;
  }
  fire_hooks(o, static_cast<int>(state));
  if (halted)
    return;
  obs.osm(o->cookie ? o->cookie->addr : 0, o->addr, state, false, oob, event);
  if (state == ObjState::drop_object) {
    st_drop_head(o);
    w.at = WorkItem::drop_tail;
    return;
  }
  bool no_transit = false;
  ObjState next = execute(o, state, event, no_transit);
  if (halted)
    return;
  if (no_transit) {
    if (state == ObjState::object_dead) {
      w.at = WorkItem::put_work;
      return;
    }
    enqueue_object(o);
    w.event_mask = o->oob_event_mask;
    unmask(o);
    return;
  }
  o->state = next;
  if (!is_wait_state(next)) {
    w.at = next == ObjState::object_dead ? WorkItem::put_work
                                         : WorkItem::restart_masked;
    return;
  }
  w.event_mask = o->oob_event_mask | wait_mask_of(next);
  unmask(o);
}

void Engine::Impl::unmask(Object* o)
{
  WorkItem& w = o->work;
  o->event_mask = w.event_mask;
  w.at = o->events & w.event_mask ? WorkItem::restart : WorkItem::put_work;
}

ObjState Engine::Impl::execute(Object* o, ObjState s, int, bool& no_transit)
{
  switch (s) {
  case ObjState::init_object:
    return st_init(o);
  case ObjState::parent_ready:
    return st_parent_ready(o);
  case ObjState::abort_init:
    return st_abort_init(o);
  case ObjState::look_up_object:
  case ObjState::create_object:
    return st_look_up(o, no_transit);
  case ObjState::object_available:
    return st_available(o);
  case ObjState::jumpstart_deps:
    return st_jumpstart(o);
  case ObjState::invalidate_object:
    return st_invalidate(o);
  case ObjState::update_object:
    return st_update(o);
  case ObjState::lookup_failure:
    return st_lookup_failure(o);
  case ObjState::kill_object:
    return st_kill(o);
  case ObjState::kill_dependents:
    return st_kill_dependents(o);
  case ObjState::object_dead:
    st_dead(o);
    no_transit = true;
    return s;
  default:
    bug(fmt::format("4.19 would crash here: OBJ{:x} executes wait state {}",
                    o->id, state_name(s)));
    return s;
  }
}

// --- work states
// ---------------------------------------------------------------

ObjState Engine::Impl::st_init(Object* o)
{
  if (o->waiting_on) {
    bug(fmt::format("4.19 would crash here: OBJ{:x} initialised while on a "
                    "dependents list (ASSERT in fscache_initialise_object)",
                    o->id));
    return ObjState::drop_object;
  }
  Object* parent = o->parent;
  if (!parent || !live(parent))
    return ObjState::drop_object;
  if (available(parent))
    return ObjState::parent_ready;
  obj_get(o, ObjRefTrace::get_add_to_deps);
  parent->dependents.push_front(o);
  o->waiting_on = parent;
  raise_event(parent, ObjEvent::new_child);
  return ObjState::wait_for_parent;
}

ObjState Engine::Impl::st_parent_ready(Object* o)
{
  ++o->parent->n_ops;
  ++o->parent->n_obj_ops;
  return ObjState::look_up_object;
}

ObjState Engine::Impl::st_look_up(Object* o, bool& no_transit)
{
  o->oob_table = OobTable::lookup;
  Object* parent = o->parent;
  if (!live(parent) || io_error || !use_cookie(o->cookie))
    return ObjState::lookup_failure;
  ++stats.lookups_n;
  int r = backend.lookup_object(o->id, parent->root ? no_parent : parent->id,
                                o->store_limit_l);
  unuse_cookie(o->cookie);
  if (r == -ETIMEDOUT) {
    ++stats.lookups_tmo;
    // The kernel sleeps up to 60 s per try; a lookup that never gets
    // through would keep the object in LOOK for good.
    if (++o->timeouts > 1000) {
      bug(fmt::format("4.19 would hang here: OBJ{:x} lookup timed out {} "
                      "times waiting for an older object to release its "
                      "dentry",
                      o->id, o->timeouts));
      return o->state;
    }
    no_transit = true;
    return o->state;
  }
  o->timeouts = 0;
  return r < 0 ? ObjState::lookup_failure : ObjState::object_available;
}

void Engine::Impl::done_parent_op(Object* o)
{
  Object* parent = o->parent;
  --parent->n_obj_ops;
  if (--parent->n_ops == 0)
    raise_event(parent, ObjEvent::cleared);
}

ObjState Engine::Impl::st_available(Object* o)
{
  o->oob_table = OobTable::run;
  done_parent_op(o);
  if (o->n_in_progress == 0 && o->n_ops > 0)
    start_operations(o);
  backend.lookup_complete(o->id);
  ++stats.objects_avl;
  return ObjState::jumpstart_deps;
}

void Engine::Impl::enqueue_dependents(Object* o, ObjEvent ev)
{
  while (!o->dependents.empty()) {
    Object* dep = o->dependents.front();
    o->dependents.pop_front();
    dep->waiting_on = nullptr;
    raise_event(dep, ev);
    obj_put(dep, ObjRefTrace::put_enq_dep);
  }
}

ObjState Engine::Impl::st_jumpstart(Object* o)
{
  enqueue_dependents(o, ObjEvent::parent_ready);
  return ObjState::wait_for_cmd;
}

ObjState Engine::Impl::st_lookup_failure(Object* o)
{
  o->oob_event_mask = 0;
  backend.lookup_complete(o->id);
  o->set(object_flag::killed_by_cache);
  Cookie* c = o->cookie;
  c->set(cookie_flag::unavailable);
  c->test_and_clear(cookie_flag::looking_up);
  done_parent_op(o);
  return ObjState::kill_object;
}

ObjState Engine::Impl::st_kill(Object* o)
{
  mark_dead(o);
  o->oob_event_mask = 0;
  if (o->test(object_flag::retired)) {
    o->clear(object_flag::pending_write);
    cancel_all_ops(o);
  }
  if (o->dependents.empty() && o->n_ops == 0 && o->n_children == 0)
    return ObjState::drop_object;
  if (o->n_in_progress == 0 && o->n_ops > 0)
    start_operations(o);
  if (!o->dependents.empty())
    return ObjState::kill_dependents;
  return ObjState::wait_for_clearance;
}

ObjState Engine::Impl::st_kill_dependents(Object* o)
{
  enqueue_dependents(o, ObjEvent::kill);
  return ObjState::wait_for_clearance;
}

ObjState Engine::Impl::st_abort_init(Object* o)
{
  o->oob_event_mask = 0;
  if (Object* p = o->waiting_on) {
    // 4.19 unlinks without PUT enq_dep: the add_to_deps ref is lost.
    auto& deps = p->dependents;
    deps.erase(std::find(deps.begin(), deps.end(), o));
    o->waiting_on = nullptr;
    obs.warning(fmt::format(
        "4.19 leaks a reference here: ABORT_INIT took OBJ{:x} off OBJ{:x}'s "
        "dependents without dropping its add_to_deps ref, so the object can "
        "never be freed and cache withdrawal will wait for it",
        o->id, p->id));
  }
  return ObjState::kill_object;
}

void Engine::Impl::update_aux_data(Object* o)
{
  ++stats.updates_run;
  Cookie* c = o->cookie;
  if (!use_cookie(c))
    return; // cachefiles_update_object: a relinquished cookie is skipped
  Bytes aux = c->aux;
  CookieType type = c->type;
  unuse_cookie(c);
  if (!aux.empty())
    backend.update_object(o->id, type, aux);
}

ObjState Engine::Impl::st_update(Object* o)
{
  update_aux_data(o);
  return ObjState::wait_for_cmd;
}

ObjState Engine::Impl::st_invalidate(Object* o)
{
  ++stats.invals_run;
  Cookie* c = o->cookie;
  if (!use_cookie(c)) {
    o->set(object_flag::retired);
    return ObjState::kill_object;
  }
  invalidate_writes(c);
  o->clear(object_flag::pending_write);
  cancel_all_ops(o);
  Op* op = new_op(c, OpKind::invalidate,
                  op_flag::async | op_flag::exclusive | op_flag::unuse_cookie);
  obs.page_op(c->addr, 0, op->addr, PageOpTrace::invalidate);
  if (submit_op(o, op, true) < 0) {
    mark_dead(o);
    unuse_cookie(c);
    op->freed = true; // kfree'd without a put
    return ObjState::kill_object;
  }
  put_op(op);
  c->set(cookie_flag::no_data_yet);
  c->test_and_clear(cookie_flag::invalidating);
  return ObjState::update_object;
}

void Engine::Impl::st_drop_head(Object* o)
{
  Cookie* c = o->cookie;
  if (!c || !o->attached) {
    bug(fmt::format("4.19 would crash here: OBJ{:x} dropped without a "
                    "cookie link (ASSERT in fscache_drop_object)",
                    o->id));
    return;
  }
  if (c->test(cookie_flag::aux_updated))
    update_aux_data(o);
  c->object = nullptr;
  o->attached = false;
  c->test_and_clear(cookie_flag::invalidating);
  if (fixes.drop_clears_looking_up)
    c->test_and_clear(cookie_flag::looking_up);
  if (o->in_cache_list) {
    cache_objects.erase(o->cache_link);
    o->in_cache_list = false;
  }
  backend.drop_object(o->id, o->test(object_flag::retired),
                      o->test(object_flag::killed_by_cache));
}

void Engine::Impl::st_drop_tail(Object* o)
{
  if (Object* parent = o->parent) {
    if (--parent->n_children == 0)
      raise_event(parent, ObjEvent::cleared);
    o->parent = nullptr;
  }
  obj_put(o, ObjRefTrace::put_drop_obj);
  ++stats.objects_ded;
}

void Engine::Impl::st_dead(Object* o)
{
  if (!fixes.dead_state_work) {
    bug(fmt::format("4.19 would crash here: OBJ{:x} dispatched after death; "
                    "without e26bfebd OBJECT_DEAD has no work function "
                    "(NULL pointer dereference in the dispatcher)",
                    o->id));
    return;
  }
  if (!o->test(object_flag::run_after_dead)) {
    o->set(object_flag::run_after_dead);
    return;
  }
  obs.printk(fmt::format("FS-Cache: FS-Cache object redispatched after "
                         "death (OBJ{:x})",
                         o->id));
}

} // namespace fsc::fscache
