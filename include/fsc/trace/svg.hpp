// svg.hpp - a refcount-over-time plot, readable in any browser.
#pragma once

#include <fsc/trace/refs.hpp>

#include <string>
#include <vector>

namespace fsc::trace {

/// Writes a step plot of the counts in `timeline` against time, with the
/// findings that fall on its lines marked; throws fsc::Error on write errors.
void write_refs_svg(const std::string& path, const std::string& title,
                    const std::vector<TimelineEntry>& timeline,
                    const std::vector<Finding>& findings);

} // namespace fsc::trace
