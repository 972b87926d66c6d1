// operation.cpp - operations on objects (fs/fscache/operation.c) and the
// page-level netfs calls built on them (fs/fscache/page.c): submission and
// its rejections, the pending queue, exclusive ops, cancellation with the
// cancel method, completion, release with deferral to the op GC.
#include "internal.hpp"

#include <cerrno>
#include <fmt/format.h>

namespace fsc::fscache {

namespace {

constexpr std::uint64_t k_op_base = 0xffff888300000000ULL;

bool live(const Object* o) { return o->test(object_flag::is_live); }

} // namespace

Op* Engine::Impl::new_op(Cookie* c, OpKind kind, unsigned flags)
{
  auto op = std::make_unique<Op>();
  op->id = next_op++;
  op->addr = k_op_base + std::uint64_t(op->id) * 0x40;
  op->kind = kind;
  op->cookie = c;
  op->flags = flags;
  op->state = OpState::initialised;
  ++stats.ops_ini;
  obs.op(c->addr, op->addr, OpTrace::init);
  Op* raw = op.get();
  ops.emplace(raw->id, std::move(op));
  return raw;
}

void Engine::Impl::op_cancel_method(Op* op)
{
  ++op->cancel_calls;
  if (op->kind == OpKind::read || op->kind == OpKind::alloc)
    op->n_pages = 0; // fscache_do_cancel_retrieval
}

/// Submission, pending-list flush and cancelled completion call the cancel
/// method only with d3b97ca4; before it only fscache_cancel_op did.
static void cancel_at(Engine::Impl& e, Op* op)
{
  if (e.fixes.cancel_everywhere)
    e.op_cancel_method(op);
}

int Engine::Impl::submit_op(Object* obj, Op* op, bool exclusive)
{
  obs.op(obj->cookie->addr, op->addr,
         exclusive ? OpTrace::submit_ex : OpTrace::submit);
  if (op->state != OpState::initialised) {
    bug(fmt::format("4.19 would crash here: op {:x} submitted twice "
                    "(ASSERTCMP state == INITIALISED)",
                    op->id));
    return -EINVAL;
  }
  op->state = OpState::pending;
  auto reject = [&](int err) {
    cancel_at(*this, op);
    op->state = OpState::cancelled;
    return err;
  };
  bool is_live = live(obj);
  if (fixes.submit_checks_live && !is_live) {
    ++stats.ops_rej;
    return reject(-ENOBUFS);
  }
  if (io_error)
    return reject(-EIO);
  bool avail = obj->test(object_flag::is_available) &&
               (fixes.submit_checks_live || is_live);
  if (avail) {
    op->object = obj;
    ++obj->n_ops;
    if (exclusive)
      ++obj->n_exclusive;
    // Reads and writes wait behind exclusive ops; an exclusive op waits
    // for everything in progress.
    bool must_wait = exclusive ? obj->n_in_progress > 0 : obj->n_exclusive > 0;
    if (must_wait) {
      ++op->usage;
      obj->pending_ops.push_back(op);
      ++stats.ops_pend;
    } else if (!obj->pending_ops.empty()) {
      ++op->usage;
      obj->pending_ops.push_back(op);
      ++stats.ops_pend;
      start_operations(obj);
    } else {
      run_op(obj, op);
    }
    if (exclusive)
      obj->clear(object_flag::pending_write);
    return 0;
  }
  if (obj->test(object_flag::is_looked_up)) {
    op->object = obj;
    ++obj->n_ops;
    if (exclusive)
      ++obj->n_exclusive;
    ++op->usage;
    obj->pending_ops.push_back(op);
    ++stats.ops_pend;
    return 0;
  }
  if (obj->test(object_flag::killed_by_cache))
    return reject(-ENOBUFS);
  obs.printk(fmt::format("FS-Cache: Unexpected submission OP{:x} to OBJ{:x} "
                         "in state {}",
                         op->id, obj->id, state_name(obj->state)));
  return reject(-ENOBUFS);
}

void Engine::Impl::run_op(Object* obj, Op* op)
{
  op->state = OpState::in_progress;
  ++obj->n_in_progress;
  op->flags &= ~op_flag::waiting;
  if (op->has_processor()) {
    enqueue_operation(op, obj->cookie);
  } else {
    obs.op(obj->cookie->addr, op->addr, OpTrace::run);
  }
  ++stats.ops_run;
}

/// fscache_enqueue_operation for an async op: the workqueue takes a ref;
/// an item already queued gives it back.
void Engine::Impl::enqueue_operation(Op* op, Cookie* c)
{
  obs.op(c->addr, op->addr, OpTrace::enqueue_async);
  ++op->usage;
  if (op->queued) {
    put_op(op);
  } else {
    op->queued = true;
    enqueue_job({Job::run_op, nullptr, op});
  }
  ++stats.ops_enq;
}

void Engine::Impl::start_operations(Object* obj)
{
  bool stop = false;
  while (!obj->pending_ops.empty() && !stop) {
    Op* op = obj->pending_ops.front();
    if (op->flags & op_flag::exclusive) {
      if (obj->n_in_progress > 0)
        break;
      stop = true;
    }
    obj->pending_ops.pop_front();
    run_op(obj, op);
    put_op(op, true); // the pending list's ref, under the object lock
  }
}

void Engine::Impl::op_complete(Op* op, bool cancelled)
{
  Object* obj = op->object;
  if (op->state != OpState::in_progress || !obj) {
    bug(fmt::format("4.19 would crash here: op {:x} completed in state {} "
                    "(ASSERTCMP state == IN_PROGRESS)",
                    op->id, int(op->state)));
    return;
  }
  if (!cancelled) {
    obs.op(obj->cookie->addr, op->addr, OpTrace::completed);
    op->state = OpState::complete;
  } else {
    cancel_at(*this, op);
    obs.op(obj->cookie->addr, op->addr, OpTrace::cancelled);
    op->state = OpState::cancelled;
  }
  if (op->flags & op_flag::exclusive)
    --obj->n_exclusive;
  if (--obj->n_in_progress == 0)
    start_operations(obj);
}

int Engine::Impl::cancel_op(Op* op, bool cancel_in_progress)
{
  Object* obj = op->object;
  obs.op(obj->cookie->addr, op->addr, OpTrace::cancel);
  bool put = false;
  int ret = -EBUSY;
  if (op->state == OpState::pending) {
    auto& q = obj->pending_ops;
    for (auto it = q.begin(); it != q.end(); ++it)
      if (*it == op) {
        q.erase(it);
        break;
      }
    put = true;
    ++stats.ops_can;
    op_cancel_method(op);
    op->state = OpState::cancelled;
    if (op->flags & op_flag::exclusive)
      --obj->n_exclusive;
    op->flags &= ~op_flag::waiting;
    ret = 0;
  } else if (op->state == OpState::in_progress && cancel_in_progress) {
    if (op->flags & op_flag::exclusive)
      --obj->n_exclusive;
    if (--obj->n_in_progress == 0)
      start_operations(obj);
    ++stats.ops_can;
    op_cancel_method(op);
    op->state = OpState::cancelled;
    if (op->flags & op_flag::exclusive)
      --obj->n_exclusive; // 4.19 decrements twice here (latent, §3.3)
    op->flags &= ~op_flag::waiting;
    ret = 0;
  }
  if (put)
    put_op(op, true);
  return ret;
}

void Engine::Impl::cancel_all_ops(Object* obj)
{
  while (!obj->pending_ops.empty()) {
    Op* op = obj->pending_ops.front();
    obj->pending_ops.pop_front();
    ++stats.ops_can;
    obs.op(obj->cookie->addr, op->addr, OpTrace::cancel_all);
    cancel_at(*this, op);
    op->state = OpState::cancelled;
    if (op->flags & op_flag::exclusive)
      --obj->n_exclusive;
    op->flags &= ~op_flag::waiting;
    put_op(op, true);
  }
}

void Engine::Impl::release_op(Op* op)
{
  if ((op->kind == OpKind::read || op->kind == OpKind::alloc) &&
      op->state != OpState::initialised && op->n_pages != 0)
    bug(fmt::format("4.19 would crash here: FS-Cache: Assertion failed: {} "
                    "== 0 is false (n_pages of retrieval op {:x} in "
                    "fscache_release_retrieval_op; its cancel method was "
                    "not called)",
                    op->n_pages, op->id));
}

void Engine::Impl::put_op(Op* op, bool object_locked)
{
  if (op->freed) {
    bug(fmt::format("4.19 would crash here: op {:x} put after being freed",
                    op->id));
    return;
  }
  if (--op->usage > 0)
    return;
  Object* obj = op->object;
  obs.op(obj ? obj->cookie->addr : 0, op->addr, OpTrace::put);
  if (op->state != OpState::initialised && op->state != OpState::complete &&
      op->state != OpState::cancelled) {
    bug(fmt::format("4.19 would crash here: op {:x} released in state {}",
                    op->id, int(op->state)));
    return;
  }
  ++stats.ops_rel;
  release_op(op);
  op->state = OpState::dead;
  op->freed = true;
  if (obj) {
    if (op->flags & op_flag::dec_read_cnt)
      --obj->n_reads;
    if (op->flags & op_flag::unuse_cookie)
      unuse_cookie(obj->cookie);
    if (object_locked) {
      // The object lock is held: the n_ops drop goes to the cache's op GC.
      ++stats.ops_dfr;
      op->gc_pending = true;
      gc_list.push_back(op);
      if (!gc_queued) {
        gc_queued = true;
        enqueue_job({Job::run_gc, nullptr, nullptr});
      }
      return;
    }
    if (--obj->n_ops == 0)
      raise_event(obj, ObjEvent::cleared);
  }
  auto it = ops.find(op->id);
  if (it != ops.end()) {
    dead_ops.push_back(std::move(it->second));
    ops.erase(it);
  }
}

void Engine::Impl::op_gc()
{
  for (int n = 0; n < 21 && !gc_list.empty(); ++n) {
    Op* op = gc_list.front();
    gc_list.pop_front();
    Object* obj = op->object;
    obs.op(obj->cookie->addr, op->addr, OpTrace::gc);
    ++stats.ops_gc;
    if (--obj->n_ops == 0)
      raise_event(obj, ObjEvent::cleared);
    auto it = ops.find(op->id);
    if (it != ops.end()) {
      dead_ops.push_back(std::move(it->second));
      ops.erase(it);
    }
  }
  if (!gc_list.empty() && !gc_queued) {
    gc_queued = true;
    enqueue_job({Job::run_gc, nullptr, nullptr});
  }
}

void Engine::Impl::abort_object(Object* o) { raise_event(o, ObjEvent::error); }

void Engine::Impl::op_work(Op* op)
{
  Object* obj = op->object;
  obs.op(obj->cookie->addr, op->addr, OpTrace::work);
  bool active = obj->test(object_flag::is_available) && live(obj) && !io_error;
  switch (op->kind) {
  case OpKind::invalidate:
    backend.invalidate_object(obj->id, obj->store_limit_l);
    op_complete(op, true); // 4.19 always completes this one as cancelled
    break;
  case OpKind::attr_changed: {
    ++stats.attrchg_run;
    if (!active) {
      op_complete(op, true);
      break;
    }
    int r = backend.attr_changed(obj->id, obj->store_limit_l);
    if (r < 0)
      abort_object(obj);
    op_complete(op, r < 0);
    break;
  }
  case OpKind::write:
    write_op(op);
    break;
  default:
    break;
  }
  put_op(op);
}

void Engine::Impl::end_page_write(Cookie* c, std::uint64_t index)
{
  obs.page(c->addr, index, PageTrace::radix_clear_store);
  auto it = c->stores.find(index);
  if (it != c->stores.end() && it->second.storing) {
    ++stats.stores_rxd;
    c->stores.erase(it);
    obs.page(c->addr, index, PageTrace::radix_delete);
    obs.page(c->addr, index, PageTrace::write_end);
  } else {
    obs.page(c->addr, index, PageTrace::write_end_pend);
  }
  obs.wake_cookie(c->addr);
}

void Engine::Impl::write_op(Op* op)
{
  Object* obj = op->object;
  for (;;) {
    bool active =
        obj->test(object_flag::is_available) && live(obj) && !io_error;
    Cookie* c = obj->cookie;
    if (!active || !c) {
      op_complete(op, true);
      return;
    }
    ++stats.stores_run;
    auto it = c->stores.begin();
    while (it != c->stores.end() && it->second.storing)
      ++it;
    if (it == c->stores.end()) {
      obj->clear(object_flag::pending_write);
      op_complete(op, false);
      return;
    }
    std::uint64_t index = it->first;
    it->second.storing = true;
    obs.page(c->addr, index, PageTrace::radix_pend2store);
    if (index >= op->store_limit) {
      ++stats.stores_olm;
      obs.wrote_page(c->addr, index, op->addr, -ENOBUFS);
      end_page_write(c, index);
      continue;
    }
    ++stats.stores_pgs;
    int r =
        backend.write_page(obj->id, index, it->second.data, obj->store_limit_l);
    obs.wrote_page(c->addr, index, op->addr, r);
    end_page_write(c, index);
    if (r < 0) {
      abort_object(obj);
      op_complete(op, true);
    } else {
      enqueue_operation(op, c); // the writer goes round for the next page
    }
    return;
  }
}

void Engine::Impl::retrieval_complete(Op* op, int n)
{
  op->n_pages -= n;
  if (op->n_pages <= 0)
    op_complete(op, false);
}

// --- page-level netfs calls
// ------------------------------------------------------

namespace {

/// Parks until the op leaves WAITING, then applies
/// fscache_wait_for_operation_activation's checks.
void wait_activation(Engine::Impl& e, Op* op, std::uint32_t* owt,
                     std::uint32_t* abt, std::function<void(int)> then)
{
  if ((op->flags & op_flag::waiting) && owt)
    ++*owt;
  e.park([op] { return !(op->flags & op_flag::waiting); },
         [&e, op, abt, then] {
           if (op->state == OpState::cancelled) {
             if (abt)
               ++*abt;
             then(-ENOBUFS);
             return;
           }
           Object* obj = op->object;
           if (!obj->test(object_flag::is_live) || e.io_error) {
             e.obs.op(obj->cookie->addr, op->addr, OpTrace::signal);
             e.cancel_op(op, true);
             if (abt)
               ++*abt;
             then(-ENOBUFS);
             return;
           }
           then(0);
         },
         fmt::format("op {:x} waiting to be started", op->id));
}

void count_retrieval(Stats& s, bool alloc, int ret)
{
  if (alloc) {
    if (ret == -ERESTARTSYS_)
      ++s.allocs_int;
    else if (ret < 0)
      ++s.allocs_nbf;
    else
      ++s.allocs_ok;
    return;
  }
  if (ret == -ENOMEM)
    ++s.retrvls_oom;
  else if (ret == -ERESTARTSYS_)
    ++s.retrvls_int;
  else if (ret == -ENODATA)
    ++s.retrvls_nod;
  else if (ret < 0)
    ++s.retrvls_nbf;
  else
    ++s.retrvls_ok;
}

PendingRef retrieve(Engine::Impl& e, CookieId id, std::uint64_t index,
                    bool alloc)
{
  auto result = std::make_shared<Pending>();
  result->what = alloc ? "alloc_page" : "read_page";
  auto finish = [result](int ret) {
    result->ret = ret;
    result->done = true;
  };
  e.set_task(Task::netfs);
  Cookie* c = e.find_cookie(id, alloc ? "fscache_alloc_page"
                                      : "fscache_read_or_alloc_page");
  if (!c)
    return result;
  if (!c->test(cookie_flag::enabled)) {
    finish(-ENOBUFS);
    return result;
  }
  Stats& s = e.stats;
  ++(alloc ? s.allocs_n : s.retrvls_n);
  if (!c->object) {
    ++(alloc ? s.allocs_nbf : s.retrvls_nbf);
    finish(-ENOBUFS);
    return result;
  }
  if (c->test(cookie_flag::invalidating)) {
    finish(-ENOBUFS);
    return result;
  }
  if (c->type == CookieType::index) {
    e.bug("4.19 would crash here: page read on an index cookie (ASSERTCMP "
          "type != INDEX)");
    return result;
  }
  auto submit = [&e, c, index, alloc, finish] {
    Stats& st = e.stats;
    Op* op =
        e.new_op(c, alloc ? OpKind::alloc : OpKind::read,
                 op_flag::mythread | op_flag::waiting | op_flag::unuse_cookie);
    op->n_pages = 1;
    e.obs.page_op(c->addr, index, op->addr,
                  alloc ? PageOpTrace::alloc_one : PageOpTrace::retr_one);
    if (!c->test(cookie_flag::enabled) || !c->object) {
      e.put_op(op);
      ++(alloc ? st.allocs_nbf : st.retrvls_nbf);
      finish(-ENOBUFS);
      return;
    }
    Object* obj = c->object;
    if (!obj->test(object_flag::is_looked_up)) {
      e.bug(fmt::format("4.19 would crash here: FS-Cache: Assertion failed "
                        "(IS_LOOKED_UP of OBJ{:x} in "
                        "__fscache_read_or_alloc_page: the reader was woken "
                        "by a failed lookup)",
                        obj->id));
      return;
    }
    ++c->n_active;
    ++obj->n_reads;
    op->flags |= op_flag::dec_read_cnt;
    if (e.submit_op(obj, op, false) < 0) {
      --obj->n_reads;
      e.unuse_cookie(c);
      e.put_op(op);
      ++(alloc ? st.allocs_nbf : st.retrvls_nbf);
      finish(-ENOBUFS);
      return;
    }
    ++(alloc ? st.allocs_ops : st.retrvls_ops);
    wait_activation(e, op, alloc ? &st.allocs_owt : &st.retrvls_owt,
                    alloc ? &st.allocs_abt : &st.retrvls_abt,
                    [&e, op, c, index, alloc, finish](int ret) {
                      if (ret == 0) {
                        Object* o = op->object;
                        if (alloc || c->test(cookie_flag::no_data_yet)) {
                          ret = e.backend.allocate_page(o->id, index);
                          if (ret == 0 && !alloc)
                            ret = -ENODATA;
                        } else {
                          ret = e.backend.read_or_alloc_page(o->id, index,
                                                             nullptr);
                        }
                        if (ret == 0 || ret == -ENODATA) {
                          ++e.stats.pages_mrk;
                          e.obs.page(c->addr, index, PageTrace::cached);
                        }
                        e.retrieval_complete(op, 1);
                      }
                      count_retrieval(e.stats, alloc, ret);
                      e.put_op(op);
                      finish(ret);
                    });
  };
  if (c->test(cookie_flag::looking_up)) {
    ++(alloc ? s.allocs_wt : s.retrvls_wt);
    e.park([c] { return !c->test(cookie_flag::looking_up); }, submit,
           fmt::format("{} of cookie {:016x} page {:x} waiting for the "
                       "lookup (LOOKING_UP)",
                       result->what, c->addr, index));
  } else {
    submit();
  }
  return result;
}

/// What the inline wrapper and page.c check before a call on a data
/// cookie: alive, enabled (else ENOBUFS), not an index (a BUG in 4.19).
Cookie* enabled_data_cookie(Engine::Impl& e, CookieId id, const char* call,
                            int& ret)
{
  e.set_task(Task::netfs);
  Cookie* c = e.find_cookie(id, call);
  ret = -EFAULT;
  if (!c)
    return nullptr;
  ret = -ENOBUFS;
  if (!c->test(cookie_flag::enabled))
    return nullptr;
  if (c->type == CookieType::index) {
    e.bug(fmt::format("4.19 would crash here: {}() on an index cookie "
                      "(ASSERTCMP type != INDEX)",
                      call));
    ret = -EINVAL;
    return nullptr;
  }
  return c;
}

} // namespace

PendingRef Engine::read_page(CookieId id, std::uint64_t index)
{
  return retrieve(*m, id, index, false);
}

PendingRef Engine::alloc_page(CookieId id, std::uint64_t index)
{
  return retrieve(*m, id, index, true);
}

int Engine::write_page(CookieId id, std::uint64_t index, Bytes data)
{
  Impl& e = *m;
  int ret = 0;
  Cookie* c = enabled_data_cookie(e, id, "fscache_write_page", ret);
  if (!c)
    return ret;
  ++e.stats.stores_n;
  if (c->test(cookie_flag::invalidating))
    return -ENOBUFS;
  Op* op = e.new_op(c, OpKind::write,
                    op_flag::async | op_flag::waiting | op_flag::unuse_cookie);
  e.obs.page_op(c->addr, index, op->addr, PageOpTrace::write_one);
  Object* obj = c->object;
  if (!obj || e.io_error) {
    e.put_op(op);
    ++e.stats.stores_nbf;
    return -ENOBUFS;
  }
  e.obs.page(c->addr, index, PageTrace::write);
  if (c->stores.count(index)) {
    ++e.stats.stores_agn;
    e.put_op(op);
    ++e.stats.stores_ok;
    return 0;
  }
  c->stores[index] = StorePage{false, std::move(data)};
  e.obs.page(c->addr, index, PageTrace::radix_insert);
  e.obs.page(c->addr, index, PageTrace::radix_set_pend);
  if (obj->test(object_flag::pending_write)) {
    e.put_op(op);
    ++e.stats.stores_ok;
    return 0;
  }
  obj->set(object_flag::pending_write);
  op->id = e.next_op++; // write ops get a second debug id here
  std::uint64_t limit = obj->store_limit_l;
  op->store_limit = limit / page_size + (limit % page_size ? 1 : 0);
  ++c->n_active;
  if (e.submit_op(obj, op, false) < 0) {
    c->stores.erase(index);
    e.obs.page(c->addr, index, PageTrace::radix_delete);
    e.unuse_cookie(c);
    e.put_op(op);
    ++e.stats.stores_nbf;
    return -ENOBUFS;
  }
  ++e.stats.stores_ops;
  ++e.stats.stores_ok;
  e.put_op(op);
  return 0;
}

PendingRef Engine::uncache_page(CookieId id, std::uint64_t index)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  auto result = std::make_shared<Pending>();
  result->what = "uncache_page";
  Cookie* c = e.find_cookie(id, "fscache_uncache_page");
  if (!c)
    return result;
  e.obs.page(c->addr, index, PageTrace::write_wait);
  e.park([c, index] { return !c->stores.count(index); },
         [&e, c, index, result] {
           ++e.stats.pages_unc;
           e.obs.page(c->addr, index, PageTrace::uncache);
           if (c->object)
             c->test_and_clear(cookie_flag::no_data_yet);
           result->done = true;
         },
         fmt::format("uncache of cookie {:016x} page {:x} waiting for its "
                     "write",
                     c->addr, index));
  return result;
}

