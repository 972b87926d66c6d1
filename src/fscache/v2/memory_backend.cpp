// memory_backend.cpp - CacheFiles' v2 lookups, commits and I/O on an
// in-memory disk (docs/engine-v2.md §4).
#include <fsc/fscache/v2/memory_backend.hpp>

#include <fsc/cachefiles/key.hpp>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

namespace fsc::fscache::v2 {

namespace {

constexpr std::uint64_t k_page = 4096;
constexpr std::uint64_t k_root_ino = 2;
constexpr std::uint8_t k_content_dirty = 4;
constexpr std::uint32_t k_no_object = 0xffffffff;

std::uint64_t round_up(std::uint64_t v)
{
  return (v + k_page - 1) / k_page * k_page;
}

} // namespace

MemoryBackend::MemoryBackend(FaultHook faults) : m_faults(std::move(faults)) {}

std::string MemoryBackend::path_of(std::string_view volume_key, ByteView key)
{
  std::uint32_t h =
      cachefiles::cookie_hash(cachefiles::volume_hash(volume_key), key);
  return fmt::format("I{}/{}/{}", volume_key,
                     cachefiles::fanout_name(static_cast<std::uint8_t>(h)),
                     cachefiles::cook_v2(key));
}

const MemoryBackend::File* MemoryBackend::file(std::string_view path) const
{
  auto it = m_disk.find(std::string(path));
  return it == m_disk.end() ? nullptr : it->second.get();
}

std::vector<std::string> MemoryBackend::paths() const
{
  std::vector<std::string> out;
  for (const auto& [p, f] : m_disk)
    out.push_back(p);
  return out;
}

bool MemoryBackend::bind_cache(Cache&)
{
  if (fault(Fault::bind, nullptr) != 0)
    return false;
  for (std::uint64_t* dir : {&m_cache_ino, &m_grave_ino}) {
    obs().cf_lookup(0, k_root_ino, *dir, 0);
    if (*dir == 0) {
      *dir = m_next_ino++;
      obs().cf_mkdir(k_root_ino, *dir);
    }
    obs().cf_mark_active(0, *dir);
  }
  return true;
}

void MemoryBackend::unbind_cache(Cache&)
{
  obs().cf_mark_inactive(0, m_grave_ino);
  obs().cf_mark_inactive(0, m_cache_ino);
}

bool MemoryBackend::acquire_volume(Volume& v)
{
  if (m_faults && m_faults(Fault::acquire_volume, v.debug_id) != 0)
    return false;
  Bytes want = {0, 0, 0, 0};
  want.insert(want.end(), v.coherency.begin(), v.coherency.end());
  for (;;) {
    auto it = m_vols.find(v.key);
    bool is_new = it == m_vols.end();
    obs().cf_lookup(0, m_cache_ino, is_new ? 0 : it->second.ino, 0);
    if (is_new) {
      // cachefiles_get_directory(): room for the directory first.
      if (m_space.has_space(1, 0, SpaceWhy::create) != 0)
        return false;
      VolDir d;
      d.ino = m_next_ino++;
      obs().cf_mkdir(m_cache_ino, d.ino);
      it = m_vols.emplace(v.key, d).first;
    }
    VolDir& d = it->second;
    if (d.in_use) {
      obs().cf_mark_failed(0, d.ino);
      obs().printk("CacheFiles: Inode already in use");
      return false;
    }
    d.in_use = true;
    obs().cf_mark_active(0, d.ino);
    if (is_new) {
      d.xattr = want;
      obs().cf_vol_coherency(v.debug_id, d.ino, CoherencyTrace::vol_set_ok);
      break;
    }
    if (d.xattr == want) {
      obs().cf_vol_coherency(v.debug_id, d.ino, CoherencyTrace::vol_check_ok);
      break;
    }
    // -ESTALE: bury the directory (and everything in it) and start again.
    obs().cf_vol_coherency(v.debug_id, d.ino, CoherencyTrace::vol_check_cmp);
    obs().cf_rename(k_no_object, d.ino, KillTrace::volume_weird);
    obs().cf_mark_inactive(0, d.ino);
    std::string prefix = "I" + v.key + "/";
    for (auto f = m_disk.begin(); f != m_disk.end();)
      f = f->first.compare(0, prefix.size(), prefix) == 0 ? m_disk.erase(f)
                                                          : std::next(f);
    m_vols.erase(it);
  }
  VolDir& d = m_vols[v.key];
  for (int i = 0; i < 256; ++i) {
    bool is_new = d.fanout[i] == 0;
    obs().cf_lookup(0, d.ino, d.fanout[i], 0);
    if (is_new) {
      d.fanout[i] = m_next_ino++;
      obs().cf_mkdir(d.ino, d.fanout[i]);
    }
    obs().cf_mark_active(0, d.fanout[i]);
  }
  return true;
}

void MemoryBackend::unmark_volume(VolDir& d)
{
  for (std::uint64_t f : d.fanout)
    obs().cf_mark_inactive(0, f);
  obs().cf_mark_inactive(0, d.ino);
  d.in_use = false;
}

void MemoryBackend::free_volume(Volume& v)
{
  auto it = m_vols.find(v.key);
  if (it != m_vols.end())
    unmark_volume(it->second);
}

void MemoryBackend::withdraw_volume(Volume& v)
{
  auto it = m_vols.find(v.key);
  if (it == m_vols.end())
    return;
  Bytes x = {0, 0, 0, 0};
  x.insert(x.end(), v.coherency.begin(), v.coherency.end());
  it->second.xattr = x;
  obs().cf_vol_coherency(v.debug_id, it->second.ino,
                         CoherencyTrace::vol_set_ok);
  unmark_volume(it->second);
}

void MemoryBackend::withdraw_objects()
{
  // cache->object_list gets new objects at its head.
  std::vector<Object*> listed;
  for (auto& [id, o] : m_objects)
    if (o.listed)
      listed.push_back(&o);
  std::sort(listed.begin(), listed.end(), [](const Object* a, const Object* b) {
    return a->listed_seq > b->listed_seq;
  });
  for (Object* o : listed) {
    obs().obj_ref(o->cookie->debug_id, o->id, o->ref,
                  ObjRefTrace::see_withdrawal);
    o->listed = false;
    m_host->withdraw_cookie(*o->cookie);
  }
}

void MemoryBackend::put_object(Object& o, ObjRefTrace why)
{
  obs().obj_ref(o.cookie->debug_id, o.id, o.ref, why);
  if (--o.ref > 0)
    return;
  Cookie& c = *o.cookie;
  Cache& k = *o.cache;
  m_objects.erase(o.id);
  m_host->put_cookie(c, CookieTrace::put_object);
  m_host->uncount_object(k);
}

std::shared_ptr<MemoryBackend::File>
MemoryBackend::new_tmpfile(Object& o, std::uint64_t size)
{
  auto f = std::make_shared<File>();
  f->ino = m_next_ino++;
  obs().cf_tmpfile(o.id, f->ino);
  m_host->preempt_point(*o.cookie);
  f->in_use = true;
  obs().cf_mark_active(o.id, f->ino);
  m_host->preempt_point(*o.cookie);
  std::uint64_t sz = round_up(size);
  if (sz > 0) {
    obs().cf_trunc(o.id, f->ino, TruncTrace::expand_tmpfile, 0, sz);
    f->size = sz;
    m_host->preempt_point(*o.cookie);
  }
  return f;
}

bool MemoryBackend::lookup_cookie(Cookie& c)
{
  Volume& v = *c.volume;
  if (fault(Fault::alloc_object, &c) != 0)
    return false;
  Object& o = m_objects[m_next_obj];
  o.id = m_next_obj++;
  o.cookie = &c;
  o.cache = v.cache;
  m_host->count_object(*v.cache);
  m_host->get_cookie(c, CookieTrace::get_attach_object);
  m_host->preempt_point(c); // cachefiles_alloc_object() takes no lock
  obs().obj_ref(c.debug_id, o.id, 1, ObjRefTrace::new_obj);
  m_host->preempt_point(c);
  if (c.key.size() > cachefiles::k_max_key_v2 ||
      fault(Fault::cook_key, &c) != 0) {
    put_object(o, ObjRefTrace::put_alloc_fail);
    return false;
  }
  o.path = path_of(v.key, c.key);
  c.cache_priv = o.id;
  VolDir& d = m_vols[v.key];
  std::uint32_t h =
      cachefiles::cookie_hash(cachefiles::volume_hash(v.key), c.key);
  o.fanout_ino = d.fanout[h & 0xff];

  bool create = false;
  if (int err = fault(Fault::lookup, &c); err != 0) {
    obs().cf_lookup(o.id, o.fanout_ino, 0, err);
    if (err == -EIO)
      m_host->io_error("lookup");
    goto fail;
  }
  if (auto it = m_disk.find(o.path); it == m_disk.end()) {
    obs().cf_lookup(o.id, o.fanout_ino, 0, -ENOENT);
    m_host->lookup_negative(c);
    create = true;
  } else {
    std::shared_ptr<File> f = it->second;
    obs().cf_lookup(o.id, o.fanout_ino, f->ino, 0);
    m_host->preempt_point(c);
    if (f->in_use) {
      obs().cf_mark_failed(o.id, f->ino);
      obs().printk("CacheFiles: Inode already in use");
      goto fail;
    }
    f->in_use = true;
    obs().cf_mark_active(o.id, f->ino);
    m_host->preempt_point(c);
    if (fault(Fault::open, &c) != 0) {
      if (m_host->fixes().unmark_on_error) { // ea5dc046127e
        f->in_use = false;
        obs().cf_mark_inactive(o.id, f->ino);
      }
      goto fail;
    }
    // cachefiles_check_auxdata.
    int gx = fault(Fault::getxattr, &c);
    int ret = 0;
    CoherencyTrace why = CoherencyTrace::check_ok;
    unsigned content = 0;
    if (gx != 0 || !f->has_xattr || f->xattr.size() > 18 + c.aux.size()) {
      why = CoherencyTrace::check_xattr;
      ret = gx != 0 ? gx : !f->has_xattr ? -ENODATA : -ERANGE;
    } else if (f->xattr.size() != 18 + c.aux.size()) {
      why = CoherencyTrace::check_xattr;
      ret = -ESTALE;
    } else {
      const Bytes& x = f->xattr;
      content = x[17];
      if (x[16] != 1)
        why = CoherencyTrace::check_type;
      else if (!std::equal(c.aux.begin(), c.aux.end(), x.begin() + 18))
        why = CoherencyTrace::check_aux;
      else if (load_be(x, 0, 8) != c.object_size)
        why = CoherencyTrace::check_objsize;
      else if (x[17] == k_content_dirty)
        why = CoherencyTrace::check_dirty;
      if (why != CoherencyTrace::check_ok)
        ret = -ESTALE;
    }
    obs().cf_coherency(o.id, f->ino, why, content);
    m_host->preempt_point(c);
    if (ret == 0) {
      c.clear(cookie_flag::no_data_to_read);
      o.file = f;
    } else {
      if (ret == -ESTALE)
        m_host->lookup_negative(c);
      f->in_use = false;
      obs().cf_mark_inactive(o.id, f->ino);
      if (ret != -ESTALE)
        goto fail;
      create = true;
    }
  }
  if (create) {
    // cachefiles_create_tmpfile(): room for one more file first.
    if (m_space.has_space(1, 0, SpaceWhy::create) != 0 ||
        fault(Fault::create_tmpfile, &c) != 0)
      goto fail;
    o.file = new_tmpfile(o, c.object_size);
    o.tmpfile = true;
    c.set(cookie_flag::needs_update);
  }
  obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_lookup_cookie);
  o.listed = true;
  o.listed_seq = ++m_list_seq;
  return true;

fail:
  obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_lookup_failed);
  m_host->caching_failed(c);
  return false;
}

