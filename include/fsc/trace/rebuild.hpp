// rebuild.hpp - from a 4.19 (or 5.10) kernel trace back to the netfs calls
// that produced it, as a replay scenario, plus what the trace says each
// cookie went through (object state transitions, cookie refcounts), so a
// replay of those calls through the engine can be compared with the kernel.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fsc/fscache/engine.hpp>
#include <fsc/fscache/observer.hpp>

namespace fsc::trace {

/// One comparable step of a cookie's life: "osm ?INI WAIT ev=0",
/// "ref GET obj u=2".
struct Step {
  std::uint64_t line = 0; ///< in the trace (0 for engine steps)
  std::string what;
};

/// What the trace shows of a cookie's type. 4.19's tracepoints print no
/// type field: it is read from what only one type can do (see
/// rebuild.cpp); never from a definition's name.
enum class TypeShown : std::uint8_t { unknown, index, data, conflict };
std::string_view type_shown_name(TypeShown t);

/// A trace line that shows a cookie's type, and why it does.
struct Evidence {
  std::uint64_t line = 0;
  std::string text; ///< the trace line as read
  std::string why;
};

/// One object (or operation) of a cookie life, as the trace shows it: the
/// lines of what its work items did, in order.
struct TraceObject {
  std::string ptr;
  std::vector<std::uint64_t> steps;    ///< fscache_osm (an op's "Work")
  std::vector<std::uint64_t> drop_obj; ///< cachefiles_ref PUT drop_obj
  std::vector<std::uint64_t> put_work; ///< cachefiles_ref PUT work
  std::vector<std::uint64_t> queued;   ///< cachefiles_ref GET queue
  /// cachefiles_mark_inactive: DROP_OBJECT let its file go, just before
  /// releasing its parent (fscache_drop_object())
  std::vector<std::uint64_t> inactive;
  std::vector<std::uint64_t> waits; ///< the steps of `steps` that wait
};

/// A cookie life: from its fscache_acquire (or fscache_netfs) line on.
struct CookieLife {
  std::string ptr, def, parent; ///< parent: its handle
  std::uint64_t acquired = 0;   ///< the acquire line (0: before the trace)
  /// The object size the netfs gave, to a page, as far as its writes show
  /// it: the largest fscache_gang_lookup sl= (pages), at least one past
  /// the last page written (fscache_wrote_page ret=0); 0 if none.
  std::uint64_t store_limit = 0;
  TypeShown type = TypeShown::unknown;
  std::optional<Evidence> index, data; ///< the first line of each kind
  std::vector<TraceObject> objects, ops;
};

/// A rebuilt call: the trace line it comes from and the cookie it acts on.
struct Call {
  std::uint64_t line = 0;
  std::string cookie; ///< handle ("" for withdraw)
};

struct Rebuilt {
  std::string scenario; ///< the calls, in the scenario language
  std::uint64_t lines = 0, events = 0, calls = 0;
  /// Cookie lives ("c<pointer>_<life>", the scenario's handles), in the
  /// order the scenario acquires them.
  std::vector<std::string> cookies;
  std::map<std::string, std::vector<Step>> steps; ///< per cookie life
  std::map<std::string, CookieLife> lives;        ///< per cookie life
  std::vector<Call> call_lines;   ///< per scenario line (line 1 first)
  std::string fsdef;              ///< the root index's life
  int cpus = 1;                   ///< CPUs the trace shows
  std::vector<std::string> notes; ///< what could not be rebuilt
  /// Lines of a put printed after another task's later put of the same
  /// cookie (a preempted task: 5.10's umount printed `PUT rlq u=1` 621 us
  /// after the worker's `PUT obj u=0`): its step is compared in the place
  /// its count shows, and the call making it may run before that put.
  std::set<std::uint64_t> late_puts;
  std::string truncated; ///< why the trace ended early ("" if it did not)
};

/// Reads the trace (plain, .gz, .xz or "-") and rebuilds the calls. Throws
/// fsc::Error when it cannot be read or holds no 4.19-format fscache events.
Rebuilt rebuild_from_trace(const std::string& path);

/// Records the same steps from the engine, per cookie, in acquire order.
class StepRecorder : public fscache::Observer {
public:
  std::vector<std::uint64_t> cookies; ///< engine addresses, acquire order
  std::map<std::uint64_t, std::vector<Step>> steps;

