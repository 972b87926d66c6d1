// rebuild.hpp - from a 4.19 (or 5.10) kernel trace back to the netfs calls
// that produced it, as a replay scenario, plus what the trace says each
// cookie went through (object state transitions, cookie refcounts), so a
// replay of those calls through the engine can be compared with the kernel.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// A cookie life: from its fscache_acquire (or fscache_netfs) line on.
struct CookieLife {
  std::string ptr, def, parent; ///< parent: its handle
  std::uint64_t acquired = 0;   ///< the acquire line (0: before the trace)
  TypeShown type = TypeShown::unknown;
  std::optional<Evidence> index, data; ///< the first line of each kind
};

/// A rebuilt call: the trace line it comes from and the cookie it acts on.
struct Call {
  std::uint64_t line = 0;
  std::string cookie; ///< handle ("" for withdraw)
};

struct Rebuilt {
  std::string scenario;            ///< the calls, in the scenario language
  std::uint64_t lines = 0, events = 0, calls = 0;
  /// Cookie lives ("c<pointer>_<life>", the scenario's handles), in the
  /// order the scenario acquires them.
  std::vector<std::string> cookies;
  std::map<std::string, std::vector<Step>> steps; ///< per cookie life
  std::map<std::string, CookieLife> lives;        ///< per cookie life
  std::vector<Call> call_lines;    ///< per scenario line (line 1 first)
  std::string fsdef;               ///< the root index's life
  std::vector<std::string> notes;  ///< what could not be rebuilt
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

/// The first place where the engine's steps differ from the trace's.
struct Divergence {
  bool found = false;
  std::uint64_t line = 0;       ///< trace line of the differing step
  std::string cookie;           ///< trace pointer
  std::string trace_step, engine_step;
  std::uint64_t compared = 0;   ///< steps that matched before it
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
