// metrics.cpp - an inventory and a verify run as Prometheus metrics.
#include <fsc/netfs/metrics.hpp>

#include <fsc/netfs/describe.hpp>

#include <map>

namespace fsc::netfs {

using cachefiles::Summary;

namespace {

void object_metrics(Metrics& m, const Summary& s, cachefiles::Format f)
{
  for (auto& [name, c] : s.netfs) {
    const Labels l = m.about({{"netfs", name.empty() ? "unknown" : name}});
    m.set("fsc_cache_objects", l, double(c.data));
    m.set("fsc_cache_allocated_bytes", l, double(c.allocated));
    m.set("fsc_cache_apparent_bytes", l, double(c.bytes));
  }
  // One series per server (v1) or volume (v2): bounded by what the client
  // mounts, never one per object.
  const bool v1 = f == cachefiles::Format::v1;
  for (auto& [path, g] : s.groups) {
    const Labels l =
        m.about({{"netfs", std::string(cachefiles::netfs_of(*g.node))},
                 {v1 ? "server" : "volume", describe(*g.node).label}});
    m.set(v1 ? "fsc_cache_server_objects" : "fsc_cache_volume_objects", l,
          double(g.count.data));
    m.set(v1 ? "fsc_cache_server_allocated_bytes"
             : "fsc_cache_volume_allocated_bytes",
          l, double(g.count.allocated));
  }
}

void age_metrics(Metrics& m, const Summary& s)
{
  // k_age_buckets: future, <1h, <1d, <7d, <30d, <90d, <365d, >=365d.
  static constexpr double bounds[] = {
      3600, 86400, 7 * 86400.0, 30 * 86400.0, 90 * 86400.0, 365 * 86400.0};
  std::uint64_t counts[std::size(bounds) + 1] = {};
  counts[0] = s.ages[0] + s.ages[1]; // a future atime is age 0 to the culler
  for (std::size_t i = 2; i < s.ages.size(); ++i)
    counts[i - 1] = s.ages[i];
  m.histogram("fsc_cache_atime_age_seconds", m.about(), bounds, counts,
              s.age_sum_s);
}

double share(std::uint64_t part, std::uint64_t whole)
{
  return whole ? double(part) / double(whole) : 0.0;
}

void space_metrics(Metrics& m, const Inventory& inv)
{
  const auto& sp = inv.space;
  const Labels l = m.about();
  m.set("fsc_cache_fs_size_bytes", l, double(sp.blocks * sp.bsize));
  m.set("fsc_cache_fs_avail_bytes", l, double(sp.bavail * sp.bsize));
  m.set("fsc_cache_fs_files", l, double(sp.files));
  m.set("fsc_cache_fs_avail_files", l, double(sp.ffree));
  m.set("fsc_cache_avail_ratio", m.about({{"resource", "blocks"}}),
        share(sp.bavail, sp.blocks));
  m.set("fsc_cache_avail_ratio", m.about({{"resource", "files"}}),
        share(sp.ffree, sp.files));
  const auto& b = inv.conf.blocks;
  const auto& f = inv.conf.files;
  for (auto [name, pct] : {std::pair{"brun", b.run},
                           {"bcull", b.cull},
                           {"bstop", b.stop},
                           {"frun", f.run},
                           {"fcull", f.cull},
                           {"fstop", f.stop}})
    m.set("fsc_cache_limit_ratio", m.about({{"limit", name}}), pct / 100.0);
  if (inv.limits_known)
    m.set("fsc_cache_culling", l,
          inv.decision.state == cachefiles::CullState::stop ? 2
          : inv.decision.culling()                          ? 1
                                                            : 0);
}

} // namespace

void inventory_metrics(Metrics& m, const cachefiles::Cache& cache,
                       const Inventory& inv)
{
  m.set("fsc_cache_info",
        m.about({{"format", cachefiles::format_name(cache.format())}}), 1);
  m.set("fsc_cache_bound", m.about(), inv.bind.bound);
  object_metrics(m, inv.sum, cache.format());
  age_metrics(m, inv.sum);
  space_metrics(m, inv);
  // By class from the listed problems; the unlisted ones (past
  // --max-problems) under "capped", so the classes add up to the count.
  std::map<std::string, std::uint64_t> classes;
  for (auto& p : inv.problems)
    ++classes[p.kind];
  if (inv.problem_count > inv.problems.size())
    classes["capped"] += inv.problem_count - inv.problems.size();
  for (auto& [kind, n] : classes)
    m.set("fsc_cache_problems", m.about({{"class", kind}}), double(n));
  m.set("fsc_cache_graveyard_entries", m.about(),
        double(inv.grave.top_entries));
  m.set("fsc_cache_graveyard_bytes", m.about(), double(inv.grave.bytes));
}

void verify_metrics(Metrics& m, const VerdictCounts& counts)
{
  for (std::size_t v = 0; v < counts.size(); ++v) {
    std::string name = verdict_name(Verdict(v)); // "OBSOLETE": labels are
    for (char& c : name)                         // lower case
      c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    m.set("fsc_verify_objects", m.about({{"verdict", name}}),
          double(counts[v]));
  }
}

} // namespace fsc::netfs
