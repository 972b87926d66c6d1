// inventory.cpp - one scan of a whole cache for `fsc inspect`.
#include <fsc/netfs/inventory.hpp>

#include <fsc/cachefiles/json.hpp>
#include <fsc/format.hpp>
#include <fsc/netfs/describe.hpp>
#include <fsc/netfs/json.hpp>
#include <fsc/report.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>

namespace fsc::netfs {

using namespace fsc::cachefiles;

namespace {

std::int64_t now_ns()
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void add_limits(Inventory& inv, const Cache& cache)
{
  FsStats fs;
  if (fs_stats(cache.root_fd(), fs) != 0)
    return;
  inv.limits = compute_thresholds(inv.conf.blocks, inv.conf.files, fs,
                                  cache.format() == Format::v2 ? KernelGen::v2
                                                               : KernelGen::v1);
  inv.decision = evaluate(inv.limits);
  inv.limits_known = true;
}

void add_top_problems(Inventory& inv, const Cache& cache)
{
  for (auto& p : cache.top_problems())
    inv.problems.push_back(p);
  if (inv.grave.top_entries)
    inv.problems.push_back(
        {"graveyard-not-empty", "graveyard",
         fmt::format("{} entries wait to be reaped ({})", inv.grave.top_entries,
                     human_size(inv.grave.bytes))});
}

} // namespace

Inventory take_inventory(const Cache& cache, const InventoryOptions& opt)
{
  Inventory inv;
  inv.bind = detect_binding(cache.root(), proc_root(), opt.conf.dir);
  inv.sum = Summary(now_ns(), opt.top);
  inv.grave = graveyard_usage(cache.root_fd());
  inv.space = fs_space(cache.root_fd());
  inv.conf = opt.conf;
  add_limits(inv, cache);
  add_top_problems(inv, cache);
  const std::size_t top_level = inv.problems.size();

  ScanOptions so;
  so.read_xattrs = opt.read_xattrs;
  so.threads = opt.threads;
  // One summary per worker the scan really runs, merged at the end.
  std::vector<Summary> per(scan_workers(so), Summary(now_ns(), opt.top));
  std::mutex mu;
  std::atomic<std::uint64_t> churn{0};
  scan(cache, so, with_aux_checks([&](const ScanEntry& e, unsigned w) {
         per.at(w).add(e);
         if (!e.problems.empty()) {
           std::lock_guard lock(mu);
           for (auto& p : e.problems)
             if (live_churn(p, inv.bind))
               ++churn;
             else if (opt.max_problems == 0 ||
                      inv.problems.size() < opt.max_problems)
               inv.problems.push_back(p);
         }
         if (opt.on_entry && e.kind != EntryKind::fanout)
           opt.on_entry(e, w);
       }));
  for (auto& s : per)
    inv.sum.merge(s);
  inv.sum.finish();
  inv.vanished_live = churn;
  inv.problem_count = inv.sum.problems - inv.vanished_live + top_level;
  return inv;
}

namespace {

void briefs_field(JsonWriter& j, const char* key,
                  const std::vector<ObjectBrief>& v)
{
  j.key(key);
  j.begin_array();
  for (auto& b : v) {
    j.begin_object();
    brief_fields(j, b);
    label_field(j, b.node.get());
    j.end_object();
  }
  j.end_array();
}

void netfs_field(JsonWriter& j, const Summary& s)
{
  j.key("netfs");
  j.begin_object();
  for (auto& [name, c] : s.netfs) {
    j.key(name.empty() ? "?" : name);
    j.begin_object();
    counts_fields(j, c);
    j.end_object();
  }
  j.end_object();
}

void groups_field(JsonWriter& j, const Summary& s)
{
  j.key("groups");
  j.begin_array();
  for (auto& [path, g] : s.groups) {
    j.begin_object();
    j.name_field("path", path);
    j.field("netfs", netfs_of(*g.node));
    j.field("role", describe(*g.node).role);
    j.field("label", describe(*g.node).label);
    counts_fields(j, g.count);
    j.end_object();
  }
  j.end_array();
}

void ages_field(JsonWriter& j, const Summary& s)
{
  j.key("atime_ages");
  j.begin_object();
  for (std::size_t i = 0; i < s.ages.size(); ++i)
    j.field(k_age_buckets[i], s.ages[i]);
  j.end_object();
}

} // namespace

void inventory_fields(JsonWriter& j, const Cache& cache, const Inventory& inv)
{
  const Summary& s = inv.sum;
  j.field("cache", cache.root());
  j.field("format", format_name(cache.format()));
  bind_field(j, inv.bind);
  j.field("objects", s.objects);
  j.field("index_objects", s.indices);
  j.field("volumes", s.volumes);
  j.field("data_objects", s.data);
  j.field("size", s.bytes);
  j.field("allocated", s.allocated);
  netfs_field(j, s);
  groups_field(j, s);
  space_field(j, inv.space);
  limits_field(j, inv.conf, inv.limits_known ? &inv.limits : nullptr,
               inv.limits_known ? &inv.decision : nullptr);
  ages_field(j, s);
  briefs_field(j, "largest", s.largest);
  briefs_field(j, "oldest", s.oldest);
  graveyard_field(j, inv.grave, ReapStats{});
  j.field("problem_count", inv.problem_count);
  if (inv.vanished_live)
    j.field("vanished_while_live", inv.vanished_live);
  j.field("problems_listed", std::uint64_t(inv.problems.size()));
  if (inv.problem_count > inv.problems.size())
    j.field("problems_capped_by", "--max-problems");
}

} // namespace fsc::netfs
