// metrics.hpp - the Prometheus metrics of a cull run (fsc-metrics(7)).
#pragma once

#include <fsc/cachefiles/cull.hpp>
#include <fsc/metrics.hpp>

namespace fsc::cachefiles {

/// What the cull removed, failed to remove, and whether it met its goal.
void cull_metrics(Metrics& m, const CullReport& r);

} // namespace fsc::cachefiles
