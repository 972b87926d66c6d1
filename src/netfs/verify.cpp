// verify.cpp - cached NFS objects against their origin files.
#include <fsc/netfs/verify.hpp>

#include <fsc/cachefiles/object.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/error.hpp>
#include <fsc/fd.hpp>
#include <fsc/netfs/netfs.hpp>

#include "common.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace fsc::netfs {

const char* verdict_name(Verdict v)
{
  switch (v) {
  case Verdict::okay:
    return "OKAY";
  case Verdict::obsolete:
    return "OBSOLETE";
  case Verdict::corrupt:
    return "CORRUPT";
  case Verdict::orphan:
    return "ORPHAN";
  case Verdict::unmapped:
    return "UNMAPPED";
  case Verdict::unreadable:
    return "UNREADABLE";
  }
  return "?";
}

OriginMap read_origin_map(const std::string& file)
{
  std::ifstream in(file);
  if (!in)
    throw_sys("cannot read origin map", file, errno);
  OriginMap m;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.find_first_of(" \t");
    Bytes key;
    if (sp == std::string::npos || !from_hex(line.substr(0, sp), key) ||
        key.empty())
      throw Error(fmt::format("{}:{}: expected 'KEYHEX PATH', got '{}'", file,
                              n, printable(line)));
    auto path = line.substr(line.find_first_not_of(" \t", sp));
    m[to_hex(key)] = path;
  }
  return m;
}

std::optional<Bytes> nfs_fh_from_handle(ByteView h)
{
  // u32 fileid high, u32 fileid low, u32 S_IFMT bits, then struct nfs_fh
  // { unsigned short size; unsigned char data[NFS_MAXFHSIZE]; }.
  if (h.size() < 14)
    return std::nullopt;
  std::size_t size = load_le(h, 12, 2);
  if (size == 0 || size > 128 || h.size() < 14 + size)
    return std::nullopt;
  return Bytes(h.begin() + 14, h.begin() + 14 + long(size));
}

namespace {

constexpr long k_nfs_magic = 0x6969;

// The NFS file handle of dirfd/name (what the client's cache keys on).
std::optional<Bytes> nfs_fh_of(int dirfd, const char* name)
{
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* fh = reinterpret_cast<file_handle*>(buf);
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(dirfd, name, fh, &mount_id, 0) != 0)
    return std::nullopt;
  return nfs_fh_from_handle(ByteView(
      reinterpret_cast<std::uint8_t*>(fh->f_handle), fh->handle_bytes));
}

void walk_nfs(int dirfd, const std::string& path, OriginMap& m)
{
  for (const DirEntry& e : DirReader(dirfd)) {
    std::string child = path + "/" + e.name;
    if (e.type == DT_DIR) {
      Fd fd(openat(dirfd, e.name,
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd)
        walk_nfs(fd.get(), child, m);
      continue;
    }
    if (e.type != DT_REG && e.type != DT_UNKNOWN)
      continue;
    if (auto nfs = nfs_fh_of(dirfd, e.name))
      m[to_hex(*nfs)] = child;
  }
}

std::string ts_text(std::int64_t s, std::int64_t ns)
{
  return timespec_text(s, ns);
}

// The NFS major version of the mount an object came from: the server key
// (v1, level 1) or the volume key "nfs,4.2,..." (v2, level 0) says it.
std::optional<int> nfs_major(const cachefiles::Node* n, cachefiles::Format f)
{
  for (; n; n = n->parent.get()) {
    if (f == cachefiles::Format::v2 && n->level == 0) {
      std::string key(n->key.begin(), n->key.end());
      if (key.rfind("nfs,", 0) != 0 || key.size() < 5 || key[4] < '2' ||
          key[4] > '4')
        return std::nullopt;
      return key[4] - '0';
    }
    if (f == cachefiles::Format::v1 && n->level == 1) {
      auto k = decode_nfs_server(n->key);
      if (!k)
        return std::nullopt;
      return int(k->version);
    }
  }
  return std::nullopt;
}

// The change attribute a Linux knfsd sends for this ctime: 5.10 on a file
// system without i_version sent (ctime_sec << 32) | ctime_nsec, 6.1 sent
// (ctime_sec << 30) + ctime_nsec + i_version (v1-netfs §2.7). The i_version
// is not visible here, so only the ctime part can be checked.
bool change_attr_matches_ctime(std::uint64_t change, const struct statx& sx)
{
  auto sec = std::uint64_t(sx.stx_ctime.tv_sec);
  auto nsec = std::uint64_t(sx.stx_ctime.tv_nsec);
  if (change == ((sec << 32) | nsec))
    return true;
  std::uint64_t base = (sec << 30) + nsec;
  // A counter bumped once per change: far below the 2^30 - 10^9 slack
  // between two seconds, so no other ctime can produce the same value.
  constexpr std::uint64_t k_max_i_version = 1u << 26;
  return change >= base && change - base < k_max_i_version;
}

// The aux an NFS client would store for the origin file now (v1-netfs §2.7).
void compare_aux(ObjectVerdict& v, ByteView stored, const struct statx& sx,
                 int nfs_version)
{
  auto a = decode_nfs_aux(stored);
  if (!a) {
    v.diffs.push_back({"aux length", std::to_string(stored.size()), "40"});
    v.verdict = Verdict::obsolete;
    return;
  }
  NfsAux want{sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec, sx.stx_ctime.tv_sec,
              sx.stx_ctime.tv_nsec, 0};
  if (a->mtime_sec != want.mtime_sec || a->mtime_nsec != want.mtime_nsec)
    v.diffs.push_back({"mtime", ts_text(a->mtime_sec, a->mtime_nsec),
                       ts_text(want.mtime_sec, want.mtime_nsec)});
  if (a->ctime_sec != want.ctime_sec || a->ctime_nsec != want.ctime_nsec)
    v.diffs.push_back({"ctime", ts_text(a->ctime_sec, a->ctime_nsec),
                       ts_text(want.ctime_sec, want.ctime_nsec)});
  if (nfs_version < 4) {
    if (a->change_attr != 0)
      v.diffs.push_back({"change_attr", std::to_string(a->change_attr),
                         "0 (NFSv2/v3 store none)"});
  } else if (a->change_attr == 0) {
    v.checked = "change attribute: none stored";
  } else if (change_attr_matches_ctime(a->change_attr, sx)) {
    v.checked = "change attribute: ctime part checked";
  } else if (v.diffs.empty()) {
    // Times agree but the attribute is not a Linux knfsd form of this
    // ctime: another server's opaque value, which cannot be recomputed.
    v.checked = "change attribute: not verifiable (not a Linux knfsd value)";
  } else {
    v.diffs.push_back(
        {"change_attr", std::to_string(a->change_attr),
         "a value with ctime " + ts_text(want.ctime_sec, want.ctime_nsec)});
  }
  v.verdict = v.diffs.empty() ? Verdict::okay : Verdict::obsolete;
}

// First differing offset of two equal-length buffers.
std::uint64_t first_diff(const std::vector<char>& a, const std::vector<char>& b,
                         std::size_t n)
{
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i])
      return i;
  return n;
}

