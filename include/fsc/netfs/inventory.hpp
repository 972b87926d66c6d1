// inventory.hpp - what `fsc inspect` reports about a whole cache: one scan
// for the summary, the problems (capped) and, when asked, every entry.
#pragma once

#include <fsc/cachefiles/bound.hpp>
#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/summary.hpp>
#include <fsc/json.hpp>

#include <cstdint>
#include <functional>
#include <vector>

namespace fsc::netfs {

struct InventoryOptions {
  bool read_xattrs = true;
  unsigned threads = 0;            ///< scan threads (0: the scanner's choice)
  std::size_t top = 5;             ///< largest/oldest kept
  std::size_t max_problems = 1000; ///< problems listed (0: all)
  cachefiles::DaemonConfig conf;   ///< the limits compared with
  /// Called from scan workers for every entry but fan-outs (aux problems
  /// added); worker is 0..scan_workers()-1.
  std::function<void(const cachefiles::ScanEntry&, unsigned worker)> on_entry;
};

struct Inventory {
  cachefiles::BindState bind;
  cachefiles::Summary sum{0};
  cachefiles::GraveyardUsage grave;
  cachefiles::FsSpace space;
  cachefiles::DaemonConfig conf;
  cachefiles::Thresholds limits;
  cachefiles::CullDecision decision;
  bool limits_known = false;       ///< statfs worked: limits are computed
  std::vector<Problem> problems;   ///< top-level and entries' (capped)
  std::uint64_t problem_count = 0; ///< all of them
  /// Entries gone during the scan of a bound cache (cachefiles::live_churn):
  /// not counted as problems.
  std::uint64_t vanished_live = 0;
};

/// Scans cache once. Never changes anything (no atime either).
Inventory take_inventory(const cachefiles::Cache& cache,
                         const InventoryOptions& opt);

/// The summary fields of an inventory (see fsc-inspect(8)).
void inventory_fields(JsonWriter& j, const cachefiles::Cache& cache,
                      const Inventory& inv);

} // namespace fsc::netfs
