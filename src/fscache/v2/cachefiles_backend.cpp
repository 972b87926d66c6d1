// cachefiles_backend.cpp - 6.1 CacheFiles on a Store: volume.c (volume
// directories), namei.c (lookup, tmpfile, commit, burial), xattr.c (the
// object and volume xattrs), interface.c and io.c (docs/engine-v2.md §4).
#include <fsc/fscache/v2/cachefiles_backend.hpp>

#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/key.hpp>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <fmt/format.h>

namespace fsc::fscache::v2 {

namespace {

constexpr std::uint64_t k_page = 4096;
constexpr std::uint8_t k_content_dirty = 4;
constexpr std::uint32_t k_no_object = 0xffffffff;
constexpr std::size_t k_xattr_header = 18;

std::uint64_t round_up(std::uint64_t v)
{
  return (v + k_page - 1) / k_page * k_page;
}

} // namespace

CacheFilesBackend::CacheFilesBackend(cachefiles::Store& store,
                                     std::function<std::uint32_t()> clock,
                                     FaultHook faults)
    : m_store(store), m_clock(std::move(clock)), m_faults(std::move(faults))
{
}

std::string CacheFilesBackend::path_of(std::string_view volume_key,
                                       ByteView key)
{
  std::uint32_t h =
      cachefiles::cookie_hash(cachefiles::volume_hash(volume_key), key);
  return fmt::format("cache/I{}/{}/{}", volume_key,
                     cachefiles::fanout_name(static_cast<std::uint8_t>(h)),
                     cachefiles::cook_v2(key));
}

// namei.c:cachefiles_get_directory(): look up, mkdir 0700 if missing, mark
// in use, check it is a directory.
int CacheFilesBackend::get_directory(std::uint64_t parent_ino,
                                     const std::string& rel, std::uint64_t& ino,
                                     bool* is_new)
{
  cachefiles::StoreStat st = m_store.stat(rel);
  obs().cf_lookup(0, parent_ino, st.exists ? st.ino : 0, 0);
  if (!st.exists) {
    if (int r = m_space.has_space(1, 0, SpaceWhy::create); r < 0)
      return r;
    if (int r = m_store.mkdir(rel, 0700); r < 0) {
      obs().printk(
          fmt::format("CacheFiles: mkdir {} failed with error {}", rel, r));
      return r;
    }
    st = m_store.stat(rel);
    obs().cf_mkdir(parent_ino, st.ino);
    if (is_new)
      *is_new = true;
  }
  if (!m_in_use.insert(st.ino).second) {
    obs().cf_mark_failed(0, st.ino);
    obs().printk("CacheFiles: Inode already in use");
    return -EBUSY;
  }
  obs().cf_mark_active(0, st.ino);
  if (!st.dir) {
    // Never followed: a symlink or a file here is simply not a directory.
    obs().printk(fmt::format("CacheFiles: {} is not a directory", rel));
    put_directory(st.ino);
    return -EIO;
  }
  ino = st.ino;
  return 0;
}

void CacheFilesBackend::put_directory(std::uint64_t ino)
{
  m_in_use.erase(ino);
  obs().cf_mark_inactive(0, ino);
}

// namei.c:cachefiles_bury_object(): a non-directory is unlinked, a
// directory renamed into graveyard/ under "%08x%08x" (seconds, counter).
int CacheFilesBackend::bury(std::uint32_t o, const std::string& rel,
                            KillTrace why)
{
  cachefiles::StoreStat st = m_store.stat(rel);
  if (!st.exists)
    return -ESTALE;
  const Cookie* c = nullptr;
  if (auto it = m_objects.find(o); it != m_objects.end())
    c = it->second.cookie;
  if (!st.dir) {
    obs().cf_unlink(o, st.ino, why);
    int r = fault(Fault::bury, c);
    if (r == 0)
      r = m_store.unlink(rel);
    if (r == -EIO)
      m_host->io_error("Unlink failed");
    return r;
  }
  std::string grave;
  do
    grave =
        "graveyard/" + cachefiles::graveyard_name(m_clock(), ++m_gravecounter);
  while (m_store.stat(grave).exists);
  obs().cf_rename(o, st.ino, why);
  int r = fault(Fault::bury, c);
  if (r == 0)
    r = m_store.rename(rel, grave);
  if (r < 0) {
    if (r != -ENOMEM)
      m_host->io_error(fmt::format("Rename failed with error {}", r));
    return r;
  }
  m_in_use.erase(st.ino);
  obs().cf_mark_inactive(o == k_no_object ? 0 : o, st.ino);
  return 0;
}

bool CacheFilesBackend::bind_cache(Cache&)
{
  if (fault(Fault::bind, nullptr) != 0)
    return false;
  cachefiles::StoreStat root = m_store.stat(".");
  m_root_ino = root.exists ? root.ino : 2;
  if (get_directory(m_root_ino, "cache", m_cache_ino, nullptr) < 0)
    return false;
  if (get_directory(m_root_ino, "graveyard", m_grave_ino, nullptr) < 0) {
    put_directory(m_cache_ino);
    return false;
  }
  return true;
}

void CacheFilesBackend::unbind_cache(Cache&)
{
  put_directory(m_grave_ino);
  put_directory(m_cache_ino);
}

bool CacheFilesBackend::acquire_volume(Volume& v)
{
  if (fault(Fault::acquire_volume, nullptr) != 0)
    return false;
  Bytes want = {0, 0, 0, 0};
  want.insert(want.end(), v.coherency.begin(), v.coherency.end());
  // lookup_one_len() refuses a name with '/' (-EACCES): the volume is
  // unusable, and nothing outside cache/ is ever reached.
  if (v.key.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    obs().printk(fmt::format("CacheFiles: Lookup I{} failed with error {}",
                             v.key, -EACCES));
    return false;
  }
  const std::string rel = "cache/I" + v.key;
  VolDir d;
  d.path = rel;
  for (;;) {
    bool is_new = false;
    if (get_directory(m_cache_ino, rel, d.ino, &is_new) < 0)
      return false;
    if (is_new) {
      int r = m_store.set_xattr(rel, want, true);
      if (r < 0) {
        obs().cf_vol_coherency(v.debug_id, d.ino, CoherencyTrace::vol_set_fail);
        if (r != -ENOMEM)
          m_host->io_error(fmt::format("Failed to set xattr with error {}", r));
        put_directory(d.ino);
        return false;
      }
      obs().cf_vol_coherency(v.debug_id, d.ino, CoherencyTrace::vol_set_ok);
      break;
    }
    // cachefiles_check_volume_xattr: a buffer of exactly 4 + coherency.
    auto x = m_store.get_xattr(rel);
    if (x && x->size() > want.size())
      x = tl::unexpected(ERANGE);
    int ret = -ESTALE;
    CoherencyTrace why = CoherencyTrace::vol_check_ok;
    if (!x || x->size() != want.size()) {
      why = CoherencyTrace::vol_check_xattr;
      if (!x) {
        ret = -x.error();
        if (x.error() == EIO)
          m_host->io_error("Failed to read xattr with error -5");
      }
    } else if (load_be(*x, 0, 4) != 0) {
      why = CoherencyTrace::vol_check_resv;
    } else if (!std::equal(want.begin() + 4, want.end(), x->begin() + 4)) {
      why = CoherencyTrace::vol_check_cmp;
    } else {
      ret = 0;
    }
    obs().cf_vol_coherency(v.debug_id, d.ino, why);
    if (ret == 0)
      break;
    if (ret != -ESTALE) {
      // 0ece614a52bc: the volume stays unusable, nothing is buried.
      put_directory(d.ino);
      return false;
    }
    int b = bury(k_no_object, rel, KillTrace::volume_weird);
    put_directory(d.ino);
    if (b < 0)
      return false; // 6.1 would retry forever; give up instead
  }
  for (int i = 0; i < 256; ++i) {
    std::string fan =
        rel + "/" + cachefiles::fanout_name(static_cast<std::uint8_t>(i));
    if (get_directory(d.ino, fan, d.fanout[i], nullptr) < 0) {
      for (int j = 0; j < i; ++j)
        put_directory(d.fanout[j]);
      put_directory(d.ino);
      return false;
    }
  }
  m_vols[v.key] = d;
  return true;
}

void CacheFilesBackend::unmark_volume(VolDir& d)
{
  for (std::uint64_t f : d.fanout)
    put_directory(f);
  put_directory(d.ino);
}

void CacheFilesBackend::free_volume(Volume& v)
{
  auto it = m_vols.find(v.key);
  if (it == m_vols.end())
    return;
  unmark_volume(it->second);
  m_vols.erase(it);
}

void CacheFilesBackend::withdraw_volume(Volume& v)
{
  auto it = m_vols.find(v.key);
  if (it == m_vols.end())
    return;
  Bytes x = {0, 0, 0, 0};
  x.insert(x.end(), v.coherency.begin(), v.coherency.end());
  const std::string& rel = it->second.path;
  int r = m_store.set_xattr(rel, x, !m_store.get_xattr(rel).has_value());
  obs().cf_vol_coherency(v.debug_id, it->second.ino,
                         r == 0 ? CoherencyTrace::vol_set_ok
                                : CoherencyTrace::vol_set_fail);
  unmark_volume(it->second);
  m_vols.erase(it);
}

void CacheFilesBackend::withdraw_objects()
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

void CacheFilesBackend::put_object(Object& o, ObjRefTrace why)
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

// namei.c:cachefiles_create_tmpfile(): mode 0 in the fan-out, marked in
// use, expanded to the rounded-up object size.
bool CacheFilesBackend::create_tmpfile(Object& o)
{
  auto h = m_store.tmpfile(o.fan);
  if (!h) {
    if (h.error() == -EIO)
      m_host->io_error("Failed to create tmpfile");
    return false;
  }
  std::uint64_t ino = m_store.stat(*h).ino;
  obs().cf_tmpfile(o.id, ino);
  m_in_use.insert(ino);
  obs().cf_mark_active(o.id, ino);
  std::uint64_t sz = round_up(o.cookie->object_size);
  if (sz > 0) {
    obs().cf_trunc(o.id, ino, TruncTrace::expand_tmpfile, 0, sz);
    if (m_store.truncate(*h, sz) < 0) {
      m_in_use.erase(ino);
      obs().cf_mark_inactive(o.id, ino);
      m_store.close_tmpfile(*h);
      return false;
    }
  }
  o.file = *h;
  o.ino = ino;
  o.tmpfile = true;
  return true;
}

// xattr.c:cachefiles_check_auxdata(): 0, -ESTALE (replace) or the getxattr
// error (fail).
int CacheFilesBackend::check_auxdata(Object& o, const std::string& rel)
{
  Cookie& c = *o.cookie;
  const std::size_t tlen = k_xattr_header + c.aux.size();
  tl::expected<Bytes, int> x = tl::unexpected(EIO);
  if (int gx = fault(Fault::getxattr, &c); gx != 0)
    x = tl::unexpected(-gx);
  else
    x = m_store.get_xattr(rel);
  if (x && x->size() > tlen)
    x = tl::unexpected(ERANGE); // the buffer is exactly tlen
  int ret = -ESTALE;
  unsigned content = 0;
  CoherencyTrace why = CoherencyTrace::check_ok;
  if (!x || x->size() != tlen) {
    if (!x) {
      ret = -x.error();
      if (x.error() == EIO)
        m_host->io_error("Failed to read aux with error -5");
    }
    why = CoherencyTrace::check_xattr;
  } else {
    const Bytes& b = *x;
    content = b[17];
    if (b[16] != 1)
      why = CoherencyTrace::check_type;
    else if (!std::equal(c.aux.begin(), c.aux.end(), b.begin() + 18))
      why = CoherencyTrace::check_aux;
    else if (load_be(b, 0, 8) != c.object_size)
      why = CoherencyTrace::check_objsize;
    else if (b[17] == k_content_dirty) {
      obs().printk("CacheFiles: Dirty object in cache");
      why = CoherencyTrace::check_dirty;
    } else
      ret = 0;
  }
  obs().cf_coherency(o.id, o.ino, why, content);
  return ret;
}

bool CacheFilesBackend::lookup_cookie(Cookie& c)
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
  c.cache_priv = o.id;
  auto vit = m_vols.find(v.key);
  if (vit == m_vols.end()) {
    obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_lookup_failed);
    m_host->caching_failed(c);
    return false;
  }
  std::uint32_t h =
      cachefiles::cookie_hash(cachefiles::volume_hash(v.key), c.key);
  o.fan = vit->second.path + "/" +
          cachefiles::fanout_name(static_cast<std::uint8_t>(h));
  o.path = o.fan + "/" + cachefiles::cook_v2(c.key);
  o.fan_ino = vit->second.fanout[h & 0xff];

  bool create = false;
  cachefiles::StoreStat st;
  if (int err = fault(Fault::lookup, &c); err != 0) {
    obs().cf_lookup(o.id, o.fan_ino, 0, err);
    if (err == -EIO)
      m_host->io_error("Lookup failed");
    goto fail;
  }
  st = m_store.stat(o.path);
  obs().cf_lookup(o.id, o.fan_ino, st.exists ? st.ino : 0,
                  st.exists ? 0 : -ENOENT);
  if (st.exists && !st.reg) {
    // A directory (or anything but a regular file) where the object
    // belongs: buried, then a new file.
    obs().printk(fmt::format("CacheFiles: {} is not a file",
                             cachefiles::cook_v2(c.key)));
    if (bury(o.id, o.path, KillTrace::weird) < 0)
      goto fail;
    st.exists = false;
  }
  if (!st.exists) {
    m_host->lookup_negative(c);
    create = true;
  } else {
    // cachefiles_open_file.
    o.ino = st.ino;
    if (!m_in_use.insert(st.ino).second) {
      obs().cf_mark_failed(o.id, st.ino);
      obs().printk("CacheFiles: Inode already in use");
      goto fail;
    }
    obs().cf_mark_active(o.id, st.ino);
    if (fault(Fault::open, &c) != 0) {
      if (m_host->fixes().unmark_on_error) { // ea5dc046127e
        m_in_use.erase(st.ino);
        obs().cf_mark_inactive(o.id, st.ino);
      }
      goto fail;
    }
    int ret = check_auxdata(o, o.path);
    if (ret == 0) {
      c.clear(cookie_flag::no_data_to_read);
      o.file = o.path;
      m_store.touch_atime(o.path);
    } else {
      if (ret == -ESTALE)
        m_host->lookup_negative(c);
      m_in_use.erase(st.ino);
      obs().cf_mark_inactive(o.id, st.ino);
      if (ret != -ESTALE)
        goto fail;
      create = true; // the stale file stays linked until the commit
    }
  }
  if (create) {
    // cachefiles_create_tmpfile(): room for one more file first.
    if (m_space.has_space(1, 0, SpaceWhy::create) != 0 ||
        fault(Fault::create_tmpfile, &c) != 0 || !create_tmpfile(o))
      goto fail;
    c.set(cookie_flag::needs_update);
  } else {
    // cachefiles_adjust_size: the backing size follows the cookie's.
    std::uint64_t want = round_up(c.object_size);
    std::uint64_t have = m_store.stat(o.file).size;
    if (have != want) {
      if (have % k_page != 0 && want > have)
        m_store.truncate(o.file, have / k_page * k_page);
      if (m_store.truncate(o.file, want) == -EIO)
        m_host->io_error("Size set failed");
    }
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

// xattr.c:cachefiles_set_object_xattr(): struct cachefiles_xattr + aux.
void CacheFilesBackend::set_object_xattr(Object& o)
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
  int r = fault(Fault::setxattr, &c);
  if (r == 0)
    r = m_store.set_xattr(o.file, x, !m_store.get_xattr(o.file).has_value());
  if (r < 0) {
    obs().cf_coherency(o.id, o.ino, CoherencyTrace::set_fail, content);
    if (r != -ENOMEM)
      m_host->io_error(fmt::format("Failed to set xattr with error {}", r));
    return;
  }
  obs().cf_coherency(o.id, o.ino, CoherencyTrace::set_ok, content);
}

