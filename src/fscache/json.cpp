// json.cpp - JSON fields of the kernel's FS-Cache counters.
#include <fsc/fscache/json.hpp>

namespace fsc::fscache {
namespace {

template <class T>
void optional_field(JsonWriter& j, std::string_view k,
                    const std::optional<T>& v)
{
  j.key(k);
  if (v)
    j.value(*v);
  else
    j.null();
}

// A table the directory did not have is null, not an empty one.
void rows_field(JsonWriter& j, std::string_view k, const ProcTable* t)
{
  j.key(k);
  if (t)
    j.value(std::uint64_t(t->rows.size()));
  else
    j.null();
}

} // namespace

void counter_fields(JsonWriter& j, const std::string& section,
                    const std::string& key, std::int64_t value)
{
  j.field("section", section);
  j.field("key", key);
  j.field("value", value);
}

void cache_fields(JsonWriter& j, const CacheRow& c)
{
  j.field("id", c.id);
  j.field("refs", c.refs);
  j.field("volumes", c.volumes);
  j.field("objects", c.objects);
  j.field("accesses", c.accesses);
  j.field("state", c.state);
  j.field("name", c.name);
}

void raw_fields(JsonWriter& j, const RawLine& r)
{
  j.field("file", r.file);
  j.field("line", std::uint64_t(r.line));
  j.field("text", r.text);
}

void rate_fields(JsonWriter& j, std::size_t sample, double seconds,
                 const StatRate& r)
{
  j.field("sample", std::uint64_t(sample));
  j.field("seconds", seconds);
  j.field("section", r.section);
  j.field("key", r.key);
  j.field("per_second", r.per_second);
}

void stats_summary_fields(JsonWriter& j, const ProcStats& s,
                          std::size_t samples)
{
  const StatsFigures& f = s.figures;
  j.field("layout", s.layout);
  j.field("samples", std::uint64_t(samples));
  optional_field(j, "acquires", f.acquires);
  optional_field(j, "lookups", f.lookups);
  optional_field(j, "cache_reads", f.cache_reads);
  optional_field(j, "server_reads", f.server_reads);
  optional_field(j, "hit_ratio", f.hit_ratio);
  optional_field(j, "objects_created", f.objects_created);
  optional_field(j, "objects_culled", f.objects_culled);
  optional_field(j, "objects_rejected", f.objects_rejected);
  optional_field(j, "no_space", f.no_space);
  optional_field(j, "io_errors", f.io_errors);
  optional_field(j, "invalidations", f.invalidations);
  j.key("caches");
  if (s.has_caches)
    j.value(std::uint64_t(s.caches.size()));
  else
    j.null();
  rows_field(j, "volumes", s.table("volumes"));
  rows_field(j, "cookies", s.table("cookies"));
  rows_field(j, "objects", s.table("objects"));
  j.field("raw_lines", std::uint64_t(s.raw.size()));
  j.field("malformed_lines", std::uint64_t(s.warnings.size()));
}

} // namespace fsc::fscache
