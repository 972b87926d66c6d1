// fault.hpp - fault injection: a plan of "fail POINT at its Nth call with
// ERRNO" rules, and a Backend wrapper that applies it to any backend call.
// Points are backend calls ("lookup_object", "write_page", ...) and the
// file operations a backend performs ("fs.mkdir", "fs.create",
// "fs.setxattr", "fs.write", "fs.truncate", "fs.unlink", "fs.rename", and
// "space" for the free-space check).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fsc/fscache/backend.hpp>

namespace fsc::fscache {

class FaultPlan {
public:
  struct Rule {
    std::string point;
    CookieId cookie = 0; ///< 0: any cookie
    int nth = 1;         ///< 0: every call
    int err = 0;         ///< positive errno
    int seen = 0;
  };
  void add(Rule r) { m_rules.push_back(std::move(r)); }
  bool empty() const { return m_rules.empty(); }
  /// 0, or the -errno this call of point fails with.
  int check(const std::string& point);
  /// The cookie on whose behalf the backend works now (set by the wrapper).
  void set_cookie(CookieId c) { m_cookie = c; }

  /// Every point name a rule may use.
  static const std::vector<std::string>& points();

private:
  std::vector<Rule> m_rules;
  CookieId m_cookie = 0;
};

/// Wraps a backend: each call first consults the plan (with the object's
/// cookie set), failing with the rule's errno instead of calling through.
class FaultyBackend final : public Backend {
public:
  FaultyBackend(Backend& inner, FaultPlan& plan,
                std::function<CookieId(ObjectId)> cookie_of);

  void set_host(BackendHost& h) override;
  int alloc_object(ObjectId, CookieType, ByteView key, ByteView aux) override;
  int lookup_object(ObjectId, ObjectId parent, std::uint64_t limit) override;
  void lookup_complete(ObjectId) override;
  void update_object(ObjectId, CookieType, ByteView aux) override;
  int check_consistency(ObjectId) override;
  int attr_changed(ObjectId, std::uint64_t) override;
  int invalidate_object(ObjectId, std::uint64_t) override;
  void drop_object(ObjectId, bool retired, bool killed) override;
  void put_object(ObjectId) override;
  int read_or_alloc_page(ObjectId, std::uint64_t, Bytes*) override;
  int allocate_page(ObjectId, std::uint64_t) override;
  int write_page(ObjectId, std::uint64_t, ByteView, std::uint64_t) override;

private:
  int gate(const char* point, ObjectId id);

  Backend& m_inner;
  FaultPlan& m_plan;
  std::function<CookieId(ObjectId)> m_cookie_of;
  BackendHost* m_host = nullptr;
  CookieId m_next_alloc_cookie = 0;
};

} // namespace fsc::fscache
