// json.hpp - the one JSON rendering of refcount histories and findings
// (fsc-refs(8) lists the fields).
#pragma once

#include <fsc/json.hpp>
#include <fsc/trace/refs.hpp>

namespace fsc::trace {

/// One cookie, object or volume life: counts, reasons seen, how it ended.
void life_fields(JsonWriter& j, const Life& l);

/// A finding: kind, id, line, time, message.
void finding_fields(JsonWriter& j, const Finding& f);

/// One trace line of a --cookie/--object timeline.
void event_fields(JsonWriter& j, const TimelineEntry& t);

/// The fields of a refs run's summary.
void refs_summary_fields(JsonWriter& j, const RefsReport& r);

} // namespace fsc::trace
