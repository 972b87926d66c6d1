// test_proc_stats.cpp - /proc/fs/fscache read back: the real stats of 5.10,
// 6.1 and 6.12, the engine's own 4.19 text, odd lines, rates, metrics.
#include <catch2/catch.hpp>

#include "tree.hpp"

#include <fsc/error.hpp>
#include <fsc/fscache/proc_stats.hpp>
#include <fsc/fscache/stats.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace fsc::fscache;
using fsc::test::TempDir;
using fsc::test::write_file;

namespace {

std::string fixture(const std::string& kernel, const std::string& file)
{
  std::ifstream in(fsc::test::fixtures_dir() + "/real-" + kernel + "-smoke/" +
                   file);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcStats parsed(const std::string& text)
{
  ProcStats s;
  parse_stats(s, text);
  return s;
}

// Every "key=value" word of every line with a ':' is in the parse, with its
// value, under its line's name (read here without the parser's code).
void check_every_key(const ProcStats& s, const std::string& text)
{
  std::istringstream lines(text);
  std::size_t words = 0, keys = 0;
  for (std::string line; std::getline(lines, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    std::string name = line.substr(0, colon);
    name.erase(name.find_last_not_of(' ') + 1);
    std::istringstream ws(line.substr(colon + 1));
    for (std::string w; ws >> w;) {
      auto eq = w.find('=');
      INFO(line << ": " << w);
      CHECK(s.get(name, w.substr(0, eq)) == std::stoll(w.substr(eq + 1)));
      ++words;
    }
  }
  for (auto& sec : s.sections)
    keys += sec.fields.size();
  CHECK(words > 0);
  CHECK(keys == words);
}

} // namespace

TEST_CASE("proc stats: real 5.10 stats are the 4.19 layout", "[proc_stats]")
{
  const auto text = fixture("5.10", "stats.txt");
  auto s = parsed(text);
  check_every_key(s, text);
  CHECK(s.layout == "4.19");
  CHECK(s.raw.empty());
  CHECK(s.warnings.empty());
  // Two "Retrvls:" lines: one section with the keys of both.
  auto* r = s.section("Retrvls");
  REQUIRE(r);
  CHECK(r->fields.size() == 10);
  CHECK(s.get("Retrvls", "ops") == 26);
  const auto& f = s.figures;
  CHECK(f.acquires == 209);
  CHECK(f.lookups == 13);
  CHECK(f.cache_reads == 0);   // Retrvls ok
  CHECK(f.server_reads == 26); // Retrvls nod + nbf
  REQUIRE(f.hit_ratio);
  CHECK(*f.hit_ratio == 0.0);
  CHECK(f.objects_created == 13); // Lookups crt
  CHECK(f.objects_culled == 0);
  CHECK(f.objects_rejected == 0);
  CHECK(f.no_space == 0);
  CHECK_FALSE(f.io_errors); // 4.19 counts none
  CHECK(f.invalidations == 0);
}

TEST_CASE("proc stats: the engine's 4.19 text, every counter distinct",
          "[proc_stats]")
{
  Stats st;
  st.retrvls_ok = 30;
  st.retrvls_nod = 7;
  st.retrvls_nbf = 3;
  st.lookups_n = 41;
  st.lookups_crt = 11;
  st.cacheev_cul = 5;
  st.chkaux_obs = 2;
  st.cacheev_nsp = 4;
  st.invals_n = 9;
  st.acquire_n = 77;
  st.stores_olm = 13;
  const std::string text = format_proc_stats(st);
  auto s = parsed(text);
  check_every_key(s, text);
  for (auto& sec : s.sections)
    for (auto& [k, v] : sec.fields) {
      INFO(sec.name << "." << k);
      CHECK(stat_by_name(st, sec.name + "." + k) == v);
    }
  const auto& f = s.figures;
  CHECK(f.cache_reads == 30);
  CHECK(f.server_reads == 10);
  CHECK(f.hit_ratio == Approx(0.75));
  CHECK(f.lookups == 41);
  CHECK(f.objects_created == 11);
  CHECK(f.objects_culled == 5);
  CHECK(f.objects_rejected == 2);
  CHECK(f.no_space == 4);
  CHECK(f.invalidations == 9);
  CHECK(f.acquires == 77);
}

TEST_CASE("proc stats: real 6.1 stats", "[proc_stats]")
{
  const auto text = fixture("6.1", "stats.txt");
  auto s = parsed(text);
  check_every_key(s, text);
  CHECK(s.layout == "6.1");
  CHECK(s.raw.empty());
  // Five RdHelp lines, one section.
  REQUIRE(s.section("RdHelp"));
  CHECK(s.section("RdHelp")->fields.size() == 19);
  CHECK(s.get("IO", "rd") == 1548);
  const auto& f = s.figures;
  CHECK(f.acquires == 204);
  CHECK_FALSE(f.lookups);
  // NFS on 6.1 reads without the netfs helpers: RdHelp RD and DL stay 0
  // while IO rd counts every attempt on the cache, holes included.
  CHECK(f.cache_reads == 0);
  CHECK(f.server_reads == 0);
  CHECK_FALSE(f.hit_ratio);
  CHECK(f.objects_culled == 0);
  CHECK_FALSE(f.objects_created);
  CHECK(f.no_space == 0);
  CHECK(f.io_errors == 0);
  CHECK(f.invalidations == 0);
}

TEST_CASE("proc stats: real 6.12 stats", "[proc_stats]")
{
  const auto text = fixture("6.12", "stats.txt");
  auto s = parsed(text);
  check_every_key(s, text);
  CHECK(s.layout == "6.12");
  CHECK(s.raw.empty()); // the "-- FS-Cache statistics --" banner is known
  REQUIRE(s.sections.size() == 17);
  CHECK(s.sections.front().name == "Reads");
  CHECK(s.sections.back().name == "IO");
  CHECK(s.get("Writes", "2C") == 15);
  CHECK(s.get("IO", "mis") == 0);
  const auto& f = s.figures;
  CHECK(f.cache_reads == 0);   // IO rd
  CHECK(f.server_reads == 16); // DownOps DL
  REQUIRE(f.hit_ratio);
  CHECK(*f.hit_ratio == 0.0);
  CHECK(f.io_errors == 0);
  CHECK(f.acquires == 204);
}

TEST_CASE("proc stats: a directory and a one-file copy", "[proc_stats]")
{
  TempDir t;
  for (auto kernel : {"6.1", "6.12"}) {
    const std::string dir = t.path() + "/" + kernel;
    for (auto f : {"stats", "caches", "cookies"})
      write_file(dir + "/" + f, fixture(kernel, std::string(f) + ".txt"));
    auto s = read_proc_fscache(dir);
    INFO(kernel);
    CHECK(s.layout == kernel);
    REQUIRE(s.caches.size() == 1);
    CHECK(s.caches[0].name == "mini");
    CHECK(s.caches[0].id == "00000001");
    CHECK(s.caches[0].refs == 1);
    CHECK(s.caches[0].volumes == 0);
    CHECK(s.caches[0].objects == 0);
    CHECK(s.caches[0].accesses == 1);
    CHECK(s.caches[0].state == "A");
    REQUIRE(s.table("cookies"));
    CHECK(s.table("cookies")->rows.size() == 204);
    CHECK_FALSE(s.table("volumes"));
  }
  auto all = read_proc_fscache(fsc::test::fixtures_dir() +
                               "/real-6.12-smoke/proc-fscache-all.txt");
  CHECK(all.layout == "6.12");
  CHECK(all.caches.size() == 1);
  REQUIRE(all.table("requests"));
  CHECK(all.table("requests")->rows.empty());
  REQUIRE(all.table("volumes"));
  CHECK(all.table("volumes")->rows.empty());
  CHECK(all.get("DownOps", "DL") == 16);
  CHECK(all.warnings.empty());
}

TEST_CASE("proc stats: no FS-Cache is an error naming what is missing",
          "[proc_stats]")
{
  TempDir t;
  const std::string gone = t.path() + "/no-such-dir";
  CHECK_THROWS_WITH(read_proc_fscache(gone),
                    Catch::Contains("'" + gone + "' does not exist"));
  fsc::test::make_dirs(t.path() + "/empty");
  CHECK_THROWS_WITH(read_proc_fscache(t.path() + "/empty"),
                    Catch::Contains("/empty/stats' does not exist"));
  CHECK_THROWS_AS(read_proc_fscache(gone), fsc::Error);
}

TEST_CASE("proc stats: unknown lines and keys are kept, malformed ones "
          "reported by line",
          "[proc_stats]")
{
  auto s = parsed(fixture("6.12", "stats.txt") + "IO     : zz=4\n"
                                                 "Frobs  : x=1 y=-2\n"
                                                 "some new text\n"
                                                 "Acquire: n=abc ok=3\n"
                                                 "Ops    : n=1\n"
                                                 "Ops    : n=2\n");
  CHECK(s.layout == "6.12");
  CHECK(s.get("IO", "zz") == 4);
  CHECK(s.get("IO", "rd") == 0);
  CHECK(s.get("Frobs", "y") == -2);
  // The same key twice under one name: both kept, under distinct keys.
  CHECK(s.get("Ops", "n") == 1);
  CHECK(s.get("Ops", "n.2") == 2);
  REQUIRE(s.raw.size() == 2);
  CHECK(s.raw[0].line == 21);
  CHECK(s.raw[0].text == "some new text");
  CHECK(s.raw[1].line == 22);
  REQUIRE(s.warnings.size() == 1);
  CHECK(s.warnings[0].file == "stats");
  CHECK(s.warnings[0].line == 22);
  CHECK(s.warnings[0].message.find("'n=abc'") != std::string::npos);
  CHECK(s.get("Acquire", "n") == 204); // the good line still counts

  ProcStats c;
  parse_caches(c, "CACHE    REF   VOLS  OBJS  ACCES S NAME\n"
                  "======== ===== ===== ===== ===== = ===============\n"
                  "00000001     1     x     0     1 A mini\n"
                  "00000002     3     2     8     1 A two words\n");
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].line == 3);
  REQUIRE(c.caches.size() == 1);
  CHECK(c.caches[0].name == "two words");
  CHECK(c.caches[0].objects == 8);
}

