// test_stats.cpp - `fsc stats` end to end on copies of the real
// /proc/fs/fscache of 5.10, 6.1 and 6.12: text, JSON, Prometheus (checked
// by promtool), samples at an interval, no FS-Cache.
#include <catch2/catch.hpp>

#include "json_records.hpp"
#include "run.hpp"
#include "tree.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

std::string fixture(const std::string& kernel, const std::string& file)
{
  return fsc::test::read_file(fsc::test::fixtures_dir() + "/real-" + kernel +
                              "-smoke/" + file);
}

/// A copy of the kernel's /proc/fs/fscache made from the fixture files
/// (5.10 has only stats); extra is appended to stats.
std::string proc_dir(const TempDir& t, const std::string& kernel,
                     const std::string& extra = "")
{
  const std::string dir = t.path() + "/proc-" + kernel;
  fsc::test::write_file(dir + "/stats", fixture(kernel, "stats.txt") + extra);
  if (kernel != "5.10")
    for (auto f : {"caches", "cookies"})
      fsc::test::write_file(dir + "/" + f,
                            fixture(kernel, std::string(f) + ".txt"));
  return dir;
}

bool has(const std::string& text, const std::string& what)
{
  return text.find(what) != std::string::npos;
}

std::size_t lines_of(const std::string& text)
{
  return std::size_t(std::count(text.begin(), text.end(), '\n'));
}

bool have_promtool()
{
  return fsc::test::run_prog({"sh", "-c", "command -v promtool"}).status == 0;
}

} // namespace

TEST_CASE("stats: the summary and every counter of each kernel", "[stats]")
{
  TempDir t;
  struct Case {
    const char* kernel;
    const char* layout;
    const char* reads;
    const char* counter;
  };
  for (auto c :
       {Case{"5.10", "4.19",
             "reads          0 from the cache, 26 from the server; hit ratio "
             "0.0%",
             "  Retrvls  n=26 ok=0 wt=3 nod=26 nbf=0 int=0 oom=0 ops=26 owt=6 "
             "abt=0\n"},
        Case{"6.1", "6.1",
             "reads          0 from the cache, 0 from the server; hit ratio "
             "n/a",
             "  IO       rd=1548 wr=1548\n"},
        Case{"6.12", "6.12",
             "reads          0 from the cache, 16 from the server; hit ratio "
             "0.0%",
             "  DownOps  DL=16 ds=16 df=0 di=0\n"}}) {
    const std::string dir = proc_dir(t, c.kernel);
    auto r = run_fsc({"stats", "--proc", dir});
    INFO(c.kernel << "\n" << r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    CHECK(has(r.out,
              std::string("layout         ") + c.layout + " (" + dir + ")\n"));
    CHECK(has(r.out, c.reads));
    CHECK(has(r.out, c.counter));
    CHECK(has(r.out, "invalidations  0\n"));
    if (std::string(c.kernel) == "5.10") {
      CHECK(has(r.out, "lookups        13\n"));
      CHECK(has(r.out, "objects        13 created, 0 culled, 0 rejected\n"));
      CHECK(has(r.out, "I/O errors     n/a\n"));
    } else {
      CHECK(has(r.out, "cache          mini: 0 volumes, 0 objects, 1 "
                       "accesses, state A\n"));
      CHECK(has(r.out, "cookies        204 listed\n"));
      CHECK(has(r.out, "objects        n/a created, 0 culled, n/a rejected\n"));
    }
  }
}

TEST_CASE("stats: unknown lines are shown, malformed ones warned about by "
          "line",
          "[stats]")
{
  TempDir t;
  const std::string dir =
      proc_dir(t, "6.12", "Frobs  : x=3\nsomething new\nIO     : rd=zz\n");
  auto r = run_fsc({"stats", "--proc", dir});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(has(r.out, "  Frobs    x=3\n"));
  CHECK(has(r.out, "  stats:20: something new\n"));
  CHECK(has(r.out, "  stats:21: IO     : rd=zz\n"));
  CHECK(has(r.err, dir + "/stats:21: malformed line: 'rd=zz' is not "
                         "key=number"));
  CHECK(lines_of(r.err) == 1);

  auto j = run_fsc({"--json", "stats", "--proc", dir});
  REQUIRE(j.status == 1);
  auto doc = nlohmann::json::parse(j.out);
  auto raw = records(doc, "raw");
  REQUIRE(raw.size() == 2);
  CHECK(raw[0]["text"] == "something new");
  CHECK(raw[0]["line"] == 20);
  auto problems = records(doc, "problem");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0]["kind"] == "malformed-line");
  CHECK(doc["malformed_lines"] == 1);
}

