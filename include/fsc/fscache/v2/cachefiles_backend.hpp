// cachefiles_backend.hpp - CacheFiles as 6.1 runs it (fs/cachefiles, the
// 5.17+ rewrite) on a cachefiles::Store, i.e. on a real cache directory or
// on an overlay over a read-only one: volume directories "cache/I<key>" with
// their coherency xattr and 256 fan-outs, data files made as tmpfiles (mode
// 0) and linked at commit under the cook_v2() name in the fan-out of the
// 6.1 cookie hash, the 18 + aux byte cachefiles_xattr, the coherency check
// at lookup, burial (files unlinked, directories renamed into graveyard/)
// and page I/O (docs/engine-v2.md §4). B= values are the store's inodes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include <fsc/cachefiles/store.hpp>
#include <fsc/fscache/v2/backend.hpp>
#include <fsc/fscache/v2/space.hpp>

namespace fsc::fscache::v2 {

class CacheFilesBackend final : public Backend, public Daemon {
public:
  /// Where a fault can be injected (as MemoryBackend's, plus burial).
  enum class Fault : std::uint8_t {
    bind,
    acquire_volume,
    alloc_object,
    cook_key,
    lookup,
    open,
    getxattr,
    create_tmpfile,
    invalidate_tmpfile,
    setxattr,
    link,
    write,
    bury, ///< the unlink or rename of cachefiles_bury_object
  };
  /// Returns 0 to let the step happen, or -errno to fail it.
  using FaultHook = std::function<int(Fault, std::uint32_t cookie)>;

  /// clock: seconds for graveyard names ("%08x%08x" of seconds and
  /// ++gravecounter); virtual time makes runs repeat.
  CacheFilesBackend(cachefiles::Store& store,
                    std::function<std::uint32_t()> clock,
                    FaultHook faults = {});

  void set_host(BackendHost& h) override { m_host = &h; }

  // Daemon: paths relative to the cache root, as path_of() gives them.
  int cull(std::string_view dir, std::string_view name) override;
  int inuse(std::string_view dir, std::string_view name) override;
  SpaceState& space() override { return m_space; }
  void set_faults(FaultHook f) { m_faults = std::move(f); }

  /// Where 6.1 puts the object of key in volume volume_key, relative to the
  /// cache root ("cache/I<key>/@xx/<cooked name>").
  static std::string path_of(std::string_view volume_key, ByteView key);
  /// Objects alive (cachefiles_object), attached or finishing I/O.
  std::size_t live_objects() const { return m_objects.size(); }
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
    std::string fan;  ///< "cache/I<key>/@xx"
    std::string path; ///< fan + "/" + cooked name
    std::uint64_t fan_ino = 0;
    std::string file; ///< object->file: path, or tmpfile handle; "" none
    std::uint64_t ino = 0;
    bool tmpfile = false; ///< CACHEFILES_OBJECT_USING_TMPFILE
    std::uint8_t content_info = 0;
    bool listed = false;
    std::uint64_t listed_seq = 0;
  };
  struct VolDir {
    std::string path;
    std::uint64_t ino = 0;
    std::uint64_t fanout[256] = {};
  };

  int fault(Fault f, const Cookie* c) const
  {
    return m_faults ? m_faults(f, c ? c->debug_id : 0) : 0;
  }
  Observer& obs() { return m_host->observer(); }
  int get_directory(std::uint64_t parent_ino, const std::string& rel,
                    std::uint64_t& ino, bool* is_new);
  void put_directory(std::uint64_t ino);
  int bury(std::uint32_t o, const std::string& rel, KillTrace why);
  bool create_tmpfile(Object& o);
  int check_auxdata(Object& o, const std::string& rel);
  void set_object_xattr(Object& o);
  void put_object(Object& o, ObjRefTrace why);
  void unmark_volume(VolDir& d);

  cachefiles::Store& m_store;
  std::function<std::uint32_t()> m_clock;
  FaultHook m_faults;
  BackendHost* m_host = nullptr;
  SpaceState m_space;
  std::uint64_t m_root_ino = 2, m_cache_ino = 0, m_grave_ino = 0;
  std::uint32_t m_gravecounter = 0;
  std::set<std::uint64_t> m_in_use; ///< S_KERNEL_FILE, by inode
  std::map<std::string, VolDir> m_vols;
  std::map<std::uint32_t, Object> m_objects;
  std::map<int, std::uint32_t> m_ios;
  std::uint32_t m_next_obj = 1;
  int m_next_io = 1;
  std::uint64_t m_list_seq = 0;
  unsigned m_reads = 0, m_writes = 0;
};

} // namespace fsc::fscache::v2
