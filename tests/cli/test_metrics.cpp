// test_metrics.cpp - Prometheus output of inspect, cull and verify: checked
// by promtool and scraped through a real node_exporter textfile collector.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using fsc::test::run_fsc;
using fsc::test::run_prog;
using fsc::test::TempDir;

namespace {

std::string real_v2(const TempDir& t)
{
  return fsc::test::extract_fixture(
      fsc::test::fixtures_dir() + "/real-6.1-smoke/cache.tar.xz", t.path());
}

bool have(const char* prog)
{
  return run_prog({"sh", "-c", fmt::format("command -v {}", prog)}).status == 0;
}

/// promtool's verdict on exposition text: "" when clean.
std::string promtool_check(const std::string& text)
{
  auto r = run_prog({"promtool", "check", "metrics"}, {}, text);
  return r.status == 0 ? r.out + r.err
                       : fmt::format("exit {}: {}{}", r.status, r.out, r.err);
}

bool contains(const std::string& s, const std::string& what)
{
  return s.find(what) != std::string::npos;
}

} // namespace

TEST_CASE("inspect --format prometheus: the cache's objects, space and ages, "
          "clean for promtool",
          "[metrics][inspect]")
{
  TempDir t, proc;
  auto root = real_v2(t);
  auto r = run_fsc({"inspect", root, "--format", "prometheus"},
                   {{"FSC_PROC_ROOT", proc.path()}});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const std::string c = fmt::format("cache=\"{}\"", root);
  CHECK(contains(r.out, "# TYPE fsc_cache_objects gauge"));
  CHECK(contains(r.out,
                 fmt::format("fsc_cache_objects{{{},netfs=\"nfs\"}} 8", c)));
  CHECK(
      contains(r.out, fmt::format("fsc_cache_info{{{},format=\"v2\"}} 1", c)));
  // One series per volume, not per object.
  CHECK(contains(r.out, "volume=\"127.0.0.1:2049 (NFSv4.2)\"} 4"));
  CHECK(contains(r.out, "volume=\"127.0.0.1 (NFSv3.0, port unset)\"} 4"));
  CHECK(contains(r.out,
                 fmt::format("fsc_cache_atime_age_seconds_count{{{}}} 8", c)));
  CHECK(
      contains(r.out, fmt::format("fsc_cache_limit_ratio{{{},limit=\"bcull\"}} "
                                  "0.05",
                                  c)));
  CHECK(contains(
      r.out, fmt::format("fsc_last_run_success{{verb=\"inspect\",{}}} 1", c)));
  CHECK_FALSE(contains(r.out, "objects    ")); // no text output
  if (!have("promtool")) {
    WARN("promtool not installed (Debian package prometheus): not checked");
    return;
  }
  CHECK(promtool_check(r.out).empty());
}

TEST_CASE("cull --prometheus FILE: written whole by rename, with the run's "
          "outcome; a failed run still says so",
          "[metrics][cull]")
{
  TempDir t, proc, out;
  auto root = real_v2(t);
  const std::string prom = out / "fsc-cull.prom";
  auto r = run_fsc({"cull", root, "--max-objects", "5", "--prometheus", prom},
                   {{"FSC_PROC_ROOT", proc.path()}});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto text = fsc::test::read_file(prom);
  CHECK(contains(
      text, fmt::format("fsc_cull_removed_objects{{cache=\"{}\"}} 3", root)));
  CHECK(contains(text, "fsc_cull_goal_met{"));
  CHECK(contains(text, "fsc_last_run_success{verb=\"cull\""));
  // Only the file: no temporary left beside it.
  std::size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(out.path()))
    files += e.is_regular_file();
  CHECK(files == 1);
  if (have("promtool"))
    CHECK(promtool_check(text).empty());

  // The cache is gone: exit 2, and the file says the run failed.
  std::filesystem::remove_all(root);
  r = run_fsc({"cull", root, "--max-objects", "5", "--prometheus", prom},
              {{"FSC_PROC_ROOT", proc.path()}});
  CHECK(r.status == 2);
  text = fsc::test::read_file(prom);
  CHECK(contains(text, fmt::format("fsc_last_run_success{{verb=\"cull\","
                                   "cache=\"{}\"}} 0",
                                   root)));
  CHECK(contains(text, "fsc_last_run_exit_status{verb=\"cull\""));
  CHECK_FALSE(contains(text, "fsc_cull_removed_objects"));

  // A file that cannot be written is an error naming it.
  r = run_fsc({"inspect", root, "--prometheus", out / "no/such/dir/x.prom"},
              {{"FSC_PROC_ROOT", proc.path()}});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "no/such/dir/x.prom"));
}

