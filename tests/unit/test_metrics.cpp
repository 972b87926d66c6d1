// test_metrics.cpp - the Prometheus exposition text, its table of families
// and the atomic textfile write.
#include <catch2/catch.hpp>

#include <fsc/error.hpp>
#include <fsc/metrics.hpp>

#include "tree.hpp"

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

using fsc::Labels;
using fsc::MetricKind;
using fsc::Metrics;

namespace {

} // namespace

TEST_CASE("metrics table: names and labels follow the Prometheus rules",
          "[metrics]")
{
  const std::regex name("fsc_[a-z0-9_]+[a-z0-9]");
  const std::regex label("[a-z_][a-z0-9_]*");
  std::set<std::string_view> seen;
  for (auto& m : fsc::metric_table()) {
    INFO(m.name);
    CHECK(std::regex_match(std::string(m.name), name));
    CHECK(seen.insert(m.name).second);
    const bool total = std::string_view(m.name).ends_with("_total");
    CHECK(total == (m.kind == MetricKind::counter));
    CHECK_FALSE(m.help.empty());
    CHECK(m.help.back() != '.'); // the man page adds it
    std::istringstream in{std::string(m.labels)};
    for (std::string l; in >> l;) {
      CHECK(std::regex_match(l, label));
      CHECK(l != "le"); // histograms own it
    }
  }
  CHECK(seen.count("fsc_last_run_success") == 1);
}

TEST_CASE("fsc-metrics(7) names every family", "[metrics][docs]")
{
  const char* root = std::getenv("FSC_SOURCE_ROOT");
  REQUIRE(root);
  const std::string man =
      fsc::test::read_file(std::string(root) + "/man/fsc-metrics.7.scd");
  REQUIRE_FALSE(man.empty());
  for (auto& m : fsc::metric_table()) {
    INFO(m.name);
    CHECK(man.find("*" + std::string(m.name) + "*") != std::string::npos);
  }
}

TEST_CASE("metrics text: HELP and TYPE once per family, escaped labels, "
          "cumulative histogram buckets",
          "[metrics]")
{
  Metrics m("inspect", "/var/cache/\"odd\"\\dir");
  m.set("fsc_cache_objects", m.about({{"netfs", "nfs"}}), 8);
  m.set("fsc_cache_objects", m.about({{"netfs", "afs"}}), 2);
  m.set("fsc_cache_avail_ratio", m.about({{"resource", "blocks"}}), 0.25);
  const double bounds[] = {10, 100};
  const std::uint64_t counts[] = {1, 2, 3};
  m.histogram("fsc_cache_atime_age_seconds", m.about(), bounds, counts, 512);
  m.set("fsc_fscache_cookies", {}, 3);
  const std::string t = m.text();
  const std::string c = "cache=\"/var/cache/\\\"odd\\\"\\\\dir\"";
  CHECK(t.find("# HELP fsc_cache_objects Data objects in the cache, by "
               "network filesystem\n# TYPE fsc_cache_objects gauge\n"
               "fsc_cache_objects{" +
               c + ",netfs=\"nfs\"} 8\nfsc_cache_objects{" + c +
               ",netfs=\"afs\"} 2\n") != std::string::npos);
  CHECK(t.find("fsc_cache_avail_ratio{" + c + ",resource=\"blocks\"} 0.25\n") !=
        std::string::npos);
  CHECK(t.find("fsc_cache_atime_age_seconds_bucket{" + c +
               ",le=\"10\"} 1\nfsc_cache_atime_age_seconds_bucket{" + c +
               ",le=\"100\"} 3\nfsc_cache_atime_age_seconds_bucket{" + c +
               ",le=\"+Inf\"} 6\nfsc_cache_atime_age_seconds_sum{" + c +
               "} 512\nfsc_cache_atime_age_seconds_count{" + c + "} 6\n") !=
        std::string::npos);
  CHECK(t.find("fsc_fscache_cookies 3\n") != std::string::npos);
  std::size_t helps = 0;
  for (std::size_t at = 0; (at = t.find("# HELP", at)) != std::string::npos;
       ++at)
    ++helps;
  CHECK(helps == 4);

  // An empty label value is no label at all.
  Metrics none("stats", "");
  none.outcome(2, 1700000000.5, 0.25);
  CHECK(none.text().find("fsc_last_run_success{verb=\"stats\"} 0\n") !=
        std::string::npos);
  CHECK(none.text().find("fsc_last_run_exit_status{verb=\"stats\"} 2\n") !=
        std::string::npos);
  CHECK(none.text().find(
            "fsc_last_run_timestamp_seconds{verb=\"stats\"} 1700000000.5\n") !=
        std::string::npos);
}

TEST_CASE("metrics: an undeclared family or foreign labels are bugs",
          "[metrics]")
{
  Metrics m("cull", "/c");
  CHECK_THROWS_AS(m.set("fsc_no_such_thing", m.about(), 1), std::logic_error);
  CHECK_THROWS_AS(m.set("fsc_cache_objects", m.about(), 1), std::logic_error);
  CHECK_THROWS_AS(m.set("fsc_cache_objects", {{"netfs", "nfs"}}, 1),
                  std::logic_error);
  const double b[] = {1};
  const std::uint64_t n[] = {1, 1};
  CHECK_THROWS_AS(
      m.histogram("fsc_cache_objects", m.about({{"netfs", "x"}}), b, n, 1),
      std::logic_error);
}

TEST_CASE("metrics write: whole file by rename, nothing left beside it",
          "[metrics]")
{
  fsc::test::TempDir t;
  const std::string f = t / "fsc.prom";
  fsc::test::write_file(f, "old\n");
  Metrics m("cull", "/c");
  m.set("fsc_cull_removed_objects", m.about(), 3);
  m.write(f);
  CHECK(fsc::test::read_file(f) == m.text());
  std::size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path()))
    n += e.is_regular_file() || e.is_symlink();
  CHECK(n == 1);
  try {
    m.write(t / "missing/fsc.prom");
    FAIL("no error");
  } catch (const fsc::Error& e) {
    CHECK(std::string(e.what()).find("missing/fsc.prom") != std::string::npos);
  }
}
