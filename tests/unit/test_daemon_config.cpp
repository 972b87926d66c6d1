// test_daemon_config.cpp - cachefilesd.conf parsing and the kernel's limits.
#include <catch2/catch.hpp>

#include <fsc/cachefiles/daemon_config.hpp>
#include <fsc/error.hpp>

#include "tree.hpp"

using namespace fsc::cachefiles;

namespace {

DaemonConfig parse(std::string_view text)
{
  ConfigReadOptions o;
  o.check_dir = false;
  o.page_size = 4096;
  return parse_daemon_config(text, "t.conf", o);
}

std::string first_error(const DaemonConfig& c)
{
  return c.errors.empty() ? std::string() : c.errors.front().text();
}

} // namespace

TEST_CASE("defaults are the kernel's 7/5/1 and culltable 12", "[daemon_config]")
{
  auto c = parse("");
  CHECK(c.ok());
  CHECK(c.blocks == PercentLimits{7, 5, 1});
  CHECK(c.files == PercentLimits{7, 5, 1});
  CHECK(c.culltable_log2 == 12);
  CHECK(c.culltable_size() == 4096);
  CHECK(c.tag == "CacheFiles");
  CHECK(c.dir.empty());
  CHECK_FALSE(c.nocull);
  CHECK_FALSE(c.from_file("brun"));
  CHECK(c.line_of("brun") == 0);
}

TEST_CASE("the shipped Debian config parses", "[daemon_config]")
{
  auto c = parse("###############\n"
                 "# Copyright (C) 2006,2010 Red Hat\n"
                 "\n"
                 "dir /var/cache/fscache\n"
                 "tag mycache\n"
                 "brun 10%\n"
                 "bcull 7%\n"
                 "bstop 3%\n"
                 "frun 10%\n"
                 "fcull 7%\n"
                 "fstop 3%\n"
                 "\n"
                 "# Assuming you're using SELinux with the default policy\n"
                 "# secctx system_u:system_r:cachefiles_kernel_t:s0\n");
  INFO(first_error(c));
  CHECK(c.ok());
  CHECK(c.dir == "/var/cache/fscache");
  CHECK(c.tag == "mycache");
  CHECK(c.blocks == PercentLimits{10, 7, 3});
  CHECK(c.files == PercentLimits{10, 7, 3});
  CHECK(c.line_of("dir") == 4);
  CHECK(c.line_of("fstop") == 11);
  CHECK(c.from_file("tag"));
  CHECK_FALSE(c.from_file("secctx"));
  CHECK(c.warnings.empty());
}

