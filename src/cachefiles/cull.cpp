// cull.cpp - bounded-table LRU planning and crash-safe removal.
#include <fsc/cachefiles/cull.hpp>

#include <fsc/cachefiles/key.hpp>
#include <fsc/cachefiles/scan.hpp>

#include <fsc/fd.hpp>
#include <fsc/log.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <dirent.h>
#include <chrono>
#include <condition_variable>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <set>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace fsc::cachefiles {
namespace {

std::int64_t clock_ns()
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t floor_s(std::int64_t ns)
{
  return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
}

/// A candidate as the table keeps it: its directory's path is shared with
/// the other candidates there (the table holds tens of thousands: paths
/// of 100+ bytes each made most of a cull's memory).
struct Cand {
  std::int64_t key_s = 0; ///< clock in whole seconds (cachefilesd's unit)
  std::shared_ptr<const std::string> dir; ///< "cache/@4a/I03nfs/..."
  std::string name;
  std::int64_t atime_ns = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;
  std::uint64_t blocks = 0;
  std::uint64_t ino = 0;

  std::string path() const { return *dir + "/" + name; }
};

/// Byte at i of d + "/" + n, or -1 past its end.
int joined_at(std::string_view d, std::string_view n, std::size_t i)
{
  if (i < d.size())
    return static_cast<unsigned char>(d[i]);
  if (i == d.size())
    return '/';
  i -= d.size() + 1;
  return i < n.size() ? static_cast<unsigned char>(n[i]) : -1;
}

/// a.path() > b.path() (as cull_before orders ties), without building them.
bool path_after(const Cand& a, const Cand& b)
{
  if (a.dir == b.dir || *a.dir == *b.dir)
    return a.name > b.name;
  for (std::size_t i = 0;; ++i) {
    const int x = joined_at(*a.dir, a.name, i);
    const int y = joined_at(*b.dir, b.name, i);
    if (x != y)
      return x > y;
    if (x < 0)
      return false;
  }
}

bool before(const Cand& a, const Cand& b)
{
  return a.key_s != b.key_s ? a.key_s < b.key_s : path_after(a, b);
}

/// The K candidates culled first, among those after a boundary.
class Table {
public:
  Table(std::size_t k, const Cand* after) : m_k(k), m_after(after)
  {
    // Growing by doubling would briefly hold 1.5 tables: peak RSS counts.
    m_heap.reserve(std::min<std::size_t>(k, std::size_t(1) << 20));
  }

  /// False when a candidate of this age can never get in (no lock).
  bool wants(std::int64_t key_s) const
  {
    if (m_after && key_s < m_after->key_s)
      return false; // handled by an earlier pass
    if (key_s <= m_worst_s.load(std::memory_order_relaxed))
      return true;
    m_more.store(true, std::memory_order_relaxed); // left for the next pass
    return false;
  }

  /// Thread-safe offer.
  void offer(Cand&& c)
  {
    if (m_after && !before(*m_after, c))
      return;
    // Cheap pre-check without the lock: strictly younger than the youngest
    // of a full table can never get in.
    if (c.key_s > m_worst_s.load(std::memory_order_relaxed)) {
      m_more.store(true, std::memory_order_relaxed);
      return;
    }
    std::lock_guard lock(m_mutex);
    ++m_offered;
    if (m_heap.size() < m_k) {
      m_heap.push_back(std::move(c));
      std::push_heap(m_heap.begin(), m_heap.end(), before);
    } else if (before(c, m_heap.front())) {
      std::pop_heap(m_heap.begin(), m_heap.end(), before);
      m_heap.back() = std::move(c);
      std::push_heap(m_heap.begin(), m_heap.end(), before);
    } else {
      return;
    }
    if (m_heap.size() == m_k)
      m_worst_s.store(m_heap.front().key_s, std::memory_order_relaxed);
  }

