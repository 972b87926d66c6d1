// session.hpp - the 4.19 engine bound to a cache directory through
// CacheFiles, as cachefilesd's "bind" sets it up in the kernel: the mount
// (overlay, direct or copy), the fault plan, the backend and its fault
// wrapper, the engine with the cache added. Used by `fsc replay` and
// `fsc demo`.
#pragma once

#include <memory>
#include <string>

#include <fsc/cachefiles/mount.hpp>
#include <fsc/fscache/cachefiles_backend.hpp>
#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/fault.hpp>
#include <fsc/fscache/scenario_run.hpp>

namespace fsc::fscache {

class EngineSession {
public:
  /// Throws fsc::Error when root cannot be bound (see cachefiles::Mount::bind).
  EngineSession(const std::string& root, const cachefiles::MountOptions& opt,
                fscache::Observer& observer, std::uint64_t seed,
                fscache::Fixes fixes);

  fscache::Engine& engine() { return *m_engine; }
  fscache::FaultPlan& faults() { return m_faults; }
  cachefiles::Mount& mount() { return m_mount; }
  CacheFilesBackend& backend() { return *m_backend; }
  /// What `expect ... file` lines look at: the store the engine writes to.
  fscache::DiskView disk();

  /// Parses and runs a scenario; throws fsc::Error on a parse error.
  fscache::ReplayReport run(const fscache::Scenario& s,
                            fscache::ReportObserver& seen);

private:
  cachefiles::Mount m_mount;
  fscache::FaultPlan m_faults;
  std::unique_ptr<CacheFilesBackend> m_backend;
  std::unique_ptr<fscache::FaultyBackend> m_faulty;
  std::unique_ptr<fscache::Engine> m_engine;
};

} // namespace fsc::fscache
