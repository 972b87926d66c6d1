// test_summary.cpp - the aggregate figures of a scan: counts per netfs,
// ages, bounded top lists, and per-worker summaries merged into one.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/scan.hpp>
#include <fsc/cachefiles/summary.hpp>
#include <fsc/cachefiles/writer.hpp>

#include "tree.hpp"

#include <atomic>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

using namespace fsc;
using namespace fsc::cachefiles;
using fsc::test::TempDir;

namespace {

constexpr std::int64_t k_s = 1000000000;
constexpr std::int64_t k_now = 1700000000 * k_s;

std::shared_ptr<Node> node(EntryKind kind, const std::string& key,
                           std::shared_ptr<const Node> parent = nullptr)
{
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->key.assign(key.begin(), key.end());
  n->parent = parent;
  n->level = parent ? parent->level + 1 : 0;
  return n;
}

ScanEntry data(const std::string& path, std::shared_ptr<const Node> parent,
               std::uint64_t size, std::int64_t age_s)
{
  ScanEntry e;
  e.kind = EntryKind::data;
  e.path = path;
  e.node = node(EntryKind::data, path, parent);
  e.st.size = size;
  e.st.blocks = (size + 511) / 512;
  e.st.atime_ns = k_now - age_s * k_s;
  return e;
}

std::vector<std::string> paths(const std::vector<ObjectBrief>& v)
{
  std::vector<std::string> out;
  for (auto& b : v)
    out.push_back(b.path);
  return out;
}

} // namespace

TEST_CASE("netfs_of: the v1 primary index key, the v2 volume's netfs",
          "[summary]")
{
  auto nfs = node(EntryKind::index, "nfs");
  auto srv = node(EntryKind::index, "\x04\x00", nfs);
  CHECK(netfs_of(*node(EntryKind::data, "fh", srv)) == "nfs");
  auto vol = node(EntryKind::volume, "afs,example.com,20000001");
  CHECK(netfs_of(*node(EntryKind::data, "k", vol)) == "afs");
  CHECK(netfs_of(*vol) == "afs");
  // A data object with no index above it belongs to no netfs.
  CHECK(netfs_of(*node(EntryKind::data, "k")).empty());
}

TEST_CASE("Summary: counts by kind and netfs, sizes and age buckets",
          "[summary]")
{
  auto nfs = node(EntryKind::index, "nfs");
  auto vol = node(EntryKind::volume, "afs,cell,1");
  Summary s(k_now, 10);
  ScanEntry idx;
  idx.kind = EntryKind::index;
  idx.node = nfs;
  s.add(idx);
  ScanEntry v;
  v.kind = EntryKind::volume;
  v.node = vol;
  s.add(v);
  ScanEntry fan;
  fan.kind = EntryKind::fanout;
  fan.problems.push_back({"bad-fanout", "cache/@zz", "x"});
  s.add(fan);
  ScanEntry stray;
  stray.kind = EntryKind::unknown;
  s.add(stray);
  s.add(data("cache/a", nfs, 1000, 30));                 // <1h
  s.add(data("cache/b", nfs, 4096, 2 * 86400));          // <7d
  s.add(data("cache/c", vol, 10, 400 * 86400));          // >=365d
  s.add(data("cache/d", vol, 10, -60));                  // atime in the future
  ScanEntry sparse = data("cache/e", nfs, 1 << 20, 600); // all a hole
  sparse.st.blocks = 0;
  s.add(sparse);
  s.finish();
  CHECK(s.objects == 7);
  CHECK(s.data == 5);
  CHECK(s.indices == 1);
  CHECK(s.volumes == 1);
  CHECK(s.fanouts == 1);
  CHECK(s.unknown == 1);
  CHECK(s.problems == 1);
  CHECK(s.bytes == 1000 + 4096 + 10 + 10 + (1 << 20));
  CHECK(s.allocated == (2 + 8 + 1 + 1) * 512);
  CHECK(s.netfs["nfs"].indices == 1);
  CHECK(s.netfs["nfs"].data == 3);
  CHECK(s.netfs["nfs"].bytes == 5096 + (1 << 20));
  CHECK(s.netfs["afs"].volumes == 1);
  CHECK(s.netfs["afs"].data == 2);
  // v2 objects count in their volume's group; v1 ones right below a primary
  // index have no server index to count in.
  REQUIRE(s.groups.size() == 1);
  CHECK(s.groups.begin()->second.node == vol);
  CHECK(s.groups.begin()->second.count.data == 2);
  CHECK(s.ages == std::array<std::uint64_t, 8>{1, 2, 0, 1, 0, 0, 0, 1});
  // Largest by what culling frees (allocated), then apparent size, then
  // path: the sparse megabyte comes last.
  CHECK(paths(s.largest) == std::vector<std::string>{"cache/b", "cache/a",
                                                     "cache/c", "cache/d",
                                                     "cache/e"});
  CHECK(paths(s.oldest) == std::vector<std::string>{"cache/c", "cache/b",
                                                    "cache/e", "cache/a",
                                                    "cache/d"});
}

