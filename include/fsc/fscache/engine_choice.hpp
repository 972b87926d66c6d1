// engine_choice.hpp - which embedded engine replays on a cache directory:
// the one of the kernels that wrote it (v1: 4.19, v2: 6.1), or the one
// asked for; an empty or new directory gets 4.19 unless asked.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include <fsc/fscache/v2/types.hpp>

namespace fsc::fscache {

enum class EngineGen { v419, v61 };

/// "4.19" or "6.1".
const char* engine_name(EngineGen g);
/// "4.19" or "6.1" (also "4" and "6"); nullopt for anything else.
std::optional<EngineGen> parse_engine(std::string_view name);

struct EngineChoice {
  EngineGen gen = EngineGen::v419;
  std::string why; ///< "v2 cache", "--engine", "empty directory"
};

/// The engine for root: by its format, or `forced`. Refused (the message
/// says why) when forced contradicts the format or the format is mixed.
/// A root that is missing or holds no cache/ counts as new.
tl::expected<EngineChoice, std::string>
choose_engine(const std::string& root, std::optional<EngineGen> forced);

/// --unfix names the fixes of both engines; a run takes only its own.
/// Refused (naming the engine the fix belongs to, and the run's own fixes)
/// when one of `names` is not a fix of `gen`.
tl::expected<void, std::string>
check_unfix(const std::vector<std::string>& names, EngineGen gen);

/// The 6.1 engine's fixes with those named taken out (names already
/// checked with check_unfix(); others are ignored).
v2::Fixes v2_fixes_without(const std::vector<std::string>& names);

/// Every name --unfix takes: 4.19's, then 6.1's.
std::vector<std::string> unfix_names();

} // namespace fsc::fscache
