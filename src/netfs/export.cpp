// export.cpp - origin files on the NFS server, from knfsd file handles.
#include <fsc/netfs/export.hpp>

#include <fsc/error.hpp>
#include <fsc/fd.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace fsc::netfs {

namespace {

constexpr long k_nfs_magic = 0x6969;

struct HandleBuf {
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  file_handle* fh() { return reinterpret_cast<file_handle*>(buf); }
};

// Opens without moving atime where the kernel lets us (owner or
// CAP_FOWNER), else plainly: reading a directory would otherwise touch it.
int open_noatime(int dirfd, const char* name, int flags)
{
  int fd = openat(dirfd, name, flags | O_NOATIME | O_CLOEXEC);
  if (fd < 0 && errno == EPERM)
    fd = openat(dirfd, name, flags | O_CLOEXEC);
  return fd;
}

// 16-byte UUIDs of the block device dev, from udev's /dev/disk/by-uuid
// (the UUID libblkid reads, which rpc.mountd hands knfsd by default).
std::vector<Bytes> device_uuids(dev_t dev)
{
  std::vector<Bytes> out;
  const std::string dir = "/dev/disk/by-uuid";
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return out;
  for (const DirEntry& e : DirReader(fd.get())) {
    struct stat st;
    if (e.name[0] == '.' || fstatat(fd.get(), e.name, &st, 0) != 0 ||
        !S_ISBLK(st.st_mode) || st.st_rdev != dev)
      continue;
    std::string digits;
    for (const char* p = e.name; *p; ++p)
      if (*p != '-')
        digits += *p;
    Bytes u;
    if (digits.size() == 32 && from_hex(digits, u))
      out.push_back(u);
  }
  return out;
}

std::string fileid_text(const KnfsdFh& fh)
{
  if (auto f = decode_fileid(fh.fileid_type, fh.fileid))
    return fmt::format("inode {} generation {}", f->ino, f->gen);
  return fmt::format("{} {}", knfsd_fileid_type_name(fh.fileid_type),
                     to_hex(fh.fileid));
}

std::string raw_key(unsigned type, ByteView fileid)
{
  return fmt::format("{:02x}:{}", type, to_hex(fileid));
}

} // namespace

const char* export_method_name(ExportMethod m)
{
  switch (m) {
  case ExportMethod::automatic:
    return "auto";
  case ExportMethod::open_by_handle:
    return "open_by_handle_at";
  case ExportMethod::index:
    return "index";
  }
  return "?";
}

bool is_nfs_mount(const std::string& dir)
{
  struct statfs sf;
  if (statfs(dir.c_str(), &sf) != 0)
    throw_sys("cannot open origin", dir, errno);
  return sf.f_type == k_nfs_magic;
}

ExportOrigin::ExportOrigin(const std::string& dir, ExportMethod method,
                           const std::string& fsid)
{
  char real[PATH_MAX];
  if (!realpath(dir.c_str(), real))
    throw_sys("cannot open origin", dir, errno);
  m_dir = real;
  m_fd.reset(open_noatime(AT_FDCWD, m_dir.c_str(), O_RDONLY | O_DIRECTORY));
  if (!m_fd)
    throw_sys("cannot open origin", dir, errno);
  struct stat st;
  if (fstat(m_fd.get(), &st) != 0)
    throw_sys("cannot stat origin", dir, errno);
  m_dev = st.st_dev;
  m_id.dev_major = major(st.st_dev);
  m_id.dev_minor = minor(st.st_dev);
  m_id.root_ino = st.st_ino;
  if (!fsid.empty() && !parse_export_fsid(fsid, m_id))
    throw Error("--fsid '" + fsid +
                "': expected the export's fsid= number "
                "or a UUID");
  for (auto& u : device_uuids(st.st_dev))
    m_id.uuids.push_back(u);

  // The export directory's own handle: proves the filesystem makes handles
  // and, opened again, that this process may open by handle.
  HandleBuf h;
  h.fh()->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(m_fd.get(), "", h.fh(), &mount_id, AT_EMPTY_PATH) != 0)
    throw_sys("cannot get file handles in", m_dir, errno);
  m_method = method;
  if (method != ExportMethod::index) {
    if (Fd(open_by_handle_at(m_fd.get(), h.fh(), O_PATH | O_CLOEXEC))) {
      m_method = ExportMethod::open_by_handle;
    } else if (method == ExportMethod::open_by_handle) {
      throw Error(sys_message("cannot open files by handle in", m_dir, errno) +
                  " (open_by_handle_at needs CAP_DAC_READ_SEARCH)");
    } else {
      m_method = ExportMethod::index;
    }
  }
}

