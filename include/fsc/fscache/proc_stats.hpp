// proc_stats.hpp - the kernel's own FS-Cache counters, read from
// /proc/fs/fscache (stats, caches, volumes, cookies, objects) in the 4.19
// (up to 5.16), 6.1 and 6.12 layouts, with the figures an admin asks for.
#pragma once

#include <fsc/metrics.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fsc::fscache {

/// One line of `stats` name: "Retrvls", "IO", "DownOps". A name the kernel
/// prints on two lines (4.19 `Retrvls`, 6.1 `RdHelp`) is one section with
/// the keys of both lines, in file order.
struct StatSection {
  std::string name;
  std::vector<std::pair<std::string, std::int64_t>> fields;
  /// The value of key, if the section has it.
  std::optional<std::int64_t> get(std::string_view key) const;
};

/// A line kept as text: not `Name: key=value ...`, or malformed.
struct RawLine {
  std::string file; ///< "stats", "caches", ...
  std::size_t line = 0;
  std::string text;
};

/// A line that looks like a counter line but is not one (bad value, no
/// `=`): data for a warning naming the file and line, never a crash.
struct StatWarning {
  std::string file;
  std::size_t line = 0;
  std::string message;
};

/// One row of 6.x `caches`: CACHE REF VOLS OBJS ACCES S NAME.
struct CacheRow {
  std::string id; ///< debug id, hex as printed
  std::int64_t refs = 0, volumes = 0, objects = 0, accesses = 0;
  std::string state; ///< "A" active, "-" ...
  std::string name;  ///< cachefilesd's tag
};

/// Another table (volumes, cookies, objects, requests): its rows as text.
struct ProcTable {
  std::string file;
  std::vector<std::string> rows; ///< without the header and rule lines
};

/// What an admin asks first; empty where the layout has no such counter.
/// proc_stats.cpp says which kernel counters each comes from.
struct StatsFigures {
  std::optional<std::int64_t> acquires, lookups;
  std::optional<std::int64_t> cache_reads, server_reads;
  std::optional<double> hit_ratio; ///< cache / (cache + server); none if 0
  std::optional<std::int64_t> objects_created, objects_culled, objects_rejected;
  std::optional<std::int64_t> no_space, io_errors, invalidations;
};

/// Everything read from one /proc/fs/fscache (or a copy of it).
struct ProcStats {
  std::string layout; ///< "4.19", "6.1", "6.12" or "unknown"
  std::vector<StatSection> sections;
  std::vector<RawLine> raw;
  std::vector<StatWarning> warnings;
  bool has_caches = false;
  std::vector<CacheRow> caches;
  std::vector<ProcTable> tables;
  StatsFigures figures;

  const StatSection* section(std::string_view name) const;
  std::optional<std::int64_t> get(std::string_view section,
                                  std::string_view key) const;
  const ProcTable* table(std::string_view file) const;
};

/// Parses the text of `stats` into s (sections, raw lines, warnings,
/// layout, figures). file names the source in raw lines and warnings.
void parse_stats(ProcStats& s, std::string_view text,
                 std::string_view file = "stats");

/// Parses the text of 6.x `caches` into s.caches (bad rows: warnings).
void parse_caches(ProcStats& s, std::string_view text,
                  std::string_view file = "caches");

/// Parses a table file (volumes, cookies, objects, requests): every line
/// after the `====` rule is a row.
ProcTable parse_table(std::string_view text, std::string_view file);

/// Reads dir/stats (required: throws fsc::Error saying FS-Cache is absent
/// when dir or it is missing) and whichever of caches, volumes, cookies,
/// objects and requests dir has.
ProcStats read_proc_fscache(const std::string& dir);

/// The layout a parsed stats file has, from its banner and section names.
std::string detect_layout(const ProcStats& s);

/// The derived figures of s (by its layout).
StatsFigures derive_figures(const ProcStats& s);

/// One counter's change per second between two samples.
struct StatRate {
  std::string section, key;
  double per_second = 0;
};

/// Rates of every counter present in both samples, seconds apart (> 0). A
/// counter that went down (module reloaded) counts from zero.
std::vector<StatRate> stat_rates(const ProcStats& before,
                                 const ProcStats& after, double seconds);

/// The change per second of one figure, none when either sample lacks it.
std::optional<double> figure_rate(std::optional<std::int64_t> before,
                                  std::optional<std::int64_t> after,
                                  double seconds);

/// The fsc_fscache_* families of s: info, every stats counter (one series
/// per section and key), reads by source, per-cache volumes and objects,
/// cookies.
void stats_metrics(Metrics& m, const ProcStats& s);

} // namespace fsc::fscache