// Where in the cached file the first non-zero byte at or past `from` is.
std::optional<std::uint64_t> first_nonzero(int fd, std::uint64_t from,
                                           std::uint64_t size)
{
  std::vector<char> buf(1 << 16);
  for (auto& x : cachefiles::data_extents(fd, size)) {
    for (std::uint64_t off = std::max(x.start, from); off < x.end;) {
      auto n = std::size_t(std::min<std::uint64_t>(buf.size(), x.end - off));
      ssize_t r = pread(fd, buf.data(), n, off_t(off));
      if (r <= 0)
        return std::nullopt;
      for (ssize_t i = 0; i < r; ++i)
        if (buf[std::size_t(i)] != 0)
          return off + std::uint64_t(i);
      off += std::uint64_t(r);
    }
  }
  return std::nullopt;
}

// Compares the cached extents below `limit` (the object's size: what the
// origin file holds) with the origin; what lies past it is the backing
// file's padding (6.x rounds data files up to 4096), which belongs to no
// file and must be zero.
void compare_data(ObjectVerdict& v, int cached, int origin,
                  std::uint64_t file_size, std::uint64_t limit)
{
  constexpr std::size_t k_chunk = 1 << 20;
  std::vector<char> a(k_chunk), b(k_chunk);
  const std::uint64_t stop = std::min(file_size, limit);
  for (auto& x : cachefiles::data_extents(cached, stop)) {
    const std::uint64_t end = std::min(x.end, stop);
    for (std::uint64_t off = x.start; off < end; off += k_chunk) {
      std::size_t n = std::size_t(std::min<std::uint64_t>(k_chunk, end - off));
      ssize_t ra = pread(cached, a.data(), n, off_t(off));
      ssize_t rb = pread(origin, b.data(), n, off_t(off));
      if (ra < 0) {
        v.verdict = Verdict::unreadable;
        v.note = "cannot read the cached data: " + errno_text(errno);
        return;
      }
      // The origin may be shorter now: a cached byte beyond its end differs.
      if (rb < ra) {
        v.verdict = Verdict::corrupt;
        v.first_bad_offset = off + std::uint64_t(rb < 0 ? 0 : rb);
        return;
      }
      v.bytes_compared += std::uint64_t(ra);
      if (XXH3_64bits(a.data(), std::size_t(ra)) !=
          XXH3_64bits(b.data(), std::size_t(ra))) {
        v.verdict = Verdict::corrupt;
        v.first_bad_offset = off + first_diff(a, b, std::size_t(ra));
        return;
      }
    }
  }
  if (file_size > limit)
    v.padding_nonzero_offset = first_nonzero(cached, limit, file_size);
}

