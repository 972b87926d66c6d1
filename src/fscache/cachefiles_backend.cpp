// backend.cpp - 4.19 CacheFiles on a Store: namei.c (walk, create, bury,
// active tree), xattr.c (the coherency check), interface.c and rdwr.c (the
// operations the engine calls).
#include <fsc/fscache/cachefiles_backend.hpp>

#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/xattr.hpp>

#include <cerrno>
#include <fmt/format.h>

namespace fsc::fscache {

using namespace fsc::cachefiles;

using fscache::CheckAux;
using fscache::CookieType;
using fscache::KillReason;
using fscache::ObjectId;
using fscache::page_size;

CacheFilesBackend::CacheFilesBackend(Store& store, FaultPlan& faults,
                                     std::function<std::uint32_t()> clock)
    : m_store(store), m_faults(faults), m_clock(std::move(clock))
{
}

std::uint64_t CacheFilesBackend::dentry(const std::string& path)
{
  auto [it, fresh] = m_dentries.emplace(path, 0);
  if (fresh)
    it->second = 0xffff888400000000ULL + (++m_dentry_count << 8);
  return it->second;
}

std::uint64_t CacheFilesBackend::inode(const std::string& path)
{
  return dentry(path) + 0x0000000100000000ULL;
}

std::uint64_t CacheFilesBackend::addr(ObjectId id)
{
  return m_host->object_addr(id);
}

std::string CacheFilesBackend::path_of(ObjectId id) const
{
  if (id == fscache::no_parent)
    return "cache";
  auto it = m_objs.find(id);
  return it == m_objs.end() ? std::string() : it->second.path;
}

int CacheFilesBackend::alloc_object(ObjectId id, CookieType type, ByteView key,
                                    ByteView aux)
{
  Obj o;
  o.type = type;
  o.cooked = cook_v1(key, static_cast<std::uint8_t>(type));
  o.xattr = encode_xattr_v1(static_cast<std::uint8_t>(type), aux);
  m_objs[id] = std::move(o);
  return 0;
}

int CacheFilesBackend::bury(ObjectId owner, const std::string& path,
                            KillReason why, bool preemptive)
{
  StoreStat st = m_store.stat(path);
  std::uint64_t o = owner ? addr(owner) : 0;
  int r;
  if (!st.dir) {
    obs().cf_unlink(o, dentry(path), why);
    r = m_faults.check("fs.unlink");
    if (r == 0)
      r = m_store.unlink(path);
  } else {
    std::string grave =
        "graveyard/" + graveyard_name(m_clock(), ++m_grave_counter);
    obs().cf_rename(o, dentry(path), dentry(grave), why);
    r = m_faults.check("fs.rename");
    if (r == 0)
      r = m_store.rename(path, grave);
  }
  if (r == -EIO)
    m_host->io_error("Unlink or rename failed");
  if (preemptive) {
    auto act = m_active.find(path);
    ObjectId holder = act == m_active.end() ? 0 : act->second;
    obs().cf_mark_buried(holder ? addr(holder) : 0, dentry(path), why);
    if (holder && m_host->object_live(holder))
      obs().printk(fmt::format("CacheFiles: Can't preemptively bury live "
                               "object OBJ{:x}",
                               holder));
    else if (holder && why != KillReason::stale)
      m_host->mark_killed(holder, why);
  }
  m_dentries.erase(path);
  return r;
}

int CacheFilesBackend::check_xattr(ObjectId id, Obj& o, const std::string& path)
{
  auto x = m_store.get_xattr(path);
  if (!x) {
    if (x.error() == ENODATA)
      return -ESTALE; // no attribute: power went off mid-cull?
    m_host->io_error(
        fmt::format("Can't read xattr on {} (err {})", path, x.error()));
    return -EIO;
  }
  if (x->empty() || x->size() > k_max_xattr_v1) {
    obs().printk(fmt::format("CacheFiles: Cache object {} xattr length "
                             "incorrect",
                             path));
    return -EIO;
  }
  if ((*x)[0] != o.xattr[0])
    return -ESTALE;
  ByteView aux(x->data() + 1, x->size() - 1);
  CheckAux r = m_host->check_aux(id, aux, m_store.stat(path).size);
  if (r == CheckAux::obsolete)
    return -ESTALE;
  if (r == CheckAux::needs_update) {
    int e = m_faults.check("fs.setxattr");
    if (e == 0)
      e = m_store.set_xattr(path, o.xattr, false);
    if (e < 0) {
      m_host->io_error("Failed to update xattr");
      return -EIO;
    }
  }
  return 0;
}

int CacheFilesBackend::walk(ObjectId id, Obj& o, const std::string& parent)
{
  StoreStat ps = m_store.stat(parent);
  if (!ps.dir)
    return -ENOBUFS;
  bool negative = false;
  auto note_negative = [&] {
    if (!negative)
      m_host->lookup_negative(id);
    negative = true;
  };
  auto space = [&]() {
    if (m_faults.check("space") == 0)
      return 0;
    m_host->mark_killed(id, KillReason::no_space);
    return -ENOBUFS;
  };
  std::string fan = parent + "/" + o.cooked.fanout;
  StoreStat st = m_store.stat(fan);
  obs().cf_lookup(addr(id), dentry(fan), st.exists ? inode(fan) : 0);
  if (!st.exists) {
    note_negative();
    if (int r = space(); r < 0)
      return r;
    int r = m_faults.check("fs.mkdir");
    if (r == 0)
      r = m_store.mkdir(fan, 0);
    if (r < 0)
      return r;
  } else if (!st.dir) {
    return -ENOBUFS;
  }
  bool index = o.type == CookieType::index;
  std::string path = fan + "/" + o.cooked.name;
  for (;;) {
    st = m_store.stat(path);
    obs().cf_lookup(addr(id), dentry(path), st.exists ? inode(path) : 0);
    bool created = false;
    if (!st.exists) {
      note_negative();
      if (int r = space(); r < 0)
        return r;
      int r = m_faults.check(index ? "fs.mkdir" : "fs.create");
      if (r == 0)
        r = index ? m_store.mkdir(path, 0) : m_store.create(path);
      if (index)
        obs().cf_mkdir(addr(id), dentry(path), r);
      else
        obs().cf_create(addr(id), dentry(path), r);
      if (r < 0)
        return r;
      created = true;
    } else if (index ? !st.dir : !st.reg) {
      return -ENOBUFS;
    }
    if (!created) {
      int r = check_xattr(id, o, path);
      if (r == -ESTALE) {
        bury(id, path, KillReason::stale, true);
        m_host->retrying_stale(id);
        continue; // look the name up again: now negative, so create
      }
      if (r < 0)
        return r;
    }
    if (auto act = m_active.find(path); act != m_active.end()) {
      // An older incarnation still holds the dentry (engine §5.3).
      ObjectId x = act->second;
      obs().cf_wait_active(addr(id), dentry(path), addr(x), 1,
                           m_host->object_flags(x));
      if (!m_host->fix_collision_tests_old()) {
        // Before the fix the new (always live) object was tested: BUG.
        m_host->crash(fmt::format(
            "4.19 would crash here: CacheFiles: Error: Unexpected object "
            "collision: OBJ{:x} tested its own liveness instead of OBJ{:x}'s "
            "(BUG in cachefiles_mark_object_active)",
            id, x));
        return -EIO;
      }
      if (m_host->object_live(x))
        obs().printk(fmt::format("CacheFiles: Unexpected object collision "
                                 "OBJ{:x} with OBJ{:x}",
                                 id, x));
      m_host->get_object_untraced(x);
      m_host->put_object(x, fscache::ObjRefTrace::put_wait_timeo);
      return -ETIMEDOUT;
    }
    obs().cf_mark_active(addr(id), dentry(path));
    m_active[path] = id;
    o.active = true;
    o.path = path;
    if (created) {
      int r = m_faults.check("fs.setxattr");
      if (r == 0)
        r = m_store.set_xattr(path, o.xattr, true);
      if (r < 0) {
        obs().cf_mark_inactive(addr(id), dentry(path), inode(path));
        m_active.erase(path);
        o.active = false;
        return r;
      }
    } else {
      m_store.touch_atime(path);
    }
    m_host->obtained_object(id);
    return 0;
  }
}

int CacheFilesBackend::lookup_object(ObjectId id, ObjectId parent,
                                     std::uint64_t store_limit)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end())
    return -ENOBUFS;
  Obj& o = it->second;
  o.store_limit = store_limit;
  int r = walk(id, o, path_of(parent));
  if (r == 0 && o.type != CookieType::index)
    resize(id, o, store_limit);
  if (r < 0 && r != -ETIMEDOUT) {
    if (r != -ENOBUFS)
      obs().printk(fmt::format("CacheFiles: Lookup failed error {}", r));
    m_host->set_error_event(id);
  }
  return r;
}

