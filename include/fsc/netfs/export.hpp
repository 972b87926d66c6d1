// export.hpp - the origin files of cached NFS objects, found on the NFS
// server itself: each object's key is the knfsd file handle the server gave
// out, whose fsid names the export and whose fileid names the file. With
// CAP_DAC_READ_SEARCH the fileid is opened directly (open_by_handle_at);
// without it the export is walked once and indexed by inode and generation.
#pragma once

#include <fsc/bytes.hpp>
#include <fsc/fd.hpp>
#include <fsc/netfs/knfsd.hpp>
#include <fsc/netfs/verify.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <sys/types.h>

namespace fsc::netfs {

/// How an export's files are found from handles.
enum class ExportMethod {
  automatic,      ///< open_by_handle_at when permitted, else index
  open_by_handle, ///< open_by_handle_at on the export's filesystem
  index,          ///< one walk with name_to_handle_at, (ino, gen) → path
};

/// "open_by_handle_at", "index" ("auto" for automatic).
const char* export_method_name(ExportMethod m);

/// True when dir is on an NFS mount (statfs f_type NFS_SUPER_MAGIC), so that
/// --origin means a client mount; throws fsc::Error when it cannot be read.
bool is_nfs_mount(const std::string& dir);

/// A local export directory on the NFS server. Reads only (O_NOATIME).
class ExportOrigin : public OriginSource {
public:
  /// Opens dir (the directory named in /etc/exports) and works out its
  /// fsids; fsid is --fsid ("" when not given). With automatic, probes
  /// open_by_handle_at on dir itself. Throws fsc::Error when dir cannot be
  /// opened, or open_by_handle was asked for and is not permitted.
  ExportOrigin(const std::string& dir, ExportMethod method,
               const std::string& fsid = {});
  ~ExportOrigin() override;
  ExportOrigin(const ExportOrigin&) = delete;
  ExportOrigin& operator=(const ExportOrigin&) = delete;

  Located locate(ByteView key) override;
  std::string method() const override;

  /// The method chosen (never automatic).
  ExportMethod export_method() const { return m_method; }
  const ExportIdentity& identity() const { return m_id; }
  /// Files indexed so far (0 until the index is needed).
  std::size_t indexed_files() const
  {
    return m_by_ino.size() + m_by_raw.size();
  }

private:
  struct Entry {
    std::uint32_t gen = 0;
    std::string path;
  };
  // The reason the handle's fsid does not name this export, "" when it does.
  std::string fsid_mismatch(const KnfsdFh& fh) const;
  void build_index();
  void walk(int dirfd, const std::string& path);
  void enter(int dirfd, const char* name, const std::string& path);
  void index_file(int dirfd, const char* name, const std::string& path);
  Located by_handle(const KnfsdFh& fh);
  Located by_index(const KnfsdFh& fh);

  std::string m_dir; ///< absolute, symlinks resolved
  Fd m_fd;
  dev_t m_dev = 0;
  ExportIdentity m_id;
  ExportMethod m_method = ExportMethod::automatic;
  bool m_indexed = false;
  std::unordered_map<std::uint64_t, Entry> m_by_ino;
  std::unordered_map<std::string, std::string> m_by_raw; ///< type:hex → path
};

} // namespace fsc::netfs