TEST_CASE("percent limits are checked against current values in file order",
          "[daemon_config]")
{
  SECTION("lowering run below the default cull is refused")
  {
    auto c = parse("brun 4%\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].line == 1);
    CHECK(c.errors[0].daemon_exit == 2);
    CHECK_THAT(c.errors[0].text(),
               Catch::StartsWith("t.conf:1: CacheFiles gave config error: "
                                 "Invalid argument"));
    CHECK_THAT(c.errors[0].message, Catch::Contains("bcull 5%"));
    CHECK(c.blocks.run == 7); // unchanged
  }
  SECTION("the same values in a workable order are accepted")
  {
    auto c = parse("bstop 1%\nbcull 3%\nbrun 4%\n");
    CHECK(c.ok());
    CHECK(c.blocks == PercentLimits{4, 3, 1});
  }
  SECTION("raising cull above the default run first is refused")
  {
    auto c = parse("bcull 20%\nbrun 30%\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].line == 1);
    CHECK(c.blocks == PercentLimits{30, 5, 1});
  }
  SECTION("run must stay below 100, stop may be 0")
  {
    CHECK_FALSE(parse("frun 100%\n").ok());
    CHECK(parse("frun 99%\n").ok());
    CHECK(parse("fstop 0%\n").files.stop == 0);
    CHECK_FALSE(parse("fstop 5%\n").ok()); // == fcull
    CHECK_FALSE(parse("fcull 1%\n").ok()); // == fstop
    CHECK_FALSE(parse("fcull 7%\n").ok()); // == frun
  }
  SECTION("b and f triples are independent")
  {
    auto c = parse("frun 50%\nfcull 40%\nfstop 30%\n");
    CHECK(c.ok());
    CHECK(c.files == PercentLimits{50, 40, 30});
    CHECK(c.blocks == PercentLimits{7, 5, 1});
  }
}

TEST_CASE("percent syntax is the kernel's", "[daemon_config]")
{
  CHECK(parse("brun 10%\n").blocks.run == 10);
  CHECK(parse("brun\t010%\n").blocks.run == 10);
  CHECK(parse("brun    10%\n").blocks.run == 10);
  // the kernel takes an empty number as 0
  CHECK(parse("bstop %\n").blocks.stop == 0);
  for (const char* bad :
       {"brun 10\n", "brun 10 %\n", "brun 10% \n", "brun 10.5%\n",
        "brun +10%\n", "brun -1%\n", "brun\n", "brun 0x10%\n", "brun 10%%\n"}) {
    INFO(bad);
    auto c = parse(bad);
    CHECK_FALSE(c.ok());
    CHECK(c.blocks.run == 7);
  }
}

TEST_CASE("lexical rules of cachefilesd", "[daemon_config]")
{
  SECTION("a last line without newline is fatal")
  {
    auto c = parse("brun 10%\ntag x");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].text() == "t.conf:2: Unterminated line");
    CHECK(c.blocks.run == 10);
    CHECK(c.tag == "CacheFiles");
  }
  SECTION("a NUL byte is fatal")
  {
    using namespace std::string_view_literals;
    auto c = parse("tag a\0b\n"sv);
    CHECK(first_error(c) == "t.conf:1: Line contains a NUL character");
  }
  SECTION("a line of a page or more is fatal")
  {
    std::string line = "tag " + std::string(4091, 'x') + "\n"; // 4096 bytes
    CHECK(first_error(parse(line)) == "t.conf:1: Line too long");
    line = "tag " + std::string(4090, 'x') + "\n";
    CHECK(parse(line).ok());
  }
  SECTION("blank lines, blank-only lines and comments are skipped")
  {
    auto c = parse("\n   \n\t\n# brun 99%\n   # tag x\n");
    CHECK(c.ok());
    CHECK(c.blocks.run == 7);
  }
  SECTION("no trailing comments: the rest of the line is the value")
  {
    auto c = parse("tag mine # comment\n");
    CHECK(c.tag == "mine # comment");
    CHECK_FALSE(parse("brun 10% # comment\n").ok());
  }
  SECTION("keywords are case-sensitive")
  {
    CHECK_FALSE(parse("BRUN 10%\n").ok());
    CHECK_FALSE(parse("Dir /x\n").ok());
  }
  SECTION("an indented kernel directive is refused by the kernel")
  {
    auto c = parse("  brun 10%\n");
    REQUIRE(c.errors.size() == 1);
    CHECK_THAT(c.errors[0].message, Catch::Contains("Operation not supported"));
    CHECK(c.blocks.run == 7);
  }
  SECTION("an indented daemon directive works")
  {
    auto c = parse("\tculltable 14\n");
    CHECK(c.ok());
    CHECK(c.culltable_log2 == 14);
  }
  SECTION("trailing blanks stay in dir and tag, with a warning")
  {
    auto c = parse("dir /var/cache/fscache \ntag t\t\n");
    CHECK(c.ok());
    CHECK(c.dir == "/var/cache/fscache ");
    CHECK(c.tag == "t\t");
    CHECK(c.warnings.size() == 2);
  }
}