  /// The candidates, oldest first; `overflowed` when more were offered
  /// than the table holds (another pass may find more).
  std::vector<Cand> take(bool& overflowed)
  {
    // Candidates turned away as too young count too: with an oldest-first
    // walk they are all the table never saw.
    overflowed = m_offered > m_heap.size() || m_more.load();
    std::sort_heap(m_heap.begin(), m_heap.end(), before);
    return std::move(m_heap);
  }

private:
  std::size_t m_k;
  const Cand* m_after;
  std::mutex m_mutex;
  std::vector<Cand> m_heap; // max-heap on "culled later"
  std::uint64_t m_offered = 0;
  std::atomic<std::int64_t> m_worst_s{INT64_MAX};
  mutable std::atomic<bool> m_more{false}; ///< eligible but not kept
};

/// A directory below dirfd, never through a symlink; O_NOATIME where the
/// caller may use it (the owner or CAP_FOWNER), so that reading it leaves
/// its atime alone.
Fd open_dir(int dirfd, const char* name)
{
  const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  Fd fd(openat(dirfd, name, flags | O_NOATIME));
  if (!fd && errno == EPERM)
    fd.reset(openat(dirfd, name, flags));
  return fd;
}

/// What a directory is, by cachefilesd's rules (first letter of the name).
enum class DirRole { cache, index, fanout };

/// The stat-only walk that feeds the table. Recognition is cachefilesd's:
/// in cache/ and index directories only `@`/`+` fan-outs (and, under cache/,
/// v2 `I` volumes) are entered; in fan-outs `I`/`J` directories are indices
/// and `D`/`E`/`S`/`T` regular files are objects whose name decodes in the
/// cache's format. Anything else is left alone (cachefilesd would delete
/// it; fsc never touches it: `inspect --check` calls it bad-name). Symlinks
/// are never followed and other file systems never entered.
///
/// Workers share a stack of opened directories: the statx calls dominate a
/// cull (the kernel's path walk), and two CPUs do them nearly twice as fast.
/// The table's order is total, so the victims do not depend on the workers.
class Walk {
public:
  Walk(dev_t dev, CullClock by, bool count, Table& table, Format format)
      : m_dev(dev), m_by(by), m_count(count), m_table(table), m_format(format)
  {
  }

  /// Walks cache/ (a new open of cache_fd: its offset is never shared).
  void run(int cache_fd, unsigned workers)
  {
    Fd root = open_dir(cache_fd, ".");
    if (!root)
      return;
    m_stack.push_back({std::move(root),
                       std::make_shared<const std::string>("cache"),
                       DirRole::cache});
    if (workers <= 1) {
      work();
      return;
    }
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < workers; ++i)
      threads.emplace_back([this] { work(); });
    for (auto& t : threads)
      t.join();
  }

  std::uint64_t entries = 0, objects = 0, allocated = 0, apparent = 0;

private:
  struct Job {
    Fd fd;
    std::shared_ptr<const std::string> path;
    DirRole role;
  };
  struct Counts {
    std::uint64_t entries = 0, objects = 0, allocated = 0, apparent = 0;
  };

  void work()
  {
    Counts n;
    std::vector<Job> found;
    std::unique_lock lock(m_mutex);
    for (;;) {
      m_cv.wait(lock, [this] { return !m_stack.empty() || m_busy == 0; });
      if (m_stack.empty())
        break; // nothing queued and nobody left to queue more
      Job job = std::move(m_stack.back());
      m_stack.pop_back();
      ++m_busy;
      lock.unlock();
      dir(job, found, n);
      lock.lock();
      --m_busy;
      // Last in, first out keeps the walk depth-first: the stack, and the
      // directory fds it holds, stay small.
      for (auto& f : found)
        m_stack.push_back(std::move(f));
      found.clear();
      m_cv.notify_all();
    }
    entries += n.entries;
    objects += n.objects;
    allocated += n.allocated;
    apparent += n.apparent;
  }