void MemoryBackend::put_file(std::string_view volume_key, ByteView key,
                             ByteView aux, std::uint64_t object_size, Found how)
{
  auto f = std::make_shared<File>();
  f->ino = m_next_ino++;
  f->size = (object_size + 4095) / 4096 * 4096;
  for (std::uint64_t p = 0; p < f->size / 4096; ++p)
    f->pages.insert(p);
  Bytes x;
  store_be(x, how == Found::bad_size ? object_size + 1 : object_size, 8);
  store_be(x, 0, 8);
  x.push_back(how == Found::bad_type ? 2 : 1);
  x.push_back(how == Found::dirty ? k_content_dirty : 0);
  x.insert(x.end(), aux.begin(), aux.end());
  if (how == Found::bad_aux && !aux.empty()) // same length, other bytes
    x.back() = static_cast<std::uint8_t>(x.back() ^ 0xff);
  f->has_xattr = how != Found::no_xattr;
  if (f->has_xattr)
    f->xattr = std::move(x);
  m_disk[path_of(volume_key, key)] = std::move(f);
}

void MemoryBackend::set_object_xattr(Object& o)
{
  Cookie& c = *o.cookie;
  std::uint8_t content =
      c.test(cookie_flag::local_write) ? k_content_dirty : o.content_info;
  Bytes x;
  store_be(x, c.object_size, 8);
  store_be(x, 0, 8);
  x.push_back(1);
  x.push_back(content);
  x.insert(x.end(), c.aux.begin(), c.aux.end());
  if (fault(Fault::setxattr, &c) != 0) {
    obs().cf_coherency(o.id, o.file->ino, CoherencyTrace::set_fail, content);
    return;
  }
  o.file->xattr = std::move(x);
  o.file->has_xattr = true;
  obs().cf_coherency(o.id, o.file->ino, CoherencyTrace::set_ok, content);
}

