// describe.hpp - what an object of the tree is, in its netfs's terms: the one
// decoding every verb shows (the xattr frame by format, the aux by netfs).
#pragma once

#include <fsc/cachefiles/scan.hpp>
#include <fsc/error.hpp>
#include <fsc/netfs/netfs.hpp>

#include <optional>

namespace fsc::netfs {

/// The object n decoded: its role, label, key and aux fields. A key or aux
/// that does not fit the layout appears as an "error" / "aux error" field.
Decoded describe(const cachefiles::Node& n);

/// A data object whose aux does not fit its netfs's layout (a v1 NFS aux of
/// 1 byte, say): "bad-xattr", as the kernel's check_aux discards it.
std::optional<Problem> aux_problem(const cachefiles::Node& n);

/// Adds aux_problem() of e's object to e.problems.
void add_aux_problem(cachefiles::ScanEntry& e);

/// A sink that hands sink every entry with its aux problem added: the
/// on-disk scan cannot judge a netfs's aux, this layer can.
cachefiles::ScanSink with_aux_checks(cachefiles::ScanSink sink);

} // namespace fsc::netfs