  void dir(const Job& job, std::vector<Job>& found, Counts& n)
  {
    // One buffer per worker: a directory is read to its end before any of
    // its subdirectories is entered.
    static thread_local char buf[1 << 16];
    // A read error ends the listing: what was read is still culled, the rest
    // of an unreadable directory is left alone.
    DirReader names(job.fd.get(), buf);
    while (const DirEntry* d = names.next()) {
      const char* nm = d->name;
      ++n.entries;
      const char c = nm[0];
      const bool fan = c == '@' || c == '+';
      const bool maybe_dir = d->type == DT_DIR || d->type == DT_UNKNOWN;
      if (job.role != DirRole::fanout) {
        if ((fan || (job.role == DirRole::cache && c == 'I')) && maybe_dir)
          enter(job, nm, fan ? DirRole::fanout : DirRole::index, found);
        continue;
      }
      if (c == 'I' || c == 'J' || fan) {
        if (maybe_dir)
          enter(job, nm, fan ? DirRole::fanout : DirRole::index, found);
        continue;
      }
      if (c != 'D' && c != 'E' && c != 'S' && c != 'T')
        continue;
      if (d->type != DT_REG && d->type != DT_UNKNOWN)
        continue;
      object(job, nm, n);
    }
  }

  void enter(const Job& parent, const char* name, DirRole role,
             std::vector<Job>& found)
  {
    Fd sub = open_dir(parent.fd.get(), name);
    if (!sub)
      return; // not a directory (any more), a symlink, unreadable
    struct stat st;
    if (fstat(sub.get(), &st) == 0 && st.st_dev == m_dev)
      found.push_back(
          {std::move(sub),
           std::make_shared<const std::string>(*parent.path + "/" + name),
           role});
  }

  bool name_decodes(const char* name) const
  {
    return m_format == Format::v2 ? bool(decode_name_v2(name))
                                  : name_decodes_v1(name);
  }

  void object(const Job& job, const char* name, Counts& n)
  {
    struct statx sx;
    if (statx(job.fd.get(), name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
              STATX_TYPE | STATX_INO | STATX_SIZE | STATX_BLOCKS | STATX_ATIME |
                  STATX_MTIME,
              &sx) != 0)
      return;
    if (!S_ISREG(sx.stx_mode) || !name_decodes(name))
      return;
    auto ns = [](const statx_timestamp& t) {
      return std::int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
    };
    if (m_count) {
      ++n.objects;
      n.allocated += sx.stx_blocks * 512;
      n.apparent += sx.stx_size;
    }
    Cand c;
    c.atime_ns = ns(sx.stx_atime);
    c.mtime_ns = ns(sx.stx_mtime);
    c.key_s = floor_s(m_by == CullClock::atime ? c.atime_ns : c.mtime_ns);
    if (!m_table.wants(c.key_s))
      return;
    c.dir = job.path;
    c.name = name;
    c.size = sx.stx_size;
    c.blocks = sx.stx_blocks;
    c.ino = sx.stx_ino;
    m_table.offer(std::move(c));
  }

  dev_t m_dev;
  CullClock m_by;
  bool m_count;
  Table& m_table;
  Format m_format;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<Job> m_stack;
  unsigned m_busy = 0;
};

std::string parent_of(const std::string& p)
{
  auto s = p.rfind('/');
  return s == std::string::npos ? std::string() : p.substr(0, s);
}

