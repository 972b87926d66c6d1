// space.cpp - cachefiles_has_space() as 6.1 writes it (cache.c).
#include <fsc/fscache/v2/space.hpp>

#include <cerrno>

namespace fsc::fscache::v2 {

bool SpaceState::set(const Space& s)
{
  auto ordered = [](unsigned stop, unsigned cull, unsigned run) {
    return stop < cull && cull < run && run < 100;
  };
  if (!ordered(s.fstop, s.fcull, s.frun) || !ordered(s.bstop, s.bcull, s.brun))
    return false;
  m_space = s;
  // cachefiles_add_cache(): the division first, as the kernel does it.
  m_frun = s.files / 100 * s.frun;
  m_fcull = s.files / 100 * s.fcull;
  m_fstop = s.files / 100 * s.fstop;
  m_brun = s.blocks / 100 * s.brun;
  m_bcull = s.blocks / 100 * s.bcull;
  m_bstop = s.blocks / 100 * s.bstop;
  return true;
}

int SpaceState::has_space(std::uint64_t fnr, std::uint64_t bnr, SpaceWhy why)
{
  if (m_space.files == 0)
    return 0; // no statfs figures given: a filesystem with room
  // b_writing (pages being written) is 0 here: writes complete at once.
  const std::uint64_t ffree = m_space.ffree > fnr ? m_space.ffree - fnr : 0;
  const std::uint64_t bavail =
      m_space.bavail > bnr ? m_space.bavail - bnr : 0;
  if (ffree < m_fstop || bavail < m_bstop) {
    if (why == SpaceWhy::write)
      ++counts.nwr;
    else if (why == SpaceWhy::create)
      ++counts.ncr;
    m_culling = true;
    return -ENOBUFS;
  }
  if (ffree < m_fcull || bavail < m_bcull) {
    m_culling = true;
    return 0;
  }
  if (m_culling && ffree >= m_frun && bavail >= m_brun)
    m_culling = false;
  return 0;
}

} // namespace fsc::fscache::v2
