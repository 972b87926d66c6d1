// cookie.cpp - cookies as 4.19's fs/fscache/cookie.c and netfs.c keep them:
// acquire with the key hash and duplicate detection, object allocation for
// the cookie and its ancestors, enable/disable, update, invalidate,
// relinquish, and the cache's bind and withdrawal.
#include "internal.hpp"

#include <cerrno>
#include <fmt/format.h>

namespace fsc::fscache {

std::uint64_t cookie_addr_for(CookieId id);

std::uint32_t cookie_key_hash(ByteView key)
{
  // Parent and type are still zero when 4.19 computes this (engine §1.5).
  std::uint64_t h = key.size();
  for (std::size_t i = 0; i < key.size(); i += 4) {
    std::uint32_t w = 0;
    for (std::size_t j = 0; j < 4 && i + j < key.size(); ++j)
      w |= std::uint32_t(key[i + j]) << (8 * j);
    h += w;
  }
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

CookieSnap Engine::Impl::snap(const Cookie* c) const
{
  CookieSnap s;
  s.c = c->addr;
  s.parent = c->parent ? c->parent->addr : 0;
  s.usage = c->usage;
  s.n_children = c->n_children;
  s.n_active = c->n_active;
  s.flags = static_cast<std::uint8_t>(c->flags & 0xff);
  return s;
}

void Engine::Impl::cookie_get(Cookie* c, CookieTrace why)
{
  ++c->usage;
  obs.cookie(why, snap(c));
}

void Engine::Impl::cookie_put(Cookie* c, CookieTrace why)
{
  while (c) {
    --c->usage;
    obs.cookie(why, snap(c)); // the kernel traces before its BUG_ON
    if (c->freed) {
      bug(fmt::format("4.19 would crash here: {} on cookie {:016x} after it "
                      "was freed (use after free, usage {})",
                      cookie_trace_names[int(why)], c->addr, c->usage));
      return;
    }
    if (c->usage > 0)
      return;
    if (c->usage < 0) {
      bug(fmt::format("4.19 would crash here: cookie {:016x} usage {} after "
                      "{} (BUG_ON in fscache_cookie_put)",
                      c->addr, c->usage, cookie_trace_names[int(why)]));
      return;
    }
    Cookie* parent = c->parent;
    free_cookie(c);
    c = parent;
    why = CookieTrace::put_parent;
  }
}

void Engine::Impl::free_cookie(Cookie* c)
{
  if (c->hashed) {
    auto range = hash.equal_range(c->key_hash & 0x7fff);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == c) {
        hash.erase(it);
        break;
      }
    c->hashed = false;
  }
  c->freed = true;
  auto it = cookies.find(c->id);
  if (it != cookies.end()) {
    dead_cookies.push_back(std::move(it->second));
    cookies.erase(it);
  }
}

Cookie* Engine::Impl::new_cookie(Cookie* parent, CookieType type,
                                 std::string def_name, Bytes key, Bytes aux,
                                 AuxRule rule)
{
  auto c = std::make_unique<Cookie>();
  c->id = next_cookie++;
  c->addr = cookie_addr_for(c->id);
  c->parent = parent;
  c->type = type;
  c->def_name = std::move(def_name);
  c->key = std::move(key);
  c->aux = std::move(aux);
  c->rule = rule;
  c->key_hash = cookie_key_hash(c->key);
  c->set(cookie_flag::no_data_yet);
  Cookie* raw = c.get();
  cookies.emplace(raw->id, std::move(c));
  return raw;
}

namespace {

bool same_cookie(const Cookie* a, const Cookie* b)
{
  return a->key_hash == b->key_hash && a->parent == b->parent &&
         a->key.size() == b->key.size() && a->type == b->type &&
         a->key == b->key;
}

std::string cookie_dump(const Cookie* c, char prefix)
{
  return fmt::format("{}-cookie c={:016x} [p={:016x} fl={:x} nc={} na={}]\n"
                     "{}-key=[{}] '{}'",
                     prefix, c->addr, c->parent ? c->parent->addr : 0, c->flags,
                     c->n_children, c->n_active, prefix, c->key.size(),
                     to_hex(c->key));
}

} // namespace

bool Engine::Impl::hash_cookie(Cookie* candidate)
{
  std::uint32_t bucket = candidate->key_hash & 0x7fff;
  if (fixes.duplicate_detection) {
    auto range = hash.equal_range(bucket);
    for (auto it = range.first; it != range.second; ++it) {
      Cookie* cursor = it->second;
      if (!same_cookie(candidate, cursor))
        continue;
      // ACQUIRED is never cleared in 4.19, so the re-acquire path is dead.
      obs.cookie(CookieTrace::collision, snap(cursor));
      obs.printk("FS-Cache: Duplicate cookie detected\n" +
                 cookie_dump(cursor, 'O') + "\n" + cookie_dump(candidate, 'N'));
      return false;
    }
  }
  candidate->set(cookie_flag::acquired);
  cookie_get(candidate->parent, CookieTrace::get_acquire_parent);
  ++candidate->parent->n_children;
  hash.emplace(bucket, candidate);
  candidate->hashed = true;
  return true;
}

bool Engine::Impl::use_cookie(Cookie* c)
{
  if (c->n_active == 0)
    return false; // atomic_inc_not_zero
  ++c->n_active;
  return true;
}

void Engine::Impl::unuse_cookie(Cookie* c)
{
  if (--c->n_active < 0)
    bug(fmt::format("4.19 would crash here: cookie {:016x} n_active below "
                    "zero",
                    c->addr));
}

void Engine::Impl::store_aux(Cookie* c, const std::optional<Bytes>& aux)
{
  if (!aux)
    return;
  // fscache_update_aux copies aux_len bytes: the length is the cookie's.
  Bytes next = *aux;
  next.resize(c->aux.size());
  if (next != c->aux) {
    c->aux = std::move(next);
    c->set(cookie_flag::aux_updated);
  }
}

// --- objects for a cookie ---------------------------------------------------

int Engine::Impl::alloc_object(Cookie* c)
{
  if (Object* o = c->object) {
    if (!o->test(object_flag::is_live) || io_error)
      return -ENOBUFS;
    return 0;
  }
  int r = backend.alloc_object(next_object, c->type, c->key, c->aux);
  if (r < 0) {
    ++stats.objects_nal;
    return r;
  }
  Object* o = new_object(c);
  ++stats.objects_alc;
  r = alloc_object(c->parent);
  if (r < 0) {
    obj_put(o, ObjRefTrace::put_alloc_fail);
    return r;
  }
  if (!attach_object(c, o))
    obj_put(o, ObjRefTrace::put_attach_fail);
  return 0;
}

bool Engine::Impl::attach_object(Cookie* c, Object* o)
{
  if (c->object)
    return false; // a racing allocation won (EEXIST / ENOBUFS)
  if (Object* p = c->parent ? c->parent->object : nullptr) {
    if (!p->test(object_flag::is_live))
      return false;
    o->parent = p;
    ++p->n_children;
  }
  if (!fixes.attach_ref_at_init)
    cookie_get(c, CookieTrace::get_attach_object);
  cache_objects.push_front(o);
  o->cache_link = cache_objects.begin();
  o->in_cache_list = true;
  c->object = o;
  o->attached = true;
  return true;
}

int Engine::Impl::acquire_non_index(Cookie* c, std::uint64_t object_size)
{
  c->set(cookie_flag::unavailable);
  if (!cache_bound)
    return 0;
  bool have_cache;
  if (Object* po = c->parent->object)
    have_cache = po->test(object_flag::is_live) && !io_error;
  else
    have_cache = c->parent->type == CookieType::index;
  if (!have_cache) {
    ++stats.acquire_noc;
    return -ENOMEDIUM;
  }
  c->set(cookie_flag::looking_up);
  int r = alloc_object(c);
  if (r < 0)
    return r;
  if (!c->object)
    return -ENOBUFS;
  if (fixes.size_passed_in) {
    c->object->store_limit_l = object_size;
    c->object_size = object_size;
  }
  raise_event(c->object, ObjEvent::new_child);
  return 0;
}

// --- disable / invalidate_writes --------------------------------------------

void Engine::Impl::invalidate_writes(Cookie* c)
{
  for (auto it = c->stores.begin(); it != c->stores.end();) {
    if (it->second.storing) {
      ++it;
      continue;
    }
    obs.page(c->addr, it->first, PageTrace::radix_delete);
    obs.page(c->addr, it->first, PageTrace::inval);
    it = c->stores.erase(it);
  }
  obs.wake_cookie(c->addr);
}

void Engine::Impl::disable(Cookie* c, std::optional<Bytes> aux, bool invalidate,
                           bool relinquishing, PendingRef result,
                           std::function<void()> then)
{
  obs.disable(snap(c));
  if (c->n_active <= 0) {
    bug(fmt::format("4.19 would crash here: disabling cookie {:016x} with "
                    "n_active {} (ASSERTCMP n_active > 0)",
                    c->addr, c->n_active));
    return;
  }
  if (c->n_children != 0) {
    bug(fmt::format("4.19 would crash here: Cookie '{}' still has children "
                    "({} of them, BUG in __fscache_disable_cookie)",
                    c->def_name, c->n_children));
    return;
  }
  auto unlock = [c, then] {
    c->test_and_clear(cookie_flag::enablement_lock);
    then();
  };
  auto drained = [this, c, unlock] {
    if (c->type != CookieType::index && fixes.clear_writes_on_disable)
      invalidate_writes(c);
    if (!c->test(cookie_flag::relinquished)) {
      ++c->n_active;
      c->set(cookie_flag::no_data_yet);
    }
    unlock();
  };
  auto kill = [this, c, invalidate, relinquishing, drained] {
    c->set(cookie_flag::invalidating);
    if (Object* o = c->object) {
      if (invalidate)
        o->set(object_flag::retired);
      if (fixes.clear_writes_on_disable)
        o->clear(object_flag::pending_write);
      raise_event(o, ObjEvent::kill);
    } else {
      c->test_and_clear(cookie_flag::invalidating);
    }
    --c->n_active;
    // Relinquish's PUT rlq follows; a scheduler may let a worker run first,
    // as one on another CPU can while this thread finishes the call.
    park([c] { return c->n_active == 0; }, drained,
         fmt::format("disable of cookie {:016x} waiting for n_active to "
                     "reach 0",
                     c->addr),
         relinquishing ? Resumes{Resumes::cookie_ref, c} : Resumes{});
  };
  auto new_aux = std::make_shared<std::optional<Bytes>>(std::move(aux));
  auto locked = [this, c, new_aux, kill, unlock] {
    c->set(cookie_flag::enablement_lock);
    store_aux(c, *new_aux);
    if (!c->test_and_clear(cookie_flag::enabled)) {
      unlock();
      return;
    }
    park([c] { return !c->test(cookie_flag::invalidating); }, kill,
         fmt::format("disable of cookie {:016x} waiting for invalidation",
                     c->addr),
         {Resumes::object_event, c});
  };
  (void)result;
  park([c] { return !c->test(cookie_flag::enablement_lock); }, locked,
       fmt::format("disable of cookie {:016x} waiting for the enablement "
                   "lock",
                   c->addr),
       {Resumes::object_event, c});
}

// --- the public netfs API ---------------------------------------------------

CookieId Engine::register_netfs(std::string_view name, std::uint32_t version)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  Cookie* root = e.cookies.at(fsdef_cookie).get();
  Bytes key(name.begin(), name.end());
  Bytes aux;
  store_le(aux, version, 4);
  Cookie* c = e.new_cookie(root, CookieType::index, "FSDEF.netfs",
                           std::move(key), std::move(aux), AuxRule::exact);
  c->flags = 1U << cookie_flag::enabled;
  if (!e.hash_cookie(c)) {
    e.bug("4.19 would crash here: netfs '" + std::string(name) +
          "' registered twice (PUT dnt on a cookie that was never hashed, "
          "over-putting the root index)");
    return no_cookie;
  }
  e.cookie_get(root, CookieTrace::get_register_netfs);
  ++root->n_children;
  e.obs.netfs(c->addr, name.substr(0, 7));
  return c->id;
}

