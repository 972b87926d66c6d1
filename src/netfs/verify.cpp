// verify.cpp - cached NFS objects against their origin files.
#include <fsc/netfs/verify.hpp>

#include <fsc/cachefiles/object.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/xattr.hpp>
#include <fsc/error.hpp>
#include <fsc/netfs/netfs.hpp>

#include "common.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <cerrno>
#include <dirent.h>
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
  case Verdict::okay: return "OKAY";
  case Verdict::obsolete: return "OBSOLETE";
  case Verdict::corrupt: return "CORRUPT";
  case Verdict::orphan: return "ORPHAN";
  case Verdict::unmapped: return "UNMAPPED";
  case Verdict::unreadable: return "UNREADABLE";
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

void walk_nfs(int dirfd, const std::string& path, OriginMap& m)
{
  DIR* d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return;
  }
  while (auto* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    std::string child = path + "/" + name;
    if (e->d_type == DT_DIR) {
      int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                            O_CLOEXEC);
      if (fd >= 0)
        walk_nfs(fd, child, m);
      continue;
    }
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
      continue;
    alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
    auto* fh = reinterpret_cast<file_handle*>(buf);
    fh->handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    if (name_to_handle_at(dirfd, e->d_name, fh, &mount_id, 0) != 0)
      continue;
    auto nfs = nfs_fh_from_handle(
        ByteView(reinterpret_cast<std::uint8_t*>(fh->f_handle),
                 fh->handle_bytes));
    if (nfs)
      m[to_hex(*nfs)] = child;
  }
  closedir(d);
}

std::string ts_text(std::int64_t s, std::int64_t ns)
{
  return timespec_text(s, ns);
}

// The aux an NFS client would store for the origin file now (v1-netfs §2.7).
void compare_aux(ObjectVerdict& v, ByteView stored, const struct statx& sx,
                 bool v4)
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
  // NFSv4 stores the change attribute; a local origin has none to compare
  // (only an NFS client's statx exposes it), so v4 objects are judged on
  // the times and the attribute is reported, not guessed.
  if (!v4 && a->change_attr != 0)
    v.diffs.push_back({"change_attr", std::to_string(a->change_attr),
                       "0 (NFSv2/v3 store none)"});
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

void compare_data(ObjectVerdict& v, int cached, int origin,
                  std::uint64_t size)
{
  constexpr std::size_t k_chunk = 1 << 20;
  std::vector<char> a(k_chunk), b(k_chunk);
  for (auto& x : cachefiles::data_extents(cached, size)) {
    for (std::uint64_t off = x.start; off < x.end; off += k_chunk) {
      std::size_t n = std::size_t(std::min<std::uint64_t>(k_chunk, x.end - off));
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
  int ofd = where.fd;
  if (!e.node->has_xattr) {
    if (ofd >= 0)
      close(ofd);
    v.verdict = Verdict::obsolete;
    v.diffs.push_back({"xattr", "missing", "present"});
    return v;
  }
  Bytes aux;
  if (cache.format() == cachefiles::Format::v2) {
    auto x = cachefiles::decode_xattr_v2(e.node->xattr);
    if (x)
      aux = x->aux;
  } else if (auto x = cachefiles::decode_xattr_v1(e.node->xattr)) {
    aux = x->aux;
  }
  if (ofd < 0)
    ofd = open(v.origin.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME | O_NOFOLLOW);
  if (ofd < 0 && errno == EPERM)
    ofd = open(v.origin.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (ofd < 0) {
    v.verdict = errno == ENOENT ? Verdict::orphan : Verdict::unreadable;
    v.note = errno == ENOENT ? "the origin file is gone"
                             : "cannot open the origin: " + errno_text(errno);
    return v;
  }
  struct statx sx;
  if (statx(ofd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) != 0) {
    v.verdict = Verdict::unreadable;
    v.note = "cannot stat the origin: " + errno_text(errno);
    close(ofd);
    return v;
  }
  compare_aux(v, aux, sx, opt.nfs_v4);
  if (v.verdict == Verdict::okay && opt.data) {
    int cfd = openat(cache.root_fd(), e.path.c_str(),
                     O_RDONLY | O_CLOEXEC | O_NOATIME | O_NOFOLLOW);
    if (cfd < 0 && errno == EPERM)
      cfd = openat(cache.root_fd(), e.path.c_str(),
                   O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (cfd < 0) {
      v.verdict = Verdict::unreadable;
      v.note = "cannot open the cached file: " + errno_text(errno);
    } else {
      compare_data(v, cfd, ofd, e.st.size);
      close(cfd);
    }
  }
  close(ofd);
  return v;
}

} // namespace

OriginMap map_nfs_client(const std::string& mountpoint)
{
  int fd = open(mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw_sys("cannot open origin", mountpoint, errno);
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0 || sf.f_type != k_nfs_magic) {
    close(fd);
    throw Error("'" + mountpoint + "' is not an NFS mount: give the client's "
                "mount point, or an --origin-map");
  }
  OriginMap m;
  walk_nfs(fd, mountpoint, m);
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