std::string base_of(const std::string& p)
{
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::size_t depth_of(const std::string& p)
{
  return std::size_t(std::count(p.begin(), p.end(), '/'));
}

/// Directory fds opened component by component from cache/, never
/// following a link and never leaving the cache's device.
class DirCache {
public:
  /// Directory fds kept open: victims come in atime order, scattered over
  /// the tree, so a small cache reopens whole chains. The soft fd limit is
  /// raised towards the hard one once (1024 is only the historical default).
  static std::size_t fd_budget()
  {
    static const std::size_t budget = [] {
      struct rlimit rl;
      if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return std::size_t(900);
      rlim_t want = std::min<rlim_t>(rl.rlim_max, 16384);
      if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
      }
      return std::size_t(rl.rlim_cur > 256 ? rl.rlim_cur - 128 : 128);
    }();
    return budget;
  }

  DirCache(int cache_fd, dev_t) : m_cache_fd(cache_fd) {}
  ~DirCache() { clear(); }
  DirCache(const DirCache&) = delete;
  DirCache& operator=(const DirCache&) = delete;

  /// fd of path ("cache/@4a/I03nfs/..."), or -1 with errno.
  int get(const std::string& path)
  {
    if (path == "cache")
      return m_cache_fd;
    if (auto it = m_fds.find(path); it != m_fds.end())
      return it->second.get();
    const std::string parent = parent_of(path);
    if (parent.empty()) {
      errno = EINVAL;
      return -1;
    }
    int pfd = get(parent);
    if (pfd < 0)
      return -1;
    const std::string name = base_of(path);
    Fd dir = open_dir(pfd, name.c_str());
    if (!dir)
      return -1;
    const int fd = dir.get();
    // No fstat here: the victim's own statx is checked against the cache's
    // device, which catches a directory on the way that is another mount.
    if (m_fds.size() >= fd_budget())
      clear(); // pfd may be closed now: nothing uses it after this point
    m_fds.emplace(path, std::move(dir));
    return fd;
  }

  void clear() { m_fds.clear(); }

private:
  int m_cache_fd;
  std::unordered_map<std::string, Fd> m_fds;
};

/// False also when it cannot be read: only an empty directory is buried.
bool dir_is_empty(int fd)
{
  char buf[4096];
  // A new open of ".": reading fd itself would move its offset.
  Fd self(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!self)
    return false;
  DirReader names(self.get(), buf);
  return !names.next() && names.error() == 0;
}

class Culler {
public:
  Culler(const Cache& c, const CullOptions& o) : m_cache(c), m_opt(o) {}
  CullReport run();

private:
  void open_graveyard();
  void compute_needs(const FsStats& fs, bool have_fs);
  bool wanted(const Cand& c) const;
  bool apply(const Cand& c, DirCache& dirs);
  void remove_emptied(const std::set<std::string>& parents);
  void problem(const std::string& path, const char* kind, std::string msg)
  {
    m_r.problems.push_back({kind, path, std::move(msg)});
  }
  const char* should_stop() const
  {
    return m_opt.stop ? m_opt.stop() : nullptr;
  }

  const Cache& m_cache;
  const CullOptions& m_opt;
  CullReport m_r;
  Fd m_grave;
  std::uint32_t m_counter = 0;
  unsigned m_workers = 1;
};

bool Culler::wanted(const Cand& c) const
{
  if (m_r.cutoff_s && c.key_s < *m_r.cutoff_s)
    return true;
  return m_r.removed < m_r.need_objects ||
         m_r.removed_allocated < m_r.need_allocated ||
         m_r.removed_apparent < m_r.need_apparent ||
         m_r.removed < m_r.need_files;
}

// Victims are renamed into graveyard/: it must be on the cache's file system.
void Culler::open_graveyard()
{
  const int root = m_cache.root_fd();
  const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  m_grave.reset(openat(root, "graveyard", flags));
  if (!m_grave && errno == ENOENT && mkdirat(root, "graveyard", 0700) == 0)
    m_grave.reset(openat(root, "graveyard", flags));
  if (!m_grave)
    throw_sys("cannot open graveyard", m_cache.root() + "/graveyard", errno);
  struct stat st;
  if (fstat(m_grave.get(), &st) != 0 || st.st_dev != m_cache.dev())
    throw Error(fmt::format("refusing to cull '{}': graveyard/ is on "
                            "another file system",
                            m_cache.root()));
}

