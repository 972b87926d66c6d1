// scan.cpp - the parallel walk of a cache's object tree.
//
// Work items are directories; a worker reads one with getdents64, stats each
// entry relative to the directory fd (statx, no symlink following), checks
// its name and placement, reads the xattr when asked (fchdir + lgetxattr on a
// per-thread working directory, the cheapest way the kernel offers), and
// queues subdirectories. Pending work is a LIFO stack, so the walk is
// depth-first and memory stays proportional to depth, not to cache size.
#include <fsc/cachefiles/scan.hpp>

#include <fsc/cachefiles/xattr.hpp>
#include <fsc/fd.hpp>
#include <fsc/log.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

namespace fsc::cachefiles {

const char* entry_kind_name(EntryKind k)
{
  switch (k) {
  case EntryKind::index:
    return "index";
  case EntryKind::data:
    return "data";
  case EntryKind::special:
    return "special";
  case EntryKind::volume:
    return "volume";
  case EntryKind::fanout:
    return "fanout";
  case EntryKind::unknown:
    return "unknown";
  }
  return "unknown";
}

int stat_at(int dirfd, const char* name, Stat& st, bool want_blocks)
{
  struct statx sx;
  unsigned mask = STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID |
                  STATX_NLINK | STATX_INO | STATX_SIZE | STATX_ATIME |
                  STATX_MTIME | STATX_CTIME;
  if (want_blocks)
    mask |= STATX_BLOCKS;
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, mask, &sx))
    return errno;
  st.mode = sx.stx_mode;
  st.uid = sx.stx_uid;
  st.gid = sx.stx_gid;
  st.nlink = sx.stx_nlink;
  st.ino = sx.stx_ino;
  st.size = sx.stx_size;
  st.blocks = sx.stx_blocks;
  auto ns = [](const statx_timestamp& t) {
    return std::int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
  };
  st.atime_ns = ns(sx.stx_atime);
  st.mtime_ns = ns(sx.stx_mtime);
  st.ctime_ns = ns(sx.stx_ctime);
  st.dev_major = sx.stx_dev_major;
  st.dev_minor = sx.stx_dev_minor;
  // A mount root (bind mount, possibly a loop) is reported as -1 so that
  // the walk never enters it.
  return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                 (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)
             ? -1
             : 0;
}

namespace {

/// What a directory holds, which decides how its entries are read.
enum class DirKind {
  cache,      ///< cache/: v1 fan-outs or v2 volumes
  v1_fanout,  ///< @xx or +... in v1: objects
  v1_index,   ///< v1 index object: fan-outs
  v1_datadir, ///< v1 data object that is a directory (4.19 BUG()s on it)
  v2_volume,  ///< v2 volume: fan-outs
  v2_fanout,  ///< v2 @xx: data files
};

/// An open directory fd shared by the work items of its children.
struct SharedDir {
  Fd fd;
  std::uint64_t serial; ///< unique: fd numbers are reused after close
  explicit SharedDir(int f) : fd(f)
  {
    static std::atomic<std::uint64_t> next{1};
    serial = next++;
  }
};

struct Work {
  std::shared_ptr<SharedDir> parent; ///< fd of the directory holding name
  std::string name;                  ///< to open relative to parent
  std::string path;                  ///< relative to the cache root
  DirKind kind = DirKind::cache;
  std::shared_ptr<const Node> node; ///< nearest object above (or self)
  int fanout = -1;                  ///< value of this @xx dir
  std::uint32_t vol_hash = 0;       ///< v2: hash of the volume above
};

/// A directory's names, NUL-terminated one after another in one buffer:
/// no allocation per name.
struct Names {
  std::string text;
  std::vector<std::uint32_t> starts;