TEST_CASE("daemon directives", "[daemon_config]")
{
  SECTION("culltable")
  {
    CHECK(parse("culltable 20\n").culltable_size() == 1u << 20);
    CHECK(parse("culltable   12\n").culltable_log2 == 12);
    CHECK(first_error(parse("culltable 11\n")) ==
          "t.conf:1: Log2 of cull table size must be 12 <= N <= 20");
    CHECK(first_error(parse("culltable 21\n")) ==
          "t.conf:1: Log2 of cull table size must be 12 <= N <= 20");
    CHECK(first_error(parse("culltable 12x\n")) ==
          "t.conf:1: Invalid cull table size number");
    CHECK(first_error(parse("culltable 13 \n")) ==
          "t.conf:1: Invalid cull table size number");
    CHECK(first_error(parse("culltable -13\n")) ==
          "t.conf:1: Log2 of cull table size must be 12 <= N <= 20");
    // no blank after the word: not the daemon's, so the kernel refuses it
    CHECK_THAT(first_error(parse("culltable\n")),
               Catch::Contains("unknown directive 'culltable'"));
    auto c = parse("culltable 13\nculltable 14\n");
    CHECK(c.culltable_log2 == 14);
    CHECK(c.line_of("culltable") == 2);
    CHECK(c.warnings.size() == 1);
  }
  SECTION("nocull is noted and then refused by the kernel")
  {
    auto c = parse("nocull\n");
    CHECK(c.nocull);
    REQUIRE(c.errors.size() == 1);
    CHECK_THAT(c.errors[0].message, Catch::Contains("-N"));
    CHECK(parse("nocull  \n").nocull);
    CHECK_FALSE(parse("nocullx\n").nocull);
  }
  SECTION("resume_thresholds never reaches the daemon's parser")
  {
    auto c = parse("resume_thresholds 5 5\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.resume_files == 5);
    CHECK(c.resume_blocks == UINT64_MAX);
  }
  SECTION("bind is refused")
  {
    CHECK(first_error(parse("bind\n")) ==
          "t.conf:1: 'bind' command not permitted");
    CHECK(first_error(parse("bind x\n")) ==
          "t.conf:1: 'bind' command not permitted");
  }
}

TEST_CASE("kernel directives", "[daemon_config]")
{
  SECTION("dir: once, not empty")
  {
    auto c = parse("dir /a\ndir /b\n");
    CHECK(c.dir == "/a");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].line == 2);
    CHECK_THAT(c.errors[0].message, Catch::Contains("File exists"));
    CHECK_FALSE(parse("dir\n").ok());
  }
  SECTION("dir must exist when checked, like the daemon's stat()")
  {
    fsc::test::TempDir tmp;
    ConfigReadOptions o;
    o.page_size = 4096;
    auto c = parse_daemon_config("dir " + tmp.path() + "\n", "t.conf", o);
    CHECK(c.ok());
    CHECK(c.dir == tmp.path());
    c = parse_daemon_config("dir " + tmp.path() + "/nope\n", "t.conf", o);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].daemon_exit == 1);
    CHECK_THAT(c.errors[0].message,
               Catch::StartsWith("Can't confirm cache location"));
    CHECK(c.dir.empty());
  }
  SECTION("tag and secctx: once, not empty")
  {
    CHECK_FALSE(parse("tag\n").ok());
    CHECK_FALSE(parse("tag a\ntag b\n").ok());
    CHECK(parse("secctx system_u:system_r:cachefiles_kernel_t:s0\n").secctx ==
          "system_u:system_r:cachefiles_kernel_t:s0");
    CHECK_FALSE(parse("secctx a\nsecctx b\n").ok());
  }
  SECTION("debug takes a C-style number")
  {
    CHECK(parse("debug 7\n").debug_mask == 7);
    CHECK(parse("debug 0x7\n").debug_mask == 7);
    CHECK(parse("debug 010\n").debug_mask == 8);
    CHECK_FALSE(parse("debug 7x\n").ok());
    CHECK_FALSE(parse("debug 9 \n").ok());
  }
  SECTION("cull and inuse need a bound cache")
  {
    CHECK_THAT(first_error(parse("cull x\n")),
               Catch::Contains("Input/output error"));
    CHECK_THAT(first_error(parse("inuse a/b\n")),
               Catch::Contains("Invalid argument"));
  }
  SECTION("unknown words")
  {
    CHECK_THAT(first_error(parse("frob 1\n")),
               Catch::Contains("unknown directive 'frob'"));
  }
  SECTION("every error is reported, in file order")
  {
    auto c = parse("brun 4%\nfrob\nbcull 3%\nbrun 4%\ntag x");
    REQUIRE(c.errors.size() == 3);
    CHECK(c.errors[0].line == 1);
    CHECK(c.errors[1].line == 2);
    CHECK(c.errors[2].line == 5);
    CHECK(c.blocks == PercentLimits{4, 3, 1});
  }
}