CookieId Engine::acquire_cookie(const AcquireArgs& a)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  Cookie* parent =
      a.parent ? e.find_cookie(a.parent, "fscache_acquire_cookie") : nullptr;
  if (!parent || !parent->test(cookie_flag::enabled))
    return no_cookie; // the inline wrapper: no stats
  if (a.key.empty() || a.key.size() > 255 || a.aux.size() > 255)
    return no_cookie;
  ++e.stats.acquire_n;
  if (a.type == CookieType::index && parent->type != CookieType::index) {
    e.bug("4.19 would crash here: index cookie acquired under a non-index "
          "parent (BUG_ON in __fscache_acquire_cookie)");
    return no_cookie;
  }
  Cookie* c = e.new_cookie(parent, a.type, a.def_name, a.key, a.aux, a.rule);
  if (!e.hash_cookie(c)) {
    CookieSnap s = e.snap(c);
    s.usage = 1;
    e.obs.cookie(CookieTrace::discard, s);
    e.free_cookie(c);
    return no_cookie;
  }
  switch (c->type) {
  case CookieType::index:
    ++e.stats.cookies_idx;
    break;
  case CookieType::data:
    ++e.stats.cookies_dat;
    break;
  default:
    ++e.stats.cookies_spc;
    break;
  }
  e.obs.acquire(c->addr, e.snap(parent), c->def_name.substr(0, 7));
  if (a.enable) {
    if (c->type == CookieType::index) {
      c->set(cookie_flag::enabled);
    } else if (e.acquire_non_index(c, a.object_size) == 0) {
      c->set(cookie_flag::enabled);
    } else {
      --parent->n_children;
      e.cookie_put(c, CookieTrace::put_acquire_nobufs);
      ++e.stats.acquire_nbf;
      return no_cookie;
    }
  }
  ++e.stats.acquire_ok;
  return c->id;
}