  std::size_t size() const { return starts.size(); }
  std::string_view operator[](std::size_t i) const
  {
    const std::size_t end =
        i + 1 < starts.size() ? starts[i + 1] - 1 : text.size() - 1;
    return {text.data() + starts[i], end - starts[i]};
  }
  void sort();
};

void Names::sort()
{
  std::vector<std::string_view> v;
  for (std::size_t i = 0; i < size(); ++i)
    v.push_back((*this)[i]);
  std::sort(v.begin(), v.end());
  Names out;
  for (auto n : v) {
    out.starts.push_back(std::uint32_t(out.text.size()));
    out.text.append(n).push_back('\0');
  }
  *this = std::move(out);
}

/// Reads all names of a directory fd; 0 or the errno of the failed read.
int read_names(int fd, Names& out)
{
  // On the stack of this leaf, not of process(), which recurses.
  char buf[1 << 16];
  DirReader names(fd, buf);
  for (const DirEntry& e : names) {
    out.starts.push_back(std::uint32_t(out.text.size()));
    out.text.append(e.name).push_back('\0');
  }
  return names.error();
}

class Scanner {
public:
  Scanner(const Cache& c, const ScanOptions& o, const ScanSink& s)
      : m_cache(c), m_opt(o), m_sink(s)
  {
  }

  ScanStats run();

private:
  void worker(unsigned id);
  void process(Work& w, unsigned id, std::uint64_t& cwd);
  void handle_entry(const Work& w, const std::shared_ptr<SharedDir>& dir,
                    std::string_view name, unsigned id, std::uint64_t& cwd,
                    std::vector<Work>& subdirs);
  void classify(const Work& w, ScanEntry& ent, Work& sub, bool& descend);
  void classify_v1_object(const Work& w, ScanEntry& ent, Work& sub,
                          bool& descend);
  void classify_v2_object(const Work& w, ScanEntry& ent);
  void read_xattr(const std::shared_ptr<SharedDir>& dir, ScanEntry& ent,
                  std::uint64_t& cwd);
  void check_xattr(ScanEntry& ent);
  void push(std::vector<Work>& items);
  /// Whether dir/name is on ScanOptions::only_path (always, when unset).
  bool on_path(const std::string& dir, std::string_view name) const
  {
    const std::string& want = m_opt.only_path;
    if (want.empty())
      return true;
    const std::string p = dir + "/" + std::string(name);
    return want.compare(0, p.size(), p) == 0 &&
           (want.size() == p.size() || want[p.size()] == '/');
  }
  void problem(ScanEntry& e, const char* kind, std::string msg)
  {
    e.problems.push_back({kind, e.path, std::move(msg)});
  }

  const Cache& m_cache;
  ScanOptions m_opt;
  const ScanSink& m_sink;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<Work> m_stack;
  std::vector<ScanEntry> m_slots; ///< per worker, see handle_entry()
  unsigned m_busy = 0;
  std::atomic<std::uint64_t> m_dirs{0}, m_entries{0}, m_errors{0};
};

ScanStats Scanner::run()
{
  Work root;
  root.parent = std::make_shared<SharedDir>(dup(m_cache.root_fd()));
  root.name = "cache";
  root.path = "cache";
  root.kind = DirKind::cache;
  m_stack.push_back(std::move(root));
  unsigned n = scan_workers(m_opt);
  m_slots.resize(n);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i)
    threads.emplace_back([this, i] { worker(i); });
  for (auto& t : threads)
    t.join();
  return {m_dirs.load(), m_entries.load(), m_errors.load()};
}

void Scanner::worker(unsigned id)
{
  // A private working directory for fchdir + lgetxattr(name): the cheapest
  // xattr read by name, and it must not move the process's cwd.
  unshare(CLONE_FS);
  std::uint64_t cwd = 0;
  for (;;) {
    Work w;
    {
      std::unique_lock lock(m_mutex);
      m_cv.wait(lock, [&] { return !m_stack.empty() || m_busy == 0; });
      if (m_stack.empty())
        break;
      w = std::move(m_stack.back());
      m_stack.pop_back();
      ++m_busy;
    }
    process(w, id, cwd);
    {
      std::lock_guard lock(m_mutex);
      --m_busy;
    }
    m_cv.notify_all();
  }
}