void MemoryBackend::withdraw_cookie(Cookie& c)
{
  auto it = m_objects.find(c.cache_priv);
  if (it == m_objects.end())
    return;
  Object& o = it->second;
  obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_withdraw_cookie);
  if (o.listed) {
    obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_withdrawal);
    o.listed = false;
  }
  if (o.file) {
    // cachefiles_clean_up_object.
    if (c.test(cookie_flag::retired)) {
      if (!o.tmpfile) {
        obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_clean_delete);
        obs().cf_unlink(o.id, o.file->ino, KillTrace::was_retired);
        auto d = m_disk.find(o.path);
        if (d != m_disk.end() && d->second == o.file)
          m_disk.erase(d);
      } else {
        obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_clean_drop_tmp);
      }
    } else {
      // The commit's steps on the backing filesystem can sleep; the
      // cookie's lock is not held.
      obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_clean_commit);
      m_host->preempt_point(c);
      bool update = c.test_and_clear(cookie_flag::local_write);
      if (c.test_and_clear(cookie_flag::needs_update))
        update = true;
      if (update) {
        set_object_xattr(o);
        m_host->preempt_point(c);
      }
      if (o.tmpfile) {
        auto d = m_disk.find(o.path);
        if (d != m_disk.end() && d->second != o.file) {
          obs().cf_unlink(o.id, d->second->ino, KillTrace::stale);
          m_disk.erase(d);
          m_host->preempt_point(c);
        }
        if (fault(Fault::link, &c) == 0) {
          obs().cf_link(o.id, o.file->ino);
          m_disk[o.path] = o.file;
          o.tmpfile = false;
          m_host->preempt_point(c);
        }
      }
    }
    o.file->in_use = false;
    obs().cf_mark_inactive(o.id, o.file->ino);
    o.file.reset();
  }
  c.cache_priv = 0;
  put_object(o, ObjRefTrace::put_detach);
}

