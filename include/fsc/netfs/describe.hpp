// describe.hpp - what an object of the tree is, in its netfs's terms: the one
// decoding every verb shows (the xattr frame by format, the aux by netfs).
#pragma once

#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/error.hpp>
#include <fsc/netfs/netfs.hpp>

#include <optional>

namespace fsc::netfs {

/// The object n decoded: its role, label, key and aux fields. A key or aux
/// that does not fit the layout appears as an "error" / "aux error" field.
Decoded describe(const cachefiles::Node& n);

/// describe(n) without the copy: valid until the thread's next call (a scan
/// asks for each object's problems, then for its record).
const Decoded& described(const cachefiles::Node& n);

/// An NFS file object as a scan meets it nearly always: a name and xattr
/// frame that decode, and the 40-byte nfs_fscache_inode_auxdata. What
/// describe() would show, without building it (views of the node's bytes).
struct NfsFile {
  ByteView handle;
  NfsAux aux;
  std::optional<cachefiles::XattrV2View> frame; ///< v2 only
};

/// n as an NfsFile, or nullopt for anything else (another netfs or level, a
/// name or frame that does not decode, an aux of another size).
std::optional<NfsFile> nfs_file(const cachefiles::Node& n);

/// A data object whose aux does not fit its netfs's layout (a v1 NFS aux of
/// 1 byte, say): "bad-xattr", as the kernel's check_aux discards it.
std::optional<Problem> aux_problem(const cachefiles::Node& n);

/// Adds aux_problem() of e's object to e.problems.
void add_aux_problem(cachefiles::ScanEntry& e);

/// A sink that hands sink every entry with its aux problem added: the
/// on-disk scan cannot judge a netfs's aux, this layer can.
cachefiles::ScanSink with_aux_checks(cachefiles::ScanSink sink);

/// A --tree filter: labels from the top down, '/'-separated, the same for
/// both formats: the netfs ("nfs"), then each level (v1: server, superblock,
/// file; v2: volume, file). A part names a level by the first or second word
/// of its label ("127.0.0.1:2049", "fh", the file handle's hex), or the whole
/// label; "*" is any. "127.0.0.1" is not "127.0.0.1:2049" nor "127.0.0.10".
class TreeFilter {
public:
  explicit TreeFilter(const std::string& text);
  bool empty() const { return m_parts.empty(); }

  enum class Match {
    below, ///< on the filter's path or under it: shown
    above, ///< an ancestor of the path: shown so the tree reads from the top
    none,
  };
  /// Where n stands against the filter (its labels decoded once).
  Match match(const cachefiles::Node& n) const;

private:
  std::vector<std::string> m_parts;
  std::size_t matched(const std::vector<std::string>& path) const;
};

/// What an admin needs to know an object by: its server's (v1) or volume's
/// (v2) label, then its own ("127.0.0.1:2049 ... fh 01000601...").
std::string object_label(const cachefiles::Node& n);

/// The labels of n and its ancestors, top first, as TreeFilter reads them.
std::vector<std::string> label_path(const cachefiles::Node& n);

} // namespace fsc::netfs
