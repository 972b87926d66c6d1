// json.cpp - JSON of decoded objects and verify verdicts.
#include <fsc/netfs/json.hpp>

#include <fsc/cachefiles/summary.hpp>
#include <fsc/netfs/describe.hpp>
#include <fsc/report.hpp>

#include <fmt/format.h>

#include <charconv>

namespace fsc::netfs {

using cachefiles::ScanEntry;

static void field_group(JsonWriter& j, std::string_view key,
                        const std::vector<Field>& fields)
{
  j.key(key);
  j.begin_object();
  for (auto& f : fields) {
    if (f.number)
      j.field(f.name, *f.number);
    else
      j.field(f.name, f.text);
  }
  j.end_object();
}

void decoded_fields(JsonWriter& j, const Decoded& d)
{
  j.field("role", d.role);
  field_group(j, "key", d.key);
  field_group(j, "aux", d.aux);
}

void label_field(JsonWriter& j, const cachefiles::Node* n)
{
  j.field("label", n ? object_label(*n) : std::string());
}

void entry_fields(JsonWriter& j, const ScanEntry& e)
{
  j.name_field("path", e.path);
  j.field("kind", entry_kind_name(e.kind));
  if (e.node) {
    const Decoded& d = described(*e.node);
    j.field("level", e.node->level);
    j.field("netfs", cachefiles::netfs_of(*e.node));
    j.field("label", d.label);
    j.key("key_hex");
    j.hex(e.node->key.data(), e.node->key.size());
    if (e.node->has_xattr) {
      j.key("xattr_hex");
      j.hex(e.node->xattr.data(), e.node->xattr.size());
    }
    decoded_fields(j, d);
  }
  char mode[16];
  j.field("mode", std::string_view(mode, std::to_chars(mode, mode + sizeof mode,
                                                       e.st.mode, 8)
                                             .ptr));
  j.field("uid", e.st.uid);
  j.field("size", e.st.size);
  j.field("allocated", e.st.blocks * 512);
  time_fields(j, "atime", e.st.atime_ns);
  time_fields(j, "mtime", e.st.mtime_ns);
  problems_field(j, "problems", e.problems);
}

void verdict_fields(JsonWriter& j, const ObjectVerdict& v,
                    const std::string& method)
{
  j.name_field("path", v.path);
  j.field("key_hex", v.key_hex);
  j.field("verdict", verdict_name(v.verdict));
  if (!v.origin.empty())
    j.name_field("origin", v.origin);
  if (!method.empty())
    j.field("origin_method", method);
  j.key("differences");
  j.begin_array();
  for (auto& d : v.diffs) {
    j.begin_object();
    j.field("field", d.field);
    j.field("cached", d.cached);
    j.field("origin", d.origin);
    j.end_object();
  }
  j.end_array();
  if (v.first_bad_offset)
    j.field("first_bad_offset", *v.first_bad_offset);
  j.field("bytes_compared", v.bytes_compared);
  if (v.padding_nonzero_offset)
    j.field("padding_nonzero_offset", *v.padding_nonzero_offset);
  if (!v.checked.empty())
    j.field("checked", v.checked);
  if (!v.note.empty())
    j.field("note", v.note);
}

} // namespace fsc::netfs
