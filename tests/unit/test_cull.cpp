// test_cull.cpp - the cull library: table passes, goals, the re-check.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/cache.hpp>
#include <fsc/cachefiles/cull.hpp>
#include <fsc/cachefiles/key.hpp>

#include "tree.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <sys/stat.h>

using namespace fsc::cachefiles;

namespace {

constexpr std::int64_t k_s = 1000000000;

/// n data objects (names cooked from 4-byte keys, as the kernel would, so
/// that the cull recognises them) in cache/@4a/I03nfs/@<i%4>, atime 1000+i s.
std::vector<std::string> make_tree(const std::string& root, int n)
{
  fsc::test::make_dirs(root + "/cache/@4a/I03nfs");
  fsc::test::make_dirs(root + "/graveyard");
  std::vector<std::string> paths;
  for (int i = 0; i < n; ++i) {
    const fsc::Bytes key{std::uint8_t(i), std::uint8_t(i >> 8), 0x5a, 0xa5};
    std::string rel =
        fmt::format("cache/@4a/I03nfs/@0{}/{}", i % 4, cook_v1(key, 1).name);
    fsc::test::write_file(root + "/" + rel, std::string(4096, 'x'));
    fsc::test::set_times(root + "/" + rel, (1000 + i) * k_s, 500 * k_s);
    paths.push_back(rel);
  }
  return paths;
}

bool exists(const std::string& p)
{
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

} // namespace

TEST_CASE("cull_before: older second first, then greater path", "[cull]")
{
  CHECK(cull_before(1, "b", 2, "a"));
  CHECK_FALSE(cull_before(2, "a", 1, "b"));
  CHECK(cull_before(5, "b", 5, "a"));
  CHECK_FALSE(cull_before(5, "a", 5, "a"));
}

TEST_CASE("a table smaller than the need takes several passes", "[cull]")
{
  fsc::test::TempDir t;
  auto paths = make_tree(t.path(), 40);
  Cache cache = Cache::open(t.path());
  CullOptions o;
  o.table_size = 8;
  o.goal.max_objects = 15; // remove 25 = 4 passes of 8
  std::vector<std::string> order;
  o.on_victim = [&](const CullVictim& v, CullAction a) {
    CHECK(a == CullAction::removed);
    order.push_back(v.path);
  };
  auto r = cull(cache, o);
  CHECK(r.passes == 4);
  CHECK(r.removed == 25);
  CHECK(r.goal_met);
  REQUIRE(order.size() == 25);
  for (std::size_t i = 0; i < 25; ++i)
    CHECK(order[i] == paths[i]);
  for (int i = 0; i < 40; ++i)
    CHECK(exists(t / paths[std::size_t(i)]) == (i >= 25));
}

TEST_CASE("a dry run with small tables plans what the real run does", "[cull]")
{
  fsc::test::TempDir t;
  auto paths = make_tree(t.path(), 30);
  Cache cache = Cache::open(t.path());
  CullOptions o;
  o.table_size = 4;
  o.dry_run = true;
  o.goal.max_objects = 20;
  std::vector<std::string> plan;
  o.on_victim = [&](const CullVictim& v, CullAction a) {
    CHECK(a == CullAction::would_remove);
    plan.push_back(v.path);
  };
  auto r = cull(cache, o);
  CHECK(r.removed == 10);
  CHECK(plan == std::vector<std::string>(paths.begin(), paths.begin() + 10));
  for (auto& p : paths)
    CHECK(exists(t / p));
}

TEST_CASE("a victim used since planning is skipped", "[cull]")
{
  fsc::test::TempDir t;
  auto paths = make_tree(t.path(), 10);
  Cache cache = Cache::open(t.path());
  CullOptions o;
  o.goal.max_objects = 7; // victims 0, 1, 2
  std::vector<CullAction> acts;
  o.on_victim = [&](const CullVictim&, CullAction a) {
    if (acts.empty()) // object 1 is read after the plan was made
      fsc::test::set_times(t / paths[1], 5000 * k_s, 500 * k_s);
    acts.push_back(a);
  };
  auto r = cull(cache, o);
  REQUIRE(acts.size() >= 3);
  CHECK(acts[0] == CullAction::removed);
  CHECK(acts[1] == CullAction::skipped_used);
  CHECK(r.skipped_used == 1);
  CHECK(exists(t / paths[1]));
  CHECK_FALSE(exists(t / paths[0]));
  CHECK_FALSE(exists(t / paths[2]));
}

TEST_CASE("a victim swapped for a symlink is not followed", "[cull]")
{
  fsc::test::TempDir t;
  auto paths = make_tree(t.path(), 4);
  fsc::test::write_file(t / "precious", "keep me");
  Cache cache = Cache::open(t.path());
  CullOptions o;
  o.goal.max_objects = 2;
  bool swapped = false;
  o.on_victim = [&](const CullVictim&, CullAction) {
    if (swapped)
      return;
    swapped = true;
    std::string p = t / paths[1];
    REQUIRE(unlink(p.c_str()) == 0);
    REQUIRE(symlink((t / "precious").c_str(), p.c_str()) == 0);
  };
  auto r = cull(cache, o);
  CHECK(r.skipped_gone == 1);
  CHECK(exists(t / "precious"));
  CHECK(exists(t / paths[1])); // the link itself stays: not an object
}

TEST_CASE("stop() ends the run after the current victim", "[cull]")
{
  fsc::test::TempDir t;
  auto paths = make_tree(t.path(), 10);
  Cache cache = Cache::open(t.path());
  CullOptions o;
  o.goal.older_than_s = 1;
  int seen = 0;
  o.on_victim = [&](const CullVictim&, CullAction) { ++seen; };
  o.stop = [&]() -> const char* { return seen >= 3 ? "signal" : nullptr; };
  auto r = cull(cache, o);
  CHECK(r.stopped == "signal");
  CHECK(r.removed == 3);
  CHECK_FALSE(r.goal_met);
  CHECK(exists(t / paths[3]));
}

TEST_CASE("emptied fan-outs go; the primary index stays unless asked", "[cull]")
{
  fsc::test::TempDir t;
  make_tree(t.path(), 8);
  {
    Cache cache = Cache::open(t.path());
    CullOptions o;
    o.goal.older_than_s = 1;
    auto r = cull(cache, o);
    CHECK(r.removed == 8);
    CHECK(r.dirs_removed == 4);
    CHECK(exists(t / "cache/@4a/I03nfs"));
  }
  {
    make_tree(t / "b", 4);
    Cache cache = Cache::open(t / "b");
    CullOptions o;
    o.goal.older_than_s = 1;
    o.include_primary = true;
    auto r = cull(cache, o);
    CHECK(r.dirs_removed == 6); // 4 @0x, I03nfs, @4a
    CHECK_FALSE(exists(t / "b/cache/@4a"));
    CHECK(exists(t / "b/cache"));
  }
}

TEST_CASE("ties within a second go by whole path at any depth, in passes, "
          "with one or two workers",
          "[cull]")
{
  for (unsigned threads : {1u, 2u}) {
    fsc::test::TempDir t;
    const std::string root = t.path();
    fsc::test::make_dirs(root + "/graveyard");
    // Objects in a fan-out and in fan-outs of an index below it, whose
    // directory paths have the shallower ones as prefixes: the order is
    // that of the whole path strings, as cull_before says.
    std::vector<std::string> paths;
    const std::vector<std::string> dirs = {
        "cache/@4a/I03nfs/@01", "cache/@4a/I03nfs/@01/Jab/@02",
        "cache/@4a/I03nfs/@01/Jab/@0", "cache/@4a/I03nfs/@1"};
    for (int i = 0; i < 24; ++i) {
      const fsc::Bytes key{std::uint8_t(i), 0x11, 0x5a, 0xa5};
      const std::string rel =
          dirs[std::size_t(i) % dirs.size()] + "/" + cook_v1(key, 1).name;
      fsc::test::make_dirs(root + "/" + rel.substr(0, rel.rfind('/')));
      fsc::test::write_file(root + "/" + rel, "x");
      fsc::test::set_times(root + "/" + rel, 1000 * k_s + i, 500 * k_s);
      paths.push_back(rel);
    }
    std::sort(paths.rbegin(), paths.rend());
    Cache cache = Cache::open(root);
    CullOptions o;
    o.table_size = 5;
    o.threads = threads;
    o.goal.max_objects = 4;
    std::vector<std::string> order;
    o.on_victim = [&](const CullVictim& v, CullAction) {
      order.push_back(v.path);
    };
    auto r = cull(cache, o);
    INFO(threads << " workers");
    CHECK(r.passes >= 4);
    REQUIRE(order.size() == 20);
    for (std::size_t i = 0; i < 20; ++i)
      CHECK(order[i] == paths[i]);
  }
}
