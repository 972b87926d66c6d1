// refs.hpp - refcount histories of FS-Cache cookies and CacheFiles objects
// from a kernel trace (4.19/5.10, 6.1 or 6.12 formats), and of 6.12's netfs
// read/write requests and subrequests, with findings: over-puts, leaks, use
// after free, objects outliving their cookie, and histories that lost events
// make unknowable. Memory grows with the cookies seen, not with the lines
// read.
#pragma once

#include <fsc/trace/trace.hpp>

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fsc::trace {

/// Which kernel wrote the trace (decides what a printed count means).
/// v612: 6.1's fscache/cachefiles formats plus the netfs library's events.
enum class Gen { unknown, v419, v61, v612 };
const char* gen_name(Gen g);

/// One life of one counter: a cookie (c=), a cache object (o=), a 6.1
/// volume (V=), a 6.12 netfs request (R=) or subrequest (R=id[n]). A
/// pointer the kernel reuses after a free starts a new life.
struct Life {
  char type = 'c';        ///< 'c' cookie, 'o' object, 'V' volume, 'R' request,
                          ///< 'S' subrequest
  std::string id;         ///< as printed without leading zeros: "2", "2[1]"
  std::string cookie;     ///< objects, requests, subrequests: their cookie's id
  std::uint32_t life = 1; ///< 1 for the first life of this id
  std::int64_t count = 0; ///< after the last event
  std::int64_t first_ns = 0, last_ns = 0;
  std::uint64_t first_line = 0, last_line = 0;
  std::uint64_t events = 0;
  bool relinquished = false; ///< cookies: fscache_relinquish seen
  bool freed = false;        ///< the count reached 0
  bool unknowable = false;   ///< lost events happened while it was alive
                             ///< (named in an "unverifiable" finding)
  bool partial = false;      ///< a cookie first seen after its acquire
  /// Requests, subrequests: the line of the kernel's FREE of a life whose
  /// count never reached 0 in the trace (a put missing), else 0.
  std::uint64_t free_line = 0;
  std::map<std::string, std::uint64_t> reasons; ///< "GET obj" → times
};

struct Finding {
  std::string kind; ///< over-put, leak, use-after-free, count-jump,
                    ///< unverifiable(-clean), lost-events, ...
  std::string id;   ///< "c=2", "o=ffff91ce827b1200"
  std::int64_t ts_ns = 0;
  std::uint64_t line = 0;
  std::string message;
};

/// TimelineEntry::count of an event that changes no counter.
inline constexpr std::int64_t k_no_count = INT64_MIN;

/// One event of a chosen cookie or object, for --cookie / --object.
struct TimelineEntry {
  std::int64_t ts_ns = 0;
  std::uint64_t line = 0;
  int cpu = 0;
  std::string task; ///< "cat-222"
  std::string event;
  std::string body;
  std::int64_t count = k_no_count; ///< the counter after this event
};

struct RefsOptions {
  std::string cookie;      ///< timeline of this cookie (its objects, requests)
  std::string object;      ///< timeline of this object
  std::string request;     ///< timeline of this netfs request (R=)
  bool keep_lives = false; ///< report every ended life (else only totals,
                           ///< live ones and those with findings)
  /// CPU reordering window: lines printed up to this late are put back
  /// (spec §0.6 saw 54 µs on hardware; a kernel under QEMU printed a put
  /// 4 ms late, 12 ms on a busy host, docs/kernel-tests.md: a descheduled
  /// vCPU, as in any VM).
  std::int64_t reorder_ns = 20000000;
};

/// Where an input ended early (a compressed trace cut short).
struct Cut {
  std::string file;
  std::uint64_t after_line = 0; ///< the file's last whole line
  std::string why;              ///< "unexpected end of the xz data"
};

struct RefsReport {
  Gen gen = Gen::unknown;
  std::uint64_t lines = 0, events = 0, fscache_events = 0, unknown_events = 0;
  std::uint64_t malformed = 0, lost_markers = 0, lost_events = 0;
  std::vector<Life> lives; ///< see RefsOptions::keep_lives
  struct Totals {
    std::uint64_t lives = 0, freed = 0, relinquished = 0, alive = 0;
  };
  Totals cookies, objects, volumes, requests, subrequests;
  std::vector<Finding> findings;
  std::vector<TimelineEntry> timeline;
  std::map<std::string, std::uint64_t> unknown; ///< event name → count
  std::vector<Cut> cuts;                        ///< inputs that ended early
  /// With RefsOptions::cookie/object/request: a line named it. When not,
  /// and the id is one of another kind ('c', 'o', 'V', 'R'), target_other
  /// says which.
  bool target_found = false;
  char target_other = 0;
  /// Some input was not read to its end: the verdicts cover what was.
  bool incomplete() const { return !cuts.empty(); }
};

/// Strips "0x" and leading zeros so that ids compare as the user types them.
std::string normal_id(std::string_view id);

/// The value of an id printed in hex ("ffff91ce827b1200", "00000002",
/// "0x1f"; any case, any leading zeros), or nothing for an id that is not
/// hex or does not fit 64 bits ("(null)", "(nil)", "", "0x"). Two hex ids
/// have the same value exactly when their normal_id() texts are equal.
std::optional<std::uint64_t> parse_hex_id(std::string_view id);

class RefsAnalyzer {
public:
  explicit RefsAnalyzer(RefsOptions opt);
  ~RefsAnalyzer();
  RefsAnalyzer(const RefsAnalyzer&) = delete;
  RefsAnalyzer& operator=(const RefsAnalyzer&) = delete;

  /// Feeds one input line (line numbers count from 1, across files).
  void feed(std::string_view text, std::uint64_t lineno);
  /// The input `file` ended early after its line `file_line` (line `lineno`
  /// across files): the histories alive there cannot be checked.
  void cut(std::string file, std::uint64_t file_line, std::uint64_t lineno,
           std::string why);
  /// Lines so far that were trace events or lost-events markers, and lines
  /// that were neither (nor blank, nor comments).
  std::uint64_t recognised() const;
  std::uint64_t malformed() const;
  RefsReport finish();

  struct State; ///< the histories being built (defined in refs.cpp)

private:
  std::unique_ptr<State> m_s;
};

} // namespace fsc::trace
