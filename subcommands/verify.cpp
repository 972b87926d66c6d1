// verify.cpp - `fsc verify`: which cached objects disagree with the origin
// (coherency aux, and with --data the cached bytes); --bury sends the stale
// ones to the graveyard the kernel's way so the next mount refetches them.
#include "command.hpp"

#include <fsc/cachefiles/bound.hpp>
#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/lock.hpp>
#include <fsc/error.hpp>
#include <fsc/json.hpp>
#include <fsc/netfs/export.hpp>
#include <fsc/netfs/verify.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <map>
#include <memory>
#include <unistd.h>

namespace fsc::cmd {
namespace {

using namespace fsc::cachefiles;
using namespace fsc::netfs;

struct VerifyArgs {
  std::string cache, origin, origin_map, fsid;
  std::string method = "auto"; // hidden --origin-method, for tests
  bool data = false, nfs4 = false, bury = false, dry_run = false, force = false;
};

// Opens the directory holding rel (below the cache root) component by
// component, never following a symlink.
int open_parent(int root_fd, const std::string& rel)
{
  int fd = dup(root_fd);
  std::size_t pos = 0;
  for (auto slash = rel.find('/'); fd >= 0 && slash != std::string::npos;
       slash = rel.find('/', pos)) {
    std::string part = rel.substr(pos, slash - pos);
    int next = openat(fd, part.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(fd);
    fd = next;
    pos = slash + 1;
  }
  return fd;
}

bool stale(Verdict v)
{
  return v == Verdict::obsolete || v == Verdict::orphan ||
         v == Verdict::corrupt;
}

void print_verdict(const ObjectVerdict& v)
{
  if (v.checked.empty())
    fmt::print("{:<10} {}\n", verdict_name(v.verdict), v.path);
  else
    fmt::print("{:<10} {} ({})\n", verdict_name(v.verdict), v.path,
               v.checked);
  if (!v.origin.empty())
    fmt::print("           origin {}\n", v.origin);
  for (auto& d : v.diffs)
    fmt::print("           {} differs: cached {}, origin {}\n", d.field,
               d.cached, d.origin);
  if (v.first_bad_offset)
    fmt::print("           first differing byte at offset {}\n",
               *v.first_bad_offset);
  if (v.padding_nonzero_offset)
    fmt::print("           anomaly: non-zero byte in the padding past the "
               "object's size, at offset {}\n", *v.padding_nonzero_offset);
  if (!v.note.empty())
    fmt::print("           {}\n", v.note);
}

void json_verdict(JsonWriter& j, const ObjectVerdict& v, const char* buried,
                  const std::string& method)
{
  j.begin_object();
  j.field("record", "object");
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
  if (buried)
    j.field("buried", buried);
  j.end_object();
}

int run_verify(const VerifyArgs& a, const Globals& g)
{
  if (a.origin.empty() == a.origin_map.empty())
    throw UsageError(
        "give exactly one of --origin DIR and --origin-map FILE");
  Cache cache = Cache::open(resolve_cache_dir(a.cache, g));
  const bool burying = a.bury && !a.dry_run;
  if (burying && detect_binding(cache.root()).bound && !a.force)
    throw Error("refusing to bury in '" + cache.root() + "': a running "
                "cache daemon has it bound (--force at your own risk)");
  std::optional<CacheLock> lock =
      burying ? CacheLock::try_acquire(cache.root()) : std::nullopt;
  int grave = -1;
  if (burying) {
    if (!lock)
      throw Error("'" + cache.root() + "' is locked by another fsc run");
    grave = openat(cache.root_fd(), "graveyard",
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (grave < 0)
      throw_sys("cannot open", cache.root() + "/graveyard", errno);
  }
  // --origin on a client is its NFS mount; anywhere else it is the export
  // directory on the server, whose knfsd handles are the keys.
  std::unique_ptr<OriginSource> origins;
  std::string kind;
  if (!a.origin_map.empty()) {
    origins = std::make_unique<MapOrigin>(read_origin_map(a.origin_map),
                                          "origin_map");
    kind = "the map " + a.origin_map;
  } else if (is_nfs_mount(a.origin)) {
    if (!a.fsid.empty())
      throw UsageError("--fsid is for an export directory on the server, and '" +
                  a.origin + "' is an NFS client mount");
    origins = std::make_unique<MapOrigin>(map_nfs_client(a.origin),
                                          "nfs_client");
    kind = "NFS client mount " + a.origin + ", handles from "
           "name_to_handle_at";
  } else {
    ExportMethod m = a.method == "index"    ? ExportMethod::index
                     : a.method == "handle" ? ExportMethod::open_by_handle
                                            : ExportMethod::automatic;
    auto exp = std::make_unique<ExportOrigin>(a.origin, m, a.fsid);
    kind = "export " + a.origin + ", files found " +
           (exp->export_method() == ExportMethod::open_by_handle
                ? "with open_by_handle_at"
                : "by an index of the export (name_to_handle_at; run as "
                  "root to open by handle)");
    origins = std::move(exp);
  }
  const std::string method = origins->method();
  VerifyOptions vo;
  vo.data = a.data;
  vo.nfs_v4 = a.nfs4;
  std::map<Verdict, std::uint64_t> counts;
  std::vector<ObjectVerdict> all;
  std::uint32_t counter = std::uint32_t(::time(nullptr)) & 0xffff;
  JsonWriter j(stdout);
  verify(cache, *origins, vo, [&](const ObjectVerdict& v) {
    ++counts[v.verdict];
    const char* buried = nullptr;
    if (a.bury && stale(v.verdict)) {
      buried = "would bury";
      if (!a.dry_run) {
        int dir = open_parent(cache.root_fd(), v.path);
        auto name = v.path.substr(v.path.rfind('/') + 1);
        int rc = dir < 0 ? errno : bury_at(dir, name.c_str(), grave, counter);
        buried = rc == 0 ? "buried" : "bury failed";
        if (dir >= 0)
          close(dir);
      }
    }
    if (g.json == JsonMode::lines) {
      json_verdict(j, v, buried, method);
      j.end_line();
    } else {
      all.push_back(v);
    }
  });
  if (grave >= 0)
    close(grave);
  if (g.json == JsonMode::document) {
    j.begin_object();
    j.field("schema", 1);
    j.field("cache", cache.root());
    j.field("origin_method", method);
    j.key("objects");
    j.begin_array();
    for (auto& v : all)
      json_verdict(j, v, nullptr, method);
    j.end_array();
    j.end_object();
    j.end_line();
  } else if (g.json == JsonMode::off) {
    // Grouped by verdict, the ones to act on first.
    for (Verdict want : {Verdict::corrupt, Verdict::obsolete, Verdict::orphan,
                         Verdict::unreadable, Verdict::unmapped, Verdict::okay})
      for (auto& v : all)
        if (v.verdict == want && (want != Verdict::okay || g.verbose > 0 ||
                                  v.padding_nonzero_offset))
          print_verdict(v);
    if (!g.quiet) {
      fmt::print("origin: {}\n", kind);
      std::string summary;
      for (auto& [v, n] : counts)
        summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n,
                               verdict_name(v));
      fmt::print("{}: {} objects: {}\n", cache.root(), all.size(),
                 summary.empty() ? "none" : summary);
    }
  }
  bool bad = counts[Verdict::obsolete] + counts[Verdict::orphan] +
                 counts[Verdict::corrupt] + counts[Verdict::unreadable] > 0;
  return bad ? exit_code::problems : exit_code::ok;
}

} // namespace

Command add_verify(CLI::App& app, Globals& g)
{
  auto a = std::make_shared<VerifyArgs>();
  auto* sub = app.add_subcommand(
      "verify", "Check cached objects against their origin files");
  sub->add_option("cache", a->cache, "Cache directory (default: --dir)");
  sub->add_option("--origin", a->origin,
                  "Where the origin files are: an NFS client mount (handles "
                  "from name_to_handle_at), or on the NFS server the "
                  "exported directory (knfsd handles: open_by_handle_at as "
                  "root, else an index of the export)");
  sub->add_option("--fsid", a->fsid,
                  "With --origin on the server: the export's fsid= from "
                  "/etc/exports (number or UUID), to tell its handles from "
                  "other exports'");
  sub->add_option("--origin-map", a->origin_map,
                  "A file of 'KEYHEX PATH' lines mapping object keys to "
                  "origin files");
  sub->add_flag("--data", a->data,
                "Also compare the cached bytes (only where the cache holds "
                "data)");
  sub->add_flag("--nfs4", a->nfs4,
                "Judge every object by the NFSv4 rule (by default each "
                "object's server key or volume says its NFS version)");
  sub->add_flag("--bury", a->bury,
                "Move OBSOLETE, ORPHAN and CORRUPT objects to the graveyard");
  sub->add_flag("-n,--dry-run", a->dry_run,
                "With --bury: say what would be buried, change nothing");
  sub->add_flag("--force", a->force,
                "With --bury: even when a cache daemon has the cache bound");
  // Forces how an export's files are found (auto, handle, index): tests
  // cover both without dropping privileges. Hidden: not in completions.
  sub->add_option("--origin-method", a->method)
      ->check(CLI::IsMember({"auto", "handle", "index"}))
      ->group("");
  return {sub, [a, &g] { return run_verify(*a, g); }};
}

} // namespace fsc::cmd
