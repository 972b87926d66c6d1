// test_demo.cpp - `fsc demo` writes caches that inspect decodes, with
// exactly the anomalies it promises.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <nlohmann/json.hpp>
#include "json_records.hpp"

#include <set>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

static std::multiset<std::string> problem_kinds(const std::string& json)
{
  std::multiset<std::string> kinds;
  auto doc = nlohmann::json::parse(json);
  for (auto& p : records(doc, "problem"))
    kinds.insert(p["kind"].get<std::string>());
  return kinds;
}

TEST_CASE("demo v1: NFS and AFS objects and four anomalies", "[demo]")
{
  TempDir t;
  auto r = run_fsc({"demo", t / "d", "--now", "1700000000"});
  REQUIRE(r.status == 0);
  r = run_fsc({"--json", "inspect", t / "d"});
  CHECK(r.status == 1);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["format"] == "v1");
  CHECK(doc["netfs"]["nfs"]["data_objects"] == 9);
  CHECK(doc["netfs"]["afs"]["data_objects"] == 3);
  CHECK(doc["netfs"]["afs"]["index_objects"] == 3);
  r = run_fsc({"--json", "inspect", "--check", t / "d"});
  CHECK(r.status == 1);
  CHECK(problem_kinds(r.out) ==
        std::multiset<std::string>{"bad-fanout", "no-xattr", "unknown-entry",
                                   "graveyard-not-empty"});
}

TEST_CASE("demo v2: volumes and objects the 6.1 rules place", "[demo][v2]")
{
  TempDir t;
  REQUIRE(run_fsc({"demo", "--format", "v2", t / "d"}).status == 0);
  auto r = run_fsc({"--json", "inspect", "--check", t / "d"});
  CHECK(r.status == 1);
  CHECK(problem_kinds(r.out) ==
        std::multiset<std::string>{"no-xattr", "unknown-entry"});
  r = run_fsc({"--json", "inspect", t / "d"});
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["format"] == "v2");
  CHECK(doc["volumes"] == 2);
  CHECK(doc["data_objects"] == 9);
}

TEST_CASE("demo refuses a non-empty directory and changes nothing there",
          "[demo]")
{
  TempDir t;
  fsc::test::write_file(t / "d/keep", "precious");
  auto before = fsc::test::snapshot(t / "d");
  auto r = run_fsc({"demo", t / "d"});
  CHECK(r.status == 2);
  CHECK(r.err.find("not empty") != std::string::npos);
  CHECK(fsc::test::snapshot(t / "d") == before);
}
