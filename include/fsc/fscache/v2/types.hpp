// types.hpp - the 6.1 engine's states, flag bits and trace reasons, with the
// strings 6.1 prints for them (docs/engine-v2.md §1.4, §2.1, §2.2).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fsc::fscache::v2 {

/// enum fscache_cookie_state; letters of /proc/fs/fscache/cookies.
enum class CookieState : std::uint8_t {
  quiescent,
  looking_up,
  creating,
  active,
  invalidating,
  failed,
  lru_discarding,
  withdrawing,
  relinquishing,
  dropped,
};
inline constexpr std::size_t k_cookie_states = 10;
inline constexpr std::string_view k_cookie_state_letters = "-LCAIFUWRD";
/// "QUIESCENT", "LOOKING_UP", ... (for messages and tests).
std::string_view state_name(CookieState);

/// Bit numbers of cookie->flags (include/linux/fscache.h).
namespace cookie_flag {
inline constexpr unsigned relinquished = 0, retired = 1, is_caching = 2,
                          no_data_to_read = 3, needs_update = 4,
                          has_been_cached = 5, disabled = 6, local_write = 7,
                          no_access_wake = 8, do_relinquish = 9,
                          do_withdraw = 10, do_lru_discard = 11,
                          do_prep_to_write = 12, have_data = 13, is_hashed = 14,
                          do_invalidate = 15;
}

/// Bit numbers of volume->flags.
namespace volume_flag {
inline constexpr unsigned relinquished = 0, invalidate = 1, collided_with = 2,
                          acquire_pending = 3, creating = 4;
}

/// enum fscache_cache_state; /proc letters "-PAEW".
enum class CacheState : std::uint8_t {
  not_present,
  preparing,
  active,
  got_ioerror,
  withdrawn
};

/// What a begin_operation wants (enum fscache_want_state).
enum class Want : std::uint8_t { params, write, read };

/// fscache_cache_traces.
enum class CacheTrace : std::uint8_t {
  collision,
  get_acquire,
  new_acquire,
  put_alloc_volume,
  put_cache,
  put_prep_failed,
  put_relinquish,
  put_volume,
};
inline constexpr std::array<std::string_view, 8> k_cache_trace = {
    "*COLLIDE*", "GET acq  ", "NEW acq  ", "PUT alvol",
    "PUT cache", "PUT pfail", "PUT relnq", "PUT vol  "};

/// fscache_volume_traces.
enum class VolumeTrace : std::uint8_t {
  collision,
  get_cookie,
  get_create_work,
  get_hash_collision,
  get_withdraw,
  free,
  new_acquire,
  put_cookie,
  put_create_work,
  put_hash_collision,
  put_relinquish,
  put_withdraw,
  see_create_work,
  see_hash_wake,
  wait_create_work,
};
inline constexpr std::array<std::string_view, 15> k_volume_trace = {
    "*COLLIDE*", "GET cook ", "GET creat", "GET hcoll", "GET withd",
    "FREE     ", "NEW acq  ", "PUT cook ", "PUT creat", "PUT hcoll",
    "PUT relnq", "PUT withd", "SEE creat", "SEE hwake", "WAIT crea"};

/// fscache_cookie_traces.
enum class CookieTrace : std::uint8_t {
  collision,
  discard,
  failed,
  get_attach_object,
  get_end_access,
  get_hash_collision,
  get_inval_work,
  get_lru,
  get_use_work,
  new_acquire,
  put_hash_collision,
  put_lru,
  put_object,
  put_over_queued,
  put_relinquish,
  put_withdrawn,
  put_work,
  see_active,
  see_lru_discard,
  see_lru_discard_clear,
  see_lru_do_one,
  see_relinquish,
  see_withdraw,
  see_work,
};
inline constexpr std::array<std::string_view, 24> k_cookie_trace = {
    "*COLLIDE*", "DISCARD  ", "FAILED   ", "GET attch", "GQ  endac",
    "GET hcoll", "GQ  inval", "GET lru  ", "GQ  use  ", "NEW acq  ",
    "PUT hcoll", "PUT lru  ", "PUT obj  ", "PQ  overq", "PUT relnq",
    "PUT wthdn", "PQ  work ", "-   activ", "-   x-lru", "-   lrudc",
    "-   lrudo", "-   x-rlq", "-   x-wth", "-   work "};

/// fscache_active_traces.
enum class ActiveTrace : std::uint8_t { use, use_modify, unuse };
inline constexpr std::array<std::string_view, 3> k_active_trace = {
    "USE          ", "USE-m        ", "UNUSE        "};