TEST_CASE("stats --json: counters, caches and the summary", "[stats][json]")
{
  TempDir t;
  auto r = run_fsc({"--json", "stats", "--proc", proc_dir(t, "6.12")});
  REQUIRE(r.status == 0);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["verb"] == "stats");
  CHECK(doc["complete"] == true);
  CHECK(doc["layout"] == "6.12");
  CHECK(doc["server_reads"] == 16);
  CHECK(doc["cache_reads"] == 0);
  CHECK(doc["hit_ratio"] == 0.0);
  CHECK(doc["lookups"].is_null());
  CHECK(doc["cookies"] == 204);
  CHECK(doc["volumes"].is_null());
  CHECK(doc["caches"] == 1);
  CHECK(doc["samples"] == 1);
  auto counters = records(doc, "counter");
  CHECK(counters.size() == 57); // every key= of the file
  CHECK(counters[0] == nlohmann::json{{"record", "counter"},
                                      {"section", "Reads"},
                                      {"key", "DR"},
                                      {"value", 0}});
  auto caches = records(doc, "cache");
  REQUIRE(caches.size() == 1);
  CHECK(caches[0]["name"] == "mini");
  CHECK(caches[0]["accesses"] == 1);

  auto old = run_fsc({"--json", "stats", "--proc", proc_dir(t, "6.1")});
  REQUIRE(old.status == 0);
  auto d61 = nlohmann::json::parse(old.out);
  CHECK(d61["hit_ratio"].is_null()); // no read-helper reads counted
  CHECK(d61["io_errors"] == 0);
}

TEST_CASE("stats --format prometheus passes promtool", "[stats][metrics]")
{
  TempDir t;
  for (auto kernel : {"5.10", "6.1", "6.12"}) {
    auto r = run_fsc(
        {"stats", "--proc", proc_dir(t, kernel), "--format", "prometheus"});
    INFO(kernel << "\n" << r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(has(r.out, "fsc_last_run_success{verb=\"stats\"} 1\n"));
    CHECK(has(r.out, "# TYPE fsc_fscache_stat_total counter\n"));
    CHECK_FALSE(has(r.out, "layout         ")); // the metrics replace the text
    CHECK_FALSE(has(r.out, "\ncounters\n"));
    if (!have_promtool()) {
      WARN("promtool is not installed: exposition format not checked");
      continue;
    }
    auto p = fsc::test::run_prog({"promtool", "check", "metrics"}, {}, r.out);
    INFO(p.out << p.err);
    CHECK(p.status == 0);
    CHECK(p.out.empty());
    CHECK(p.err.empty());
  }
}

TEST_CASE("stats --prometheus FILE writes the file, nothing beside it",
          "[stats][metrics]")
{
  TempDir t;
  const std::string out = t.path() + "/metrics";
  fsc::test::make_dirs(out);
  auto r = run_fsc({"stats", "--proc", proc_dir(t, "6.12"), "--prometheus",
                    out + "/fsc.prom"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "layout         6.12"));
  const std::string m = fsc::test::read_file(out + "/fsc.prom");
  CHECK(has(m, "fsc_last_run_success{verb=\"stats\"} 1\n"));
  CHECK(has(m, "fsc_fscache_reads_total{source=\"server\"} 16\n"));
  CHECK(has(m, "fsc_fscache_info{layout=\"6.12\"} 1\n"));
  std::size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(out)) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("stats without FS-Cache: one line, exit 2, a failed outcome",
          "[stats]")
{
  TempDir t;
  const std::string gone = t.path() + "/fscache";
  const std::string prom = t.path() + "/fsc.prom";
  auto r = run_fsc({"stats", "--proc", gone, "--prometheus", prom});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(lines_of(r.err) == 1);
  CHECK(has(r.err, "'" + gone + "' does not exist"));
  CHECK(has(fsc::test::read_file(prom),
            "fsc_last_run_success{verb=\"stats\"} 0\n"));

  fsc::test::make_dirs(gone); // the directory without its stats
  auto s = run_fsc({"stats", "--proc", gone});
  CHECK(s.status == 2);
  CHECK(lines_of(s.err) == 1);
  CHECK(has(s.err, gone + "/stats' does not exist"));
}

TEST_CASE("stats --interval --count: samples and rates", "[stats][interval]")
{
  TempDir t;
  const std::string dir = proc_dir(t, "6.12");
  auto r =
      run_fsc({"stats", "--proc", dir, "--interval", "0.2", "--count", "2"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "layout         6.12"));
  CHECK(has(r.out, "\nsample 2 after 0."));
  // The copy does not move: every rate is 0.
  CHECK(has(r.out, " s: reads 0.0/s from the cache, 0.0/s from the server\n"
                   "  no counter moved\n"));
  CHECK_FALSE(has(r.out, "sample 3"));

  auto j = run_fsc({"--json=lines", "stats", "--proc", dir, "--interval", "0.2",
                    "--count", "3"});
  REQUIRE(j.status == 0);
  std::istringstream in(j.out);
  std::size_t rates = 0;
  nlohmann::json last;
  for (std::string line; std::getline(in, line);) {
    last = nlohmann::json::parse(line);
    if (last["record"] == "rate") {
      ++rates;
      CHECK(last["per_second"] == 0.0);
      CHECK(last["seconds"].get<double>() >= 0.2);
    }
  }
  CHECK(rates == 2 * 57);
  CHECK(last["record"] == "summary");
  CHECK(last["samples"] == 3);

  CHECK(run_fsc({"stats", "--proc", dir, "--count", "2"}).status == 64);
  CHECK(run_fsc({"stats", "--proc", dir, "--interval", "0.2", "--format",
                 "prometheus"})
            .status == 64);
}