TEST_CASE("Summary: the top lists keep only the N largest and oldest",
          "[summary]")
{
  Summary s(k_now, 3);
  for (int i = 0; i < 50; ++i)
    s.add(data("cache/o" + std::to_string(100 + i), nullptr,
               std::uint64_t(i) * 100, i));
  s.finish();
  CHECK(s.data == 50);
  CHECK(paths(s.largest) ==
        std::vector<std::string>{"cache/o149", "cache/o148", "cache/o147"});
  CHECK(paths(s.oldest) ==
        std::vector<std::string>{"cache/o149", "cache/o148", "cache/o147"});
  Summary none(k_now, 0);
  none.add(data("cache/x", nullptr, 1, 1));
  none.finish();
  CHECK(none.data == 1);
  CHECK(none.largest.empty());
}

TEST_CASE("Summary: among equal sizes the first paths make the list, in "
          "any order of arrival",
          "[summary]")
{
  // An object's path is copied only when it may enter a list: a tie of
  // sizes with the list's least must still be compared by path.
  for (bool reverse : {false, true}) {
    Summary s(k_now, 3);
    for (int i = 0; i < 40; ++i) {
      const int k = reverse ? 39 - i : i;
      s.add(data("cache/o" + std::to_string(100 + k), nullptr, 4096, k));
    }
    s.finish();
    INFO(reverse);
    CHECK(paths(s.largest) ==
          std::vector<std::string>{"cache/o100", "cache/o101", "cache/o102"});
    CHECK(paths(s.oldest) ==
          std::vector<std::string>{"cache/o139", "cache/o138", "cache/o137"});
  }
}

TEST_CASE("Summary: 128 workers' summaries merge into the one-thread "
          "summary",
          "[summary]")
{
  TempDir t;
  Writer w(t / "c");
  auto nfs = w.add_v1("cache", as_bytes("nfs"), 0, Bytes(4, 0));
  for (int i = 0; i < 300; ++i) {
    Bytes key{1, 0, 6, 1, std::uint8_t(i), std::uint8_t(i >> 8), 0, 0};
    std::string p = w.add_v1(
        nfs, key, 1, Bytes(40, 1),
        {std::string(std::size_t(i) * 7, 'x'), 0, std::uint64_t(i) * 7});
    w.set_times(p, k_now - std::int64_t(i) * 3600 * k_s, k_now);
  }
  Cache cache = Cache::open(t / "c");

  ScanOptions one;
  one.ordered = true;
  Summary whole(k_now, 5);
  scan(cache, one, [&](const ScanEntry& e, unsigned) { whole.add(e); });
  whole.finish();
  REQUIRE(whole.data == 300);

  ScanOptions many;
  many.threads = 128;
  REQUIRE(scan_workers(many) == 128);
  std::vector<Summary> per(scan_workers(many), Summary(k_now, 5));
  std::atomic<bool> out_of_range{false}; // Catch2 asserts on one thread only
  scan(cache, many, [&](const ScanEntry& e, unsigned worker) {
    if (worker >= per.size()) {
      out_of_range = true;
      return;
    }
    per[worker].add(e); // each worker only ever touches its own slot
  });
  CHECK(!out_of_range);
  Summary merged(k_now, 5);
  for (auto& s : per)
    merged.merge(s);
  merged.finish();
  CHECK(merged.objects == whole.objects);
  CHECK(merged.data == whole.data);
  CHECK(merged.indices == whole.indices);
  CHECK(merged.bytes == whole.bytes);
  CHECK(merged.allocated == whole.allocated);
  CHECK(merged.ages == whole.ages);
  CHECK(merged.netfs["nfs"].data == 300);
  CHECK(merged.groups.size() == whole.groups.size());
  CHECK(paths(merged.largest) == paths(whole.largest));
  CHECK(paths(merged.oldest) == paths(whole.oldest));
}

TEST_CASE("fs_space: the file system of an fd, or zeros", "[summary]")
{
  TempDir t;
  int fd = open(t.path().c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  FsSpace s = fs_space(fd);
  close(fd);
  CHECK(s.bsize > 0);
  CHECK(s.blocks > 0);
  CHECK(s.bavail <= s.bfree);
  CHECK(s.bfree <= s.blocks);
  FsSpace bad = fs_space(-1);
  CHECK(bad.blocks == 0);
  CHECK(bad.bsize == 0);
}