/// fscache_access_traces (cookie, volume and cache accesses).
enum class AccessTrace : std::uint8_t {
  acquire_volume,
  acquire_volume_end,
  cache_pin,
  cache_unpin,
  invalidate_cookie,
  invalidate_cookie_end,
  io_end,
  io_not_live,
  io_read,
  io_resize,
  io_wait,
  io_write,
  lookup_cookie,
  lookup_cookie_end,
  lookup_cookie_end_failed,
  relinquish_volume,
  relinquish_volume_end,
  unlive,
};
inline constexpr std::array<std::string_view, 18> k_access_trace = {
    "BEGIN acq_vol", "END   acq_vol", "PIN   cache  ", "UNPIN cache  ",
    "BEGIN inval  ", "END   inval  ", "END   io     ", "END   io_notl",
    "BEGIN io_read", "BEGIN io_resz", "WAIT  io     ", "BEGIN io_writ",
    "BEGIN lookup ", "END   lookup ", "END   lookupf", "BEGIN rlq_vol",
    "END   rlq_vol", "END   unlive "};

/// cachefiles_obj_ref_traces (cachefiles_ref).
enum class ObjRefTrace : std::uint8_t {
  get_ioreq,
  new_obj,
  put_alloc_fail,
  put_detach,
  put_ioreq,
  see_clean_commit,
  see_clean_delete,
  see_clean_drop_tmp,
  see_lookup_cookie,
  see_lookup_failed,
  see_withdraw_cookie,
  see_withdrawal,
};
inline constexpr std::array<std::string_view, 12> k_obj_ref_trace = {
    "GET ioreq",           "NEW obj",
    "PUT alloc_fail",      "PUT detach",
    "PUT ioreq",           "SEE clean_commit",
    "SEE clean_delete",    "SEE clean_drop_tmp",
    "SEE lookup_cookie",   "SEE lookup_failed",
    "SEE withdraw_cookie", "SEE withdrawal"};

/// cachefiles_obj_kill_traces (w= of unlink and rename).
enum class KillTrace : std::uint8_t {
  stale,
  weird,
  invalidated,
  no_space,
  was_retired,
  was_culled,
  volume_weird,
};
inline constexpr std::array<std::string_view, 7> k_kill_trace = {
    "stale",       "weird",      "inval",       "no_space",
    "was_retired", "was_culled", "volume_weird"};

/// cachefiles_coherency_traces.
enum class CoherencyTrace : std::uint8_t {
  check_aux,
  check_content,
  check_dirty,
  check_len,
  check_objsize,
  check_ok,
  check_type,
  check_xattr,
  set_fail,
  set_ok,
  vol_check_cmp,
  vol_check_ok,
  vol_check_resv,
  vol_check_xattr,
  vol_set_fail,
  vol_set_ok,
};
inline constexpr std::array<std::string_view, 16> k_coherency_trace = {
    "BAD aux ",     "BAD cont",     "BAD dirt",     "BAD len ",
    "BAD osiz",     "OK      ",     "BAD type",     "BAD xatt",
    "SET fail",     "SET ok  ",     "VOL BAD cmp ", "VOL OK      ",
    "VOL BAD resv", "VOL BAD xatt", "VOL SET fail", "VOL SET ok  "};

/// cachefiles_trunc_traces.
enum class TruncTrace : std::uint8_t { dio_adjust, expand_tmpfile, shrink };
inline constexpr std::array<std::string_view, 3> k_trunc_trace = {
    "DIOADJ", "EXPTMP", "SHRINK"};

template <class E, std::size_t N>
constexpr std::string_view name_of(const std::array<std::string_view, N>& t,
                                   E e)
{
  return t[static_cast<std::size_t>(e)];
}

/// Fixes to fs/fscache and fs/cachefiles after 5.17 that the engine
/// models (docs/engine-v2.md §6.3). All are in, as 6.1.158 has them;
/// `--unfix NAME` takes one out so that a scenario replays the bug.
struct Fixes {
  bool lru_use_race = true;        ///< b5b52de3214a (v6.1)
  bool inval_during_lookup = true; ///< 85e4ea1049c7 (v5.19-rc6)
  bool inval_access_leak = true;   ///< fb24771faf72 (v6.0-rc1)
  bool unmark_on_error = true;     ///< ea5dc046127e (v5.18-rc2)
  bool shorten_length = true;      ///< b08968f196d4 (v5.17-rc7)
};

struct FixName {
  std::string_view name;   ///< for --unfix
  bool Fixes::*member;
  std::string_view commit; ///< mainline id and subject
};

/// The names --unfix and a scenario's `fixes` line take, in §6.3's order.
const std::vector<FixName>& fix_names();

} // namespace fsc::fscache::v2