void CacheFilesBackend::lookup_complete(ObjectId) {}

void CacheFilesBackend::update_object(ObjectId id, CookieType type,
                                      ByteView aux)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty())
    return;
  Bytes x = encode_xattr_v1(static_cast<std::uint8_t>(type), aux);
  int r = m_faults.check("fs.setxattr");
  if (r == 0)
    r = m_store.set_xattr(it->second.path, x, false);
  if (r < 0 && r != -ENOMEM)
    m_host->io_error("Failed to update xattr");
}

int CacheFilesBackend::check_consistency(ObjectId id)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty())
    return -ESTALE;
  return check_xattr(id, it->second, it->second.path) == 0 ? 0 : -ESTALE;
}

int CacheFilesBackend::resize(ObjectId, Obj& o, std::uint64_t ni)
{
  if (o.path.empty() || o.type == CookieType::index)
    return -ENOBUFS;
  o.store_limit = ni;
  std::uint64_t oi = m_store.stat(o.path).size;
  if (oi == ni)
    return 0;
  int r = 0;
  // An extended partial last page is cut back first so new data shows.
  if ((oi % page_size) && ni > oi) {
    r = m_faults.check("fs.truncate");
    if (r == 0)
      r = m_store.truncate(o.path, oi & ~(page_size - 1));
  }
  if (r == 0) {
    r = m_faults.check("fs.truncate");
    if (r == 0)
      r = m_store.truncate(o.path, ni);
  }
  if (r == -EIO) {
    o.store_limit = 0;
    m_host->io_error("Size set failed");
    return -ENOBUFS;
  }
  return r;
}