void CacheFilesBackend::withdraw_cookie(Cookie& c)
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
  if (!o.file.empty()) {
    // cachefiles_clean_up_object.
    if (c.test(cookie_flag::retired)) {
      if (!o.tmpfile) {
        obs().obj_ref(c.debug_id, o.id, o.ref, ObjRefTrace::see_clean_delete);
        if (m_store.stat(o.path).ino == o.ino)
          bury(o.id, o.path, KillTrace::was_retired);
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
        // cachefiles_commit_tmpfile: a stale file of the name goes first.
        cachefiles::StoreStat st = m_store.stat(o.path);
        bool ok = true;
        if (st.exists && st.ino != o.ino) {
          ok = bury(o.id, o.path, KillTrace::stale) == 0;
          m_host->preempt_point(c);
        }
        if (ok && fault(Fault::link, &c) == 0 &&
            m_store.link_tmpfile(o.file, o.path) == 0) {
          obs().cf_link(o.id, o.ino);
          o.file = o.path;
          o.tmpfile = false;
          m_host->preempt_point(c);
        }
      }
    }
    m_in_use.erase(o.ino);
    obs().cf_mark_inactive(o.id, o.ino);
    if (o.tmpfile)
      m_store.close_tmpfile(o.file);
    o.file.clear();
  }
  c.cache_priv = 0;
  put_object(o, ObjRefTrace::put_detach);
}

