// netfs.cpp - dispatch by netfs and kernel generation, shared formatting.
#include <fsc/netfs/netfs.hpp>

#include "common.hpp"

#include <fsc/format.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include <arpa/inet.h>
#include <sys/socket.h>

namespace fsc::netfs {

Field num(std::string name, std::uint64_t v, std::string text)
{
  if (text.empty())
    text = std::to_string(v);
  return Field{std::move(name), std::move(text), v};
}

std::string address_text(int family, ByteView addr)
{
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == 10 ? AF_INET6 : AF_INET;
  if (addr.size() != (af == AF_INET6 ? 16u : 4u) ||
      !inet_ntop(af, addr.data(), buf, sizeof buf))
    return to_hex(addr);
  return buf;
}

std::string_view timespec_text(std::int64_t sec, std::int64_t nsec,
                               TimespecBuf& buf)
{
  if (nsec < 0 || nsec >= 1000000000) {
    buf.rare = fmt::format("{}.{} (nanoseconds out of range)", sec, nsec);
    return buf.rare;
  }
  // By hand: twice per object in a scan, where fmt was a tenth of the time.
  const std::string_view date = iso_time(sec * 1000000000 + nsec, buf.iso);
  if (date.size() > sizeof buf.text - 40) { // a year gmtime_r spells long
    buf.rare = fmt::format("{} ({}.{:09})", date, sec, nsec);
    return buf.rare;
  }
  char* o = std::copy(date.begin(), date.end(), buf.text);
  *o++ = ' ';
  *o++ = '(';
  o = std::to_chars(o, o + 24, sec).ptr;
  *o++ = '.';
  o = nine_digits(o, std::uint32_t(nsec));
  *o++ = ')';
  return {buf.text, std::size_t(o - buf.text)};
}

std::string timespec_text(std::int64_t sec, std::int64_t nsec)
{
  TimespecBuf buf;
  return std::string(timespec_text(sec, nsec, buf));
}

std::string printable(std::string_view s)
{
  std::string out;
  for (unsigned char c : s)
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += char(c);
    else
      out += fmt::format("\\x{:02x}", c);
  return out;
}

std::vector<std::string> split_commas(std::string_view s)
{
  std::vector<std::string> out;
  for (;;) {
    auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos)
      return out;
    s.remove_prefix(comma + 1);
  }
}

const char* coherency_name(Coherency c)
{
  switch (c) {
  case Coherency::okay:
    return "OKAY";
  case Coherency::needs_update:
    return "NEEDS_UPDATE";
  case Coherency::obsolete:
    return "OBSOLETE";
  }
  return "?";
}

Decoded decode_v1(std::string_view netfs, int depth, bool data, ByteView key,
                  ByteView aux)
{
  Decoded d;
  if (depth == 0) {
    d.role = "netfs primary index";
    d.label = "\"" + printable(to_string(key)) + "\"";
    d.key = {{"netfs", printable(to_string(key))}};
    if (aux.size() == 4) // the netfs's index version
      d.aux = {num("version", load_le(aux, 0, 4))};
    return d;
  }
  if (netfs == "nfs")
    decode_nfs_v1(d, depth, data, key, aux);
  else if (netfs == "afs")
    decode_afs_v1(d, depth, data, key, aux);
  else if (netfs == "cifs")
    decode_cifs_v1(d, depth, data, key, aux);
  else if (netfs == "9p")
    decode_9p_v1(d, depth, data, key, aux);
  else if (netfs == "ceph")
    decode_ceph_v1(d, depth, data, key, aux);
  if (d.role.empty()) { // an unknown netfs, or deeper than its layout goes
    d.label = to_hex(key);
    d.key = {{"hex", to_hex(key)}};
    if (!aux.empty())
      d.aux = {{"hex", to_hex(aux)}};
  }
  return d;
}

std::string_view volume_netfs(std::string_view volume_key)
{
  return volume_key.substr(0, volume_key.find(','));
}

Decoded decode_v2_volume(std::string_view vkey, ByteView coherency)
{
  Decoded d;
  const auto netfs = volume_netfs(vkey);
  if (netfs == "nfs")
    decode_nfs_volume(d, vkey);
  if (d.role.empty()) {
    d.role = std::string(netfs) + " volume";
    d.label = printable(vkey);
    auto f = split_commas(vkey);
    d.key = {{"netfs", std::string(netfs)}};
    for (std::size_t i = 1; i < f.size(); ++i)
      d.key.push_back({fmt::format("field{}", i), printable(f[i])});
  }
  if (!coherency.empty())
    d.aux = {{"coherency", to_hex(coherency)}};
  return d;
}

Decoded decode_v2_object(std::string_view vkey, ByteView key, ByteView aux)
{
  Decoded d;
  const auto netfs = volume_netfs(vkey);
  if (netfs == "nfs") {
    d.role = k_nfs_file_role;
    d.label = "fh " + to_hex(key);
    d.key = {{"file_handle", to_hex(key)}, num("fh_bytes", key.size())};
    nfs_aux_fields(d, aux);
    return d;
  }
  d.role = std::string(netfs) + " file";
  d.label = to_hex(key);
  d.key = {{"hex", to_hex(key)}};
  if (!aux.empty())
    d.aux = {{"hex", to_hex(aux)}};
  return d;
}

} // namespace fsc::netfs