bool MemoryBackend::invalidate_cookie(Cookie& c)
{
  auto it = m_objects.find(c.cache_priv);
  if (it == m_objects.end() || !it->second.file) {
    m_host->resume_after_invalidation(c);
    return true;
  }
  Object& o = it->second;
  if (m_space.has_space(1, 0, SpaceWhy::create) != 0 ||
      fault(Fault::invalidate_tmpfile, &c) != 0)
    return false;
  std::shared_ptr<File> old = o.file;
  bool old_linked = !o.tmpfile;
  o.file = new_tmpfile(o, c.object_size);
  o.content_info = 0;
  o.tmpfile = true;
  c.set(cookie_flag::needs_update);
  m_host->resume_after_invalidation(c);
  if (old_linked) {
    obs().cf_unlink(o.id, old->ino, KillTrace::invalidated);
    auto d = m_disk.find(o.path);
    if (d != m_disk.end() && d->second == old)
      m_disk.erase(d);
  }
  return true;
}

void MemoryBackend::prepare_to_write(Cookie& c)
{
  auto it = m_objects.find(c.cache_priv);
  if (it != m_objects.end() && it->second.file && !it->second.tmpfile)
    set_object_xattr(it->second);
}

bool MemoryBackend::begin_operation(Operation& op, Want want)
{
  auto it = m_objects.find(op.cookie->cache_priv);
  if (!op.has_file && it != m_objects.end() && it->second.file)
    op.has_file = true;
  return op.has_file || want == Want::params;
}

