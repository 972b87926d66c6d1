// session.cpp - binding the 6.1 engine to a cache directory.
#include <fsc/fscache/v2/session.hpp>

#include <fsc/error.hpp>

#include <fmt/format.h>

namespace fsc::fscache::v2 {

namespace {
cachefiles::MountOptions for_v2(cachefiles::MountOptions o)
{
  o.v2 = true;
  return o;
}
} // namespace

Session::Session(const std::string& root, cachefiles::MountOptions opt,
                 Observer& observer, std::uint64_t seed)
    : m_mount(cachefiles::Mount::bind(root, for_v2(std::move(opt))))
{
  // Graveyard names use a fixed clock so that runs repeat byte for byte.
  m_backend = std::make_unique<CacheFilesBackend>(
      m_mount.store(), [] { return std::uint32_t(1700000000); },
      m_faults.hook<CacheFilesBackend::Fault>());
  m_engine = std::make_unique<Engine>(*m_backend, observer, seed);
  if (int r = m_engine->add_cache(); r != 0)
    throw Error("cannot bind '" + root +
                "' for the 6.1 engine: the cache "
                "could not be added (" +
                std::to_string(r) + ")");
  m_engine->run();
}

ReplayReport Session::run(const Scenario& s, ReportObserver& seen)
{
  cachefiles::Store* store = &m_mount.store();
  DiskView d;
  d.size_of = [store](std::string_view vol,
                      ByteView key) -> std::optional<std::uint64_t> {
    auto st = store->stat(CacheFilesBackend::path_of(vol, key));
    if (!st.exists)
      return std::nullopt;
    return st.size;
  };
  d.xattr_of = [store](std::string_view vol,
                       ByteView key) -> std::optional<Bytes> {
    auto x = store->get_xattr(CacheFilesBackend::path_of(vol, key));
    if (!x)
      return std::nullopt;
    return *x;
  };
  d.daemon = m_backend.get();
  d.path_of = [](std::string_view vol, ByteView key) {
    return CacheFilesBackend::path_of(vol, key);
  };
  return run_scenario(s, *m_engine, m_faults, seen, d);
}

std::string format_proc_stats(const Stats& st, unsigned reads, unsigned writes)
{
  return fmt::format("FS-Cache statistics\n"
                     "Cookies: n={} v={} vcol=0 voom=0\n"
                     "Acquire: n={} ok={} oom=0\n"
                     "LRU    : n={} exp={} rmv={} drp={} at=0\n"
                     "Invals : n={}\n"
                     "Updates: n={} rsz={} rsn={}\n"
                     "Relinqs: n={} rtr={} drop={}\n"
                     "NoSpace: nwr=0 ncr=0 cull=0\n"
                     "IO     : rd={} wr={}\n",
                     st.cookies, st.volumes, st.acquire_n, st.acquire_ok,
                     st.lru_n, st.lru_exp, st.lru_rmv, st.lru_drp, st.invals,
                     st.updates, st.resizes, st.resizes_null, st.relinqs,
                     st.relinqs_retire, st.relinqs_drop, reads, writes);
}

} // namespace fsc::fscache::v2
