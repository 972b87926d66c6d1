// units.hpp - parsing ages ("30d"), sizes ("10G") and percentages ("7%").
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace fsc {

/// "90s", "15m", "12h", "30d", "2w"; a bare number is seconds.
/// Throws fsc::Error on anything else.
std::chrono::seconds parse_age(std::string_view s);

/// "4096", "10K", "1.5G", "2TiB" (binary units, case-insensitive, optional
/// "B"/"iB"). Throws fsc::Error on anything else.
std::uint64_t parse_size(std::string_view s);

/// "7%" or "7" → 7; 0..100 only. Throws fsc::Error on anything else.
unsigned parse_percent(std::string_view s);

} // namespace fsc