void Culler::compute_needs(const FsStats& fs, bool have_fs)
{
  const CullGoal& g = m_opt.goal;
  // Space a dry run would get back from the graveyard anyway.
  const std::uint64_t pending = m_r.leftovers_seen.bytes;
  if (g.max_objects && m_r.objects > *g.max_objects)
    m_r.need_objects = m_r.objects - *g.max_objects;
  if (g.max_size) {
    std::uint64_t total = g.apparent ? m_r.apparent : m_r.allocated;
    std::uint64_t need = total > *g.max_size ? total - *g.max_size : 0;
    (g.apparent ? m_r.need_apparent : m_r.need_allocated) = need;
  }
  if (g.min_free_pct && have_fs) {
    // bavail of the whole file system against a share of its size.
    // In bytes; fs sizes fit in 64 bits (2^64 B = 16 EiB).
    const std::uint64_t target =
        fs.blocks / 100 * fs.bsize * *g.min_free_pct +
        fs.blocks % 100 * fs.bsize * *g.min_free_pct / 100;
    const std::uint64_t avail = fs.bavail * fs.bsize + pending;
    if (avail < target)
      m_r.need_allocated = std::max(m_r.need_allocated, target - avail);
  }
  if (g.thresholds && have_fs) {
    FsStats now = fs;
    if (fs.bsize)
      now.bavail += pending / fs.bsize;
    m_r.thresholds_used = true;
    m_r.limits =
        compute_thresholds(g.blocks, g.files, now,
                           kernel_gen_for(m_cache.format()), m_opt.page_size);
    m_r.before = evaluate(m_r.limits);
    if (m_r.before.culling()) {
      m_r.need_allocated = std::max(m_r.need_allocated,
                                    m_r.before.blocks_to_run * m_r.limits.unit);
      m_r.need_files = m_r.before.files_to_run;
    }
  }
  if (g.older_than_s) {
    std::int64_t now = m_opt.now_ns ? m_opt.now_ns : clock_ns();
    m_r.cutoff_s = floor_s(now) - *g.older_than_s;
  }
}

bool Culler::apply(const Cand& c, DirCache& dirs)
{
  CullVictim v;
  v.path = c.path();
  v.atime_ns = c.atime_ns;
  v.mtime_ns = c.mtime_ns;
  v.size = c.size;
  v.blocks = c.blocks;
  v.ino = c.ino;
  const std::string& parent = *c.dir;
  const std::string& name = c.name;
  CullAction act = CullAction::removed;
  int dfd = dirs.get(parent);
  if (dfd < 0) {
    if (errno == ENOENT) {
      act = CullAction::skipped_gone;
    } else {
      problem(v.path, "unsafe-path",
              fmt::format("cannot open its directory safely: {}",
                          errno_text(errno)));
      act = CullAction::failed;
    }
  } else {
    Stat st;
    int rc = stat_at(dfd, name.c_str(), st);
    const std::int64_t clock =
        m_opt.by == CullClock::atime ? st.atime_ns : st.mtime_ns;
    const std::int64_t was =
        m_opt.by == CullClock::atime ? c.atime_ns : c.mtime_ns;
    if (rc > 0 && rc != ENOENT) {
      problem(v.path, "unreadable", "cannot stat: " + errno_text(rc));
      act = CullAction::failed;
    } else if (rc != 0 || !S_ISREG(st.mode) || st.ino != c.ino ||
               makedev(st.dev_major, st.dev_minor) != m_cache.dev()) {
      act = CullAction::skipped_gone;
    } else if (clock != was) {
      act = CullAction::skipped_used;
    } else if (!m_opt.dry_run) {
      std::string grave_name;
      if (int err = bury_at(dfd, name.c_str(), m_grave.get(), m_counter,
                            &grave_name)) {
        if (err == ENOENT) {
          act = CullAction::skipped_gone;
        } else {
          problem(v.path, "rename-failed",
                  "cannot move into graveyard/: " + errno_text(err));
          act = CullAction::failed;
        }
      } else {
        ReapStats rs;
        int rerr = 0;
        if (unlinkat(m_grave.get(), grave_name.c_str(), 0) != 0)
          rerr = errno == EISDIR || errno == EPERM
                     ? remove_tree_at(m_grave.get(), grave_name.c_str(), rs)
                     : errno;
        if (rerr)
          problem("graveyard/" + grave_name, "unlink-failed",
                  fmt::format("moved {} into the graveyard but cannot remove "
                              "it: {} (the next run retries)",
                              v.path, errno_text(rerr)));
      }
    }
    if (m_opt.dry_run && act == CullAction::removed)
      act = CullAction::would_remove;
  }
  switch (act) {
  case CullAction::removed:
  case CullAction::would_remove:
    ++m_r.removed;
    m_r.removed_allocated += c.blocks * 512;
    m_r.removed_apparent += c.size;
    break;
  case CullAction::skipped_used:
    ++m_r.skipped_used;
    break;
  case CullAction::skipped_gone:
    ++m_r.skipped_gone;
    break;
  case CullAction::failed:
    ++m_r.failed;
    break;
  }
  if (m_opt.on_victim)
    m_opt.on_victim(v, act);
  return act == CullAction::removed || act == CullAction::would_remove;
}

