// claim.cpp - the binding check and the lock, in that order.
#include <fsc/cachefiles/claim.hpp>

#include <fsc/error.hpp>

#include <fmt/format.h>

namespace fsc::cachefiles {

tl::expected<Claim, Refusal> claim_cache(const std::string& root,
                                         const ClaimOptions& opt)
{
  Claim c;
  c.binding = detect_binding(root, proc_root(), opt.config_dir);
  if (c.binding.bound && !opt.force && !opt.dry_run) {
    std::string why;
    for (auto& e : c.binding.evidence)
      why += "; " + e;
    return tl::unexpected(Refusal{
        Refusal::Kind::bound,
        fmt::format("refusing to {} '{}': it is bound to a running cache "
                    "daemon{}. Only the process holding /dev/cachefiles can "
                    "ask the kernel whether an object is in use (the "
                    "'inuse' command); changing files behind it can break "
                    "open objects. Stop the "
                    "daemon, or use --force at your own risk",
                    opt.what, root, why)});
  }
  if (opt.dry_run || !opt.take_lock)
    return c;
  c.lock = opt.wait ? CacheLock::acquire_for(root, *opt.wait)
                    : CacheLock::try_acquire(root);
  if (!c.lock)
    return tl::unexpected(Refusal{
        Refusal::Kind::busy,
        fmt::format("'{}' is locked by another fsc run; nothing done", root)});
  return c;
}

void raise(const Refusal& r)
{
  throw Refused(r.message, r.kind == Refusal::Kind::busy ? exit_code::busy
                                                         : exit_code::fatal);
}

} // namespace fsc::cachefiles