ExportOrigin::~ExportOrigin() = default;

std::string ExportOrigin::method() const
{
  return export_method_name(m_method);
}

std::string ExportOrigin::fsid_mismatch(const KnfsdFh& fh) const
{
  auto want = make_knfsd_fsid(m_id, fh.fsid_type);
  for (auto& w : want)
    if (w == fh.fsid)
      return {};
  std::string have = describe_knfsd_fsid(fh.fsid_type, fh.fsid);
  if (want.empty() && fh.fsid_type == fsid_num)
    return fmt::format("the handle names its export by {} (/etc/exports): "
                       "give --fsid to check that it is {}",
                       have, m_dir);
  if (want.empty())
    return fmt::format("the handle names its export by {}; no UUID is known "
                       "for the filesystem of {}: give --fsid UUID",
                       have, m_dir);
  return fmt::format("the handle is from another export or filesystem: its "
                     "fsid names {}, {} is {}",
                     have, m_dir, describe_knfsd_fsid(fh.fsid_type, want[0]));
}

Located ExportOrigin::locate(ByteView key)
{
  Located l;
  l.verdict = Verdict::unmapped;
  auto fh = decode_knfsd_fh(key);
  if (!fh) {
    l.note = "not a Linux knfsd file handle: " + fh.error();
    return l;
  }
  if (auto why = fsid_mismatch(*fh); !why.empty()) {
    l.note = why;
    return l;
  }
  if (fh->fileid_type == fileid_root) {
    l.note = "the handle names the export's root directory, not a file";
    return l;
  }
  return m_method == ExportMethod::open_by_handle ? by_handle(*fh)
                                                  : by_index(*fh);
}

