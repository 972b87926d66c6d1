// format.hpp - human-readable sizes, times and hex for text output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fsc/bytes.hpp>

namespace fsc {

/// Binary-unit size: "0 B", "512 B", "1.5 KiB", "3.0 GiB".
std::string human_size(std::uint64_t bytes);

/// UTC ISO 8601 with nanoseconds trimmed to what is non-zero:
/// "2024-01-02T03:04:05Z" or "2024-01-02T03:04:05.5Z".
std::string iso_time(std::int64_t ns_since_epoch);

/// Room for iso_time() without an allocation (years 0-9999; others, as
/// gmtime_r prints them, go to `rare`).
struct IsoTimeBuf {
  char text[32];
  std::string rare;
};

/// Writes v (below 10^9) as exactly nine digits; returns the end.
char* nine_digits(char* out, std::uint32_t v);

/// Writes v in decimal (at most 20 digits, no sign); returns the end. What
/// std::to_chars writes, in fewer steps: the numbers of every JSON record.
char* decimal(char* out, std::uint64_t v);

/// iso_time() written into buf: the text stays valid while buf does (a
/// scan prints several times an object, and each string was a malloc).
std::string_view iso_time(std::int64_t ns_since_epoch, IsoTimeBuf& buf);

/// Whole-second UTC ISO 8601 ("2024-01-02T03:04:05Z").
std::string iso_time_s(std::int64_t sec);

/// Age as the largest fitting unit: "42s", "5m", "3h", "12d".
std::string human_age(std::int64_t seconds);

/// Hex with a space every 4 bytes, for dumps in text output.
std::string spaced_hex(ByteView b);

/// Escapes a file name (bytes) for text output: non-printable bytes as \xNN.
std::string printable_name(std::string_view name);

} // namespace fsc
