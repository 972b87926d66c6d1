// stats.hpp - the counters of /proc/fs/fscache/stats (4.19, engine §6.1),
// named after their line and column so `Acquire.ok` reads like the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fsc::fscache {

struct Stats {
  std::uint32_t cookies_idx = 0, cookies_dat = 0, cookies_spc = 0;
  std::uint32_t objects_alc = 0, objects_nal = 0, objects_avl = 0,
                objects_ded = 0;
  std::uint32_t chkaux_non = 0, chkaux_ok = 0, chkaux_upd = 0, chkaux_obs = 0;
  std::uint32_t pages_mrk = 0, pages_unc = 0;
  std::uint32_t acquire_n = 0, acquire_nul = 0, acquire_noc = 0, acquire_ok = 0,
                acquire_nbf = 0, acquire_oom = 0;
  std::uint32_t lookups_n = 0, lookups_neg = 0, lookups_pos = 0,
                lookups_crt = 0, lookups_tmo = 0;
  std::uint32_t invals_n = 0, invals_run = 0;
  std::uint32_t updates_n = 0, updates_nul = 0, updates_run = 0;
  std::uint32_t relinqs_n = 0, relinqs_nul = 0, relinqs_wcr = 0,
                relinqs_rtr = 0;
  std::uint32_t attrchg_n = 0, attrchg_ok = 0, attrchg_nbf = 0, attrchg_oom = 0,
                attrchg_run = 0;
  std::uint32_t allocs_n = 0, allocs_ok = 0, allocs_wt = 0, allocs_nbf = 0,
                allocs_int = 0, allocs_ops = 0, allocs_owt = 0, allocs_abt = 0;
  std::uint32_t retrvls_n = 0, retrvls_ok = 0, retrvls_wt = 0, retrvls_nod = 0,
                retrvls_nbf = 0, retrvls_int = 0, retrvls_oom = 0,
                retrvls_ops = 0, retrvls_owt = 0, retrvls_abt = 0;
  std::uint32_t stores_n = 0, stores_ok = 0, stores_agn = 0, stores_nbf = 0,
                stores_oom = 0, stores_ops = 0, stores_run = 0, stores_pgs = 0,
                stores_rxd = 0, stores_olm = 0;
  std::uint32_t vmscan_nos = 0, vmscan_gon = 0, vmscan_bsy = 0, vmscan_can = 0,
                vmscan_wt = 0;
  std::uint32_t ops_pend = 0, ops_run = 0, ops_enq = 0, ops_can = 0,
                ops_rej = 0, ops_ini = 0, ops_dfr = 0, ops_rel = 0, ops_gc = 0;
  // CacheOp gauges are in-flight counts: always 0 between steps offline.
  std::int32_t cacheev_nsp = 0, cacheev_stl = 0, cacheev_rtr = 0,
               cacheev_cul = 0;
};

/// The file's text, byte for byte as 4.19's fscache_stats_show prints it.
std::string format_proc_stats(const Stats&);

/// A counter by its "Line.column" name ("Acquire.ok", "CacheEv.nsp").
std::optional<std::int64_t> stat_by_name(const Stats&, std::string_view name);

} // namespace fsc::fscache