// Fan-outs left empty are rmdir'ed (as cachefilesd does); an index left
// empty is buried and reaped like a victim; then the same one level up.
// Never cache/, never a primary index or volume unless asked.
void Culler::remove_emptied(const std::set<std::string>& parents)
{
  // Deepest first, so that a parent is looked at after its children.
  auto deeper = [](const std::string& a, const std::string& b) {
    return depth_of(a) != depth_of(b) ? depth_of(a) > depth_of(b) : a < b;
  };
  std::set<std::string, decltype(deeper)> todo(parents.begin(), parents.end(),
                                               deeper);
  std::set<std::string> seen;
  DirCache dirs(m_cache.cache_fd(), m_cache.dev());
  while (!todo.empty()) {
    std::string path = *todo.begin();
    todo.erase(todo.begin());
    if (path == "cache" || !seen.insert(path).second || depth_of(path) < 1)
      continue;
    const std::string name = base_of(path);
    const bool fanout = parse_fanout(name).has_value() || name[0] == '+';
    // v1: cache/@xx/I03nfs is a netfs primary index; v2: cache/I<volume>.
    const bool top_object =
        !fanout && (depth_of(path) == 1 ||
                    (m_cache.format() == Format::v1 && depth_of(path) == 2));
    if (!fanout && (name[0] != 'I' && name[0] != 'J'))
      continue;
    if (!fanout && top_object && !m_opt.include_primary)
      continue;
    int pfd = dirs.get(parent_of(path));
    if (pfd < 0)
      continue;
    if (fanout) {
      if (unlinkat(pfd, name.c_str(), AT_REMOVEDIR) != 0)
        continue; // ENOTEMPTY: still in use by other objects
    } else {
      int fd = dirs.get(path);
      if (fd < 0 || !dir_is_empty(fd))
        continue;
      std::string grave_name;
      if (bury_at(pfd, name.c_str(), m_grave.get(), m_counter, &grave_name) !=
          0)
        continue;
      ReapStats rs;
      remove_tree_at(m_grave.get(), grave_name.c_str(), rs);
    }
    ++m_r.dirs_removed;
    todo.insert(parent_of(path));
  }
}

