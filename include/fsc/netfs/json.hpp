// json.hpp - the one JSON rendering of decoded objects and verdicts, used by
// every verb that shows them (fsc-json(7) lists the fields).
#pragma once

#include <fsc/cachefiles/scan.hpp>
#include <fsc/json.hpp>
#include <fsc/netfs/netfs.hpp>
#include <fsc/netfs/verify.hpp>

namespace fsc::netfs {

/// "key": {...}, "aux": {...}: quantities as numbers, the rest as text.
void decoded_fields(JsonWriter& j, const Decoded& d);

/// An entry of the tree: path, kind, decoded key/aux, stat, problems.
/// An NFS file is written straight from its bytes (nfs_file()), unless
/// via_describe: the same text through describe(), which a test compares.
void entry_fields(JsonWriter& j, const cachefiles::ScanEntry& e,
                  bool via_describe = false);

/// "label": the object's decoded label with its server or volume's.
void label_field(JsonWriter& j, const cachefiles::Node* n);

/// verify's verdict on one object; method says how origins were found.
void verdict_fields(JsonWriter& j, const ObjectVerdict& v,
                    const std::string& method);

} // namespace fsc::netfs