int CacheFilesBackend::attr_changed(ObjectId id, std::uint64_t new_size)
{
  auto it = m_objs.find(id);
  return it == m_objs.end() ? -ENOBUFS : resize(id, it->second, new_size);
}

int CacheFilesBackend::invalidate_object(ObjectId id, std::uint64_t new_size)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty() ||
      it->second.type == CookieType::index)
    return 0;
  Obj& o = it->second;
  o.store_limit = new_size;
  int r = m_faults.check("fs.truncate");
  if (r == 0)
    r = m_store.truncate(o.path, 0);
  if (r == 0)
    r = m_store.truncate(o.path, new_size);
  if (r != 0) {
    o.store_limit = 0;
    if (r == -EIO)
      m_host->io_error("Invalidate failed");
  }
  return r;
}

void CacheFilesBackend::drop_object(ObjectId id, bool retired,
                                    bool killed_by_cache)
{
  if (id == fscache::no_parent)
    return; // the cache's root object keeps cache/
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty())
    return;
  Obj& o = it->second;
  std::string path = o.path;
  std::uint64_t d = dentry(path), i = inode(path);
  if (retired && !killed_by_cache && m_store.stat(path).exists)
    bury(id, path, KillReason::was_retired, false);
  if (o.active) {
    obs().cf_mark_inactive(addr(id), d, i);
    m_active.erase(path);
    o.active = false;
  }
}

void CacheFilesBackend::put_object(ObjectId id) { m_objs.erase(id); }

int CacheFilesBackend::read_or_alloc_page(ObjectId id, std::uint64_t index,
                                          Bytes*)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty() ||
      it->second.type == CookieType::index)
    return -ENOBUFS;
  const std::string& path = it->second.path;
  std::uint64_t off = index * page_size;
  if (off < m_store.stat(path).size) {
    auto d = m_store.has_data(path, off);
    if (d && *d)
      return 0;
  }
  return m_faults.check("space") == 0 ? -ENODATA : -ENOBUFS;
}

int CacheFilesBackend::allocate_page(ObjectId id, std::uint64_t)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty())
    return -ENOBUFS;
  return m_faults.check("space") == 0 ? 0 : -ENOBUFS;
}

int CacheFilesBackend::write_page(ObjectId id, std::uint64_t index,
                                  ByteView page, std::uint64_t store_limit)
{
  auto it = m_objs.find(id);
  if (it == m_objs.end() || it->second.path.empty())
    return -ENOBUFS;
  std::uint64_t pos = index * page_size;
  if (pos >= store_limit)
    return -ENOBUFS;
  std::uint64_t len = std::min<std::uint64_t>(page_size, store_limit - pos);
  Bytes data(page.begin(), page.end());
  data.resize(len, 0);
  int r = m_faults.check("fs.write");
  if (r == 0)
    r = m_store.write(it->second.path, pos, data);
  if (r < 0) {
    if (r == -EIO)
      m_host->io_error("Write page to backing file failed");
    return -ENOBUFS;
  }
  return 0;
}

} // namespace fsc::fscache
