// json.cpp - JSON of decoded objects and verify verdicts.
#include <fsc/netfs/json.hpp>

#include <fsc/cachefiles/summary.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/netfs/describe.hpp>
#include <fsc/report.hpp>

#include <fmt/format.h>

#include <charconv>

#include "common.hpp"

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

namespace {

// decoded_fields() of an NFS file, from its bytes: what nfs_aux_fields()
// and the frames in describe() make, in their order.
void nfs_file_fields(JsonWriter& j, const NfsFile& f)
{
  j.key("role");
  j.plain_value(k_nfs_file_role);
  j.key("key");
  j.begin_object();
  j.key("file_handle");
  j.hex(f.handle.data(), f.handle.size());
  j.field("fh_bytes", std::uint64_t(f.handle.size()));
  j.end_object();
  j.key("aux");
  j.begin_object();
  if (f.frame) {
    j.field("object_size", f.frame->object_size);
    j.field("zero_point", f.frame->zero_point);
    j.field("content", cachefiles::content_name(f.frame->content));
  }
  TimespecBuf buf;
  j.key("mtime");
  j.plain_value(timespec_text(f.aux.mtime_sec, f.aux.mtime_nsec, buf));
  j.key("ctime");
  j.plain_value(timespec_text(f.aux.ctime_sec, f.aux.ctime_nsec, buf));
  j.field("change_attr", f.aux.change_attr);
  j.end_object();
}

void object_fields(JsonWriter& j, const cachefiles::Node& n,
                   bool via_describe)
{
  j.field("level", n.level);
  j.field("netfs", cachefiles::netfs_of(n));
  const auto nfs = via_describe ? std::nullopt : nfs_file(n);
  const Decoded* d = nfs ? nullptr : &described(n);
  if (nfs) {
    j.key("label");
    j.hex(nfs->handle.data(), nfs->handle.size(), "fh ");
  } else {
    j.field("label", d->label);
  }
  j.key("key_hex");
  j.hex(n.key.data(), n.key.size());
  if (n.has_xattr) {
    j.key("xattr_hex");
    j.hex(n.xattr.data(), n.xattr.size());
  }
  if (nfs)
    nfs_file_fields(j, *nfs);
  else
    decoded_fields(j, *d);
}

} // namespace

void entry_fields(JsonWriter& j, const ScanEntry& e, bool via_describe)
{
  j.name_field("path", e.path);
  j.key("kind");
  j.plain_value(entry_kind_name(e.kind));
  if (e.node)
    object_fields(j, *e.node, via_describe);
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