void Scanner::push(std::vector<Work>& items)
{
  if (items.empty())
    return;
  {
    std::lock_guard lock(m_mutex);
    // Reversed so that the first name is popped first (depth-first order).
    for (auto it = items.rbegin(); it != items.rend(); ++it)
      m_stack.push_back(std::move(*it));
  }
  m_cv.notify_all();
}

void Scanner::process(Work& w, unsigned id, std::uint64_t& cwd)
{
  int fd = open_dir_noatime(w.parent->fd.get(), w.name.c_str());
  if (fd < 0) {
    ++m_errors;
    ScanEntry e;
    e.path = w.path;
    e.name = w.name;
    e.kind = EntryKind::unknown;
    problem(e, errno == ENOENT ? "vanished" : "unreadable",
            errno == ENOENT ? "directory vanished during the scan"
                            : "cannot open directory: " + errno_text(errno));
    m_sink(e, id);
    return;
  }
  auto dir = std::make_shared<SharedDir>(fd);
  w.parent.reset();
  ++m_dirs;
  Names names;
  if (int err = read_names(fd, names)) {
    ++m_errors;
    ScanEntry e;
    e.path = w.path;
    e.name = w.name;
    problem(e, "unreadable", "cannot read directory: " + errno_text(err));
    m_sink(e, id);
  }
  if (m_opt.ordered)
    names.sort();
  std::vector<Work> subdirs;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!on_path(w.path, names[i]))
      continue;
    handle_entry(w, dir, names[i], id, cwd, subdirs);
    if (m_opt.ordered && !subdirs.empty()) {
      // Depth-first in name order: finish the child before the next name.
      for (auto& s : subdirs)
        process(s, id, cwd);
      subdirs.clear();
    }
  }
  push(subdirs);
}

void Scanner::handle_entry(const Work& w, const std::shared_ptr<SharedDir>& dir,
                           std::string_view name, unsigned id,
                           std::uint64_t& cwd, std::vector<Work>& subdirs)
{
  ++m_entries;
  // One entry per worker, refilled: its strings keep their memory. The sink
  // has it only for the call.
  ScanEntry& ent = m_slots[id];
  ent.kind = EntryKind::unknown;
  ent.node.reset();
  ent.name.assign(name);
  ent.path.assign(w.path).append(1, '/').append(name);
  ent.st = Stat{};
  ent.xattr_errno = -1;
  ent.problems.clear();
  int rc = stat_at(dir->fd.get(), ent.name.c_str(), ent.st);
  if (rc > 0) {
    ++m_errors;
    problem(ent, rc == ENOENT ? "vanished" : "unreadable",
            rc == ENOENT ? "entry vanished during the scan"
                         : "cannot stat: " + errno_text(rc));
    m_sink(ent, id);
    return;
  }
  const bool mount_root = rc < 0;
  Work sub;
  bool descend = false;
  classify(w, ent, sub, descend);
  if (S_ISLNK(ent.st.mode)) {
    problem(ent, "symlink",
            "symbolic link in the cache tree (the kernel "
            "never makes one; fsc never follows it)");
    descend = false;
  } else if (!S_ISDIR(ent.st.mode) && !S_ISREG(ent.st.mode)) {
    problem(ent, "special-file", "device node, FIFO or socket in the cache");
    descend = false;
  }
  if (ent.st.uid != m_cache.owner())
    problem(ent, "foreign-owner",
            fmt::format("owned by uid {}, the cache by uid {}", ent.st.uid,
                        m_cache.owner()));
  if (descend && mount_root) {
    problem(ent, "mount-point",
            "a file system is mounted here (a bind "
            "mount?); not entered");
    descend = false;
  }
  if (ent.node && m_opt.read_xattrs && !S_ISLNK(ent.st.mode)) {
    read_xattr(dir, ent, cwd);
    check_xattr(ent);
  }
  if (ent.kind != EntryKind::fanout || m_opt.fanouts || !ent.problems.empty())
    m_sink(ent, id);
  if (descend) {
    sub.parent = dir;
    sub.name = ent.name;
    sub.path = ent.path;
    if (!sub.node)
      sub.node = ent.node ? ent.node : w.node;
    subdirs.push_back(std::move(sub));
  }
}

