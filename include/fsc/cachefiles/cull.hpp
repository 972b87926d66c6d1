// cull.hpp - offline culling: choose least-recently-used objects with a
// bounded table (as cachefilesd does) and remove them crash-safely.
//
// Planning is stat-only (no xattrs) and keeps at most `table_size` candidates
// (a bounded heap of the oldest); when one table is not enough the victims
// found so far are removed and another pass continues after the last one, so
// memory does not grow with the cache. Each victim is renamed into graveyard/
// first (a crash leaves it there, and the next run reaps it) and then
// unlinked there. Every path is opened relative to directory fds with
// O_NOFOLLOW on the cache's device, so nothing outside the cache root is
// ever touched even if entries are swapped for symlinks during the run.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/error.hpp>

namespace fsc::cachefiles {

/// The timestamp that orders objects.
enum class CullClock { atime, mtime };

/// What to remove. With none of the explicit goals set and thresholds true,
/// the kernel's limits decide (cachefilesd's behaviour). Several goals
/// combine: the oldest objects are removed until every goal is met.
struct CullGoal {
  bool thresholds = false; ///< below bcull/fcull: back to brun/frun
  PercentLimits blocks;    ///< limits used by `thresholds`
  PercentLimits files;
  std::optional<std::int64_t> older_than_s; ///< remove all older than this
  std::optional<std::uint64_t> max_size;    ///< cache size limit, bytes
  bool apparent = false;                ///< max_size counts st_size, not blocks
  std::optional<unsigned> min_free_pct; ///< free space of the fs, %
  std::optional<std::uint64_t> max_objects; ///< data objects to keep at most
};

/// One object chosen (or considered) for removal.
struct CullVictim {
  std::string path; ///< relative to the cache root
  EntryKind kind = EntryKind::data;
  std::int64_t atime_ns = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;   ///< apparent bytes
  std::uint64_t blocks = 0; ///< 512-byte units
  std::uint64_t ino = 0;
};

/// What happened to one victim.
enum class CullAction {
  would_remove, ///< dry run
  removed,
  skipped_used, ///< its timestamp moved since planning: it was used
  skipped_gone, ///< it vanished or was replaced (another inode, a link)
  failed,       ///< an error; see the report's problems
};

/// "would remove", "removed", "skipped (used)", "skipped (gone)", "failed".
const char* cull_action_name(CullAction a);

struct CullOptions {
  CullGoal goal;
  CullClock by = CullClock::atime;
  std::size_t table_size = 4096; ///< candidates held per pass (culltable)
  bool include_primary = false;  ///< may remove emptied netfs primary
                                 ///< indices (v1) and volumes (v2)
  bool dry_run = false;
  std::int64_t now_ns = 0; ///< 0: the system clock
  unsigned threads = 0;    ///< scan threads (0: the scanner's choice)
  unsigned page_size = 0;  ///< for v1 limits; 0: sysconf
  /// Polled between victims; a non-null reason ("signal", "max-runtime")
  /// stops the run after the current victim.
  std::function<const char*()> stop;
  /// Called for every victim, in removal order, after acting on it.
  std::function<void(const CullVictim&, CullAction)> on_victim;
};

/// Totals and outcome of a run.
struct CullReport {
  // the cache before
  std::uint64_t objects = 0;   ///< data objects seen in the first pass
  std::uint64_t allocated = 0; ///< their allocated bytes
  std::uint64_t apparent = 0;  ///< their apparent bytes
  std::uint64_t scanned = 0;   ///< entries scanned, all passes
  std::uint64_t passes = 0;
  bool thresholds_used = false;
  Thresholds limits;   ///< when thresholds_used
  CullDecision before; ///< when thresholds_used
  // what the goals asked for
  std::uint64_t need_objects = 0;
  std::uint64_t need_allocated = 0;     ///< bytes to free (blocks goals)
  std::uint64_t need_apparent = 0;      ///< bytes to free (--max-size apparent)
  std::uint64_t need_files = 0;         ///< inodes to free
  std::optional<std::int64_t> cutoff_s; ///< older-than boundary (clock s)
  // what was done
  std::uint64_t removed = 0; ///< victims removed (or would be)
  std::uint64_t removed_allocated = 0;
  std::uint64_t removed_apparent = 0;
  std::uint64_t dirs_removed = 0; ///< emptied fan-outs and indices
  std::uint64_t skipped_used = 0;
  std::uint64_t skipped_gone = 0;
  std::uint64_t failed = 0;
  ReapStats leftovers;           ///< graveyard emptied at the start
  GraveyardUsage leftovers_seen; ///< dry run: what it would reap
  bool goal_met = true;          ///< false when candidates ran out
  std::string stopped;           ///< "" or the stop() reason
  std::vector<Problem> problems;
  std::int64_t elapsed_ns = 0;
};

/// Runs the cull (or the dry run). The cache must be opened by the caller;
/// locking and the live-cache check are the caller's business. Throws
/// fsc::Error when the graveyard cannot be opened or the format is mixed.
CullReport cull(const Cache& cache, const CullOptions& opt);

/// The kernel generation whose limit arithmetic applies to a cache format.
KernelGen kernel_gen_for(Format f);

/// Strict "culled before" order: older clock second first; within one
/// second the greater path first (cachefilesd's table puts later arrivals
/// of an equal atime at the old end).
bool cull_before(std::int64_t a_s, const std::string& a_path, std::int64_t b_s,
                 const std::string& b_path);

} // namespace fsc::cachefiles
