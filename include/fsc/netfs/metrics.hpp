// metrics.hpp - the Prometheus metrics of an inventory (fsc inspect) and of
// a verify run (fsc-metrics(7) lists them).
#pragma once

#include <fsc/metrics.hpp>
#include <fsc/netfs/inventory.hpp>
#include <fsc/netfs/verify.hpp>

#include <array>
#include <cstdint>

namespace fsc::netfs {

/// The cache's objects, space, limits, ages, problems and graveyard.
void inventory_metrics(Metrics& m, const cachefiles::Cache& cache,
                       const Inventory& inv);

/// Objects counted by verdict, indexed by Verdict.
using VerdictCounts = std::array<std::uint64_t, 6>;

/// fsc_verify_objects of each verdict (zeros too: an alert on obsolete
/// objects needs the series to exist when there are none).
void verify_metrics(Metrics& m, const VerdictCounts& counts);

} // namespace fsc::netfs
