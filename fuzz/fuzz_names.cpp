// fuzz_names.cpp - the v1 and v2 name decoders never crash, and whatever
// decodes re-encodes to the same name (modulo what the format cannot say).
#include <fsc/cachefiles/key.hpp>

#include <cstdlib>
#include <string_view>

using namespace fsc::cachefiles;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size)
{
  std::string_view name(reinterpret_cast<const char*>(data), size);
  if (auto v1 = decode_name_v1(name)) {
    auto c = cook_v1(v1->key, v1->type, v1->big_endian);
    // Printable names of a key over 4095 bytes alias (12-bit length); an
    // encoded all-printable key is accepted but flagged as suspicious.
    if (v1->key.size() < 4096 && !v1->suspicious && c.name != name)
      std::abort();
  }
  if (auto v2 = decode_name_v2(name)) {
    if (cook_v2(v2->key) != name)
      std::abort();
  }
  if (auto f = parse_fanout(name))
    if (fanout_name(*f) != name)
      std::abort();
  return 0;
}
