// metrics.cpp - a cull run as Prometheus metrics.
#include <fsc/cachefiles/metrics.hpp>

namespace fsc::cachefiles {

void cull_metrics(Metrics& m, const CullReport& r)
{
  const Labels l = m.about();
  m.set("fsc_cull_removed_objects", l, double(r.removed));
  m.set("fsc_cull_removed_bytes", l, double(r.removed_allocated));
  m.set("fsc_cull_failed_objects", l, double(r.failed));
  m.set("fsc_cull_goal_met", l, r.goal_met && r.stopped.empty());
}

} // namespace fsc::cachefiles