int Engine::attr_changed(CookieId id, std::uint64_t new_size)
{
  Impl& e = *m;
  int ret = 0;
  Cookie* c = enabled_data_cookie(e, id, "fscache_attr_changed", ret);
  if (!c)
    return ret;
  ++e.stats.attrchg_n;
  Op* op =
      e.new_op(c, OpKind::attr_changed,
               op_flag::async | op_flag::exclusive | op_flag::unuse_cookie);
  e.obs.page_op(c->addr, 0, op->addr, PageOpTrace::attr_changed);
  if (!c->object) {
    e.put_op(op);
    ++e.stats.attrchg_nbf;
    return -ENOBUFS;
  }
  Object* obj = c->object;
  obj->store_limit_l = new_size;
  c->object_size = new_size;
  ++c->n_active;
  if (e.submit_op(obj, op, true) < 0) {
    e.unuse_cookie(c);
    e.put_op(op);
    ++e.stats.attrchg_nbf;
    return -ENOBUFS;
  }
  ++e.stats.attrchg_ok;
  e.put_op(op);
  return 0;
}

PendingRef Engine::check_consistency(CookieId id)
{
  Impl& e = *m;
  e.set_task(Task::netfs);
  auto result = std::make_shared<Pending>();
  result->what = "check_consistency";
  auto finish = [result](int ret) {
    result->ret = ret;
    result->done = true;
  };
  Cookie* c = e.find_cookie(id, "fscache_check_consistency");
  if (!c)
    return result;
  if (!c->test(cookie_flag::enabled)) {
    finish(-ESTALE);
    return result;
  }
  auto run = [&e, c, finish] {
    if (!c->object) {
      finish(0);
      return;
    }
    Op* op =
        e.new_op(c, OpKind::check,
                 op_flag::mythread | op_flag::waiting | op_flag::unuse_cookie);
    e.obs.page_op(c->addr, 0, op->addr, PageOpTrace::check_consistency);
    if (!c->test(cookie_flag::enabled) || !c->object || e.io_error) {
      op->freed = true; // kfree'd
      finish(-ESTALE);
      return;
    }
    Object* obj = c->object;
    ++c->n_active;
    if (e.submit_op(obj, op, false) < 0) {
      e.unuse_cookie(c);
      op->freed = true;
      finish(-ESTALE);
      return;
    }
    wait_activation(e, op, nullptr, nullptr, [&e, op, finish](int ret) {
      if (ret == 0) {
        ret = e.backend.check_consistency(op->object->id);
        e.op_complete(op, false);
      } else if (ret == -ENOBUFS) {
        ret = 0;
      }
      e.put_op(op);
      finish(ret);
    });
  };
  if (c->test(cookie_flag::looking_up))
    e.park([c] { return !c->test(cookie_flag::looking_up); }, run,
           fmt::format("check_consistency of cookie {:016x} waiting for the "
                       "lookup",
                       c->addr));
  else
    run();
  return result;
}

} // namespace fsc::fscache