TEST_CASE("proc stats: rates per second between two samples", "[proc_stats]")
{
  auto a = parsed("FS-Cache statistics\nAcquire: n=204 ok=204 oom=0\n"
                  "IO     : rd=100 wr=50\nNoSpace: nwr=0 ncr=0 cull=0\n");
  auto b = parsed("FS-Cache statistics\nAcquire: n=214 ok=214 oom=0\n"
                  "IO     : rd=40 wr=54\nNoSpace: nwr=0 ncr=0 cull=0\n"
                  "Invals : n=3\n");
  auto r = stat_rates(a, b, 2.0);
  auto rate = [&](const char* sec, const char* key) {
    for (auto& x : r)
      if (x.section == sec && x.key == key)
        return x.per_second;
    FAIL("no rate of " << sec << " " << key);
    return -1.0;
  };
  CHECK(rate("Acquire", "n") == 5.0);
  CHECK(rate("IO", "wr") == 2.0);
  CHECK(rate("IO", "rd") == 20.0); // went down: counted from zero
  CHECK(rate("NoSpace", "cull") == 0.0);
  for (auto& x : r)
    CHECK(x.section != "Invals"); // not in the first sample
  CHECK(figure_rate(10, 16, 0.5) == 12.0);
  CHECK_FALSE(figure_rate(std::nullopt, 16, 0.5));
}

