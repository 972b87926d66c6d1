// json.hpp - the one JSON rendering of each on-disk-layer type, used by every
// verb that shows it (fsc-json(7) lists the fields).
#pragma once

#include <fsc/cachefiles/bound.hpp>
#include <fsc/cachefiles/cull.hpp>
#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/summary.hpp>
#include <fsc/json.hpp>

namespace fsc::cachefiles {

/// "bind": whether a daemon serves the cache, and the evidence.
void bind_field(JsonWriter& j, const BindState& b);

/// "space": statvfs of the cache's file system.
void space_field(JsonWriter& j, const FsSpace& s);

/// "limits": the config's percentages (brun_pct...) and, when t is given,
/// the kernel's limits in its units (brun_units..., frun_files...), the
/// free counts and the culling state they give.
void limits_field(JsonWriter& j, const DaemonConfig& conf, const Thresholds* t,
                  const CullDecision* d);

/// "graveyard": what waits in graveyard/ and what this run reaped.
void graveyard_field(JsonWriter& j, const GraveyardUsage& waiting,
                     const ReapStats& reaped);

/// A cull victim's fields (path, action, kind, sizes, times).
void victim_fields(JsonWriter& j, const CullVictim& v, CullAction a);

/// "would_remove", "removed", "skipped_used", "skipped_gone", "failed".
const char* cull_action_key(CullAction a);

/// The fields of a cull's summary.
void cull_summary_fields(JsonWriter& j, const CullReport& r, const Cache& cache,
                         const DaemonConfig& limits, const CullOptions& opt);

/// A burial's fields: "bury" (what was done: "buried", "would bury",
/// "bury failed"), its name in graveyard/, the errno when it failed.
void burial_fields(JsonWriter& j, const char* action, const Burial& b);

/// An object of a top list: path, size, allocated, atime.
void brief_fields(JsonWriter& j, const ObjectBrief& b);

/// "key": {apparent, allocated, data_objects, index_objects, volumes}.
void counts_fields(JsonWriter& j, const NetfsCount& c);

} // namespace fsc::cachefiles
