// stats.cpp - /proc/fs/fscache/stats as 4.19's fscache_stats_show prints it.
#include <fsc/fscache/stats.hpp>

#include <fmt/format.h>
#include <vector>

namespace fsc::fscache {

namespace {

struct Field {
  std::string_view name; ///< "Acquire.ok"
  std::uint32_t Stats::*u = nullptr;
  std::int32_t Stats::*d = nullptr;
};

// Lines of the file: label and the counters on it, in print order.
struct Line {
  std::string_view label;
  std::vector<Field> fields;
};

const std::vector<Line>& lines()
{
  using S = Stats;
  static const std::vector<Line> table{
      {"Cookies",
       {{"idx", &S::cookies_idx},
        {"dat", &S::cookies_dat},
        {"spc", &S::cookies_spc}}},
      {"Objects",
       {{"alc", &S::objects_alc},
        {"nal", &S::objects_nal},
        {"avl", &S::objects_avl},
        {"ded", &S::objects_ded}}},
      {"ChkAux ",
       {{"non", &S::chkaux_non},
        {"ok", &S::chkaux_ok},
        {"upd", &S::chkaux_upd},
        {"obs", &S::chkaux_obs}}},
      {"Pages  ", {{"mrk", &S::pages_mrk}, {"unc", &S::pages_unc}}},
      {"Acquire",
       {{"n", &S::acquire_n},
        {"nul", &S::acquire_nul},
        {"noc", &S::acquire_noc},
        {"ok", &S::acquire_ok},
        {"nbf", &S::acquire_nbf},
        {"oom", &S::acquire_oom}}},
      {"Lookups",
       {{"n", &S::lookups_n},
        {"neg", &S::lookups_neg},
        {"pos", &S::lookups_pos},
        {"crt", &S::lookups_crt},
        {"tmo", &S::lookups_tmo}}},
      {"Invals ", {{"n", &S::invals_n}, {"run", &S::invals_run}}},
      {"Updates",
       {{"n", &S::updates_n},
        {"nul", &S::updates_nul},
        {"run", &S::updates_run}}},
      {"Relinqs",
       {{"n", &S::relinqs_n},
        {"nul", &S::relinqs_nul},
        {"wcr", &S::relinqs_wcr},
        {"rtr", &S::relinqs_rtr}}},
      {"AttrChg",
       {{"n", &S::attrchg_n},
        {"ok", &S::attrchg_ok},
        {"nbf", &S::attrchg_nbf},
        {"oom", &S::attrchg_oom},
        {"run", &S::attrchg_run}}},
      {"Allocs ",
       {{"n", &S::allocs_n},
        {"ok", &S::allocs_ok},
        {"wt", &S::allocs_wt},
        {"nbf", &S::allocs_nbf},
        {"int", &S::allocs_int}}},
      {"Allocs ",
       {{"ops", &S::allocs_ops},
        {"owt", &S::allocs_owt},
        {"abt", &S::allocs_abt}}},
      {"Retrvls",
       {{"n", &S::retrvls_n},
        {"ok", &S::retrvls_ok},
        {"wt", &S::retrvls_wt},
        {"nod", &S::retrvls_nod},
        {"nbf", &S::retrvls_nbf},
        {"int", &S::retrvls_int},
        {"oom", &S::retrvls_oom}}},
      {"Retrvls",
       {{"ops", &S::retrvls_ops},
        {"owt", &S::retrvls_owt},
        {"abt", &S::retrvls_abt}}},
      {"Stores ",
       {{"n", &S::stores_n},
        {"ok", &S::stores_ok},
        {"agn", &S::stores_agn},
        {"nbf", &S::stores_nbf},
        {"oom", &S::stores_oom}}},
      {"Stores ",
       {{"ops", &S::stores_ops},
        {"run", &S::stores_run},
        {"pgs", &S::stores_pgs},
        {"rxd", &S::stores_rxd},
        {"olm", &S::stores_olm}}},
      {"VmScan ",
       {{"nos", &S::vmscan_nos},
        {"gon", &S::vmscan_gon},
        {"bsy", &S::vmscan_bsy},
        {"can", &S::vmscan_can},
        {"wt", &S::vmscan_wt}}},
      {"Ops    ",
       {{"pend", &S::ops_pend},
        {"run", &S::ops_run},
        {"enq", &S::ops_enq},
        {"can", &S::ops_can},
        {"rej", &S::ops_rej}}},
      {"Ops    ",
       {{"ini", &S::ops_ini},
        {"dfr", &S::ops_dfr},
        {"rel", &S::ops_rel},
        {"gc", &S::ops_gc}}},
      // CacheOp: in-flight gauges, zero whenever nothing is running.
      {"CacheOp", {{"alo"}, {"luo"}, {"luc"}, {"gro"}}},
      {"CacheOp", {{"inv"}, {"upo"}, {"dro"}, {"pto"}, {"atc"}, {"syn"}}},
      {"CacheOp",
       {{"rap"}, {"ras"}, {"alp"}, {"als"}, {"wrp"}, {"ucp"}, {"dsp"}}},
      {"CacheEv",
       {{"nsp", nullptr, &S::cacheev_nsp},
        {"stl", nullptr, &S::cacheev_stl},
        {"rtr", nullptr, &S::cacheev_rtr},
        {"cul", nullptr, &S::cacheev_cul}}},
  };
  return table;
}

std::int64_t value_of(const Stats& s, const Field& f)
{
  if (f.u)
    return s.*(f.u);
  if (f.d)
    return s.*(f.d);
  return 0;
}

std::string_view trimmed(std::string_view label)
{
  while (!label.empty() && label.back() == ' ')
    label.remove_suffix(1);
  return label;
}

} // namespace

std::string format_proc_stats(const Stats& s)
{
  std::string out = "FS-Cache statistics\n";
  for (const Line& l : lines()) {
    out += l.label;
    out += ":";
    for (const Field& f : l.fields)
      out += fmt::format(" {}={}", f.name, value_of(s, f));
    out += "\n";
  }
  return out;
}

std::optional<std::int64_t> stat_by_name(const Stats& s, std::string_view name)
{
  auto dot = name.find('.');
  if (dot == std::string_view::npos)
    return std::nullopt;
  std::string_view label = name.substr(0, dot), field = name.substr(dot + 1);
  for (const Line& l : lines()) {
    if (trimmed(l.label) != label)
      continue;
    for (const Field& f : l.fields)
      if (f.name == field)
        return value_of(s, f);
  }
  return std::nullopt;
}

} // namespace fsc::fscache
