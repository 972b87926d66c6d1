// test_report.cpp - the document and lines framing every verb's JSON uses.
#include <catch2/catch.hpp>

#include <fsc/report.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Runs fill(report) with output into memory and returns the text.
template <class F> std::string framed(fsc::JsonMode mode, F fill)
{
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  REQUIRE(f);
  {
    fsc::JsonReport r(f, mode, "test");
    fill(r);
  }
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

std::vector<nlohmann::json> lines_of(const std::string& text)
{
  std::vector<nlohmann::json> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    v.push_back(nlohmann::json::parse(l));
  return v;
}

void two_records_and_summary(fsc::JsonReport& r)
{
  r.record("item", [](fsc::JsonWriter& j) { j.field("n", 1); });
  r.record("other", [](fsc::JsonWriter& j) { j.field("s", "x"); });
  r.summary([](fsc::JsonWriter& j) { j.field("total", 2); });
}

} // namespace

TEST_CASE("a document holds the summary's fields and every record", "[report]")
{
  auto doc = nlohmann::json::parse(
      framed(fsc::JsonMode::document, two_records_and_summary));
  CHECK(doc["schema"] == fsc::k_json_schema);
  CHECK(doc["verb"] == "test");
  CHECK(doc["complete"] == true);
  CHECK(doc["total"] == 2);
  REQUIRE(doc["records"].size() == 2);
  CHECK(doc["records"][0]["record"] == "item");
  CHECK(doc["records"][0]["n"] == 1);
  CHECK(doc["records"][1]["record"] == "other");
}

TEST_CASE("a lines stream ends with its summary record", "[report]")
{
  auto v = lines_of(framed(fsc::JsonMode::lines, two_records_and_summary));
  REQUIRE(v.size() == 3);
  CHECK(v[0]["record"] == "item");
  CHECK(v[1]["record"] == "other");
  CHECK(v[2]["record"] == "summary");
  CHECK(v[2]["verb"] == "test");
  CHECK(v[2]["schema"] == fsc::k_json_schema);
  CHECK(v[2]["complete"] == true);
  CHECK(v[2]["total"] == 2);
}

TEST_CASE("records rendered by workers join either form", "[report]")
{
  for (auto mode : {fsc::JsonMode::document, fsc::JsonMode::lines}) {
    auto text = framed(mode, [mode](fsc::JsonReport& r) {
      std::string a, b;
      for (int i = 0; i < 3; ++i)
        fsc::JsonReport::render(a, mode, "entry",
                                [i](fsc::JsonWriter& j) { j.field("i", i); });
      fsc::JsonReport::render(b, mode, "entry",
                              [](fsc::JsonWriter& j) { j.field("i", 3); });
      r.write_rendered(a);
      r.record("entry", [](fsc::JsonWriter& j) { j.field("i", 4); });
      r.write_rendered(b);
      r.summary([](fsc::JsonWriter&) {});
    });
    std::vector<nlohmann::json> recs;
    if (mode == fsc::JsonMode::document) {
      auto doc = nlohmann::json::parse(text);
      for (auto& x : doc["records"])
        recs.push_back(x);
    } else {
      recs = lines_of(text);
      recs.pop_back();
    }
    REQUIRE(recs.size() == 5);
    CHECK(recs[0]["i"] == 0);
    CHECK(recs[3]["i"] == 4);
    CHECK(recs[4]["i"] == 3);
  }
}

TEST_CASE("a report that stops early still closes, marked incomplete",
          "[report]")
{
  auto doc = nlohmann::json::parse(
      framed(fsc::JsonMode::document, [](fsc::JsonReport& r) {
        r.record("item", [](fsc::JsonWriter& j) { j.field("n", 1); });
      }));
  CHECK(doc["complete"] == false);
  CHECK(doc["records"].size() == 1);
  auto v = lines_of(framed(fsc::JsonMode::lines, [](fsc::JsonReport&) {}));
  REQUIRE(v.size() == 1);
  CHECK(v[0]["record"] == "summary");
  CHECK(v[0]["complete"] == false);
}

TEST_CASE("with JSON off a report writes nothing", "[report]")
{
  CHECK(framed(fsc::JsonMode::off, two_records_and_summary).empty());
}