bool CacheFilesBackend::invalidate_cookie(Cookie& c)
{
  auto it = m_objects.find(c.cache_priv);
  if (it == m_objects.end() || it->second.file.empty()) {
    m_host->resume_after_invalidation(c);
    return true;
  }
  Object& o = it->second;
  if (m_space.has_space(1, 0, SpaceWhy::create) != 0 ||
      fault(Fault::invalidate_tmpfile, &c) != 0)
    return false;
  std::string old = o.file;
  std::uint64_t old_ino = o.ino;
  bool old_linked = !o.tmpfile;
  if (!create_tmpfile(o))
    return false;
  o.content_info = 0;
  c.set(cookie_flag::needs_update);
  m_host->resume_after_invalidation(c);
  // The old inode keeps its in-use mark in 6.1; it is gone with its name.
  m_in_use.erase(old_ino);
  if (old_linked) {
    if (m_store.stat(o.path).ino == old_ino)
      bury(o.id, o.path, KillTrace::invalidated);
  } else {
    m_store.close_tmpfile(old);
  }
  return true;
}

void CacheFilesBackend::prepare_to_write(Cookie& c)
{
  auto it = m_objects.find(c.cache_priv);
  if (it != m_objects.end() && !it->second.file.empty() && !it->second.tmpfile)
    set_object_xattr(it->second);
}