PendingRef Engine::relinquish_cookie(CookieId id, std::optional<Bytes> aux,
                                     bool retire)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  auto result = std::make_shared<Pending>();
  result->what = "relinquish";
  ++e.stats.relinqs_n;
  if (retire)
    ++e.stats.relinqs_rtr;
  if (id == no_cookie) {
    ++e.stats.relinqs_nul;
    result->done = true;
    return result;
  }
  Cookie* c = e.find_cookie(id, "fscache_relinquish_cookie");
  if (!c)
    return result;
  e.obs.relinquish(e.snap(c), retire);
  if (c->test(cookie_flag::relinquished)) {
    e.bug(fmt::format("4.19 would crash here: cookie {:016x} relinquished "
                      "twice (BUG in __fscache_relinquish_cookie)",
                      c->addr));
    return result;
  }
  c->set(cookie_flag::relinquished);
  auto finish = [&e, c, result] {
    if (!c->stores.empty()) {
      e.bug(fmt::format("4.19 would crash here: cookie {:016x} relinquished "
                        "with {} page(s) still in its stores tree "
                        "(BUG_ON(!radix_tree_empty(&cookie->stores)))",
                        c->addr, c->stores.size()));
      return;
    }
    if (c->parent)
      --c->parent->n_children;
    c->relinquished_put = true;
    e.relinquished.push_back(c->id);
    e.cookie_put(c, CookieTrace::put_relinquish);
    result->done = true;
  };
  e.disable(c, std::move(aux), retire, true, result, finish);
  return result;
}