void MemoryBackend::end_operation(Operation& op) { op.has_file = false; }

void MemoryBackend::resize_cookie(Operation& op, std::uint64_t new_size)
{
  Cookie& c = *op.cookie;
  auto it = m_objects.find(c.cache_priv);
  if (new_size < c.object_size && it != m_objects.end() && it->second.file) {
    Object& o = it->second;
    File& f = *o.file;
    std::uint64_t dio = round_up(new_size);
    obs().cf_trunc(o.id, f.ino, TruncTrace::shrink, f.size, dio);
    f.size = dio;
    f.pages.erase(f.pages.lower_bound(dio / k_page), f.pages.end());
    if (new_size < dio) {
      obs().cf_trunc(o.id, f.ino, TruncTrace::dio_adjust, dio, new_size);
      // b08968f196d4: before it, the zero range from new_size was dio
      // bytes long, not dio - new_size, and the file grew past dio.
      if (!m_host->fixes().shorten_length)
        f.size = new_size + dio;
    }
  }
  c.object_size = new_size;
}

int MemoryBackend::read(Operation& op, std::uint64_t pos, std::uint64_t len)
{
  ++m_reads;
  auto it = m_objects.find(op.cookie->cache_priv);
  if (it == m_objects.end() || !it->second.file)
    return -ENOBUFS;
  Object& o = it->second;
  File& f = *o.file;
  auto p = f.pages.lower_bound(pos / k_page);
  if (len == 0 || p == f.pages.end() || *p * k_page >= pos + len)
    return -ENODATA; // SEEK_DATA found nothing in range
  obs().obj_ref(o.cookie->debug_id, o.id, o.ref, ObjRefTrace::get_ioreq);
  ++o.ref;
  obs().cf_read(o.id, f.ino, pos, len);
  if (m_hold_reads) {
    m_last_read = m_next_io++;
    m_ios[m_last_read] = o.id;
    m_read_ios.insert(m_last_read);
    return 0;
  }
  put_object(o, ObjRefTrace::put_ioreq);
  return 0;
}