TEST_CASE("proc stats: metrics, one series per section and key",
          "[proc_stats][metrics]")
{
  for (auto kernel : {"5.10", "6.1", "6.12"}) {
    ProcStats s;
    parse_stats(s, fixture(kernel, "stats.txt"));
    if (std::string(kernel) != "5.10")
      parse_caches(s, fixture(kernel, "caches.txt"));
    s.tables.push_back(parse_table(
        std::string(kernel) == "5.10" ? "" : fixture(kernel, "cookies.txt"),
        "cookies"));
    fsc::Metrics m("stats", "");
    stats_metrics(m, s);
    const std::string text = m.text();
    INFO(kernel << "\n" << text);
    std::set<std::string> series;
    std::size_t samples = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (line[0] != '#') {
        ++samples;
        CHECK(series.insert(line.substr(0, line.rfind(' '))).second);
      }
    std::size_t keys = 0;
    for (auto& sec : s.sections)
      keys += sec.fields.size();
    CHECK(text.find("fsc_fscache_info{layout=\"" + s.layout + "\"} 1\n") !=
          std::string::npos);
    CHECK(samples > keys);
    if (std::string(kernel) == "5.10") {
      CHECK(text.find("fsc_fscache_stat_total{section=\"Retrvls\",field="
                      "\"ops\"} 26\n") != std::string::npos);
      CHECK(text.find("fsc_fscache_reads_total{source=\"server\"} 26\n") !=
            std::string::npos);
    } else {
      CHECK(text.find("fsc_fscache_cache_volumes{tag=\"mini\"} 0\n") !=
            std::string::npos);
      CHECK(text.find("fsc_fscache_cookies 204\n") != std::string::npos);
    }
    if (std::string(kernel) == "6.12")
      CHECK(text.find("fsc_fscache_reads_total{source=\"server\"} 16\n") !=
            std::string::npos);
  }
}