// Opens an origin file for reading (unless fd already is) without blocking
// on a FIFO or device and without following a symlink; no fd, with `note`
// set, when it is unusable.
Fd open_origin(const std::string& path, Fd fd, ObjectVerdict& v)
{
  if (!fd)
    fd.reset(open(path.c_str(),
                  O_RDONLY | O_CLOEXEC | O_NOATIME | O_NOFOLLOW | O_NONBLOCK));
  if (!fd && errno == EPERM)
    fd.reset(
        open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    v.verdict = errno == ENOENT ? Verdict::orphan : Verdict::unreadable;
    v.note = errno == ENOENT  ? "the origin file is gone"
             : errno == ELOOP ? "the origin is a symbolic link"
                              : "cannot open the origin: " + errno_text(errno);
    return fd;
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    v.verdict = Verdict::unreadable;
    v.note = "the origin is not a regular file";
    return Fd();
  }
  return fd;
}

ObjectVerdict judge(const cachefiles::Cache& cache,
                    const cachefiles::ScanEntry& e, OriginSource& origins,
                    const VerifyOptions& opt)
{
  ObjectVerdict v;
  v.path = e.path;
  v.key_hex = to_hex(e.node->key);
  if (!e.node->key_ok) {
    v.note = "the object's name does not decode: no key to map";
    return v;
  }
  Located where = origins.locate(e.node->key);
  v.origin = where.path;
  if (where.verdict != Verdict::okay) {
    v.verdict = where.verdict;
    v.note = where.note;
    return v;
  }
  if (!e.node->has_xattr) {
    v.verdict = Verdict::obsolete;
    v.diffs.push_back({"xattr", "missing", "present"});
    return v;
  }
  Bytes aux;
  std::optional<std::uint64_t> object_size;
  if (cache.format() == cachefiles::Format::v2) {
    auto x = cachefiles::decode_xattr_v2(e.node->xattr);
    if (x) {
      aux = x->aux;
      object_size = x->object_size;
    }
  } else if (auto x = cachefiles::decode_xattr_v1(e.node->xattr)) {
    aux = x->aux;
  }
  Fd ofd = open_origin(v.origin, std::move(where.fd), v);
  if (!ofd)
    return v;
  struct statx sx;
  if (statx(ofd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) != 0) {
    v.verdict = Verdict::unreadable;
    v.note = "cannot stat the origin: " + errno_text(errno);
    return v;
  }
  int version =
      opt.nfs_v4 ? 4 : nfs_major(e.node.get(), cache.format()).value_or(3);
  compare_aux(v, aux, sx, version);
  if (v.verdict == Verdict::okay && opt.data) {
    Fd cfd(openat(cache.root_fd(), e.path.c_str(),
                  O_RDONLY | O_CLOEXEC | O_NOATIME | O_NOFOLLOW));
    if (!cfd && errno == EPERM)
      cfd.reset(openat(cache.root_fd(), e.path.c_str(),
                       O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!cfd) {
      v.verdict = Verdict::unreadable;
      v.note = "cannot open the cached file: " + errno_text(errno);
    } else {
      // v1 files are exactly the object's size (the writes are clipped to
      // it); the origin's size is that size once the aux agrees.
      compare_data(v, cfd.get(), ofd.get(), e.st.size,
                   object_size.value_or(std::uint64_t(sx.stx_size)));
    }
  }
  return v;
}

} // namespace

OriginMap map_nfs_client(const std::string& mountpoint)
{
  Fd fd(open(mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    throw_sys("cannot open origin", mountpoint, errno);
  struct statfs sf;
  if (fstatfs(fd.get(), &sf) != 0 || sf.f_type != k_nfs_magic)
    throw Error("'" + mountpoint +
                "' is not an NFS mount: give the client's "
                "mount point, or an --origin-map");
  OriginMap m;
  walk_nfs(fd.get(), mountpoint, m);
  return m;
}

Located MapOrigin::locate(ByteView key)
{
  Located l;
  auto it = m_map.find(to_hex(key));
  if (it == m_map.end()) {
    l.verdict = Verdict::unmapped;
    l.note = "no origin file has this file handle";
    return l;
  }
  l.path = it->second;
  return l;
}

void verify(const cachefiles::Cache& cache, const OriginMap& origins,
            const VerifyOptions& opt,
            const std::function<void(const ObjectVerdict&)>& sink)
{
  MapOrigin source(origins, "origin_map");
  verify(cache, source, opt, sink);
}

void verify(const cachefiles::Cache& cache, OriginSource& origins,
            const VerifyOptions& opt,
            const std::function<void(const ObjectVerdict&)>& sink)
{
  cachefiles::ScanOptions so;
  so.ordered = true; // one thread, stable order: reports diff cleanly
  cachefiles::scan(cache, so, [&](const cachefiles::ScanEntry& e, unsigned) {
    if (e.kind == cachefiles::EntryKind::data && e.node)
      sink(judge(cache, e, origins, opt));
  });
}

} // namespace fsc::netfs