  void netfs(std::uint64_t c, std::string_view) override;
  void acquire(std::uint64_t c, const fscache::CookieSnap&,
               std::string_view) override;
  void cookie(fscache::CookieTrace, const fscache::CookieSnap&) override;
  void osm(std::uint64_t c, std::uint64_t o, fscache::ObjState, bool wait,
           bool oob, int event) override;
};

/// Runs the engine in the order the trace shows: at each choice, what the
/// kernel did first (by the line of the next event it makes for its
/// object or cookie) runs first, and an object's work item may stop between
/// two of its steps while another object's runs, as when two kernel
/// workers ran them on two CPUs. Work whose next event comes after the
/// next netfs call waits for it. Add it to the observers of the same run.
class TraceGuide final : public fscache::Observer, public fscache::Scheduler {
public:
  TraceGuide(const Rebuilt& trace, std::uint64_t engine_fsdef);

  /// fscache_object_max_active for the traced machine: its CPU count
  /// clamped to at least 4 (fs/fscache/main.c).
  int max_active() const;

  std::size_t pick(const std::vector<fscache::Runnable>& ready) override;
  void next_call(int tag) override;

  void netfs(std::uint64_t c, std::string_view) override;
  void acquire(std::uint64_t c, const fscache::CookieSnap&,
               std::string_view) override;
  void cookie(fscache::CookieTrace, const fscache::CookieSnap&) override;
  void osm(std::uint64_t c, std::uint64_t o, fscache::ObjState, bool, bool,
           int) override;
  void obj_ref(std::uint64_t c, std::uint64_t o, int,
               fscache::ObjRefTrace) override;
  void op(std::uint64_t c, std::uint64_t op, fscache::OpTrace) override;

private:
  struct Obj {
    const TraceObject* trace = nullptr;
    std::uint64_t cookie = 0; ///< the engine's
    std::size_t steps = 0, drops = 0, puts = 0, queues = 0; ///< so far
  };
  struct Cookie {
    std::string handle;
    std::size_t objects = 0, ops = 0, refs = 0; ///< seen so far
  };
  Obj& object(std::uint64_t c, std::uint64_t o, bool op);
  std::uint64_t release_line(const Obj& ob) const;
  const Obj* parent_of(const Obj& ob) const;
  std::uint64_t key(const fscache::Runnable& r) const;

  const Rebuilt& m_trace;
  std::uint64_t m_fsdef;
  std::size_t m_acquired = 0;
  std::map<std::uint64_t, Cookie> m_cookies;
  std::map<std::uint64_t, std::uint64_t> m_parent; ///< cookie → its parent
  std::map<std::uint64_t, Obj> m_objects, m_ops;
  std::map<std::string, std::vector<std::uint64_t>> m_ref_lines;
  std::uint64_t m_horizon = std::numeric_limits<std::uint64_t>::max();
};

/// The first place where the engine's steps differ from the trace's.
struct Divergence {
  bool found = false;
  std::uint64_t line = 0;     ///< trace line of the differing step
  std::uint64_t previous = 0; ///< the cookie's last matching step's line
  std::string cookie;         ///< trace pointer
  std::string trace_step, engine_step;
  std::uint64_t compared = 0; ///< steps that matched before it
};

/// Compares per cookie (mapped by acquire order), in trace line order.
/// The root index's refcounts are skipped: they are anchored by untraced
/// references (spec v1-engine §2.5).
Divergence compare_steps(const Rebuilt& trace, const StepRecorder& engine,
                         std::uint64_t engine_fsdef);

/// Lines first..last of a trace file (for the divergence's context).
std::vector<std::string> trace_lines(const std::string& path,
                                     std::uint64_t first, std::uint64_t last);

/// Specific lines of a trace file, by number (for evidence quoted later).
std::map<std::uint64_t, std::string>
trace_lines_at(const std::string& path,
               const std::vector<std::uint64_t>& numbers);

} // namespace fsc::trace
