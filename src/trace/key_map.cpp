// key_map.cpp - where a key sits in a KeyMap.
#include <fsc/trace/key_map.hpp>

namespace fsc::trace {

std::uint64_t key_hash(Key k)
{
  // Kernel pointers differ in few bits, and those not the low ones: mix
  // every bit into the low ones (murmur3's finaliser).
  std::uint64_t h = k.v ^ std::uint64_t(k.tag) * 0x9e3779b97f4a7c15u;
  h = (h ^ h >> 33) * 0xff51afd7ed558ccdu;
  h = (h ^ h >> 33) * 0xc4ceb9fe1a85ec53u;
  return h ^ h >> 33;
}

} // namespace fsc::trace
