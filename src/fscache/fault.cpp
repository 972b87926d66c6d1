// fault.cpp - the fault plan and the backend wrapper that applies it.
#include <fsc/fscache/fault.hpp>

#include <cerrno>
#include <fmt/format.h>

namespace fsc::fscache {

int FaultPlan::check(const std::string& point)
{
  for (Rule& r : m_rules) {
    if (r.point != point || (r.cookie != 0 && r.cookie != m_cookie))
      continue;
    ++r.seen;
    if (r.nth == 0 || r.seen == r.nth)
      return -r.err;
  }
  return 0;
}

const std::vector<std::string>& FaultPlan::points()
{
  static const std::vector<std::string> all{
      "alloc_object", "lookup_object",     "update_object", "check_consistency",
      "attr_changed", "invalidate_object", "read_page",     "allocate_page",
      "write_page",   "fs.mkdir",          "fs.create",     "fs.setxattr",
      "fs.write",     "fs.truncate",       "fs.unlink",     "fs.rename",
      "space"};
  return all;
}

FaultyBackend::FaultyBackend(Backend& inner, FaultPlan& plan,
                             std::function<CookieId(ObjectId)> cookie_of)
    : m_inner(inner), m_plan(plan), m_cookie_of(std::move(cookie_of))
{
}

void FaultyBackend::set_host(BackendHost& h)
{
  m_host = &h;
  m_inner.set_host(h);
}

int FaultyBackend::gate(const char* point, ObjectId id)
{
  m_plan.set_cookie(m_cookie_of(id));
  return m_plan.check(point);
}

int FaultyBackend::alloc_object(ObjectId id, CookieType t, ByteView key,
                                ByteView aux)
{
  if (int r = gate("alloc_object", id))
    return r;
  return m_inner.alloc_object(id, t, key, aux);
}

int FaultyBackend::lookup_object(ObjectId id, ObjectId parent,
                                 std::uint64_t limit)
{
  if (int r = gate("lookup_object", id)) {
    // CacheFiles raises EV_ERROR itself for any failure but a timeout.
    if (r != -ETIMEDOUT)
      m_host->set_error_event(id);
    return r;
  }
  return m_inner.lookup_object(id, parent, limit);
}

void FaultyBackend::lookup_complete(ObjectId id)
{
  m_plan.set_cookie(m_cookie_of(id));
  m_inner.lookup_complete(id);
}

void FaultyBackend::update_object(ObjectId id, CookieType t, ByteView aux)
{
  if (gate("update_object", id) == 0)
    m_inner.update_object(id, t, aux);
}

int FaultyBackend::check_consistency(ObjectId id)
{
  if (int r = gate("check_consistency", id))
    return r;
  return m_inner.check_consistency(id);
}

int FaultyBackend::attr_changed(ObjectId id, std::uint64_t size)
{
  if (int r = gate("attr_changed", id))
    return r;
  return m_inner.attr_changed(id, size);
}

int FaultyBackend::invalidate_object(ObjectId id, std::uint64_t size)
{
  if (int r = gate("invalidate_object", id))
    return r;
  return m_inner.invalidate_object(id, size);
}

void FaultyBackend::drop_object(ObjectId id, bool retired, bool killed)
{
  m_plan.set_cookie(m_cookie_of(id));
  m_inner.drop_object(id, retired, killed);
}

void FaultyBackend::put_object(ObjectId id) { m_inner.put_object(id); }

int FaultyBackend::read_or_alloc_page(ObjectId id, std::uint64_t i, Bytes* b)
{
  if (int r = gate("read_page", id))
    return r;
  return m_inner.read_or_alloc_page(id, i, b);
}

int FaultyBackend::allocate_page(ObjectId id, std::uint64_t i)
{
  if (int r = gate("allocate_page", id))
    return r;
  return m_inner.allocate_page(id, i);
}

int FaultyBackend::write_page(ObjectId id, std::uint64_t i, ByteView p,
                              std::uint64_t limit)
{
  if (int r = gate("write_page", id))
    return r;
  return m_inner.write_page(id, i, p, limit);
}

} // namespace fsc::fscache
