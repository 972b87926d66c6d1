// daemon_config.hpp - cachefilesd.conf read as cachefilesd 0.10.10 and the
// kernel read it, and the kernel's free-space limits evaluated offline.
//
// cachefilesd consumes `culltable`, `nocull`, `resume_thresholds` and `bind`
// itself, remembers `dir`, and writes every other line verbatim to
// /dev/cachefiles, where the kernel parses and validates it. Both halves are
// reproduced here, including their quirks (checked against the 0.10.10 binary
// with a fake /dev/cachefiles):
//  - `nocull` and `resume_thresholds` are also written to the kernel, which
//    rejects them (EOPNOTSUPP): with either line cachefilesd does not start;
//  - an indented kernel directive is rejected (the kernel refuses commands
//    that begin with whitespace) while indented daemon directives work;
//  - trailing blanks are part of the value (`dir`, `tag`, `10% ` is invalid).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fsc::cachefiles {

/// One triple of percent limits (run > cull > stop), as set by
/// brun/bcull/bstop or frun/fcull/fstop. Defaults are the kernel's.
struct PercentLimits {
  unsigned run = 7;
  unsigned cull = 5;
  unsigned stop = 1;
  bool operator==(const PercentLimits&) const = default;
};

/// Empty when 0 <= stop < cull < run < 100, else why not ("bcull 8% is not
/// below brun 7%"); prefix names the triple ("b" or "f").
std::string check_limits(const PercentLimits& l, std::string_view prefix);

/// A finding tied to a line of the file.
struct ConfigDiagnostic {
  std::string file;
  unsigned line = 0;   ///< 1-based; 0 when about the file as a whole
  std::string message; ///< cachefilesd's wording where it has one
  int daemon_exit = 2; ///< cachefilesd's exit status for it (1 OS, 2 config)

  /// "file:line: message".
  std::string text() const;
};

/// The values a cachefilesd.conf sets, with defaults for the rest.
struct DaemonConfig {
  std::string file;               ///< path (or name) it was read from
  std::string dir;                ///< cache root; empty when not given
  std::string tag = "CacheFiles"; ///< kernel default tag
  std::string secctx;             ///< empty: the daemon's own context
  PercentLimits blocks;           ///< brun/bcull/bstop
  PercentLimits files;            ///< frun/fcull/fstop
  std::uint64_t debug_mask = 0;   ///< kernel module debug mask
  unsigned culltable_log2 = 12;   ///< cull table holds 2^N candidates
  bool nocull = false;            ///< culling disabled
  std::uint64_t resume_blocks = UINT64_MAX; ///< UINT64_MAX: "-" (disabled)
  std::uint64_t resume_files = 5;

  /// Directive name ("dir", "brun", ...) -> line that last set it.
  std::map<std::string, unsigned, std::less<>> set_on;

  /// Lines cachefilesd (or the kernel, through it) would refuse, in file
  /// order. cachefilesd stops at the first; fsc reads on so that one run
  /// shows them all, leaving a refused line's value unchanged.
  std::vector<ConfigDiagnostic> errors;

  /// Accepted lines that probably do not mean what they say (trailing
  /// blanks in a value, a second `culltable`).
  std::vector<ConfigDiagnostic> warnings;

  /// True when the file set this directive.
  bool from_file(std::string_view directive) const
  {
    return set_on.find(directive) != set_on.end();
  }
  /// Line that set the directive, 0 when it kept its default.
  unsigned line_of(std::string_view directive) const;
  std::size_t culltable_size() const
  {
    return std::size_t{1} << culltable_log2;
  }
  bool ok() const { return errors.empty(); }
};

struct ConfigReadOptions {
  /// stat() the `dir` like cachefilesd ("Can't confirm cache location").
  bool check_dir = true;
  /// Page size for the "Line too long" limit; 0: sysconf(_SC_PAGESIZE).
  unsigned page_size = 0;
};

