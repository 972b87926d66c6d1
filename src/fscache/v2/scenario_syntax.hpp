// scenario_syntax.hpp - the 6.1 dialect's table of calls and the names its
// `expect` lines use, shared by the parser and the runner (not installed).
#pragma once

#include "../scenario_syntax.hpp"

#include <fsc/fscache/v2/scenario.hpp>

#include <map>
#include <optional>
#include <string>

namespace fsc::fscache::v2 {

/// The call in w from word `from` on, checked against the 6.1 grammar;
/// throws fsc::Error at the first word that does not fit.
fscache::Parsed split_v2_call(const std::vector<fscache::Word>& w,
                              std::size_t from, const std::string& file,
                              int line);

/// A cookie state by the name state_name() gives ("ACTIVE", ...).
std::optional<CookieState> parse_cookie_state(const std::string& s);
/// A cache state: NOT_PRESENT, PREPARING, ACTIVE, GOT_IOERROR, WITHDRAWN.
std::optional<CacheState> parse_cache_state(const std::string& s);
std::string cache_state_name(CacheState s);
/// The bits of cookie->flags by name ("HAVE_DATA", ...).
const std::map<std::string, unsigned>& cookie_flag_names();
/// "10s", "500ms", "20ns", "3" (seconds) as nanoseconds.
std::optional<std::uint64_t> parse_duration(const std::string& s);
/// A counter of Stats by its name ("acquire_n", "lru_exp", ...).
std::optional<long> stat_by_name(const Stats& st, const std::string& name);

} // namespace fsc::fscache::v2
