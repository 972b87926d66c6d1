// verify.cpp - `fsc verify`: which cached objects disagree with the origin
// (coherency aux, and with --data the cached bytes); --bury sends the stale
// ones to the graveyard the kernel's way so the next mount refetches them.
#include "command.hpp"

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/claim.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/json.hpp>
#include <fsc/error.hpp>
#include <fsc/fd.hpp>
#include <fsc/format.hpp>
#include <fsc/json.hpp>
#include <fsc/netfs/export.hpp>
#include <fsc/netfs/json.hpp>
#include <fsc/netfs/metrics.hpp>
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

bool stale(Verdict v)
{
  return v == Verdict::obsolete || v == Verdict::orphan ||
         v == Verdict::corrupt;
}

// A verdict and what --bury did about it.
struct Row {
  ObjectVerdict v;
  const char* bury = nullptr; ///< "buried", "would bury", "bury failed"
  Burial burial;
};

bool verify_checked(Verdict v)
{
  return v != Verdict::unmapped && v != Verdict::unreadable;
}

void print_bury(const Row& r)
{
  if (!r.bury)
    return;
  if (r.burial.err)
    fmt::print("           bury failed: {}\n", errno_text(r.burial.err));
  else if (!r.burial.grave_name.empty())
    fmt::print("           buried as graveyard/{}\n", r.burial.grave_name);
  else
    fmt::print("           would bury\n");
}

void print_verdict(const ObjectVerdict& v)
{
  if (v.checked.empty())
    fmt::print("{:<10} {}\n", verdict_name(v.verdict), v.path);
  else
    fmt::print("{:<10} {} ({})\n", verdict_name(v.verdict), v.path, v.checked);
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
               "object's size, at offset {}\n",
               *v.padding_nonzero_offset);
  if (!v.note.empty())
    fmt::print("           {}\n", v.note);
}

void verdict_record(JsonReport& out, const Row& r, const std::string& method)
{
  out.record("object", [&](JsonWriter& j) {
    verdict_fields(j, r.v, method);
    if (r.bury)
      burial_fields(j, r.bury, r.burial);
  });
}

// What one run found, for the summary line and record.
struct Tally {
  std::map<Verdict, std::uint64_t> verdicts;
  std::uint64_t total = 0, checked = 0;
  std::uint64_t buried = 0, bury_failed = 0, would_bury = 0;
  std::uint64_t buried_bytes = 0;

  void add(const Row& r)
  {
    ++verdicts[r.v.verdict];
    ++total;
    checked += verify_checked(r.v.verdict);
    if (!r.bury)
      return;
    if (r.burial.err)
      ++bury_failed;
    else if (r.burial.grave_name.empty())
      ++would_bury, buried_bytes += r.burial.bytes;
    else
      ++buried, buried_bytes += r.burial.bytes;
  }
};

void tally_fields(JsonWriter& j, const Tally& t)
{
  j.field("objects", t.total);
  j.field("checked", t.checked);
  j.key("verdicts");
  j.begin_object();
  for (auto& [v, n] : t.verdicts)
    j.field(verdict_name(v), n);
  j.end_object();
  j.field("buried", t.buried);
  j.field("would_bury", t.would_bury);
  j.field("bury_failed", t.bury_failed);
  j.field("buried_bytes", t.buried_bytes);
}

// The objects that could not be checked, one line per reason with a count
// (-v lists them one by one).
void print_unchecked(const std::vector<Row>& rows)
{
  std::map<std::pair<Verdict, std::string>, std::uint64_t> reasons;
  for (auto& r : rows)
    if (!verify_checked(r.v.verdict))
      ++reasons[{r.v.verdict, r.v.note}];
  for (auto& [why, n] : reasons)
    fmt::print("{:<10} {} object{}: {}\n", verdict_name(why.first), n,
               n == 1 ? "" : "s",
               why.second.empty() ? "no reason" : why.second);
}

void print_text(const std::vector<Row>& rows, const Tally& t,
                const std::string& root, const std::string& kind,
                const Globals& g)
{
  // Grouped by verdict, the ones to act on first.
  for (Verdict want : {Verdict::corrupt, Verdict::obsolete, Verdict::orphan,
                       Verdict::unreadable, Verdict::unmapped, Verdict::okay})
    for (auto& r : rows) {
      if (r.v.verdict != want)
        continue;
      bool show = stale(want) || g.verbose > 0 ||
                  (want == Verdict::okay && r.v.padding_nonzero_offset);
      if (!show)
        continue;
      print_verdict(r.v);
      print_bury(r);
    }
  if (g.verbose == 0)
    print_unchecked(rows);
  if (g.quiet)
    return;
  fmt::print("origin: {}\n", kind);
  std::string summary;
  for (auto& [v, n] : t.verdicts)
    summary +=
        fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, verdict_name(v));
  fmt::print("{}: {} of {} objects checked: {}\n", root, t.checked, t.total,
             summary.empty() ? "none" : summary);
  if (t.buried)
    fmt::print("buried {} objects, {} freed when the graveyard is reaped\n",
               t.buried, human_size(t.buried_bytes));
  if (t.would_bury)
    fmt::print("would bury {} objects ({})\n", t.would_bury,
               human_size(t.buried_bytes));
  if (t.bury_failed)
    fmt::print("failed to bury {} objects\n", t.bury_failed);
}

