// types.hpp - the 4.19 FS-Cache vocabulary: ids, flag bits, states, events
// and the trace enums, each printed exactly as include/trace/events/
// {fscache,cachefiles}.h print them (spec v1-tracepoints §1).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace fsc::fscache {

using CookieId = std::uint32_t; ///< synthetic: 4.19 cookies have no debug id
using ObjectId = std::uint32_t; ///< the object's debug_id (OBJ%x)
using OpId = std::uint32_t;     ///< the operation's debug_id

enum class CookieType : std::uint8_t { index = 0, data = 1, special = 2 };

/// struct fscache_cookie flag bits (engine §1.3).
namespace cookie_flag {
inline constexpr unsigned looking_up = 0, no_data_yet = 1, unavailable = 2,
                          invalidating = 3, relinquished = 4, enabled = 5,
                          enablement_lock = 6, aux_updated = 8, acquired = 9;
}

/// struct fscache_object flag bits (engine §2.1.1).
namespace object_flag {
inline constexpr unsigned pending_write = 1, is_live = 3, is_looked_up = 4,
                          is_available = 5, retired = 6, killed_by_cache = 7,
                          run_after_dead = 8;
}

/// Object states in 4.19 declaration order.
enum class ObjState : std::uint8_t {
  init_object,
  parent_ready,
  abort_init,
  look_up_object,
  create_object,
  object_available,
  jumpstart_deps,
  invalidate_object,
  update_object,
  lookup_failure,
  kill_object,
  kill_dependents,
  drop_object,
  object_dead,
  wait_for_init,
  wait_for_parent,
  wait_for_cmd,
  wait_for_clearance,
};
inline constexpr std::array<std::string_view, 18> obj_state_names{
    "INIT", "PRDY", "ABRT", "LOOK", "CRTO", "AVBL", "JUMP", "INVL", "UPDT",
    "LCFL", "KILL", "KDEP", "DROP", "DEAD", "?INI", "?PRN", "?CMD", "?CLR"};

inline std::string_view state_name(ObjState s)
{
  return obj_state_names[static_cast<unsigned>(s)];
}
inline bool is_wait_state(ObjState s) { return s >= ObjState::wait_for_init; }

/// Object event numbers (bit positions in object->events).
enum class ObjEvent : std::int8_t {
  none = -1,
  new_child = 0,
  parent_ready,
  update,
  invalidate,
  cleared,
  error,
  kill,
};
inline constexpr unsigned ev_bit(ObjEvent e) { return 1U << int(e); }

/// enum fscache_cookie_trace.
enum class CookieTrace : std::uint8_t {
  collision,
  discard,
  get_acquire_parent,
  get_attach_object,
  get_reacquire,
  get_register_netfs,
  put_acquire_nobufs,
  put_dup_netfs,
  put_relinquish,
  put_object,
  put_parent,
};
inline constexpr std::array<std::string_view, 11> cookie_trace_names{
    "*COLLISION*", "DISCARD", "GET prn", "GET obj", "GET raq", "GET net",
    "PUT nbf",     "PUT dnt", "PUT rlq", "PUT obj", "PUT prn"};

/// enum fscache_obj_ref_trace continued by cachefiles_obj_ref_trace.
enum class ObjRefTrace : std::uint8_t {
  get_add_to_deps,
  get_queue,
  put_alloc_fail,
  put_attach_fail,
  put_drop_obj,
  put_enq_dep,
  put_queue,
  put_work,
  put_wait_retry,
  put_wait_timeo,
};
inline constexpr std::array<std::string_view, 10> obj_ref_trace_names{
    "GET add_to_deps", "GET queue",     "PUT alloc_fail", "PUT attach_fail",
    "PUT drop_obj",    "PUT enq_dep",   "PUT queue",      "PUT work",
    "PUT wait_retry",  "PUT wait_timeo"};

/// enum fscache_op_trace (trailing spaces are the kernel's).
enum class OpTrace : std::uint8_t {
  cancel,
  cancel_all,
  cancelled,
  completed,
  enqueue_async,
  enqueue_mythread,
  gc,
  init,
  put,
  run,
  signal,
  submit,
  submit_ex,
  work,
};
inline constexpr std::array<std::string_view, 14> op_trace_names{
    "Cancel1", "CancelA", "Canclld", "Complet", "EnqAsyn",
    "EnqMyTh", "GC     ", "Init   ", "Put    ", "Run    ",
    "Signal ", "Submit ", "SubmitX", "Work   "};

/// enum fscache_page_op_trace.
enum class PageOpTrace : std::uint8_t {
  alloc_one,
  attr_changed,
  check_consistency,
  invalidate,
  retr_multi,
  retr_one,
  write_one,
};
inline constexpr std::array<std::string_view, 7> page_op_trace_names{
    "Alloc1 ", "AttrChg", "CheckCn", "Inval  ",
    "RetrMul", "Retr1  ", "Write1 "};

/// enum fscache_page_trace; "RxSPend " really has 8 characters.
enum class PageTrace : std::uint8_t {
  cached,
  inval,
  maybe_release,
  radix_clear_store,
  radix_delete,
  radix_insert,
  radix_pend2store,
  radix_set_pend,
  uncache,
  write,
  write_end,
  write_end_pend,
  write_end_noc,
  write_wait,
};
inline constexpr std::array<std::string_view, 14> page_trace_names{
    "Cached ", "InvalPg", "MayRels",  "RxCStr ", "RxDel  ",
    "RxIns  ", "RxP2S  ", "RxSPend ", "Uncache", "WritePg",
    "EndPgWr", "EndPgWP", "EndPgNC",  "WtOnWrt"};

/// enum fscache_why_object_killed (cachefiles unlink/rename/mark_buried).
enum class KillReason : std::uint8_t {
  stale,
  no_space,
  was_retired,
  was_culled
};
inline constexpr std::array<std::string_view, 4> kill_reason_names{
    "stale", "no_space", "was_retired", "was_culled"};

/// enum fscache_checkaux.
enum class CheckAux : std::uint8_t { okay, needs_update, obsolete };

/// The kernel-internal "interrupted, restart the syscall" errno.
inline constexpr int ERESTARTSYS_ = 512;

/// Operation states (engine §3.1).
enum class OpState : std::uint8_t {
  blank,
  initialised,
  pending,
  in_progress,
  complete,
  cancelled,
  dead
};

} // namespace fsc::fscache
