// fuzz_xattr.cpp - xattr decoders of both formats never crash and round-trip.
#include <fsc/cachefiles/xattr.hpp>

#include <cstdlib>

using namespace fsc;
using namespace fsc::cachefiles;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size)
{
  ByteView raw(data, size);
  if (auto x = decode_xattr_v1(raw))
    if (encode_xattr_v1(x->type, x->aux) != Bytes(raw.begin(), raw.end()))
      std::abort();
  if (auto x = decode_xattr_v2(raw))
    if (encode_xattr_v2(*x) != Bytes(raw.begin(), raw.end()))
      std::abort();
  if (auto v = decode_volume_xattr(raw))
    if (v->reserved == 0 &&
        encode_volume_xattr(v->coherency) != Bytes(raw.begin(), raw.end()))
      std::abort();
  content_name(size ? data[0] : 0);
  return 0;
}
