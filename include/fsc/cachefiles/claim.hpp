// claim.hpp - "may I change this cache?": the one answer every verb that
// writes (cull, verify --bury, replay --write) asks for.
#pragma once

#include <fsc/cachefiles/bound.hpp>
#include <fsc/cachefiles/lock.hpp>
#include <fsc/error.hpp>

#include <tl/expected.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace fsc::cachefiles {

struct ClaimOptions {
  std::string what = "change"; ///< the verb's deed, for messages ("cull")
  bool force = false;          ///< go on although a daemon has it bound
  bool dry_run = false;        ///< nothing will change: no lock, no refusal
  bool take_lock = true;       ///< false: only the binding check
  /// Wait this long for another fsc's lock (zero: forever); none: no wait.
  std::optional<std::chrono::seconds> wait;
  std::string config_dir; ///< the daemon config's dir, evidence of binding
};

/// A cache this process may change until the claim is dropped.
struct Claim {
  std::optional<CacheLock> lock; ///< empty for a dry run
  BindState binding;             ///< bound and forced: the caller warns
};

struct Refusal {
  enum class Kind { bound, busy } kind;
  std::string message;
};

/// Checks that no cache daemon has root bound (unless forced) and takes the
/// cache lock. Throws fsc::Error only when root cannot be opened.
tl::expected<Claim, Refusal> claim_cache(const std::string& root,
                                         const ClaimOptions& opt);

/// Throws the refusal as fsc::Refused, which main() maps to its exit code
/// (busy: 75, bound: 2).
[[noreturn]] void raise(const Refusal& r);

} // namespace fsc::cachefiles