void Scanner::classify(const Work& w, ScanEntry& ent, Work& sub, bool& descend)
{
  const std::string& n = ent.name;
  const bool dir = S_ISDIR(ent.st.mode);
  auto fan = parse_fanout(n);
  switch (w.kind) {
  case DirKind::cache:
  case DirKind::v1_index:
  case DirKind::v1_datadir:
  case DirKind::v2_volume:
    if (fan || (n[0] == '+' && w.kind != DirKind::v2_volume)) {
      ent.kind = EntryKind::fanout;
      if (!dir) {
        problem(ent, "type-mismatch",
                "fan-out entry is not a directory: "
                "lookups below fail with ENOBUFS");
        return;
      }
      descend = true;
      sub.fanout = fan ? *fan : -1;
      sub.vol_hash = w.vol_hash;
      sub.node = w.node;
      sub.kind = w.kind == DirKind::v2_volume ? DirKind::v2_fanout
                                              : DirKind::v1_fanout;
      if (w.kind == DirKind::cache && m_cache.format() == Format::v2)
        problem(ent, "mixed-format",
                "v1 fan-out directly under cache/ of a "
                "v2 cache");
      return;
    }
    if (w.kind == DirKind::cache && n[0] == 'I' &&
        m_cache.format() != Format::v1) {
      ent.kind = EntryKind::volume;
      auto node = std::make_shared<Node>();
      node->path = ent.path;
      node->level = 0;
      node->kind = EntryKind::volume;
      node->key.assign(n.begin() + 1, n.end());
      ent.node = node;
      if (!dir) {
        problem(ent, "type-mismatch", "volume entry is not a directory");
        return;
      }
      if (n.size() > 128)
        problem(ent, "long-volume-key",
                "volume key longer than 127 bytes: 6.1 compares its length as "
                "a signed char");
      descend = true;
      sub.kind = DirKind::v2_volume;
      sub.vol_hash = volume_hash(std::string_view(n).substr(1));
      return;
    }
    ent.kind = EntryKind::unknown;
    if (w.kind == DirKind::v2_volume && S_ISREG(ent.st.mode))
      problem(ent, "ondemand-layout",
              "data file directly in a volume "
              "directory: an on-demand (EROFS) cache, "
              "not supported");
    else
      problem(ent, "unknown-entry",
              w.kind == DirKind::cache
                  ? "not a fan-out directory: the kernel never looks it up"
                  : "not a fan-out directory inside an index: unreachable");
    return;
  case DirKind::v1_fanout:
    classify_v1_object(w, ent, sub, descend);
    return;
  case DirKind::v2_fanout:
    classify_v2_object(w, ent);
    return;
  }
}