bool CacheFilesBackend::begin_operation(Operation& op, Want want)
{
  auto it = m_objects.find(op.cookie->cache_priv);
  if (!op.has_file && it != m_objects.end() && !it->second.file.empty())
    op.has_file = true;
  return op.has_file || want == Want::params;
}

void CacheFilesBackend::end_operation(Operation& op) { op.has_file = false; }

void CacheFilesBackend::resize_cookie(Operation& op, std::uint64_t new_size)
{
  Cookie& c = *op.cookie;
  auto it = m_objects.find(c.cache_priv);
  if (new_size < c.object_size && it != m_objects.end() &&
      !it->second.file.empty()) {
    // cachefiles_shorten_object.
    Object& o = it->second;
    std::uint64_t dio = round_up(new_size);
    obs().cf_trunc(o.id, o.ino, TruncTrace::shrink, m_store.stat(o.file).size,
                   dio);
    if (m_store.truncate(o.file, dio) == 0 && new_size < dio) {
      obs().cf_trunc(o.id, o.ino, TruncTrace::dio_adjust, dio, new_size);
      // FALLOC_FL_ZERO_RANGE over the tail: zeros, size unchanged.
      // b08968f196d4: before it, the range was dio bytes long, not
      // dio - new_size, and the file grew to new_size + dio.
      if (!m_host->fixes().shorten_length)
        m_store.truncate(o.file, new_size + dio);
      else if (m_store.has_data(o.file, new_size).value_or(false))
        m_store.write(o.file, new_size, Bytes(dio - new_size, 0));
    }
  }
  c.object_size = new_size;
}