Located ExportOrigin::by_handle(const KnfsdFh& fh)
{
  Located l;
  l.verdict = Verdict::unmapped;
  if (fh.fileid.size() > MAX_HANDLE_SZ) {
    l.note = fmt::format("a fileid of {} bytes is longer than any file handle",
                         fh.fileid.size());
    return l;
  }
  HandleBuf h;
  h.fh()->handle_bytes = unsigned(fh.fileid.size());
  h.fh()->handle_type = fh.fileid_type;
  std::copy(fh.fileid.begin(), fh.fileid.end(), h.fh()->f_handle);
  Fd fd(
      open_by_handle_at(m_fd.get(), h.fh(), O_RDONLY | O_CLOEXEC | O_NOATIME));
  if (!fd && errno == EPERM)
    fd.reset(open_by_handle_at(m_fd.get(), h.fh(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ESTALE) {
      l.verdict = Verdict::orphan;
      l.note = fmt::format("no file has {} any more: deleted, or its inode "
                           "was reused (stale generation)",
                           fileid_text(fh));
    } else if (err == ELOOP) {
      l.note = "the handle names a symbolic link, not a file";
    } else if (err == EINVAL || err == EOPNOTSUPP) {
      l.note =
          fmt::format("the filesystem of {} does not take {}: {}", m_dir,
                      knfsd_fileid_type_name(fh.fileid_type), errno_text(err));
    } else {
      l.verdict = Verdict::unreadable;
      l.note = "cannot open the origin by handle: " + errno_text(err);
    }
    return l;
  }
  struct stat st = {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != m_dev) {
    l.note = S_ISDIR(st.st_mode) ? "the handle names a directory, not a file"
                                 : "the handle names no regular file of the "
                                   "export's filesystem";
    return l;
  }
  if (st.st_nlink == 0) {
    l.verdict = Verdict::orphan;
    l.note = "the origin file is deleted (its inode is still open somewhere)";
    return l;
  }
  // The path the kernel knows for the dentry; a file not in the dentry cache
  // comes back disconnected, without a usable path, and is found by index.
  char link[PATH_MAX];
  ssize_t n = readlink(fmt::format("/proc/self/fd/{}", fd.get()).c_str(), link,
                       sizeof link - 1);
  std::string path = n > 0 ? std::string(link, std::size_t(n)) : std::string();
  std::string prefix = m_dir == "/" ? "/" : m_dir + "/";
  if (path.size() > prefix.size() && path.starts_with(prefix)) {
    l.verdict = Verdict::okay;
    l.path = path;
    l.fd = std::move(fd);
    return l;
  }
  Located in = by_index(fh);
  if (in.verdict == Verdict::okay) {
    in.fd = std::move(fd);
    return in;
  }
  l.note = fmt::format("the file ({}) is on the filesystem of {} but not "
                       "under it",
                       fileid_text(fh), m_dir);
  return l;
}

Located ExportOrigin::by_index(const KnfsdFh& fh)
{
  build_index();
  Located l;
  if (auto f = decode_fileid(fh.fileid_type, fh.fileid)) {
    auto it = m_by_ino.find(f->ino);
    if (it == m_by_ino.end()) {
      l.verdict = Verdict::orphan;
      l.note = fmt::format("no file under {} has inode {}: deleted (or moved "
                           "out of the export)",
                           m_dir, f->ino);
    } else if (it->second.gen != f->gen) {
      l.verdict = Verdict::orphan;
      l.note = fmt::format("inode {} is now {} with generation {}, not {}: "
                           "the file was deleted and its inode reused",
                           f->ino, it->second.path, it->second.gen, f->gen);
    } else {
      l.path = it->second.path;
    }
    return l;
  }
  auto it = m_by_raw.find(raw_key(fh.fileid_type, fh.fileid));
  if (it == m_by_raw.end()) {
    l.verdict = Verdict::unmapped;
    l.note = fmt::format("{} is not understood and no file under {} has "
                         "this fileid",
                         knfsd_fileid_type_name(fh.fileid_type), m_dir);
  } else {
    l.path = it->second;
  }
  return l;
}

void ExportOrigin::build_index()
{
  if (m_indexed)
    return;
  m_indexed = true;
  Fd fd(open_noatime(m_fd.get(), ".", O_RDONLY | O_DIRECTORY));
  if (!fd)
    throw_sys("cannot read origin", m_dir, errno);
  walk(fd.get(), m_dir == "/" ? "" : m_dir);
}

// Every regular file below dirfd on the export's filesystem (no crossing
// into other mounts: their handles carry another fsid).
void ExportOrigin::walk(int dirfd, const std::string& path)
{
  for (const DirEntry& e : DirReader(dirfd)) {
    unsigned type = e.type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd, e.name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;
      type = S_ISDIR(st.st_mode)   ? unsigned(DT_DIR)
             : S_ISREG(st.st_mode) ? unsigned(DT_REG)
                                   : 0u;
    }
    const std::string child = path + "/" + e.name;
    if (type == DT_DIR)
      enter(dirfd, e.name, child);
    else if (type == DT_REG)
      index_file(dirfd, e.name, child);
  }
}

void ExportOrigin::enter(int dirfd, const char* name, const std::string& path)
{
  Fd fd(open_noatime(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  struct stat st;
  if (fd && fstat(fd.get(), &st) == 0 && st.st_dev == m_dev)
    walk(fd.get(), path);
}

void ExportOrigin::index_file(int dirfd, const char* name,
                              const std::string& path)
{
  HandleBuf h;
  h.fh()->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(dirfd, name, h.fh(), &mount_id, 0) != 0)
    return;
  ByteView fileid(reinterpret_cast<const std::uint8_t*>(h.fh()->f_handle),
                  h.fh()->handle_bytes);
  if (auto f = decode_fileid(unsigned(h.fh()->handle_type), fileid))
    m_by_ino.try_emplace(f->ino, Entry{f->gen, path});
  else
    m_by_raw.try_emplace(raw_key(unsigned(h.fh()->handle_type), fileid), path);
}

} // namespace fsc::netfs
