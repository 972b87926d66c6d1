// json.cpp - JSON of the on-disk layer's types.
#include <fsc/cachefiles/json.hpp>

#include <fsc/report.hpp>

namespace fsc::cachefiles {

static void strings_field(JsonWriter& j, std::string_view key,
                          const std::vector<std::string>& v)
{
  j.key(key);
  j.begin_array();
  for (auto& s : v)
    j.value(s);
  j.end_array();
}

void bind_field(JsonWriter& j, const BindState& b)
{
  j.key("bind");
  j.begin_object();
  j.field("bound", b.bound);
  j.field("daemon_running", b.daemon_running);
  strings_field(j, "evidence", b.evidence);
  strings_field(j, "users", b.users);
  j.end_object();
}

void space_field(JsonWriter& j, const FsSpace& s)
{
  j.key("space");
  j.begin_object();
  j.field("block_size", s.bsize);
  j.field("blocks", s.blocks);
  j.field("blocks_available", s.bavail);
  j.field("files", s.files);
  j.field("files_free", s.ffree);
  j.field("noatime", s.noatime);
  j.field("relatime", s.relatime);
  j.end_object();
}

void limits_field(JsonWriter& j, const DaemonConfig& conf, const Thresholds* t,
                  const CullDecision* d)
{
  j.key("limits");
  j.begin_object();
  j.field("config", conf.file);
  j.field("brun_pct", conf.blocks.run);
  j.field("bcull_pct", conf.blocks.cull);
  j.field("bstop_pct", conf.blocks.stop);
  j.field("frun_pct", conf.files.run);
  j.field("fcull_pct", conf.files.cull);
  j.field("fstop_pct", conf.files.stop);
  if (t) {
    j.field("unit", t->unit);
    j.field("brun_units", t->brun);
    j.field("bcull_units", t->bcull);
    j.field("bstop_units", t->bstop);
    j.field("bavail_units", t->bavail);
    j.field("frun_files", t->frun);
    j.field("fcull_files", t->fcull);
    j.field("fstop_files", t->fstop);
    j.field("ffree_files", t->ffree);
  }
  if (d)
    j.field("state", cull_state_name(d->state));
  j.end_object();
}

void graveyard_field(JsonWriter& j, const GraveyardUsage& waiting,
                     const ReapStats& reaped)
{
  j.key("graveyard");
  j.begin_object();
  j.field("entries", waiting.top_entries);
  j.field("files", waiting.files);
  j.field("dirs", waiting.dirs);
  j.field("allocated", waiting.bytes);
  j.field("reaped_files", reaped.files);
  j.field("reaped_dirs", reaped.dirs);
  j.field("reaped_allocated", reaped.bytes);
  j.end_object();
}

const char* cull_action_key(CullAction a)
{
  switch (a) {
  case CullAction::would_remove:
    return "would_remove";
  case CullAction::removed:
    return "removed";
  case CullAction::skipped_used:
    return "skipped_used";
  case CullAction::skipped_gone:
    return "skipped_gone";
  case CullAction::failed:
    return "failed";
  }
  return "failed";
}

void victim_fields(JsonWriter& j, const CullVictim& v, CullAction a)
{
  j.name_field("path", v.path);
  j.field("action", cull_action_key(a));
  j.field("kind", entry_kind_name(v.kind));
  j.field("size", v.size);
  j.field("allocated", v.blocks * 512);
  time_fields(j, "atime", v.atime_ns);
  time_fields(j, "mtime", v.mtime_ns);
}

void cull_summary_fields(JsonWriter& j, const CullReport& r, const Cache& cache,
                         const DaemonConfig& limits, const CullOptions& opt)
{
  j.field("cache", cache.root());
  j.field("format", format_name(cache.format()));
  j.field("dry_run", opt.dry_run);
  j.field("by", opt.by == CullClock::atime ? "atime" : "mtime");
  j.field("thresholds_used", r.thresholds_used);
  limits_field(j, limits, r.thresholds_used ? &r.limits : nullptr,
               r.thresholds_used ? &r.before : nullptr);
  j.field("objects", r.objects);
  j.field("allocated", r.allocated);
  j.field("size", r.apparent);
  j.field("need_objects", r.need_objects);
  j.field("need_allocated", r.need_allocated);
  j.field("need_size", r.need_apparent);
  j.field("need_files", r.need_files);
  if (r.cutoff_s)
    time_fields(j, "cutoff", *r.cutoff_s * 1000000000);
  j.field("culled", r.removed);
  j.field("freed_allocated", r.removed_allocated);
  j.field("freed_size", r.removed_apparent);
  j.field("dirs_removed", r.dirs_removed);
  j.field("skipped_used", r.skipped_used);
  j.field("skipped_gone", r.skipped_gone);
  j.field("failed", r.failed);
  graveyard_field(j, r.leftovers_seen, r.leftovers);
  j.field("passes", r.passes);
  j.field("scanned", r.scanned);
  j.field("goal_met", r.goal_met);
  j.key("stopped");
  if (r.stopped.empty())
    j.null();
  else
    j.value(r.stopped);
  j.field("duration_ns", r.elapsed_ns);
  j.field("problem_count", std::uint64_t(r.problems.size()));
}

void burial_fields(JsonWriter& j, const char* action, const Burial& b)
{
  j.field("bury", action);
  if (!b.grave_name.empty())
    j.field("graveyard_name", b.grave_name);
  if (b.err) {
    j.field("bury_errno", b.err);
    j.field("bury_error", errno_text(b.err));
  }
}

void brief_fields(JsonWriter& j, const ObjectBrief& b)
{
  j.name_field("path", b.path);
  j.field("size", b.size);
  j.field("allocated", b.allocated);
  time_fields(j, "atime", b.atime_ns);
}

void counts_fields(JsonWriter& j, const NetfsCount& c)
{
  j.field("index_objects", c.indices);
  j.field("volumes", c.volumes);
  j.field("data_objects", c.data);
  j.field("size", c.bytes);
  j.field("allocated", c.allocated);
}

} // namespace fsc::cachefiles
