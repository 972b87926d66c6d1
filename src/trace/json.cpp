// json.cpp - JSON of refcount histories and findings.
#include <fsc/trace/json.hpp>

namespace fsc::trace {

const char* life_type(char type)
{
  switch (type) {
  case 'c':
    return "cookie";
  case 'o':
    return "object";
  case 'R':
    return "request";
  case 'S':
    return "subrequest";
  default:
    return "volume";
  }
}

void life_fields(JsonWriter& j, const Life& l)
{
  j.field("type", life_type(l.type));
  j.field("id", l.id);
  j.field("life", l.life);
  if (l.type != 'c' && l.type != 'V' && !l.cookie.empty())
    j.field("cookie", l.cookie);
  j.field("count", l.count);
  j.field("events", l.events);
  j.field("first_ns", l.first_ns);
  j.field("last_ns", l.last_ns);
  j.field("relinquished", l.relinquished);
  j.field("freed", l.freed);
  j.field("unknowable", l.unknowable);
  j.key("reasons");
  j.begin_object();
  for (auto& [reason, n] : l.reasons)
    j.field(reason, n);
  j.end_object();
}

void finding_fields(JsonWriter& j, const Finding& f)
{
  j.field("kind", f.kind);
  j.field("id", f.id);
  j.field("line", f.line);
  j.field("ts_ns", f.ts_ns);
  j.field("message", f.message);
}

void event_fields(JsonWriter& j, const TimelineEntry& t)
{
  j.field("line", t.line);
  j.field("ts_ns", t.ts_ns);
  j.field("cpu", t.cpu);
  j.field("task", t.task);
  j.field("event", t.event);
  j.field("body", t.body);
  if (t.count != k_no_count)
    j.field("count", t.count);
}

void refs_summary_fields(JsonWriter& j, const RefsReport& r)
{
  j.field("gen", gen_name(r.gen));
  j.field("lines", r.lines);
  j.field("events", r.events);
  j.field("fscache_events", r.fscache_events);
  j.field("unknown_events", r.unknown_events);
  j.field("malformed", r.malformed);
  j.field("lost_events", r.lost_events);
  j.field("finding_count", r.findings.size());
  j.field("incomplete", r.incomplete());
  j.key("truncated");
  j.begin_array();
  for (auto& c : r.cuts) {
    j.begin_object();
    j.field("file", c.file);
    j.field("after_line", c.after_line);
    j.field("reason", c.why);
    j.end_object();
  }
  j.end_array();
  for (auto [name, t] : {std::pair{"cookies", &r.cookies},
                         {"objects", &r.objects},
                         {"volumes", &r.volumes},
                         {"requests", &r.requests},
                         {"subrequests", &r.subrequests}}) {
    j.key(name);
    j.begin_object();
    j.field("lives", t->lives);
    j.field("freed", t->freed);
    j.field("relinquished", t->relinquished);
    j.field("alive", t->alive);
    j.end_object();
  }
}

} // namespace fsc::trace