int CacheFilesBackend::read(Operation& op, std::uint64_t pos, std::uint64_t len)
{
  ++m_reads;
  auto it = m_objects.find(op.cookie->cache_priv);
  if (it == m_objects.end() || it->second.file.empty())
    return -ENOBUFS;
  Object& o = it->second;
  // SEEK_DATA from pos: nothing before pos + len is -ENODATA (HOLE_FAIL).
  std::uint64_t size = m_store.stat(o.file).size;
  std::optional<std::uint64_t> data;
  for (std::uint64_t p = pos; p < pos + len && p < size;
       p = (p / k_page + 1) * k_page)
    if (m_store.has_data(o.file, p).value_or(false)) {
      data = p;
      break;
    }
  if (!data)
    return -ENODATA;
  obs().obj_ref(o.cookie->debug_id, o.id, o.ref, ObjRefTrace::get_ioreq);
  ++o.ref;
  obs().cf_read(o.id, o.ino, *data, len - (*data - pos));
  put_object(o, ObjRefTrace::put_ioreq);
  return 0;
}

int CacheFilesBackend::write(Operation& op, std::uint64_t pos,
                             std::uint64_t len)
{
  ++m_writes;
  auto it = m_objects.find(op.cookie->cache_priv);
  if (it == m_objects.end() || it->second.file.empty())
    return -ENOBUFS;
  // __cachefiles_prepare_write(): room for the pages (0, pages, write).
  if (int err = m_space.has_space(0, (len + 4095) / 4096, SpaceWhy::write);
      err != 0)
    return err;
  if (int err = fault(Fault::write, op.cookie); err != 0)
    return err;
  Object& o = it->second;
  obs().obj_ref(o.cookie->debug_id, o.id, o.ref, ObjRefTrace::get_ioreq);
  ++o.ref;
  obs().cf_write(o.id, o.ino, pos, len);
  // The netfs's bytes are not modelled: the pages hold zeros.
  if (int r = m_store.write(o.file, pos, Bytes(len, 0)); r < 0) {
    if (r == -EIO)
      m_host->io_error("Write failed");
    put_object(o, ObjRefTrace::put_ioreq);
    return -ENOBUFS;
  }
  int io = m_next_io++;
  m_ios[io] = o.id;
  return io;
}

