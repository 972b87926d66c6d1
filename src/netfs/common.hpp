// common.hpp - helpers shared by the netfs decoders (not installed).
#pragma once

#include <fsc/format.hpp>
#include <fsc/netfs/netfs.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace fsc::netfs {

/// "192.168.1.2" / "fe80::1" for AF_INET (2) / AF_INET6 (10) address bytes.
std::string address_text(int family, ByteView addr);

/// "2023-11-21T07:35:12.123456789Z (1700552112.123456789)".
std::string timespec_text(std::int64_t sec, std::int64_t nsec);

/// Room for timespec_text() without an allocation.
struct TimespecBuf {
  IsoTimeBuf iso;
  char text[96];
  std::string rare;
};
/// timespec_text() written into buf, valid while buf is.
std::string_view timespec_text(std::int64_t sec, std::int64_t nsec,
                               TimespecBuf& buf);

/// Bytes as text with non-printable bytes as \xNN.
std::string printable(std::string_view s);

/// Splits on commas, keeping empty fields.
std::vector<std::string> split_commas(std::string_view s);

// Per-netfs decoders, called by the dispatch in netfs.cpp.
void decode_nfs_v1(Decoded& d, int depth, bool data, ByteView key,
                   ByteView aux);
void decode_nfs_volume(Decoded& d, std::string_view volume_key);
void nfs_aux_fields(Decoded& d, ByteView aux);
void decode_afs_v1(Decoded& d, int depth, bool data, ByteView key,
                   ByteView aux);
void decode_cifs_v1(Decoded& d, int depth, bool data, ByteView key,
                    ByteView aux);
void decode_9p_v1(Decoded& d, int depth, bool data, ByteView key, ByteView aux);
void decode_ceph_v1(Decoded& d, int depth, bool data, ByteView key,
                    ByteView aux);

} // namespace fsc::netfs
