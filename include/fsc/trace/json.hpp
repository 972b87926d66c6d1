// json.hpp - the one JSON rendering of refcount histories and findings
// (fsc-refs(8) lists the fields).
#pragma once

#include <fsc/json.hpp>
#include <fsc/trace/refs.hpp>

namespace fsc::trace {

/// A Life::type as JSON names it: "cookie", "object", "volume", "request",
/// "subrequest".
const char* life_type(char type);

/// One cookie, object, volume, request or subrequest life: counts, reasons
/// seen, how it ended.
void life_fields(JsonWriter& j, const Life& l);

/// A finding: kind, id, line, time, message.
void finding_fields(JsonWriter& j, const Finding& f);

/// One trace line of a --cookie/--object/--request timeline.
void event_fields(JsonWriter& j, const TimelineEntry& t);

/// The fields of a refs run's summary.
void refs_summary_fields(JsonWriter& j, const RefsReport& r);

} // namespace fsc::trace