void Scanner::classify_v1_object(const Work& w, ScanEntry& ent, Work& sub,
                                 bool& descend)
{
  auto name = decode_name_v1(ent.name);
  if (!name) {
    problem(ent, "bad-name", "name does not decode: " + name.error());
    // The type letter still says what it is: keep counting and descending,
    // so one bad name does not hide the subtree below it.
    auto type = v1_type_of_letter(ent.name[0]);
    if (!type) {
      ent.kind = EntryKind::unknown;
      return;
    }
    NameV1 blank; // letter 0: no key known
    blank.type = *type;
    name = std::move(blank);
  }
  auto node = std::make_shared<Node>();
  node->parent = w.node;
  node->path = ent.path;
  node->level = w.node ? w.node->level + 1 : 0;
  node->type = name->type;
  node->key = std::move(name->key);
  node->key_ok = name->letter != 0;
  node->kind = name->type == k_type_index  ? EntryKind::index
               : name->type == k_type_data ? EntryKind::data
                                           : EntryKind::special;
  ent.kind = node->kind;
  if (node->key_ok && w.fanout >= 0 && checksum_v1(node->key) != w.fanout)
    problem(ent, "bad-fanout",
            fmt::format("key checksum is {} but the entry is in @{:02x}: the "
                        "kernel can never find it",
                        fanout_name(checksum_v1(node->key)), w.fanout));
  if (node->key.size() > k_max_key_v1)
    problem(ent, "key-too-long",
            fmt::format("key of {} bytes; fscache refuses keys over {}",
                        node->key.size(), k_max_key_v1));
  if (name->suspicious)
    problem(ent, "suspicious-name",
            "encoded name of an all-printable key: "
            "not what the cooker writes");
  if (name->big_endian)
    problem(ent, "big-endian-name",
            "length prefix is big-endian: written "
            "by a big-endian host");
  if (w.node && w.node->kind == EntryKind::data)
    problem(ent, "object-under-data", "object below a data object");
  const bool dir = S_ISDIR(ent.st.mode);
  if (node->kind == EntryKind::index && !dir && !S_ISLNK(ent.st.mode))
    problem(ent, "type-mismatch",
            "index object is not a directory: lookups "
            "fail with ENOBUFS");
  if (node->kind != EntryKind::index && dir)
    problem(ent, "type-mismatch",
            "data object is a directory: a 4.19 kernel "
            "hits BUG() (\"open file in data-class "
            "subdir\") when its xattr validates");
  ent.node = node;
  if (dir) {
    descend = true;
    sub.kind = node->kind == EntryKind::index ? DirKind::v1_index
                                              : DirKind::v1_datadir;
    sub.node = node;
  }
}

void Scanner::classify_v2_object(const Work& w, ScanEntry& ent)
{
  auto name = decode_name_v2(ent.name);
  auto node = std::make_shared<Node>();
  if (!name) {
    problem(ent, "bad-name", "name does not decode: " + name.error());
    if (!S_ISREG(ent.st.mode)) { // a stray, not a data object with a bad name
      ent.kind = EntryKind::unknown;
      return;
    }
    node->key_ok = false;
  } else {
    node->key = std::move(name->key);
  }
  node->parent = w.node;
  node->path = ent.path;
  node->level = 1;
  node->type = k_type_data;
  node->kind = EntryKind::data;
  ent.kind = EntryKind::data;
  if (node->key.size() > k_max_key_v2)
    problem(ent, "key-too-long",
            fmt::format("key of {} bytes; 6.1 BUG()s above {}",
                        node->key.size(), k_max_key_v2));
  std::uint8_t want = std::uint8_t(cookie_hash(w.vol_hash, node->key));
  if (node->key_ok && w.fanout >= 0 && want != w.fanout)
    problem(ent, "bad-fanout",
            fmt::format("key hash puts it in {} but it is in @{:02x}: the "
                        "kernel can never find it",
                        fanout_name(want), w.fanout));
  if (!S_ISREG(ent.st.mode) && !S_ISLNK(ent.st.mode))
    problem(ent, "type-mismatch", "data object is not a regular file");
  ent.node = node;
}

#ifndef __NR_getxattrat
#define __NR_getxattrat 464 // x86_64 and asm-generic, Linux 6.13+
#endif

// getxattrat(2) reads the xattr of dirfd/name in one system call with no
// path walk; kernels before 6.13 say ENOSYS once and the scan falls back to a
// per-thread fchdir + lgetxattr (the next cheapest, see ../shared/perf).
std::atomic<bool> g_have_getxattrat{true};

ssize_t getxattr_in(int dirfd, const char* name, void* buf, std::size_t size)
{
  struct { // struct xattr_args of <linux/xattr.h>, absent from older headers
    std::uint64_t value;
    std::uint32_t size;
    std::uint32_t flags;
  } args{reinterpret_cast<std::uintptr_t>(buf), std::uint32_t(size), 0};
  return syscall(__NR_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW,
                 k_xattr_name, &args, sizeof args);
}

