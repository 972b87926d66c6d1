// session.cpp - binding the engine to a cache directory.
#include <fsc/fscache/session.hpp>

namespace fsc::fscache {

using namespace fsc::cachefiles;

EngineSession::EngineSession(const std::string& root, const MountOptions& opt,
                             fscache::Observer& observer, std::uint64_t seed,
                             fscache::Fixes fixes)
    : m_mount(Mount::bind(root, opt))
{
  // Graveyard names use a fixed clock so that runs repeat byte for byte.
  m_backend = std::make_unique<CacheFilesBackend>(
      m_mount.store(), m_faults, [] { return std::uint32_t(1700000000); });
  m_faulty = std::make_unique<fscache::FaultyBackend>(
      *m_backend, m_faults, [this](fscache::ObjectId id) {
        return m_engine ? m_engine->cookie_of_object(id) : fscache::no_cookie;
      });
  m_engine =
      std::make_unique<fscache::Engine>(*m_faulty, observer, seed, fixes);
  m_engine->add_cache();
}

fscache::DiskView EngineSession::disk()
{
  fscache::DiskView d;
  CacheFilesBackend* cf = m_backend.get();
  Store* store = &m_mount.store();
  d.path_of = [cf](fscache::ObjectId id) { return cf->path_of(id); };
  d.size_of = [store](const std::string& p) -> std::optional<std::uint64_t> {
    auto s = store->stat(p);
    if (!s.exists)
      return std::nullopt;
    return s.size;
  };
  d.xattr_of = [store](const std::string& p) -> std::optional<Bytes> {
    auto x = store->get_xattr(p);
    if (!x)
      return std::nullopt;
    return *x;
  };
  return d;
}

fscache::ReplayReport EngineSession::run(const fscache::Scenario& s,
                                         fscache::ReportObserver& seen)
{
  fscache::DiskView d = disk();
  return fscache::run_scenario(s, *m_engine, m_faults, d, seen);
}

} // namespace fsc::fscache
