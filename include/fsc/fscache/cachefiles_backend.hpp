// cachefiles_backend.hpp - CacheFiles (4.19 fs/cachefiles) as the engine's
// backend, on a Store: the walk to an object through cooked names, the xattr
// check, creation with the kernel's modes and xattrs, burial, the active tree,
// and page I/O. A FaultPlan makes chosen calls fail with a chosen errno.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fsc/cachefiles/key.hpp>
#include <fsc/cachefiles/store.hpp>
#include <fsc/fscache/backend.hpp>
#include <fsc/fscache/fault.hpp>

namespace fsc::fscache {

class CacheFilesBackend final : public fscache::Backend {
public:
  /// clock: seconds for graveyard names (virtual time makes runs repeat).
  CacheFilesBackend(cachefiles::Store& store, FaultPlan& faults,
                    std::function<std::uint32_t()> clock);

  void set_host(fscache::BackendHost& h) override { m_host = &h; }
  int alloc_object(fscache::ObjectId, fscache::CookieType, ByteView key,
                   ByteView aux) override;
  int lookup_object(fscache::ObjectId, fscache::ObjectId parent,
                    std::uint64_t store_limit) override;
  void lookup_complete(fscache::ObjectId) override;
  void update_object(fscache::ObjectId, fscache::CookieType,
                     ByteView aux) override;
  int check_consistency(fscache::ObjectId) override;
  int attr_changed(fscache::ObjectId, std::uint64_t new_size) override;
  int invalidate_object(fscache::ObjectId, std::uint64_t new_size) override;
  void drop_object(fscache::ObjectId, bool retired,
                   bool killed_by_cache) override;
  void put_object(fscache::ObjectId) override;
  int read_or_alloc_page(fscache::ObjectId, std::uint64_t index,
                         Bytes* out) override;
  int allocate_page(fscache::ObjectId, std::uint64_t index) override;
  int write_page(fscache::ObjectId, std::uint64_t index, ByteView page,
                 std::uint64_t store_limit) override;

  /// Where an object lives ("cache/@4a/I03nfs"), empty before its lookup.
  std::string path_of(fscache::ObjectId) const;

private:
  struct Obj {
    fscache::CookieType type = fscache::CookieType::data;
    cachefiles::CookedV1 cooked;
    Bytes xattr; ///< type byte + aux, built at alloc
    std::string path;
    bool active = false;
    std::uint64_t store_limit = 0;
  };
  int walk(fscache::ObjectId id, Obj& o, const std::string& parent_path);
  int check_xattr(fscache::ObjectId id, Obj& o, const std::string& path);
  int bury(fscache::ObjectId owner, const std::string& path,
           fscache::KillReason why, bool preemptive);
  int resize(fscache::ObjectId id, Obj& o, std::uint64_t size);
  std::uint64_t dentry(const std::string& path);
  std::uint64_t inode(const std::string& path);
  std::uint64_t addr(fscache::ObjectId id);
  fscache::Observer& obs() { return m_host->observer(); }

  cachefiles::Store& m_store;
  FaultPlan& m_faults;
  std::function<std::uint32_t()> m_clock;
  fscache::BackendHost* m_host = nullptr;
  std::map<fscache::ObjectId, Obj> m_objs;
  std::map<std::string, fscache::ObjectId> m_active; ///< the active tree
  std::map<std::string, std::uint64_t> m_dentries;
  std::uint32_t m_grave_counter = 0;
  std::uint64_t m_dentry_count = 0;
};

} // namespace fsc::fscache