TEST_CASE("verify --format prometheus counts every verdict, zeros included",
          "[metrics][verify]")
{
  TempDir t, proc;
  auto root = real_v2(t);
  fsc::test::write_file(t / "empty.map", "");
  auto r = run_fsc({"verify", root, "--origin-map", t / "empty.map", "--format",
                    "prometheus"},
                   {{"FSC_PROC_ROOT", proc.path()}});
  INFO(r.out << r.err);
  CHECK(r.status == 1); // nothing checked is no all-clear
  const std::string c = fmt::format("cache=\"{}\"", root);
  CHECK(contains(
      r.out,
      fmt::format("fsc_verify_objects{{{},verdict=\"unmapped\"}} 8", c)));
  CHECK(contains(
      r.out,
      fmt::format("fsc_verify_objects{{{},verdict=\"obsolete\"}} 0", c)));
  // Exit 1 is "done, with findings": the run itself worked.
  CHECK(contains(
      r.out, fmt::format("fsc_last_run_success{{verb=\"verify\",{}}} 1\n", c)));
  if (have("promtool"))
    CHECK(promtool_check(r.out).empty());
}

TEST_CASE("metrics options: bad combinations are usage errors",
          "[metrics][errors]")
{
  TempDir t;
  auto root = real_v2(t);
  CHECK(run_fsc({"--json", "inspect", root, "--format", "prometheus"}).status ==
        64);
  CHECK(run_fsc({"inspect", root, "--tree", "--prometheus", t / "x.prom"})
            .status == 64);
  CHECK(run_fsc({"inspect", root, "--format", "yaml"}).status == 64);
}

TEST_CASE("node_exporter's textfile collector serves fsc's metrics",
          "[metrics][node_exporter]")
{
  const char* exporter = "prometheus-node-exporter";
  if (!have(exporter)) {
    WARN("prometheus-node-exporter not installed: the scrape is not tested "
         "(CI installs it)");
    return;
  }
  TempDir t, proc, textdir;
  auto root = real_v2(t);
  REQUIRE(run_fsc({"inspect", root, "--prometheus", textdir / "fsc.prom"},
                  {{"FSC_PROC_ROOT", proc.path()}})
              .status == 0);
  REQUIRE(run_fsc({"cull", root, "-n", "--max-objects", "5", "--prometheus",
                   textdir / "fsc-cull.prom"},
                  {{"FSC_PROC_ROOT", proc.path()}})
              .status == 0);
  // A port of our own: the pid keeps parallel runs apart.
  const int port = 20000 + int(::getpid() % 20000);
  const std::string listen = fmt::format("127.0.0.1:{}", port);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    ::execlp(exporter, exporter, ("--web.listen-address=" + listen).c_str(),
             "--collector.disable-defaults", "--collector.textfile",
             ("--collector.textfile.directory=" + textdir.path()).c_str(),
             nullptr);
    ::_exit(127);
  }
  std::string body;
  for (int i = 0; i < 100 && body.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = run_prog(
        {"python3", "-c",
         "import sys,urllib.request as u;"
         "sys.stdout.write(u.urlopen(sys.argv[1],timeout=2).read().decode())",
         fmt::format("http://{}/metrics", listen)});
    if (r.status == 0)
      body = r.out;
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  INFO(body);
  REQUIRE_FALSE(body.empty());
  // Both files merged into one family each, no scrape error.
  CHECK(contains(body, "node_textfile_scrape_error 0"));
  CHECK(contains(body, "fsc_cache_objects{cache="));
  CHECK(contains(body, "fsc_cull_removed_objects{cache="));
  CHECK(contains(body, "fsc_last_run_success{cache="));
  CHECK(contains(body, "verb=\"cull\""));
  CHECK(contains(body, "verb=\"inspect\""));
}