std::unique_ptr<OriginSource> open_origins(const VerifyArgs& a,
                                           std::string& kind)
{
  // --origin on a client is its NFS mount; anywhere else it is the export
  // directory on the server, whose knfsd handles are the keys.
  if (!a.origin_map.empty()) {
    kind = "the map " + a.origin_map;
    return std::make_unique<MapOrigin>(read_origin_map(a.origin_map),
                                       "origin_map");
  }
  if (is_nfs_mount(a.origin)) {
    if (!a.fsid.empty())
      throw UsageError("--fsid is for an export directory on the server, "
                       "and '" +
                       a.origin + "' is an NFS client mount");
    kind = "NFS client mount " + a.origin +
           ", handles from "
           "name_to_handle_at";
    return std::make_unique<MapOrigin>(map_nfs_client(a.origin), "nfs_client");
  }
  ExportMethod m = a.method == "index"    ? ExportMethod::index
                   : a.method == "handle" ? ExportMethod::open_by_handle
                                          : ExportMethod::automatic;
  auto exp = std::make_unique<ExportOrigin>(a.origin, m, a.fsid);
  kind = "export " + a.origin + ", files found " +
         (exp->export_method() == ExportMethod::open_by_handle
              ? "with open_by_handle_at"
              : "by an index of the export (name_to_handle_at; run as "
                "root to open by handle)");
  return exp;
}

int run_verify(const VerifyArgs& a, const Globals& g, MetricsOut& m)
{
  if (a.origin.empty() == a.origin_map.empty())
    throw UsageError("give exactly one of --origin DIR and --origin-map FILE");
  if ((a.dry_run || a.force) && !a.bury)
    throw UsageError("--dry-run and --force go with --bury");
  m.cache = resolve_cache_dir(a.cache, g);
  Cache cache = Cache::open(m.cache);
  m.cache = cache.root();
  const bool burying = a.bury && !a.dry_run;
  std::optional<Claim> claim;
  Fd grave;
  if (burying) {
    ClaimOptions co;
    co.what = "bury objects in";
    co.force = a.force;
    auto c = claim_cache(cache.root(), co);
    if (!c)
      raise(c.error());
    warn_if_bound(c->binding, cache.root(), "burying");
    claim.emplace(std::move(*c));
    grave.reset(openat(cache.root_fd(), "graveyard",
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!grave)
      throw_sys("cannot open", cache.root() + "/graveyard", errno);
  }
  std::string kind;
  std::unique_ptr<OriginSource> origins = open_origins(a, kind);
  const std::string method = origins->method();
  VerifyOptions vo;
  vo.data = a.data;
  vo.nfs_v4 = a.nfs4;
  Tally tally;
  std::vector<Row> rows;
  std::uint32_t counter = std::uint32_t(::time(nullptr)) & 0xffff;
  JsonReport out = json_report(g, "verify");
  verify(cache, *origins, vo, [&](const ObjectVerdict& v) {
    Row r{v, nullptr, {}};
    if (a.bury && stale(v.verdict)) {
      r.bury = "would bury";
      if (burying) {
        r.burial = bury_path(cache.root_fd(), v.path, grave.get(), counter);
        r.bury = r.burial.err ? "bury failed" : "buried";
      } else {
        r.burial.bytes = allocated_bytes(cache.root_fd(), v.path);
      }
    }
    tally.add(r);
    if (out.on())
      verdict_record(out, r, method);
    else
      rows.push_back(std::move(r));
  });
  if (out.on()) {
    out.summary([&](JsonWriter& j) {
      j.field("cache", cache.root());
      j.field("origin", kind);
      j.field("origin_method", method);
      tally_fields(j, tally);
    });
  } else if (!m.to_stdout()) {
    print_text(rows, tally, cache.root(), kind, g);
  }
  bool bad = tally.verdicts[Verdict::obsolete] +
                 tally.verdicts[Verdict::orphan] +
                 tally.verdicts[Verdict::corrupt] +
                 tally.verdicts[Verdict::unreadable] >
             0;
  // Nothing checked is no all-clear.
  const int rc = tally.bury_failed           ? exit_code::fatal
                 : bad || tally.checked == 0 ? exit_code::problems
                                             : exit_code::ok;
  if (m.on()) {
    Metrics mx = begin_metrics(m);
    netfs::VerdictCounts counts{};
    for (auto& [v, n] : tally.verdicts)
      counts.at(std::size_t(v)) = n;
    netfs::verify_metrics(mx, counts);
    emit_metrics(m, mx, rc);
  }
  return rc;
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
  auto metrics = add_metrics_options(sub, "verify");
  return {sub, [a, metrics, &g] { return run_verify(*a, g, *metrics); },
          metrics};
}

} // namespace fsc::cmd