PendingRef Engine::disable_cookie(CookieId id, std::optional<Bytes> aux,
                                  bool invalidate)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  auto result = std::make_shared<Pending>();
  result->what = "disable";
  Cookie* c = e.find_cookie(id, "fscache_disable_cookie");
  if (!c)
    return result;
  if (!c->test(cookie_flag::enabled)) {
    result->done = true;
    return result;
  }
  e.disable(c, std::move(aux), invalidate, false, result,
            [result] { result->done = true; });
  return result;
}

PendingRef Engine::enable_cookie(CookieId id, std::optional<Bytes> aux,
                                 std::uint64_t object_size)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  auto result = std::make_shared<Pending>();
  result->what = "enable";
  Cookie* c = e.find_cookie(id, "fscache_enable_cookie");
  if (!c)
    return result;
  if (c->test(cookie_flag::enabled)) {
    result->done = true;
    return result;
  }
  e.obs.enable(e.snap(c));
  auto unlock = [c, result] {
    c->test_and_clear(cookie_flag::enablement_lock);
    result->done = true;
  };
  auto acquire = [&e, c, object_size, unlock] {
    if (e.acquire_non_index(c, object_size) == 0)
      c->set(cookie_flag::enabled);
    unlock();
  };
  auto new_aux = std::make_shared<std::optional<Bytes>>(std::move(aux));
  auto locked = [&e, c, new_aux, acquire, unlock] {
    c->set(cookie_flag::enablement_lock);
    e.store_aux(c, *new_aux);
    if (c->test(cookie_flag::enabled)) {
      unlock();
      return;
    }
    if (c->type == CookieType::index) {
      c->set(cookie_flag::enabled);
      unlock();
      return;
    }
    e.park([c] { return !c->test(cookie_flag::invalidating); }, acquire,
           fmt::format("enable of cookie {:016x} waiting for invalidation",
                       c->addr));
  };
  e.park([c] { return !c->test(cookie_flag::enablement_lock); }, locked,
         fmt::format("enable of cookie {:016x} waiting for the enablement "
                     "lock",
                     c->addr));
  return result;
}

