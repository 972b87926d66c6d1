// demo.cpp - `fsc demo`: writes a small, realistic cache (NFS and AFS
// objects, a few anomalies) so that every verb can be tried without a kernel.
// The v1 objects are made by the 4.19 engine replaying a built-in scenario;
// the anomalies (which no kernel makes on purpose) are added afterwards.
#include "command.hpp"

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/graveyard.hpp>
#include <fsc/cachefiles/key.hpp>
#include <fsc/fscache/session.hpp>
#include <fsc/fscache/scenario.hpp>
#include <fsc/cachefiles/writer.hpp>
#include <fsc/error.hpp>
#include <fsc/fd.hpp>
#include <fsc/log.hpp>
#include <fsc/netfs/knfsd.hpp>
#include <fsc/netfs/netfs.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fsc::cmd {
namespace {

using namespace fsc::cachefiles;
using fsc::fscache::EngineSession;

struct DemoOptions {
  std::string dir = "fsc-demo";
  std::string format = "v1";
  std::int64_t now = 0; ///< epoch seconds; 0: the current time
};

constexpr std::int64_t k_s = 1000000000;
constexpr std::int64_t k_day = 86400;

// The keys and aux of a 4.19 NFSv4.2 (or v3) client mounting an IPv4
// server with rsize=wsize=512k and the default attribute cache times.
netfs::NfsServerKey nfs_server(std::uint16_t vers, std::uint32_t minor,
                               std::uint16_t port, std::uint32_t ipv4)
{
  netfs::NfsServerKey k;
  k.version = vers;
  k.minor = minor;
  k.family = 2; // AF_INET
  k.port = port;
  store_be(k.address, ipv4, 4);
  return k;
}

netfs::NfsSuperKey nfs_super(std::uint64_t fsid_major)
{
  netfs::NfsSuperKey k;
  k.fsid_major = fsid_major;
  k.flags = 0x3002c0;
  k.rsize = k.wsize = 0x80000;
  k.acregmin = 3000;
  k.acregmax = 60000;
  k.acdirmin = 30000;
  k.acdirmax = 60000;
  return k;
}

// A handle of a Linux server exporting ext4 by UUID (fsid=uuid16).
Bytes knfsd_handle(std::uint32_t ino, std::uint32_t gen)
{
  netfs::KnfsdFh fh;
  fh.fsid_type = netfs::fsid_uuid16;
  fh.fileid_type = netfs::fileid_ino32_gen;
  for (int i = 0; i < 16; ++i)
    fh.fsid.push_back(std::uint8_t(0x10 + i * 0x11));
  fh.fileid = netfs::encode_fileid(netfs::fileid_ino32_gen, {ino, gen});
  return netfs::encode(fh);
}

Bytes nfs_aux(std::int64_t mtime_ns, std::int64_t ctime_ns,
              std::uint64_t change)
{
  return netfs::encode(netfs::NfsAux{mtime_ns / k_s, mtime_ns % k_s,
                                     ctime_ns / k_s, ctime_ns % k_s, change});
}

struct DemoFile {
  std::uint32_t ino;
  std::uint64_t size;   ///< object size
  std::uint64_t cached; ///< bytes present from offset 0 (rest is a hole)
  int age_days;         ///< atime age
};

const DemoFile k_nfs_files[] = {
    {12, 4096, 4096, 0}, {13, 1 << 20, 1 << 20, 2}, {14, 8 << 20, 256 << 10, 9},
    {15, 300, 300, 31},  {16, 64 << 10, 0, 60},     {17, 2 << 20, 2 << 20, 88},
};

std::string content(std::uint64_t n, char seed)
{
  std::string s(std::size_t(n), '\0');
  for (std::size_t i = 0; i < s.size(); ++i)
    s[i] = char(seed + i % 23);
  return s;
}

std::string v1_path(const std::string& parent, ByteView key, std::uint8_t type)
{
  CookedV1 c = cook_v1(key, type);
  return parent + "/" + c.fanout + "/" + c.name;
}

struct DemoObject {
  std::string path;
  std::int64_t atime_ns, mtime_ns;
};

/// The demo's objects as the netfs calls a 4.19 client would make (NFS
/// opens and reads; AFS likewise), for the engine to replay.
std::string demo_scenario(std::int64_t now_ns, std::vector<DemoObject>& out)
{
  std::string s = "# fsc demo: what a 4.19 NFS and AFS client do\n"
                  "register nfs version=0\n";
  auto hex = [](const Bytes& b) { return "hex:" + to_hex(b); };
  auto file = [&](const std::string& h, const std::string& parent,
                  const std::string& parent_path, const Bytes& key,
                  const Bytes& aux, std::uint64_t size, std::uint64_t cached,
                  std::int64_t at, std::int64_t mt, const char* def) {
    s += fmt::format("acquire {} data {} key={} aux={} size={} name={}\n", h,
                     parent, hex(key), hex(aux), size, def);
    for (std::uint64_t p = 0; p * 4096 < cached; ++p)
      s += fmt::format("write {} {}\n", h, p);
    s += fmt::format("relinquish {}\n", h);
    out.push_back({v1_path(parent_path, key, k_type_data), at, mt});
  };
  Bytes srv_key = netfs::encode(nfs_server(4, 2, 2049, 0xc0a80102));
  Bytes sb_key = netfs::encode(nfs_super(0x1234));
  std::string nfs = v1_path("cache", as_bytes("nfs"), k_type_index);
  std::string srv = v1_path(nfs, srv_key, k_type_index);
  std::string sb = v1_path(srv, sb_key, k_type_index);
  s += "acquire srv index nfs key=" + hex(srv_key) + " name=NFS.server\n";
  s += "acquire sb index srv key=" + hex(sb_key) + " name=NFS.super\n";
  int n = 0;
  for (auto& f : k_nfs_files) {
    std::int64_t t =
        now_ns - std::int64_t(f.age_days) * k_day * k_s - 3600 * k_s;
    std::uint64_t change =
        (std::uint64_t(t / k_s) << 30) + std::uint64_t(t % k_s) + 2;
    file(fmt::format("f{}", n++), "sb", sb,
         knfsd_handle(f.ino, 0x1f2a4e00 + f.ino), nfs_aux(t, t, change), f.size,
         f.cached, now_ns - std::int64_t(f.age_days) * k_day * k_s, t,
         "NFS.fh");
  }
  // An NFSv3 mount of another server (port 0: NFSv3 mounts store none).
  Bytes srv3_key = netfs::encode(nfs_server(3, 0, 0, 0xc0a80103));
  Bytes sb3_key = netfs::encode(nfs_super(0x99));
  std::string srv3 = v1_path(nfs, srv3_key, k_type_index);
  std::string sb3 = v1_path(srv3, sb3_key, k_type_index);
  s += "acquire srv3 index nfs key=" + hex(srv3_key) + " name=NFS.server\n";
  s += "acquire sb3 index srv3 key=" + hex(sb3_key) + " name=NFS.super\n";
  std::int64_t t3 = now_ns - 5 * k_day * k_s;
  file("v3", "sb3", sb3, knfsd_handle(40, 7), nfs_aux(t3, t3, 0), 8192, 8192,
       t3, t3, "NFS.fh");

  // AFS: cell, volume, three vnodes (aux = data_version).
  s += "register afs version=2\n";
  std::string afs = v1_path("cache", as_bytes("afs"), k_type_index);
  std::string cell = v1_path(afs, as_bytes("example.com"), k_type_index);
  Bytes vol_key = netfs::encode_afs_volume(0x20000001);
  std::string vol = v1_path(cell, vol_key, k_type_index);
  s += "acquire cell index afs key=\"example.com\" name=AFS.cell\n";
  s += "acquire vol index cell key=" + hex(vol_key) + " name=AFS.volume\n";
  for (std::uint32_t v : {42u, 43u, 44u}) {
    std::int64_t at = now_ns - std::int64_t(v - 40) * 12 * k_day * k_s;
    file(fmt::format("vn{}", v), "vol", vol,
         netfs::encode(netfs::AfsVnodeKey{v, 7}), netfs::encode_afs_aux(v - 37),
         12000, 12000, at, at, "AFS.vnode");
  }
  s += "expect finding none\n";
  return s;
}

/// Replays the demo scenario through the engine onto root (kernel layout,
/// modes and xattrs), then spreads the atimes like a cache in use.
void replay_v1(const std::string& root, std::int64_t now_ns)
{
  std::vector<DemoObject> objects;
  fscache::Scenario sc = fscache::Scenario::parse(
      demo_scenario(now_ns, objects), "(built-in demo scenario)");
  MountOptions mo;
  mo.write = true;
  fscache::ReportObserver seen;
  {
    EngineSession session(root, mo, seen, 0, fscache::Fixes{});
    fscache::ReplayReport r = session.run(sc, seen);
    if (!r.ok())
      throw Error(
          "the built-in demo scenario failed: " +
          (r.failures.empty() ? r.findings.front() : r.failures.front()));
  }
  Writer w(root, true);
  for (const auto& o : objects)
    w.set_times(o.path, o.atime_ns, o.mtime_ns);
}

void write_v1(Writer& w, std::int64_t now_ns)
{
  std::string nfs = v1_path("cache", as_bytes("nfs"), k_type_index);
  std::string srv = v1_path(
      nfs, netfs::encode(nfs_server(4, 2, 2049, 0xc0a80102)), k_type_index);
  std::string sb = v1_path(srv, netfs::encode(nfs_super(0x1234)), k_type_index);
  std::string srv3 = v1_path(
      nfs, netfs::encode(nfs_server(3, 0, 0, 0xc0a80103)), k_type_index);
  std::string sb3 = v1_path(srv3, netfs::encode(nfs_super(0x99)), k_type_index);
  std::int64_t t3 = now_ns - 5 * k_day * k_s;

  // Anomalies a checker must find:
  // 1. a data object whose xattr is gone (an interrupted cull),
  auto orphan =
      w.add_v1(sb, knfsd_handle(99, 1), k_type_data, nfs_aux(t3, t3, 0),
               {content(100, 'o'), 0, 100, t3, t3});
  if (removexattr((w.root() + "/" + orphan).c_str(), k_xattr_name) != 0)
    throw_sys("cannot remove xattr of", orphan, errno);
  // 2. an object in the wrong fan-out directory (the kernel never finds it),
  auto misplaced =
      w.add_v1(sb3, knfsd_handle(41, 7), k_type_data, nfs_aux(t3, t3, 0),
               {content(10, 'm'), 0, 10, t3, t3});
  std::string from = w.root() + "/" + misplaced;
  std::string fan = sb3 + "/@00";
  mkdir((w.root() + "/" + fan).c_str(), 0);
  std::string to =
      w.root() + "/" + fan + misplaced.substr(misplaced.rfind('/'));
  if (from != to && rename(from.c_str(), to.c_str()) != 0)
    throw_sys("cannot move", from, errno);
  // 3. a stray file left in cache/ by hand,
  w.add_file("cache/notes.txt", "left here by an admin\n");
  // 4. a superblock index buried by the kernel, not yet reaped.
  std::string buried =
      "graveyard/" + graveyard_name(std::uint32_t(now_ns / k_s - 600), 1);
  w.add_dir(buried, 0);
  w.add_v1(buried, knfsd_handle(77, 3), k_type_data, nfs_aux(t3, t3, 0),
           {content(4096, 'g'), 0, 4096, t3, t3});
}

void write_v2(Writer& w, std::int64_t now_ns)
{
  // A 6.1 mount with no nfs_server flags set, unlike the 4.19 one above.
  netfs::NfsSuperKey super = nfs_super(0x1234);
  super.flags = 0;
  auto vol = w.add_volume(
      netfs::encode_nfs_volume(nfs_server(4, 2, 2049, 0xc0a80102), super), {});
  for (auto& f : k_nfs_files) {
    std::int64_t t =
        now_ns - std::int64_t(f.age_days) * k_day * k_s - 3600 * k_s;
    XattrV2 x;
    x.object_size = f.size;
    x.aux = nfs_aux(t, t, (std::uint64_t(t / k_s) << 30) + 2);
    // 6.1 pre-sizes files to the next 4 KiB and writes content 0 (facts 2, 9).
    DataSpec d{content(f.cached, char('a' + f.ino % 7)), 0,
               (f.size + 4095) / 4096 * 4096,
               now_ns - std::int64_t(f.age_days) * k_day * k_s, t};
    w.add_v2(vol, knfsd_handle(f.ino, 0x1f2a4e00 + f.ino), x, d);
  }
  auto afs =
      w.add_volume(netfs::encode_afs_volume_v2("example.com", 0x20000001), {});
  for (std::uint32_t v : {42u, 43u}) {
    XattrV2 x;
    x.object_size = 12000;
    x.content = 1;
    x.aux = netfs::encode_afs_aux_v2(v - 37);
    std::int64_t at = now_ns - std::int64_t(v - 40) * 12 * k_day * k_s;
    w.add_v2(afs, netfs::encode_afs_vnode_v2({v, 7}), x,
             {content(12000, 'k'), 0, 12288, at, at});
  }
  // Anomalies: a stale object without xattr, and a stray in cache/.
  XattrV2 x;
  x.object_size = 10;
  auto stale = w.add_v2(vol, knfsd_handle(99, 1), x,
                        {content(10, 's'), 0, 4096, now_ns, now_ns});
  if (removexattr((w.root() + "/" + stale).c_str(), k_xattr_name) != 0)
    throw_sys("cannot remove xattr of", stale, errno);
  w.add_file("cache/notes.txt", "left here by an admin\n");
}

// Looks without moving the directory's atime: refusing must change nothing.
bool empty_or_missing(const std::string& dir)
{
  Fd fd(open_dir_noatime(AT_FDCWD, dir.c_str()));
  if (!fd)
    return errno == ENOENT;
  // A directory that cannot be read is not taken for an empty one.
  DirReader names(fd.get());
  return !names.next() && names.error() == 0;
}

int run_demo(const DemoOptions& opt, const Globals& g)
{
  if (!empty_or_missing(opt.dir))
    throw Error("'" + opt.dir +
                "' exists and is not empty: fsc demo writes "
                "only into a new or empty directory");
  std::int64_t now =
      opt.now ? opt.now
              : std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (opt.format == "v1") {
    if (::mkdir(opt.dir.c_str(), 0755) != 0 && errno != EEXIST)
      throw_sys("cannot create", opt.dir, errno);
    replay_v1(opt.dir, now * k_s);
    Writer w(opt.dir, true);
    write_v1(w, now * k_s);
  } else {
    Writer w(opt.dir, false);
    write_v2(w, now * k_s);
  }
  if (!g.quiet)
    fmt::print(stderr,
               "fsc: wrote a {} demo cache to '{}'; try: fsc inspect "
               "{} --tree\n",
               opt.format, opt.dir, opt.dir);
  return exit_code::ok;
}

} // namespace

Command add_demo(CLI::App& app, Globals& g)
{
  auto opt = std::make_shared<DemoOptions>();
  auto* sub = app.add_subcommand(
      "demo", "Write a small realistic cache (NFS, AFS, a few anomalies)");
  sub->add_option("dir", opt->dir, "Directory to create (new or empty)")
      ->capture_default_str();
  sub->add_option("--format", opt->format,
                  "On-disk format: v1 (before 5.17) or v2 (5.17+)")
      ->check(CLI::IsMember({"v1", "v2"}))
      ->capture_default_str();
  sub->add_option("--now", opt->now,
                  "Epoch seconds that atimes are relative to (default: now)");
  return {sub, [opt, &g] { return run_demo(*opt, g); }};
}

} // namespace fsc::cmd