void Scanner::read_xattr(const std::shared_ptr<SharedDir>& dir, ScanEntry& ent,
                         std::uint64_t& cwd)
{
  auto* node = const_cast<Node*>(ent.node.get());
  // Read on the stack, kept at its size: one allocation, nothing zeroed.
  unsigned char buf[k_max_xattr_v1 + 1];
  ssize_t n = -1;
  if (g_have_getxattrat.load(std::memory_order_relaxed)) {
    n = getxattr_in(dir->fd.get(), ent.name.c_str(), buf, sizeof buf);
    if (n < 0 && errno == ENOSYS)
      g_have_getxattrat = false;
  }
  if (!g_have_getxattrat.load(std::memory_order_relaxed)) {
    if (cwd != dir->serial) {
      if (fchdir(dir->fd.get()) != 0) {
        ent.xattr_errno = errno;
        node->xattr.clear();
        return;
      }
      cwd = dir->serial;
    }
    n = lgetxattr(ent.name.c_str(), k_xattr_name, buf, sizeof buf);
  }
  if (n < 0 && errno == ERANGE) {
    auto big = read_xattr_at(dir->fd.get(), ent.name);
    if (!big) {
      ent.xattr_errno = big.error();
      return;
    }
    node->xattr = std::move(*big);
  } else if (n < 0) {
    ent.xattr_errno = errno;
    return;
  } else {
    node->xattr.assign(buf, buf + n);
  }
  node->has_xattr = true;
  ent.xattr_errno = 0;
}

void Scanner::check_xattr(ScanEntry& ent)
{
  const Node& n = *ent.node;
  if (ent.xattr_errno == ENODATA) {
    problem(ent, "no-xattr",
            "no user.CacheFiles.cache xattr: the kernel "
            "treats the object as stale (interrupted "
            "cull or commit?)");
    return;
  }
  if (ent.xattr_errno != 0) {
    problem(ent, "unreadable",
            "cannot read xattr: " + errno_text(ent.xattr_errno));
    return;
  }
  if (n.kind == EntryKind::volume) {
    auto v = decode_volume_xattr(n.xattr);
    if (!v)
      problem(ent, "bad-xattr", v.error() + ": the kernel buries the volume");
    else if (v->reserved != 0)
      problem(ent, "bad-xattr",
              "volume xattr reserved word is not 0: the "
              "kernel buries the volume");
    return;
  }
  if (n.parent && n.parent->kind == EntryKind::volume) {
    auto x = view_xattr_v2(n.xattr);
    if (!x) {
      problem(ent, "bad-xattr", x.error());
      return;
    }
    if (x->type != k_type_data)
      problem(ent, "bad-xattr",
              fmt::format("type byte {} is not 1 (data)", x->type));
    if (x->content > 4)
      problem(ent, "bad-content",
              fmt::format("content byte {} is not a "
                          "cachefiles_content value",
                          x->content));
    if (x->content == std::uint8_t(Content::dirty))
      problem(ent, "dirty",
              "content DIRTY: local changes never written "
              "back; the kernel refuses the object");
    if (x->zero_point > x->object_size)
      problem(ent, "bad-zero-point",
              fmt::format("zero_point {} beyond object_size {}", x->zero_point,
                          x->object_size));
    if (ent.st.size < x->object_size && x->content != 0 &&
        x->content != std::uint8_t(Content::backfs_map))
      problem(ent, "short-data",
              fmt::format("file is {} bytes but object_size is {} with "
                          "content {}",
                          ent.st.size, x->object_size,
                          content_name(x->content)));
    return;
  }
  auto x = view_xattr_v1(n.xattr);
  if (!x) {
    problem(ent, "bad-xattr", x.error());
    return;
  }
  if (x->type != n.type)
    problem(ent, "bad-xattr",
            fmt::format("xattr type byte {:02x} does not match the name's "
                        "type {:02x}: the kernel treats it as stale",
                        x->type, n.type));
}

} // namespace

unsigned scan_workers(const ScanOptions& opt)
{
  if (opt.ordered)
    return 1;
  if (opt.threads)
    return opt.threads;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
}

ScanStats scan(const Cache& cache, const ScanOptions& opt, const ScanSink& sink)
{
  Scanner s(cache, opt, sink);
  return s.run();
}

} // namespace fsc::cachefiles
