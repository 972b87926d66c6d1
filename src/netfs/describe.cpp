// describe.cpp - the xattr frame (v1 type byte, v2 struct cachefiles_xattr)
// around the netfs aux, decoded per format.
#include <fsc/netfs/describe.hpp>

#include <fsc/cachefiles/summary.hpp>
#include <fsc/cachefiles/xattr.hpp>

namespace fsc::netfs {

using namespace fsc::cachefiles;

namespace {

const Node& top_of(const Node& n)
{
  const Node* top = &n;
  while (top->parent)
    top = top->parent.get();
  return *top;
}

Decoded decode_frame(const Node& n);
Decoded describe_once(const Node& n);

/// What describe depends on, compared by value: a scan describes each
/// object for its problems, then again for its record.
struct FrameMemo {
  bool valid = false;
  EntryKind kind{}, top_kind{};
  int level = 0;
  bool has_xattr = false, key_ok = false;
  Bytes key, xattr, top_key;
  std::string netfs;
  Decoded d;

  bool same(const Node& n, const Node& top, std::string_view nf) const
  {
    return valid && kind == n.kind && level == n.level &&
           has_xattr == n.has_xattr && key_ok == n.key_ok &&
           top_kind == top.kind && netfs == nf &&
           key == n.key && xattr == n.xattr && top_key == top.key;
  }
};

} // namespace

const Decoded& described(const Node& n)
{
  thread_local FrameMemo memo;
  const Node& top = top_of(n);
  const std::string_view nf = netfs_of(n);
  if (!memo.same(n, top, nf)) {
    memo.valid = false;
    memo.d = describe_once(n);
    memo.kind = n.kind;
    memo.top_kind = top.kind;
    memo.level = n.level;
    memo.has_xattr = n.has_xattr;
    memo.key_ok = n.key_ok;
    memo.key = n.key;
    memo.xattr = n.xattr;
    memo.top_key = top.key;
    memo.netfs = nf;
    memo.valid = true;
  }
  return memo.d;
}

namespace {

Decoded decode_frame(const Node& n)
{
  if (n.kind == EntryKind::volume) {
    auto v = n.has_xattr ? decode_volume_xattr(n.xattr)
                         : tl::unexpected(std::string());
    return decode_v2_volume(to_string(n.key),
                            v ? ByteView(v->coherency) : ByteView());
  }
  const Node& top = top_of(n);
  if (top.kind == EntryKind::volume) {
    auto x =
        n.has_xattr ? view_xattr_v2(n.xattr) : tl::unexpected(std::string());
    Decoded d = decode_v2_object(to_string(top.key), n.key,
                                 x ? ByteView(x->aux) : ByteView());
    if (x)
      d.aux.insert(d.aux.begin(), {num("object_size", x->object_size),
                                   num("zero_point", x->zero_point),
                                   {"content", content_name(x->content), {}}});
    else
      d.aux_error.clear(); // no frame, no aux to judge: scan reports it
    return d;
  }
  auto x =
      n.has_xattr ? view_xattr_v1(n.xattr) : tl::unexpected(std::string());
  Decoded d = decode_v1(netfs_of(n), n.level, n.kind == EntryKind::data, n.key,
                        x ? ByteView(x->aux) : ByteView());
  if (!x)
    d.aux_error.clear();
  return d;
}

} // namespace

Decoded describe(const Node& n) { return described(n); }

namespace {

Decoded describe_once(const Node& n)
{
  Decoded d = decode_frame(n);
  if (!d.error.empty())
    d.key.push_back({"error", d.error});
  if (!d.aux_error.empty())
    d.aux.push_back({"error", d.aux_error});
  if (!n.key_ok)
    d.label = "(name does not decode: key unknown)";
  if (d.role.empty())
    d.role = entry_kind_name(n.kind);
  return d;
}

} // namespace

std::optional<NfsFile> nfs_file(const Node& n)
{
  if (n.kind != EntryKind::data || !n.has_xattr || !n.key_ok)
    return std::nullopt;
  const Node& top = top_of(n);
  NfsFile f;
  if (top.kind == EntryKind::volume) {
    if (netfs_of(n) != "nfs") // decode_v2_object's NFS file
      return std::nullopt;
    auto x = view_xattr_v2(n.xattr);
    if (!x)
      return std::nullopt;
    f.frame = *x;
    auto a = decode_nfs_aux(x->aux);
    if (!a)
      return std::nullopt;
    f.aux = *a;
  } else {
    // decode_v1's NFS file: three levels below the "nfs" primary index.
    if (n.level != 3 || netfs_of(n) != "nfs")
      return std::nullopt;
    auto x = view_xattr_v1(n.xattr);
    if (!x)
      return std::nullopt;
    auto a = decode_nfs_aux(x->aux);
    if (!a)
      return std::nullopt;
    f.aux = *a;
  }
  f.handle = n.key;
  return f;
}

std::optional<Problem> aux_problem(const Node& n)
{
  if (n.kind != EntryKind::data || !n.has_xattr || !n.key_ok)
    return std::nullopt;
  if (nfs_file(n)) // fits by construction: no need to decode it all
    return std::nullopt;
  const Decoded& d = described(n);
  if (d.aux_error.empty())
    return std::nullopt;
  return Problem{"bad-xattr", n.path,
                 d.aux_error + ": the netfs's check_aux calls the object "
                               "obsolete at its next lookup"};
}

void add_aux_problem(ScanEntry& e)
{
  if (e.node)
    if (auto p = aux_problem(*e.node))
      e.problems.push_back(std::move(*p));
}

ScanSink with_aux_checks(ScanSink sink)
{
  return [sink = std::move(sink)](const ScanEntry& e, unsigned worker) {
    auto p = e.node ? aux_problem(*e.node) : std::nullopt;
    if (!p)
      return sink(e, worker);
    ScanEntry with = e;
    with.problems.push_back(std::move(*p));
    sink(with, worker);
  };
}

std::string object_label(const Node& n)
{
  // The server (v1: the index below the netfs's primary index) or the
  // volume (v2) names where the object comes from; its own label what.
  const Node* g = &n;
  while (g->parent && g->level > 1)
    g = g->parent.get();
  if (g->parent && g->parent->kind == EntryKind::volume)
    g = g->parent.get();
  std::string own = describe(n).label;
  if (g == &n || (g->level == 0 && g->kind != EntryKind::volume))
    return own;
  return describe(*g).label + " " + own;
}

std::vector<std::string> label_path(const Node& n)
{
  std::vector<std::string> out;
  const Node* top = &n;
  for (const Node* p = &n; p; p = p->parent.get()) {
    out.insert(out.begin(), describe(*p).label);
    top = p;
  }
  if (top->kind == EntryKind::volume)
    out.insert(out.begin(), std::string(volume_netfs(to_string(top->key))));
  else if (out[0].size() > 1 && out[0].front() == '"')
    out[0] = out[0].substr(1, out[0].size() - 2);
  return out;
}

namespace {

bool part_matches(const std::string& part, const std::string& label)
{
  if (part == "*" || part == label)
    return true;
  auto sp = label.find(' ');
  if (label.compare(0, sp, part) == 0 &&
      part.size() == std::min(sp, label.size()))
    return true;
  if (sp == std::string::npos)
    return false;
  auto sp2 = label.find(' ', sp + 1);
  return label.substr(sp + 1, sp2 == std::string::npos ? std::string::npos
                                                       : sp2 - sp - 1) == part;
}

} // namespace

TreeFilter::TreeFilter(const std::string& text)
{
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto slash = text.find('/', pos);
    if (slash == std::string::npos)
      slash = text.size();
    if (slash > pos)
      m_parts.push_back(text.substr(pos, slash - pos));
    pos = slash + 1;
  }
}

std::size_t TreeFilter::matched(const std::vector<std::string>& path) const
{
  std::size_t i = 0;
  while (i < m_parts.size() && i < path.size() &&
         part_matches(m_parts[i], path[i]))
    ++i;
  return i;
}

TreeFilter::Match TreeFilter::match(const Node& n) const
{
  auto path = label_path(n);
  const std::size_t k = matched(path);
  if (path.size() >= m_parts.size())
    return k == m_parts.size() ? Match::below : Match::none;
  return k == path.size() ? Match::above : Match::none;
}

} // namespace fsc::netfs
