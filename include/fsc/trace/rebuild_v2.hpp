// rebuild_v2.hpp - from a 6.1 (or 6.12) kernel trace back to the netfs
// calls that produced it, and their replay through the 6.1 engine
// (fscache::v2) with a per-cookie comparison of what both printed: the
// state lines and every count (docs/engine-v2.md §8, "Replay of a 6.x
// trace"). The 4.19/5.10 counterpart is rebuild.hpp.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/trace/refs.hpp>

namespace fsc::trace {

/// Which kernel wrote the trace at `path`, from its first fscache line
/// (6.x prints 8-digit debug ids and counts as r=; 4.19 pointers) and,
/// for 6.12, its netfs library events. Gen::unknown when it has none.
Gen trace_generation(const std::string& path);

/// A netfs call (or a cache event the daemon caused) read back from the
/// trace line that shows it.
struct V2Call {
  enum Kind : std::uint8_t {
    add_cache,         ///< fscache_access_cache PIN (bind done)
    withdraw_cache,    ///< fscache_access_cache UNPIN (daemon gone)
    acquire_volume,    ///< fscache_volume NEW acq
    relinquish_volume, ///< fscache_volume PUT relnq
    // From here on, calls on a cookie (rebuild_v2.cpp relies on it).
    acquire_cookie, ///< fscache_cookie NEW acq
    use,            ///< fscache_active USE / USE-m
    unuse,          ///< fscache_active UNUSE
    relinquish,     ///< fscache_relinquish
    invalidate,     ///< fscache_invalidate
    resize,         ///< fscache_resize
    begin_read,     ///< fscache_access BEGIN io_read
    begin_write,    ///< fscache_access BEGIN io_writ
    read,           ///< cachefiles_ref GET ioreq + cachefiles_read
    write,          ///< cachefiles_ref GET ioreq + cachefiles_write
    complete_write, ///< cachefiles_ref PUT ioreq (of a write or a read)
    end_operation,  ///< fscache_access END io (not of a resize)
    /// fscache_cookie PUT relnq, a call apart from its relinquish (whose
    /// put_later is set) when printed after the worker started the
    /// withdrawal the relinquish queued.
    put_relinquished,
    /// fscache_cookie PUT lru of the LRU worker, printed after another
    /// worker started the withdrawal it queued (see lru_put_split).
    put_lru,
  } kind = add_cache;
  std::uint64_t line = 0;
  int pid = 0;
  std::int64_t ts_ns = 0;
  std::uint32_t id = 0;     ///< the cookie's c= or the volume's V=
  std::uint32_t volume = 0; ///< acquire_cookie: its V=
  std::uint32_t twin = 0;   ///< acquire: an earlier c=/V= of the same key
  bool flag = false; ///< use: will_modify; relinquish: retire; invalidate:
                     ///< DIO_WRITE
  bool put_later = false; ///< relinquish: its put is a call of its own
  std::uint64_t size = 0, pos = 0, len = 0;
  /// The first line after this one printed with a later timestamp.
  std::uint64_t tie_end = 0;
  /// Printed late: `line` is then the other task's line it ran before.
  bool ran_before = false;
};

/// One line the comparison looks at, as the kernel printed it.
struct V2Step {
  std::uint64_t line = 0;
  int pid = 0;
  std::int64_t ts_ns = 0;
  std::string text; ///< "event: body"
  /// Printed late: the count it shows was changed before lines of other
  /// tasks printed ahead of it (a task stopped between a change and its
  /// trace line, as vCPUs of an emulated guest are); its call runs where
  /// the counts say, and it may match ahead of those lines.
  bool late = false;
  /// How much later than the line it preceded it was printed: it may
  /// match ahead of other tasks' lines printed that much before it.
  std::int64_t late_ns = 0;
};

struct V2Rebuilt {
  Gen gen = Gen::unknown;
  std::uint64_t lines = 0, events = 0;
  std::vector<V2Call> calls; ///< in trace order
  /// Compared lines per thing: "C=00000001", "V=00000001", "c=00000002".
  std::map<std::string, std::vector<V2Step>> steps;
  /// Cookies whose first lookup found a file, and what its coherency
  /// check said ("OK", "BAD aux", ...): the replay puts such a file there.
  std::map<std::uint32_t, std::string> found;
  /// Objects (o=) whose lookup went negative and failed before a tmpfile
  /// was made: CacheFiles found no space (cachefiles_has_space() below
  /// bstop, as a full cache disk is); the trace does not say why, so the
  /// replay makes that step fail.
  std::set<std::uint32_t> no_space;
  /// Volumes (V=) whose n-th creation (1 = the first) ended with no PIN
  /// cache: CacheFiles could not make its directories (a full disk).
  std::map<std::uint32_t, std::set<unsigned>> volume_failed;
  /// Per cookie, its objects' o= in the order they were made.
  std::map<std::uint32_t, std::vector<std::uint32_t>> objects;
  std::uint64_t cookies = 0, volumes = 0; ///< acquired in the trace
  /// False when the cache was bound before the trace began: its counts
  /// rest on what the trace does not show.
  bool cache_compared = true;
  /// Lines where each work item starts, per "c="/"V=" thing, and the LRU
  /// worker's, for running queued work in the trace's order.
  std::map<std::string, std::vector<std::uint64_t>> work_starts;
  std::vector<std::uint64_t> lru_starts;
  std::vector<std::int64_t> lru_start_ts; ///< each lru_starts line's time
  std::vector<std::uint32_t> lru_cookies; ///< each lru_starts line's c=
  /// The LRU worker's GQ endac lines whose PUT lru is a call of its own
  /// (V2Call::put_lru): another worker began the withdrawal before it.
  std::set<std::uint64_t> lru_put_split;
  /// Every line of a cookie, compared or not (the backing filesystem's
  /// cachefiles_* lines of its objects, by o=), and of a volume, with its
  /// task and event: where a task the engine stops at a preemption point
  /// (letting calls and other work items in) stands in the trace.
  struct Mark {
    std::uint64_t line = 0;
    int pid = 0;
    std::string event;
  };
  std::map<std::string, std::vector<Mark>> marks;
  /// Per task, its lines that print a volume's or the cache's counts
  /// (fscache_volume, fscache_access_volume, fscache_cache,
  /// fscache_access_cache), which other things' work items share.
  std::map<int, std::vector<std::uint64_t>> shared;
  std::vector<std::string> notes; ///< "FILE:LINE: what was not rebuilt"
  /// Lines printed late and the line their call ran at ("15944->15943").
  std::vector<std::string> late;
  /// Every line printed late (a call's or a worker's), and the line
  /// before which it happened.
  std::map<std::uint64_t, std::uint64_t> ran_at;
  std::uint64_t malformed = 0;    ///< lines that are no trace line
  /// The trace ends inside the call printed at this line (a GET ioreq
  /// whose write it no longer shows): lines from it on are not compared.
  std::uint64_t cut_at = 0;
  std::string truncated; ///< why the trace ended early ("" if it did not)
};

/// Reads a 6.1/6.12 trace (plain, .gz, .xz or "-"; ftrace text or
/// trace-cmd report) and rebuilds the calls. Throws fsc::Error when it
/// cannot be read or holds no 6.x fscache event.
V2Rebuilt rebuild_v2(const std::string& path);

/// The thing a 6.x line is compared under ("c=00000002", "V=00000001",
/// "C=00000001"), or "" for lines not compared (the backing filesystem's).
std::string v2_thing_of(std::string_view event, std::string_view body);

/// The first place where the engine printed something else than the
/// kernel for one cookie (volume, cache).
struct V2Divergence {
  bool found = false;
  std::uint64_t line = 0;     ///< trace line of the kernel's step
  std::uint64_t previous = 0; ///< the thing's last matching line (0: none)
  std::string thing;          ///< "c=00000009"
  std::string trace_step, engine_step; ///< "" when one side has no more
  /// 6.12 only: the step lies where 6.12 is known to differ from the 6.1
  /// the engine models (docs/engine-v2.md §6.2); why, else "".
  std::string modelled;
};

struct V2Replay {
  V2Divergence d;
  std::uint64_t compared = 0; ///< steps that matched
  std::uint64_t things = 0;   ///< cookies, volumes and caches compared
  /// Things whose work item the trace's end cut short: what the engine
  /// printed past the trace's last line of them ("c=00000002 after line
  /// 2636: 12 lines").
  std::vector<std::string> cut;
  unsigned orders = 1; ///< call orders tried (see replay_v2)
  /// Calls of two CPUs run in the other order than the trace prints them
  /// (equal timestamps): "LINE<->LINE".
  std::vector<std::string> reordered;
  std::vector<std::string> printk, findings; ///< what the engine reported
};

/// Replays the calls through the 6.1 engine on its in-memory backend.
/// Without a seed, queued work items run where the trace shows them start
/// (a scheduler that follows the trace); calls of two CPUs printed with
/// the same timestamp may run in either order: when the first order
/// diverges there, the other is tried. With a seed, the engine's own
/// seeded order runs the work between calls instead. With trace_to, the
/// engine's lines of the chosen order are written there as 6.1 text.
V2Replay replay_v2(const V2Rebuilt& trace, std::optional<std::uint64_t> seed,
                   std::FILE* trace_to = nullptr);

} // namespace fsc::trace
