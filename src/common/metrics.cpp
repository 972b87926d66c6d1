// metrics.cpp - the table of every family fsc exports, and the exposition
// text (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include <fsc/metrics.hpp>

#include <fsc/error.hpp>
#include <fsc/fd.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fsc {
namespace {

using K = MetricKind;

// Changing a name or a label breaks users' dashboards and alerts: add, do
// not rename. fsc-metrics(7) must name every family (tests/docs checks).
constexpr MetricInfo k_table[] = {
    // Every verb that measures.
    {"fsc_last_run_success", K::gauge, "verb cache",
     "1 when the last run of this fsc verb did its job (exit status 0; 1: "
     "done, with findings; 75: busy, the cache is another culler's), else 0"},
    {"fsc_last_run_exit_status", K::gauge, "verb cache",
     "Exit status of the last run of this fsc verb"},
    {"fsc_last_run_timestamp_seconds", K::gauge, "verb cache",
     "When the last run of this fsc verb started, in Unix time"},
    {"fsc_last_run_duration_seconds", K::gauge, "verb cache",
     "How long the last run of this fsc verb took"},
    // inspect: the cache directory.
    {"fsc_cache_info", K::gauge, "cache format",
     "Always 1: a cache directory and its on-disk format (v1: kernels before "
     "5.17, v2: 5.17 and later)"},
    {"fsc_cache_bound", K::gauge, "cache",
     "1 when a cachefilesd has the cache bound (the kernel is using it)"},
    {"fsc_cache_objects", K::gauge, "cache netfs",
     "Data objects in the cache, by network filesystem"},
    {"fsc_cache_allocated_bytes", K::gauge, "cache netfs",
     "Disk space the data objects take (st_blocks), by network filesystem"},
    {"fsc_cache_apparent_bytes", K::gauge, "cache netfs",
     "Apparent size (st_size) of the data objects, by network filesystem"},
    {"fsc_cache_server_objects", K::gauge, "cache netfs server",
     "Data objects of each server (v1 caches)"},
    {"fsc_cache_server_allocated_bytes", K::gauge, "cache netfs server",
     "Disk space the data objects of each server take (v1 caches)"},
    {"fsc_cache_volume_objects", K::gauge, "cache netfs volume",
     "Data objects of each volume (v2 caches)"},
    {"fsc_cache_volume_allocated_bytes", K::gauge, "cache netfs volume",
     "Disk space the data objects of each volume take (v2 caches)"},
    {"fsc_cache_atime_age_seconds", K::histogram, "cache",
     "Time since each data object was last used (atime), as the culler "
     "ranks them"},
    {"fsc_cache_problems", K::gauge, "cache class",
     "Problems found in the cache by inspect, by class (see fsc-inspect(8))"},
    {"fsc_cache_graveyard_entries", K::gauge, "cache",
     "Entries waiting in the graveyard for the daemon to remove"},
    {"fsc_cache_graveyard_bytes", K::gauge, "cache",
     "Disk space the graveyard's entries take"},
    {"fsc_cache_fs_size_bytes", K::gauge, "cache",
     "Size of the file system the cache is on"},
    {"fsc_cache_fs_avail_bytes", K::gauge, "cache",
     "Space available to unprivileged users on the cache's file system"},
    {"fsc_cache_fs_files", K::gauge, "cache",
     "Inodes of the cache's file system"},
    {"fsc_cache_fs_avail_files", K::gauge, "cache",
     "Free inodes of the cache's file system"},
    {"fsc_cache_avail_ratio", K::gauge, "cache resource",
     "Available share of the cache's file system (resource: blocks or "
     "files), as the kernel compares it with cachefilesd's limits"},
    {"fsc_cache_limit_ratio", K::gauge, "cache limit",
     "cachefilesd's limits as shares of the file system (limit: brun, "
     "bcull, bstop, frun, fcull, fstop)"},
    {"fsc_cache_culling", K::gauge, "cache",
     "1 when free space or inodes are below bcull/fcull, so the kernel asks "
     "for culling; 2 below bstop/fstop (no new objects); else 0"},
    // cull: the last run.
    {"fsc_cull_removed_objects", K::gauge, "cache",
     "Objects the last fsc cull removed (or, with -n, would remove)"},
    {"fsc_cull_removed_bytes", K::gauge, "cache",
     "Disk space the last fsc cull freed (allocated bytes of its victims)"},
    {"fsc_cull_failed_objects", K::gauge, "cache",
     "Victims the last fsc cull could not remove"},
    {"fsc_cull_goal_met", K::gauge, "cache",
     "1 when the last fsc cull reached its goal, 0 when it ran out of "
     "candidates or was stopped"},
    // verify: the last run.
    {"fsc_verify_objects", K::gauge, "cache verdict",
     "Objects by the last fsc verify's verdict (okay, obsolete, corrupt, "
     "orphan, unmapped, unreadable)"},
    // stats: the kernel's counters.
    {"fsc_fscache_info", K::gauge, "layout",
     "Always 1: the layout of /proc/fs/fscache/stats (4.19 for kernels "
     "before 5.17, 6.1, 6.12)"},
    {"fsc_fscache_stat_total", K::counter, "section field",
     "Every counter of /proc/fs/fscache/stats: section is the line's name "
     "(Acquire, Lookups, IO, ...), field its key (n, ok, rd, ...)"},
    {"fsc_fscache_reads_total", K::counter, "source",
     "Reads served from the cache (source=\"cache\") and fetched from the "
     "server (source=\"server\")"},
    {"fsc_fscache_cache_volumes", K::gauge, "tag",
     "Volumes of each cache the kernel lists in /proc/fs/fscache/caches "
     "(6.x; tag: cachefilesd's tag)"},
    {"fsc_fscache_cache_objects", K::gauge, "tag",
     "Objects of each cache the kernel lists (6.x)"},
    {"fsc_fscache_cookies", K::gauge, "",
     "Cookies listed in /proc/fs/fscache/cookies (6.x)"},
};

const char* kind_name(MetricKind k)
{
  switch (k) {
  case K::counter:
    return "counter";
  case K::histogram:
    return "histogram";
  case K::gauge:
    break;
  }
  return "gauge";
}

// HELP text escapes backslash and newline; label values also the quote.
std::string escape(std::string_view s, bool label)
{
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && label)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string number(double v)
{
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string label_text(const Labels& labels)
{
  std::string out;
  for (auto& [k, v] : labels) {
    if (v.empty()) // an empty value is the same as no label
      continue;
    out += out.empty() ? "{" : ",";
    out += k + "=\"" + escape(v, true) + "\"";
  }
  if (!out.empty())
    out += "}";
  return out;
}

bool same_names(std::string_view declared, const Labels& labels)
{
  std::size_t i = 0;
  for (auto& [k, v] : labels) {
    while (i < declared.size() && declared[i] == ' ')
      ++i;
    const auto end = std::min(declared.find(' ', i), declared.size());
    if (declared.substr(i, end - i) != k)
      return false;
    i = end;
  }
  return declared.find_first_not_of(' ', i) == std::string_view::npos;
}

} // namespace

std::span<const MetricInfo> metric_table() { return k_table; }

double unix_now_s()
{
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

Metrics::Metrics(std::string verb, std::string cache)
    : m_verb(std::move(verb)), m_cache(std::move(cache))
{
}

Labels Metrics::about(Labels more) const
{
  Labels l{{"cache", m_cache}};
  l.insert(l.end(), more.begin(), more.end());
  return l;
}

const MetricInfo& Metrics::info(std::string_view name,
                                const Labels& labels) const
{
  for (auto& m : k_table)
    if (m.name == name) {
      if (!same_names(m.labels, labels))
        throw std::logic_error(
            fmt::format("metric {}: labels are not ({})", name, m.labels));
      return m;
    }
  throw std::logic_error(fmt::format("metric {} is not declared", name));
}

void Metrics::set(std::string_view name, const Labels& labels, double value)
{
  info(name, labels);
  m_samples[std::string(name)].push_back(
      fmt::format("{}{} {}", name, label_text(labels), number(value)));
}

void Metrics::histogram(std::string_view name, const Labels& labels,
                        std::span<const double> bounds,
                        std::span<const std::uint64_t> counts, double sum)
{
  if (info(name, labels).kind != K::histogram ||
      counts.size() != bounds.size() + 1)
    throw std::logic_error(fmt::format("metric {}: not a histogram", name));
  auto& lines = m_samples[std::string(name)];
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    total += counts[i];
    Labels with = labels;
    with.emplace_back("le", i < bounds.size() ? number(bounds[i]) : "+Inf");
    lines.push_back(
        fmt::format("{}_bucket{} {}", name, label_text(with), total));
  }
  lines.push_back(
      fmt::format("{}_sum{} {}", name, label_text(labels), number(sum)));
  lines.push_back(
      fmt::format("{}_count{} {}", name, label_text(labels), total));
}

void Metrics::outcome(int exit_status, double started_s, double duration_s)
{
  const Labels l{{"verb", m_verb}, {"cache", m_cache}};
  // 1: done, with findings; 75: busy, another culler holds the cache (a
  // normal outcome under cron).
  set("fsc_last_run_success", l,
      exit_status == 0 || exit_status == 1 || exit_status == 75);
  set("fsc_last_run_exit_status", l, exit_status);
  set("fsc_last_run_timestamp_seconds", l, started_s);
  set("fsc_last_run_duration_seconds", l, duration_s);
}

std::string Metrics::text() const
{
  std::string out;
  for (auto& m : k_table) {
    auto it = m_samples.find(m.name);
    if (it == m_samples.end())
      continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name,
                       escape(m.help, false), m.name, kind_name(m.kind));
    for (auto& line : it->second)
      out += line + "\n";
  }
  return out;
}

void Metrics::write(const std::string& path) const
{
  const std::string t = text();
  if (path == "-") {
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fflush(stdout);
    return;
  }
  // A scrape reads the whole file or the old one, never a half: write
  // beside it, then rename over it.
  const std::string tmp = fmt::format("{}.{}.tmp", path, ::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd)
    throw_sys("cannot write metrics to", tmp, errno);
  std::size_t done = 0;
  while (done < t.size()) {
    const ssize_t n = ::write(fd.get(), t.data() + done, t.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      const int err = errno;
      ::unlink(tmp.c_str());
      throw_sys("cannot write metrics to", tmp, err);
    }
    done += std::size_t(n);
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_sys("cannot write metrics to", path, err);
  }
}

} // namespace fsc