void Engine::update_cookie(CookieId id, std::optional<Bytes> aux)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  Cookie* c = e.find_cookie(id, "fscache_update_cookie");
  if (!c || !c->test(cookie_flag::enabled))
    return;
  ++e.stats.updates_n;
  e.store_aux(c, aux);
  if (c->object)
    e.raise_event(c->object, ObjEvent::update);
}

void Engine::invalidate(CookieId id)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  Cookie* c = e.find_cookie(id, "fscache_invalidate");
  if (!c || !c->test(cookie_flag::enabled))
    return;
  ++e.stats.invals_n;
  if (c->type != CookieType::data) {
    e.bug("4.19 would crash here: fscache_invalidate on a non-data cookie "
          "(ASSERTCMP type == DATAFILE)");
    return;
  }
  if (!c->object || c->test(cookie_flag::invalidating))
    return;
  c->set(cookie_flag::invalidating);
  if (c->object->test(object_flag::is_live))
    e.raise_event(c->object, ObjEvent::invalidate);
}

PendingRef Engine::wait_on_invalidate(CookieId id)
{
  Impl& e = *m;
  auto result = std::make_shared<Pending>();
  result->what = "wait_on_invalidate";
  Cookie* c = e.find_cookie(id, "fscache_wait_on_invalidate");
  if (!c)
    return result;
  e.park([c] { return !c->test(cookie_flag::invalidating); },
         [result] { result->done = true; },
         fmt::format("wait for invalidation of cookie {:016x}", c->addr));
  return result;
}

// --- the cache --------------------------------------------------------------

void Engine::add_cache()
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  Cookie* fsdef = e.cookies.at(fsdef_cookie).get();
  Object* o = e.new_object(fsdef);
  o->root = true;
  o->set(object_flag::is_available);
  o->event_mask = 0x7f & ~ev_bit(ObjEvent::cleared);
  o->attached = true;
  fsdef->object = o;
  e.cache_objects.push_back(o);
  o->cache_link = std::prev(e.cache_objects.end());
  o->in_cache_list = true;
  ++fsdef->usage; // fscache_add_cache's untraced reference
  e.root = o;
  e.cache_bound = true;
}

PendingRef Engine::bind_cache()
{
  Impl& e = *m;
  auto result = std::make_shared<Pending>();
  result->what = "bind";
  // A daemon binds a new cache only after its old one is gone:
  // fscache_withdraw_cache() returns once every object is freed.
  e.park([&e] { return !e.cache_bound && !e.withdrawing; },
         [this, result] {
           add_cache();
           result->done = true;
         },
         "bind waiting for the withdrawn cache's objects to be freed");
  return result;
}

PendingRef Engine::withdraw_cache()
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  auto result = std::make_shared<Pending>();
  result->what = "withdraw";
  e.cache_bound = false;
  ++e.withdrawing;
  std::list<Object*> dying;
  dying.swap(e.cache_objects);
  for (Object* o : dying) {
    o->in_cache_list = false; // moved to the dying list (cache.c)
    e.raise_event(o, ObjEvent::kill);
  }
  e.park([&e] { return e.cache_object_count == 0; },
         [&e, result] {
           Cookie* fsdef = e.cookies.at(fsdef_cookie).get();
           --fsdef->usage; // gives back fscache_add_cache's reference
           --e.withdrawing;
           result->done = true;
         },
         "cache withdrawal waiting for every object to be freed");
  return result;
}

} // namespace fsc::fscache
