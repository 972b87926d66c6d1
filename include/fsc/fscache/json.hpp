// json.hpp - the one JSON rendering of the kernel's FS-Cache counters
// (fsc-stats(8) lists the fields).
#pragma once

#include <fsc/fscache/proc_stats.hpp>
#include <fsc/json.hpp>

namespace fsc::fscache {

/// One counter of `stats`: section, key, value.
void counter_fields(JsonWriter& j, const std::string& section,
                    const std::string& key, std::int64_t value);

/// One row of `caches`: id, refs, volumes, objects, accesses, state, name.
void cache_fields(JsonWriter& j, const CacheRow& c);

/// A line kept as text: file, line, text.
void raw_fields(JsonWriter& j, const RawLine& r);

/// One counter's rate between two samples: sample, seconds, section, key,
/// per_second.
void rate_fields(JsonWriter& j, std::size_t sample, double seconds,
                 const StatRate& r);

/// The summary: layout, the derived figures (null where the layout has no
/// such counter), the table sizes, samples taken.
void stats_summary_fields(JsonWriter& j, const ProcStats& s,
                          std::size_t samples);

} // namespace fsc::fscache
