// session.hpp - the 6.1 engine bound to a cache directory through CacheFiles
// as 6.1 runs it: the mount (read-only overlay, direct or copy, as for the
// 4.19 session), the fault plan, the v2 CacheFiles backend on the mount's
// store and the engine with the cache added. Used by `fsc replay`.
#pragma once

#include <memory>
#include <string>

#include <fsc/cachefiles/mount.hpp>
#include <fsc/fscache/v2/cachefiles_backend.hpp>
#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/scenario.hpp>

namespace fsc::fscache::v2 {

class Session {
public:
  /// Throws fsc::Error when root cannot be bound (cachefiles::Mount::bind,
  /// with opt.v2 set here) or the cache cannot be added.
  Session(const std::string& root, cachefiles::MountOptions opt,
          Observer& observer, std::uint64_t seed);

  Engine& engine() { return *m_engine; }
  FaultPlan& faults() { return m_faults; }
  cachefiles::Mount& mount() { return m_mount; }
  CacheFilesBackend& backend() { return *m_backend; }

  ReplayReport run(const Scenario& s, ReportObserver& seen);

private:
  cachefiles::Mount m_mount;
  FaultPlan m_faults;
  std::unique_ptr<CacheFilesBackend> m_backend;
  std::unique_ptr<Engine> m_engine;
};

/// /proc/fs/fscache/stats as 6.1 prints it (docs/engine-v2.md §7.2) from
/// the engine's counters and the backend's reads and writes; the counters
/// the engine does not keep (vcol, voom, oom, at, NoSpace) print 0.
std::string format_proc_stats(const Stats& st, unsigned reads, unsigned writes);

} // namespace fsc::fscache::v2
