// memory_backend.hpp - a CacheFiles-like v2 backend that keeps its "disk" in
// memory: volume directories with their coherency xattr and 256 fan-outs,
// data files named and placed as 6.1 places them (cook_v2, the 6.1 key
// hash), tmpfile + link, the 18-byte cachefiles_xattr checked at lookup and
// written at commit, cachefiles_object refs, and a fault hook. It prints the
// cachefiles_* lines 6.1 prints (docs/engine-v2.md §4) with inode numbers
// from a counter, so a test can reproduce a real trace's B= values.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <fsc/fscache/v2/backend.hpp>
#include <fsc/fscache/v2/space.hpp>

namespace fsc::fscache::v2 {

class MemoryBackend final : public Backend, public Daemon {
public:
  /// Where a fault can be injected.
  enum class Fault : std::uint8_t {
    bind,               ///< cachefiles_add_cache
    acquire_volume,     ///< the volume directory
    alloc_object,       ///< cachefiles_alloc_object (row 7a)
    cook_key,           ///< cachefiles_cook_key (row 7a, PUT alloc_fail)
    lookup,             ///< the lookup in the fan-out (-EIO: cache I/O error)
    open,               ///< opening a found file
    getxattr,           ///< reading the object's xattr
    create_tmpfile,     ///< a new object's tmpfile
    invalidate_tmpfile, ///< invalidation's new tmpfile (row 19a)
    setxattr,           ///< writing the object's xattr at commit
    link,               ///< linking the tmpfile at commit
    write,              ///< a data write
  };
  /// Returns 0 to let the step happen, or -errno to fail it. The id is
  /// the cookie's c= (0 when none), for acquire_volume the volume's V=.
  using FaultHook = std::function<int(Fault, std::uint32_t cookie)>;

  /// A file of the in-memory cache.
  struct File {
    std::uint64_t ino = 0;
    bool has_xattr = false;
    Bytes xattr; ///< user.CacheFiles.cache
    std::uint64_t size = 0;
    std::set<std::uint64_t> pages; ///< page indices holding data
    bool in_use = false;           ///< S_KERNEL_FILE
  };

  explicit MemoryBackend(FaultHook faults = {});

  void set_host(BackendHost& h) override { m_host = &h; }

  // Daemon: paths relative to the cache root ("cache/I<key>/@xx/<name>").
  int cull(std::string_view dir, std::string_view name) override;
  int inuse(std::string_view dir, std::string_view name) override;
  SpaceState& space() override { return m_space; }
  /// The next inode number handed out (directories and files alike).
  void set_next_ino(std::uint64_t ino) { m_next_ino = ino; }
  void set_faults(FaultHook f) { m_faults = std::move(f); }

  /// How a file put there beforehand answers the coherency check (§4.3).
  enum class Found : std::uint8_t {
    coherent,
    bad_aux,
    bad_size,
    bad_type,
    dirty,
    no_xattr
  };
  /// Puts a data file at the object's place, with every page holding data
  /// and the xattr `how` says, as a run before this one left it (a trace
  /// replay puts there what the trace's lookups found). The volume must
  /// have been acquired.
  void put_file(std::string_view volume_key, ByteView key, ByteView aux,
                std::uint64_t object_size, Found how);

  /// The file at "I<volume key>/@xx/<cooked name>", or null.
  const File* file(std::string_view path) const;
  /// Where 6.1 puts the object of `key` in volume `volume_key`.
  static std::string path_of(std::string_view volume_key, ByteView key);
  /// Every linked data file's path.
  std::vector<std::string> paths() const;
  /// Objects alive (cachefiles_object), attached or finishing I/O.
  std::size_t live_objects() const { return m_objects.size(); }
  /// Writes issued and not yet completed.
  std::size_t writes_in_flight() const { return m_ios.size(); }
  /// Reads stay in flight until complete_write() of their id, as a read
  /// the netfs library issues completes elsewhere (6.12: PUT ioreq after
  /// the task's next calls); last_read() is the id of the last one.
  void hold_reads(bool on) { m_hold_reads = on; }
  int last_read() const { return m_last_read; }
  /// Stats IO rd= and wr=.
  unsigned reads() const { return m_reads; }
  unsigned writes() const { return m_writes; }

  bool bind_cache(Cache&) override;
  void unbind_cache(Cache&) override;
  bool acquire_volume(Volume&) override;
  void free_volume(Volume&) override;
  void withdraw_volume(Volume&) override;
  void withdraw_objects() override;
  bool lookup_cookie(Cookie&) override;
  void withdraw_cookie(Cookie&) override;
  bool invalidate_cookie(Cookie&) override;
  void prepare_to_write(Cookie&) override;
  bool begin_operation(Operation&, Want) override;
  void end_operation(Operation&) override;
  void resize_cookie(Operation&, std::uint64_t new_size) override;
  int read(Operation&, std::uint64_t pos, std::uint64_t len) override;
  int write(Operation&, std::uint64_t pos, std::uint64_t len) override;
  void complete_write(int io) override;

private:
  struct Object {
    std::uint32_t id = 0;
    Cookie* cookie = nullptr;
    Cache* cache = nullptr;
    int ref = 1;
    std::string path;
    std::uint64_t fanout_ino = 0;
    std::shared_ptr<File> file;
    bool tmpfile = false; ///< CACHEFILES_OBJECT_USING_TMPFILE
    std::uint8_t content_info = 0;
    bool listed = false;
    std::uint64_t listed_seq = 0;
  };
  struct VolDir {
    std::uint64_t ino = 0;
    Bytes xattr;
    bool in_use = false;
    std::uint64_t fanout[256] = {};
  };

  int fault(Fault f, const Cookie* c) const
  {
    return m_faults ? m_faults(f, c ? c->debug_id : 0) : 0;
  }
  Observer& obs() { return m_host->observer(); }
  std::shared_ptr<File> new_tmpfile(Object& o, std::uint64_t size);
  void set_object_xattr(Object& o);
  void put_object(Object& o, ObjRefTrace why);
  void unmark_volume(VolDir& d);

  BackendHost* m_host = nullptr;
  FaultHook m_faults;
  std::uint64_t m_next_ino = 0x100;
  std::uint64_t m_cache_ino = 0, m_grave_ino = 0;
  std::map<std::string, VolDir> m_vols;
  std::map<std::string, std::shared_ptr<File>> m_disk;
  SpaceState m_space;
  std::map<std::uint32_t, Object> m_objects;
  std::map<int, std::uint32_t> m_ios;
  std::set<int> m_read_ios;
  bool m_hold_reads = false;
  int m_last_read = 0;
  std::uint32_t m_next_obj = 1;
  int m_next_io = 1;
  std::uint64_t m_list_seq = 0;
  unsigned m_reads = 0, m_writes = 0;
};

} // namespace fsc::fscache::v2
