// test_units.cpp - parsing ages, sizes and percentages.
#include <catch2/catch.hpp>

#include <fsc/error.hpp>
#include <fsc/units.hpp>

TEST_CASE("parse_age accepts unit suffixes", "[units]")
{
  CHECK(fsc::parse_age("90s") == std::chrono::seconds(90));
  CHECK(fsc::parse_age("90") == std::chrono::seconds(90));
  CHECK(fsc::parse_age("15m") == std::chrono::minutes(15));
  CHECK(fsc::parse_age("2d") == std::chrono::hours(48));
  CHECK(fsc::parse_age("1w") == std::chrono::hours(168));
  CHECK(fsc::parse_age("1.5h") == std::chrono::minutes(90));
  CHECK_THROWS_AS(fsc::parse_age("3 weeks"), fsc::Error);
  CHECK_THROWS_AS(fsc::parse_age("d"), fsc::Error);
  CHECK_THROWS_AS(fsc::parse_age(""), fsc::Error);
}

TEST_CASE("parse_size takes binary units", "[units]")
{
  CHECK(fsc::parse_size("4096") == 4096);
  CHECK(fsc::parse_size("10K") == 10240);
  CHECK(fsc::parse_size("1.5G") == 1610612736);
  CHECK(fsc::parse_size("2TiB") == 2ull << 40);
  CHECK(fsc::parse_size("3mb") == 3ull << 20);
  CHECK_THROWS_AS(fsc::parse_size("3Q"), fsc::Error);
  CHECK_THROWS_AS(fsc::parse_size("-1"), fsc::Error);
}

TEST_CASE("parse_percent", "[units]")
{
  CHECK(fsc::parse_percent("7%") == 7);
  CHECK(fsc::parse_percent("100") == 100);
  CHECK_THROWS_AS(fsc::parse_percent("101%"), fsc::Error);
  CHECK_THROWS_AS(fsc::parse_percent("7.5%"), fsc::Error);
  CHECK_THROWS_AS(fsc::parse_percent("%"), fsc::Error);
}