/// Parses the text of a config file; file is used in diagnostics only.
DaemonConfig parse_daemon_config(std::string_view text, const std::string& file,
                                 const ConfigReadOptions& opt = {});

/// Reads and parses a config file (normally /etc/cachefilesd.conf).
/// Throws fsc::Error when the file cannot be read.
DaemonConfig read_daemon_config(const std::string& path,
                                const ConfigReadOptions& opt = {});

/// Default location of the config file.
inline constexpr const char* k_default_daemon_config = "/etc/cachefilesd.conf";

/// Where a cache lives when nothing says otherwise (cachefilesd's default).
inline constexpr const char* k_default_cache_dir = "/var/cache/fscache";

/// The config a verb works with: path when the user named it (an error when
/// unreadable), else the default file when it exists, else the defaults
/// (file left empty). dir is not checked: a copied-off cache need not be
/// where the config says. Refused lines are in .errors.
DaemonConfig load_daemon_config(const std::string& path, bool named);

/// The one rule for which cache a verb works on: the positional argument,
/// else --dir (or FSC_DIR), else the config's dir, else k_default_cache_dir.
std::string choose_cache_dir(const std::string& positional,
                             const std::string& dir_option,
                             const DaemonConfig& conf);

// --- The kernel's free-space limits --------------------------------------

/// Which kernel's arithmetic: v1 (before 5.17) counts blocks in pages when
/// the fs block is smaller than a page; v2 (5.17+) in fs blocks.
enum class KernelGen { v1, v2 };

/// The statfs numbers the kernel uses.
struct FsStats {
  std::uint64_t bsize = 0;  ///< f_bsize
  std::uint64_t blocks = 0; ///< f_blocks
  std::uint64_t bavail = 0; ///< f_bavail (free to unprivileged users)
  std::uint64_t files = 0;  ///< f_files
  std::uint64_t ffree = 0;  ///< f_ffree
};

/// fstatfs of an open fd into FsStats; errno on failure.
int fs_stats(int fd, FsStats& out);

/// The kernel's view at bind time and now, in its units.
struct Thresholds {
  std::uint64_t unit = 0; ///< bytes per block unit (page or fs block)
  std::uint64_t brun = 0, bcull = 0, bstop = 0; ///< in units
  std::uint64_t frun = 0, fcull = 0, fstop = 0; ///< in inodes
  std::uint64_t bavail = 0;                     ///< free blocks now, in units
  std::uint64_t ffree = 0;                      ///< free inodes now
};

/// Computes the limits as cachefiles_add_cache does (divide by 100 first,
/// then multiply by the percentage) and the free counts as
/// cachefiles_has_space sees them. page_size 0: sysconf(_SC_PAGESIZE).
Thresholds compute_thresholds(const PercentLimits& blocks,
                              const PercentLimits& files, const FsStats& st,
                              KernelGen gen, unsigned page_size = 0);

/// The kernel's culling decision for the current free counts.
enum class CullState {
  off,        ///< both free counts at or above run: culling is off
  hysteresis, ///< between cull and run: the kernel keeps its previous state
  cull,       ///< below a cull limit: culling is on
  stop,       ///< below a stop limit: culling on and allocations refused
};

/// "off", "hysteresis", "cull", "stop".
const char* cull_state_name(CullState s);

struct CullDecision {
  CullState state = CullState::off;
  bool blocks_low = false;         ///< bavail < bcull
  bool files_low = false;          ///< ffree < fcull
  std::uint64_t blocks_to_run = 0; ///< units to free to reach brun
  std::uint64_t files_to_run = 0;  ///< inodes to free to reach frun

  /// Culling would be on now with no history (hysteresis counts as off: a
  /// freshly bound cache starts with culling off).
  bool culling() const
  {
    return state == CullState::cull || state == CullState::stop;
  }
};

/// Evaluates the limits like cachefiles_has_space(cache, 0, 0).
CullDecision evaluate(const Thresholds& t);

} // namespace fsc::cachefiles
