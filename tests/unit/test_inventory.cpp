// test_inventory.cpp - the one scan behind `fsc inspect`: per-worker
// summaries merged, the same whatever the number of workers.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/writer.hpp>
#include <fsc/netfs/inventory.hpp>

#include "tree.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

using namespace fsc;
using namespace fsc::cachefiles;
using fsc::test::TempDir;

namespace {

constexpr std::int64_t k_s = 1000000000;

std::vector<std::string> paths(const std::vector<ObjectBrief>& v)
{
  std::vector<std::string> out;
  for (auto& b : v)
    out.push_back(b.path);
  return out;
}

struct ProcRoot { // an empty /proc: no evidence from this machine's processes
  explicit ProcRoot(const std::string& p)
  {
    setenv("FSC_PROC_ROOT", p.c_str(), 1);
  }
  ~ProcRoot() { unsetenv("FSC_PROC_ROOT"); }
};

/// nfs → server → superblock → 300 data objects of growing size and age,
/// and a stray in cache/ (a problem).
std::string nfs_tree(const TempDir& t)
{
  Writer w(t / "c");
  auto nfs = w.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  auto srv = w.add_v1(
      nfs, Bytes{3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 8, 1, 192, 168, 1, 2}, 0, {});
  auto sb = w.add_v1(srv, Bytes(65, 0), 0, {});
  const std::int64_t day = 86400 * k_s;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (int i = 0; i < 300; ++i) {
    Bytes key{1, 0, 6, 1, std::uint8_t(i), std::uint8_t(i >> 8), 0, 0};
    std::string p = w.add_v1(
        sb, key, 1, Bytes(40, 1),
        {std::string(std::size_t(i) * 13, 'x'), 0, std::uint64_t(i) * 13});
    // Ages of 2.5 to 301.5 days against the inventory's clock: every age
    // bucket from <7d to <365d, none at a bucket's edge.
    w.set_times(p, now - std::int64_t(i + 2) * day - day / 2, now);
  }
  w.add_file("cache/stray", "x");
  return t / "c";
}

} // namespace

TEST_CASE("take_inventory: 128 scan workers give the one-worker inventory",
          "[inventory]")
{
  TempDir t;
  fsc::test::make_dirs(t / "proc");
  ProcRoot proc(t / "proc");
  Cache cache = Cache::open(nfs_tree(t));

  netfs::InventoryOptions one;
  one.threads = 1;
  one.top = 7;
  const netfs::Inventory a = netfs::take_inventory(cache, one);
  REQUIRE(a.sum.data == 300);

  netfs::InventoryOptions many = one;
  many.threads = 128;
  ScanOptions so;
  so.threads = 128;
  REQUIRE(scan_workers(so) == 128);
  std::atomic<bool> out_of_range{false};
  std::atomic<unsigned> entries{0};
  many.on_entry = [&](const ScanEntry&, unsigned worker) {
    if (worker >= 128)
      out_of_range = true;
    ++entries;
  };
  const netfs::Inventory b = netfs::take_inventory(cache, many);
  CHECK(!out_of_range);
  CHECK(entries == 304); // 3 indices, 300 files, the stray; no fan-outs

  CHECK(b.sum.objects == a.sum.objects);
  CHECK(b.sum.data == a.sum.data);
  CHECK(b.sum.indices == a.sum.indices);
  CHECK(b.sum.unknown == a.sum.unknown);
  CHECK(b.sum.bytes == a.sum.bytes);
  CHECK(b.sum.allocated == a.sum.allocated);
  CHECK(b.sum.ages == a.sum.ages);
  CHECK(b.sum.ages[3] + b.sum.ages[4] + b.sum.ages[5] + b.sum.ages[6] == 300);
  CHECK(b.sum.netfs.at("nfs").data == 300);
  REQUIRE(b.sum.groups.size() == 1); // the server index
  CHECK(b.sum.groups.begin()->second.count.data == 300);
  CHECK(paths(b.sum.largest) == paths(a.sum.largest));
  CHECK(paths(b.sum.oldest) == paths(a.sum.oldest));
  CHECK(b.sum.largest.size() == 7);
  CHECK(b.problem_count == a.problem_count);
  CHECK(b.problem_count >= 1); // the stray
  CHECK(!b.bind.bound);
}

namespace {

/// Five strays in cache/; the first one the scan meets deletes the others,
/// already listed: they vanish between the listing and their stat.
netfs::Inventory strays_vanishing(const std::string& root)
{
  for (const char* n : {"stray-a", "stray-b", "stray-c", "stray-d", "stray-e"})
    fsc::test::write_file(root + "/cache/" + n, "x");
  Cache cache = Cache::open(root);
  netfs::InventoryOptions o;
  o.threads = 1;
  bool deleted = false;
  o.on_entry = [&](const ScanEntry& e, unsigned) {
    if (deleted || e.name.rfind("stray-", 0) != 0)
      return;
    deleted = true;
    for (const char* n :
         {"stray-a", "stray-b", "stray-c", "stray-d", "stray-e"})
      if (e.name != n)
        ::unlink((root + "/cache/" + n).c_str());
  };
  return netfs::take_inventory(cache, o);
}

} // namespace

TEST_CASE("take_inventory: entries gone during the scan of a bound cache are "
          "not problems; of an offline one they are",
          "[inventory]")
{
  // A live cache changes under the scan (the kernel buries, its daemon
  // culls): a 6.12 guest's live inspect lost fan-outs of a volume between
  // their listing and their stat, and exited 1.
  TempDir t;
  Writer w(t / "live");
  w.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  Writer o(t / "offline");
  o.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  // pid 4242 holds /dev/cachefiles and sits in the live cache
  fsc::test::make_dirs(t / "proc/4242/fd");
  fsc::test::write_file(t / "proc/4242/comm", "cachefilesd\n");
  REQUIRE(symlink("/dev/cachefiles", (t / "proc/4242/fd/3").c_str()) == 0);
  REQUIRE(symlink((t / "live/cache").c_str(), (t / "proc/4242/cwd").c_str()) ==
          0);
  ProcRoot proc(t / "proc");

  const netfs::Inventory live = strays_vanishing(t / "live");
  REQUIRE(live.bind.bound);
  CHECK(live.vanished_live == 4);
  CHECK(live.problem_count == 1); // the stray that stayed: unknown-entry
  for (auto& p : live.problems)
    CHECK(p.kind != "vanished");

  const netfs::Inventory off = strays_vanishing(t / "offline");
  REQUIRE_FALSE(off.bind.bound);
  CHECK(off.vanished_live == 0);
  CHECK(off.problem_count == 5);
  std::size_t vanished = 0;
  for (auto& p : off.problems)
    vanished += p.kind == "vanished";
  CHECK(vanished == 4);
}