int MemoryBackend::write(Operation& op, std::uint64_t pos, std::uint64_t len)
{
  ++m_writes;
  auto it = m_objects.find(op.cookie->cache_priv);
  if (it == m_objects.end() || !it->second.file)
    return -ENOBUFS;
  // __cachefiles_prepare_write(): room for the pages (0, pages, write).
  if (int err = m_space.has_space(0, (len + k_page - 1) / k_page,
                                  SpaceWhy::write);
      err != 0)
    return err;
  if (int err = fault(Fault::write, op.cookie); err != 0)
    return err;
  Object& o = it->second;
  File& f = *o.file;
  obs().obj_ref(o.cookie->debug_id, o.id, o.ref, ObjRefTrace::get_ioreq);
  ++o.ref;
  obs().cf_write(o.id, f.ino, pos, len);
  for (std::uint64_t pg = pos / k_page; pg * k_page < pos + len; ++pg)
    f.pages.insert(pg);
  f.size = std::max(f.size, pos + len);
  int io = m_next_io++;
  m_ios[io] = o.id;
  return io;
}

void MemoryBackend::complete_write(int io)
{
  auto it = m_ios.find(io);
  if (it == m_ios.end())
    return;
  auto o = m_objects.find(it->second);
  m_ios.erase(it);
  const bool read = m_read_ios.erase(io) != 0;
  if (o == m_objects.end())
    return;
  if (!read)
    o->second.cookie->set(cookie_flag::have_data);
  put_object(o->second, ObjRefTrace::put_ioreq);
}

// daemon.c:cachefiles_daemon_cull()/_inuse() on the in-memory tree: data
// files by their path, volume directories ("cache/I<key>") and their
// fan-outs, which are in use while their volume is.
namespace {

/// "cache/I<key>/@xx/name" → "I<key>/@xx/name"; "" when outside cache/.
std::string in_cache(std::string_view dir, std::string_view name)
{
  std::string p = std::string(dir) + "/" + std::string(name);
  if (!p.starts_with("cache/"))
    return "";
  return p.substr(6);
}

} // namespace

int MemoryBackend::inuse(std::string_view dir, std::string_view name)
{
  if (name.find('/') != std::string_view::npos || name.empty())
    return -EINVAL;
  const std::string p = in_cache(dir, name);
  if (auto it = m_disk.find(p); it != m_disk.end())
    return it->second->in_use ? -EBUSY : 0;
  const std::string vol_key = p.substr(0, p.find('/'));
  if (vol_key.size() < 2 || vol_key[0] != 'I')
    return -ENOENT;
  auto v = m_vols.find(vol_key.substr(1));
  if (v == m_vols.end())
    return -ENOENT;
  // The volume directory or one of its 256 fan-outs.
  const bool fanout = p.size() == vol_key.size() + 4 &&
                      p.compare(vol_key.size(), 2, "/@") == 0;
  if (p != vol_key && !fanout)
    return -ENOENT;
  return v->second.in_use ? -EBUSY : 0;
}

int MemoryBackend::cull(std::string_view dir, std::string_view name)
{
  if (int r = inuse(dir, name); r != 0)
    return r;
  const std::string p = in_cache(dir, name);
  if (auto it = m_disk.find(p); it != m_disk.end()) {
    obs().cf_unlink(0xffffffffu, it->second->ino, KillTrace::was_culled);
    m_disk.erase(it);
  } else {
    // A directory: renamed into the graveyard with everything below it.
    const std::string vol_key = p.substr(0, p.find('/'));
    VolDir& d = m_vols.at(vol_key.substr(1));
    obs().cf_rename(0xffffffffu, d.ino, KillTrace::was_culled);
    obs().cf_mark_inactive(0, d.ino);
    for (auto f = m_disk.lower_bound(p + "/");
         f != m_disk.end() && f->first.starts_with(p + "/");)
      f = m_disk.erase(f);
    if (p == vol_key)
      m_vols.erase(vol_key.substr(1));
  }
  ++m_space.counts.cull;
  return 0;
}

} // namespace fsc::fscache::v2