TEST_CASE("read_daemon_config reads files", "[daemon_config]")
{
  fsc::test::TempDir tmp;
  fsc::test::write_file(tmp / "c.conf", "dir " + tmp.path() + "\nbrun 9%\n");
  auto c = read_daemon_config(tmp / "c.conf");
  CHECK(c.ok());
  CHECK(c.file == tmp / "c.conf");
  CHECK(c.blocks.run == 9);
  CHECK_THROWS_AS(read_daemon_config(tmp / "missing.conf"), fsc::Error);
}

TEST_CASE("check_limits", "[daemon_config]")
{
  CHECK(check_limits({7, 5, 1}, "b").empty());
  CHECK(check_limits({5, 5, 1}, "b") == "bcull 5% is not below brun 5%");
  CHECK(check_limits({7, 5, 5}, "f") == "fstop 5% is not below fcull 5%");
  CHECK(check_limits({100, 5, 1}, "f") == "frun 100% must be below 100%");
  CHECK(check_limits({1, 0, 0}, "b") == "bstop 0% is not below bcull 0%");
}

TEST_CASE("limits: division first, v1 in pages, v2 in fs blocks",
          "[daemon_config]")
{
  // The real 6.1 run of v2-ondisk "facts" item 6: 48 MiB ext4, 1 KiB blocks.
  FsStats st;
  st.bsize = 1024;
  st.blocks = 40939;
  st.bavail = 30000;
  st.files = 12288;
  st.ffree = 10000;
  auto v2 =
      compute_thresholds({50, 40, 30}, {10, 7, 3}, st, KernelGen::v2, 4096);
  CHECK(v2.unit == 1024);
  CHECK(v2.brun == 0x4fe2); // 409 * 50, not 40939 * 50 / 100
  CHECK(v2.frun == 0x4c4);  // 122 * 10
  CHECK(v2.fcull == 122 * 7);
  CHECK(v2.bavail == 30000);

  auto v1 =
      compute_thresholds({50, 40, 30}, {10, 7, 3}, st, KernelGen::v1, 4096);
  CHECK(v1.unit == 4096);
  CHECK(v1.brun == (40939 / 4) / 100 * 50); // 10234 pages -> 102 * 50
  CHECK(v1.bcull == 102 * 40);
  CHECK(v1.bavail == 30000 / 4);
  CHECK(v1.frun == 0x4c4);

  // 4 KiB blocks: v1 and v2 agree
  st.bsize = 4096;
  auto a = compute_thresholds({7, 5, 1}, {7, 5, 1}, st, KernelGen::v1, 4096);
  auto b = compute_thresholds({7, 5, 1}, {7, 5, 1}, st, KernelGen::v2, 4096);
  CHECK(a.brun == b.brun);
  CHECK(a.unit == 4096);
  CHECK(a.brun == 409 * 7);
}

TEST_CASE("evaluate: cull below cull, off at run, hysteresis between",
          "[daemon_config]")
{
  Thresholds t;
  t.unit = 4096;
  t.brun = 700, t.bcull = 500, t.bstop = 100;
  t.frun = 70, t.fcull = 50, t.fstop = 10;
  t.bavail = 800, t.ffree = 80;
  auto d = evaluate(t);
  CHECK(d.state == CullState::off);
  CHECK_FALSE(d.culling());
  CHECK(d.blocks_to_run == 0);

  t.bavail = 600; // between cull and run
  d = evaluate(t);
  CHECK(d.state == CullState::hysteresis);
  CHECK_FALSE(d.culling());
  CHECK(d.blocks_to_run == 100);

  t.bavail = 499;
  d = evaluate(t);
  CHECK(d.state == CullState::cull);
  CHECK(d.culling());
  CHECK(d.blocks_low);
  CHECK_FALSE(d.files_low);
  CHECK(d.blocks_to_run == 201);

  t.bavail = 800, t.ffree = 9; // files alone can stop
  d = evaluate(t);
  CHECK(d.state == CullState::stop);
  CHECK(d.files_low);
  CHECK(d.files_to_run == 61);
  CHECK(std::string(cull_state_name(d.state)) == "stop");

  t.ffree = 50, t.bavail = 500; // exactly at cull: not below
  CHECK(evaluate(t).state == CullState::hysteresis);
}