CullReport Culler::run()
{
  const auto t0 = std::chrono::steady_clock::now();
  if (m_cache.format() == Format::mixed)
    throw Error(fmt::format("refusing to cull '{}': it mixes v1 and v2 "
                            "layouts (fsc inspect --check explains)",
                            m_cache.root()));
  if (!m_opt.dry_run) {
    open_graveyard();
    // What an interrupted run (or the kernel) left behind goes first.
    m_r.leftovers = reap_graveyard(m_grave.get());
    if (m_r.leftovers.errors)
      problem("graveyard", "reap-failed",
              fmt::format("{} entries of graveyard/ could not be removed",
                          m_r.leftovers.errors));
  } else {
    m_r.leftovers_seen = graveyard_usage(m_cache.root_fd());
  }
  m_counter = std::uint32_t(clock_ns() & 0xffff) << 8; // spread across runs

  FsStats fs;
  const bool have_fs = fs_stats(m_cache.root_fd(), fs) == 0;
  // Goals that do not depend on the scan are known now: when they ask for
  // nothing, there is nothing to scan for (cron runs on a healthy cache).
  compute_needs(fs, have_fs);
  const CullGoal& g = m_opt.goal;
  if (!g.max_size && !g.max_objects && !m_r.cutoff_s &&
      m_r.need_allocated == 0 && m_r.need_files == 0) {
    m_r.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count();
    return m_r;
  }

  const std::size_t k = std::max<std::size_t>(m_opt.table_size, 1);
  ScanOptions so;
  so.threads = m_opt.threads;
  m_workers = scan_workers(so);
  std::optional<Cand> boundary;
  bool done = false;
  while (!done) {
    const bool first = m_r.passes == 0;
    ++m_r.passes;
    Table table(k, boundary ? &*boundary : nullptr);
    Walk walk(m_cache.dev(), m_opt.by, first, table, m_cache.format());
    walk.run(m_cache.cache_fd(), m_workers);
    m_r.scanned += walk.entries;
    if (first) {
      m_r.objects = walk.objects;
      m_r.allocated = walk.allocated;
      m_r.apparent = walk.apparent;
      compute_needs(fs, have_fs);
    }
    bool overflowed = false;
    std::vector<Cand> cands = table.take(overflowed);
    DirCache dirs(m_cache.cache_fd(), m_cache.dev());
    std::set<std::string> parents;
    bool met = false;
    for (auto& c : cands) {
      if (!wanted(c)) {
        met = true;
        break;
      }
      if (const char* why = should_stop()) {
        m_r.stopped = why;
        break;
      }
      boundary = c;
      if (apply(c, dirs) && !m_opt.dry_run)
        parents.insert(*c.dir);
    }
    dirs.clear();
    if (!m_opt.dry_run && !parents.empty())
      remove_emptied(parents);
    if (!m_r.stopped.empty()) {
      done = true;
      m_r.goal_met = false;
    } else if (met)
      done = true;
    else if (!overflowed) {
      done = true;
      // Out of candidates: an unmet size/count goal stays unmet.
      m_r.goal_met = m_r.removed >= m_r.need_objects &&
                     m_r.removed_allocated >= m_r.need_allocated &&
                     m_r.removed_apparent >= m_r.need_apparent &&
                     m_r.removed >= m_r.need_files;
    } else if (cands.empty()) {
      done = true;
    }
  }
  m_grave.reset();
  m_r.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();
  return m_r;
}

} // namespace

const char* cull_action_name(CullAction a)
{
  switch (a) {
  case CullAction::would_remove:
    return "would remove";
  case CullAction::removed:
    return "removed";
  case CullAction::skipped_used:
    return "skipped (used)";
  case CullAction::skipped_gone:
    return "skipped (gone)";
  case CullAction::failed:
    return "failed";
  }
  return "?";
}

KernelGen kernel_gen_for(Format f)
{
  return f == Format::v1 ? KernelGen::v1 : KernelGen::v2;
}

bool cull_before(std::int64_t a_s, const std::string& a_path, std::int64_t b_s,
                 const std::string& b_path)
{
  return a_s != b_s ? a_s < b_s : a_path > b_path;
}

CullReport cull(const Cache& cache, const CullOptions& opt)
{
  Culler c(cache, opt);
  return c.run();
}

} // namespace fsc::cachefiles