void CacheFilesBackend::complete_write(int io)
{
  auto it = m_ios.find(io);
  if (it == m_ios.end())
    return;
  auto o = m_objects.find(it->second);
  m_ios.erase(it);
  if (o == m_objects.end())
    return;
  o->second.cookie->set(cookie_flag::have_data);
  put_object(o->second, ObjRefTrace::put_ioreq);
}

// daemon.c:cachefiles_daemon_inuse()/_cull(): the name looked up in the
// daemon's directory without following it; a file or directory the
// kernel holds (S_KERNEL_FILE) is busy, any other is buried (a file
// unlinked, a directory renamed into graveyard/).
int CacheFilesBackend::inuse(std::string_view dir, std::string_view name)
{
  if (name.find('/') != std::string_view::npos || name.empty())
    return -EINVAL;
  const std::string rel = std::string(dir) + "/" + std::string(name);
  if (!rel.starts_with("cache/"))
    return -ENOENT;
  cachefiles::StoreStat st = m_store.stat(rel);
  if (!st.exists)
    return -ENOENT;
  return m_in_use.count(st.ino) ? -EBUSY : 0;
}

int CacheFilesBackend::cull(std::string_view dir, std::string_view name)
{
  if (int r = inuse(dir, name); r != 0)
    return r;
  const std::string rel = std::string(dir) + "/" + std::string(name);
  if (int r = bury(0xffffffffu, rel, KillTrace::was_culled); r < 0)
    return r;
  ++m_space.counts.cull;
  return 0;
}

} // namespace fsc::fscache::v2
