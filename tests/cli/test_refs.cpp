// test_refs.cpp - `fsc refs` end to end: real traces, a constructed over-put,
// the timeline, JSON, the SVG plot, stdin and bad input.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "json_records.hpp"

#include <fstream>
#include <sstream>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

std::string fixture_trace(const char* name)
{
  return fsc::test::fixtures_dir() + "/" + name + "/ftrace.txt.xz";
}

/// The lines of a real smoke trace, decompressed.
std::vector<std::string> fixture_lines(const char* name)
{
  auto r = fsc::test::run_prog({"xz", "-dc", fixture_trace(name)});
  REQUIRE(r.status == 0);
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  return lines;
}

/// The index of the only line holding `what`.
std::size_t line_with(const std::vector<std::string>& lines,
                      const std::string& what)
{
  std::size_t at = lines.size(), n = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find(what) != std::string::npos) {
      at = i;
      ++n;
    }
  INFO(what);
  REQUIRE(n == 1);
  return at;
}

/// `fsc refs` on `text`, written to t/name.
fsc::test::RunResult refs_on(const TempDir& t, const std::string& name,
                             const std::string& text)
{
  fsc::test::write_file(t / name, text);
  return run_fsc({"refs", t / name});
}

std::string joined(const std::vector<std::string>& lines)
{
  std::string s;
  for (auto& l : lines)
    s += l + "\n";
  return s;
}

// A 4.19 cookie whose attach error path puts it once too often.
const char* k_overput =
    "             cat-222     [000] ....    13.690742: fscache_acquire: "
    "c=ffff91ce827c1380 p=ffff91ce821f9700 pu=2 pc=1 pf=22 n=NFS.fh\n"
    "             cat-222     [000] ....    13.691995: fscache_cookie: GET obj "
    "c=ffff91ce827c1380 u=2 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n"
    "    kworker/u4:0-7       [001] ....    13.692910: fscache_cookie: PUT obj "
    "c=ffff91ce827c1380 u=1 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n"
    "    kworker/u4:0-7       [001] ....    13.692990: fscache_cookie: PUT obj "
    "c=ffff91ce827c1380 u=0 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n"
    "    kworker/u4:0-7       [001] ....    13.693000: fscache_cookie: PUT obj "
    "c=ffff91ce827c1380 u=-1 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n";

} // namespace

TEST_CASE("refs on the real traces: every history balances", "[refs][real]")
{
  for (auto name : {"real-5.10-smoke", "real-6.1-smoke"}) {
    auto r = run_fsc({"refs", fixture_trace(name)});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("findings   0") != std::string::npos);
    CHECK(r.out.find(" 0 malformed, 0 lost") != std::string::npos);
  }
  auto r = run_fsc({"refs", fixture_trace("real-6.1-smoke")});
  CHECK(r.out.find("(6.1 format)") != std::string::npos);
  CHECK(r.out.find("cookies    204 (204 relinquished, 204 freed") !=
        std::string::npos);
}

TEST_CASE("refs: a count read before another CPU's put and printed after "
          "it is no finding (real 6.1 trace, 5 and 54 us)",
          "[refs][reorder]")
{
  // Issue 13 item 4, made from the real 6.1 smoke trace: at umount the
  // worker queued by `GQ endac` reads r=3 of cookie 3 before `PUT relnq`
  // makes 2 on CPU 0, and prints its `- work` line 5 (54) us after it on
  // CPU 1. The kernel printed `- work r=2` at 18.288345 here.
  TempDir t;
  struct Case {
    int gap_us;
    const char* after; ///< the line the edited one follows
    const char* cpu;
    int status;
  };
  for (auto c :
       {Case{5, "18.288260: fscache_cookie: c=00000003 PUT relnq", "001", 0},
        Case{54, "18.288299: fscache_cookie: c=00000007 PUT relnq", "001", 0},
        // One CPU prints in the order it ran: a real jump.
        Case{5, "18.288260: fscache_cookie: c=00000003 PUT relnq", "000", 1}}) {
    auto lines = fixture_lines("real-6.1-smoke");
    lines.erase(
        lines.begin() +
        std::ptrdiff_t(line_with(
            lines, "18.288345: fscache_cookie: c=00000003 -   work  r=2")));
    auto at = line_with(lines, c.after);
    lines.insert(
        lines.begin() + std::ptrdiff_t(at) + 1,
        fmt::format("    kworker/u4:0-9       [{}] .....    "
                    "18.{:06}: fscache_cookie: c=00000003 -   work  r=3",
                    c.cpu, 288260 + c.gap_us));
    fsc::test::write_file(t / "trace.txt", joined(lines));
    auto r = run_fsc({"refs", t / "trace.txt"});
    INFO("gap " << c.gap_us << " cpu " << c.cpu << ": " << r.out << r.err);
    CHECK(r.status == c.status);
    if (c.status == 0)
      CHECK(r.out.find("findings   0") != std::string::npos);
    else
      CHECK(r.out.find("count-jump") != std::string::npos);
  }
}

TEST_CASE("refs 5.10: an object address reused, the new object's first "
          "put printed before its get at one microsecond, is no finding",
          "[refs][reorder]")
{
  // The kernel suite's 5.10 trace (2026-12-03 19:20 run, a TCG guest;
  // the object's lines of trace lines 99716-218265): the second object at
  // o=ffff96de8d68be00 is freed at 58.979783; a third takes its address
  // at 102.245378, where the clock stood still for hundreds of lines: the
  // kworker's PUT work u=1 (CPU 0) is printed before the GET queue u=2
  // (CPU 1) that preceded it.
  const std::string real =
    "      umount.nfs-386     [000] ....    58.979700: cachefiles_ref: "
    "c=ffff96de8d697000 o=ffff96de8d68be00 u=2 GET queue\n"
    "    kworker/u4:3-268     [001] ....    58.979780: cachefiles_ref: "
    "c=ffff96de8d697000 o=ffff96de8d68be00 u=1 PUT drop_obj\n"
    "    kworker/u4:3-268     [001] ....    58.979783: cachefiles_ref: "
    "c=ffff96de8d697000 o=ffff96de8d68be00 u=0 PUT work\n"
    "    kworker/u4:2-117     [000] ....   102.245378: cachefiles_ref: "
    "c=ffff96de8be9df80 o=ffff96de8d68be00 u=1 PUT work\n"
    "       sha256sum-583     [001] ....   102.245378: cachefiles_ref: "
    "c=ffff96de8be9df80 o=ffff96de8d68be00 u=2 GET queue\n"
    "      umount.nfs-605     [001] ....   109.154275: cachefiles_ref: "
    "c=ffff96de8be9df80 o=ffff96de8d68be00 u=2 GET queue\n"
    "    kworker/u4:1-22      [000] ....   109.154673: cachefiles_ref: "
    "c=ffff96de8be9df80 o=ffff96de8d68be00 u=1 PUT drop_obj\n"
    "    kworker/u4:1-22      [000] ....   109.154677: cachefiles_ref: "
    "c=ffff96de8be9df80 o=ffff96de8d68be00 u=0 PUT work\n";
  TempDir t;
  auto r = refs_on(t, "trace.txt", real);
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("objects    2 (2 freed, 0 alive at the end)") !=
        std::string::npos);
  CHECK(r.out.find("findings   0") != std::string::npos);

  // The same two lines on one CPU: printed in the order they ran, an
  // over-put.
  std::string one_cpu = real;
  const std::string put = "kworker/u4:2-117     [000] ....   102.245378";
  REQUIRE(one_cpu.find(put) != std::string::npos);
  one_cpu.replace(one_cpu.find(put), put.size(),
                  "kworker/u4:2-117     [001] ....   102.245378");
  r = refs_on(t, "one-cpu.txt", one_cpu);
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("over-put") != std::string::npos);
}

TEST_CASE("refs 6.1: a clock that stood still on both CPUs: the worker's "
          "lines printed before the relinquish that came first",
          "[refs][reorder]")
{
  // The kernel suite's 6.1 trace (2026-12-03 19:20 run, TCG): at an
  // umount the clock read 205.642044 on both CPUs for over 200 lines, so
  // the merged buffers print CPU 0's before CPU 1's. c=00000112's worker
  // (CPU 0) ran after the relinquish (CPU 1) that queued it: GQ endac
  // r=2, PUT relnq r=1, then - work r=1 ... PQ work r=0. Once the GQ is
  // moved first, the PUT relnq must be too (it was no flag of its own).
  const std::string real =
    "    kworker/u4:0-9       [001] .....   197.582829: fscache_"
    "cookie: c=00000112 PQ  work  r=1\n"
    "    kworker/u4:0-9       [000] .....   205.642044: fscache_"
    "cookie: c=00000112 -   work  r=1\n"
    "    kworker/u4:0-9       [000] ...1.   205.642044: fscache_"
    "cookie: c=00000112 -   x-rlq r=1\n"
    "    kworker/u4:0-9       [000] .....   205.642044: fscache_"
    "cookie: c=00000112 PQ  work  r=0\n"
    "      umount.nfs-686     [001] .....   205.642044: fscache_"
    "relinquish: c=00000112 V=00000011 r=1 U=0 f=2d rt=0\n"
    "      umount.nfs-686     [001] .....   205.642044: fscache_"
    "cookie: c=00000112 GQ  endac r=2\n"
    "      umount.nfs-686     [001] .....   205.642044: fscache_"
    "cookie: c=00000112 PUT relnq r=1\n";
  TempDir t;
  auto r = refs_on(t, "trace.txt", real);
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("findings   0") != std::string::npos);

  // The relinquish's put gone: no order fits (the GQ first leaves 2 for
  // the worker's r=1), so the GQ stays after the worker's end.
  std::string lost = real;
  const std::string put = "c=00000112 PUT relnq r=1\n";
  REQUIRE(lost.find(put) != std::string::npos);
  lost.erase(lost.rfind('\n', lost.find(put)) + 1);
  r = refs_on(t, "lost.txt", lost);
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("use-after-free") != std::string::npos);
}

TEST_CASE("refs finds the over-put, from stdin, with a timeline", "[refs]")
{
  auto r = run_fsc({"refs", "--cookie", "ffff91ce827c1380"}, {}, k_overput);
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("over-put") != std::string::npos);
  CHECK(r.out.find("timeline   5 events") != std::string::npos);
  CHECK(r.out.find("=> -1") != std::string::npos);

  r = run_fsc({"--json", "refs", "-"}, {}, k_overput);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["gen"] == "4.19");
  REQUIRE(records(j, "finding").size() == 1);
  CHECK(records(j, "finding")[0]["kind"] == "over-put");
  CHECK(records(j, "finding")[0]["line"] == 5);
}

TEST_CASE("refs --svg draws the history with the finding marked", "[refs][svg]")
{
  TempDir t;
  fsc::test::write_file(t / "trace.txt", k_overput);
  auto r = run_fsc({"refs", t / "trace.txt", "--svg", t / "plot.svg"});
  CHECK(r.status == 1);
  std::ifstream in(t / "plot.svg");
  std::stringstream ss;
  ss << in.rdbuf();
  auto svg = ss.str();
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("refcount of cookie c=ffff91ce827c1380") != std::string::npos);
  CHECK(svg.find("stroke=\"red\"") != std::string::npos);
  CHECK(svg.find("over-put") != std::string::npos);
  // Well-formed XML, as a browser needs.
  CHECK(fsc::test::run_prog({"python3", "-c",
                             "import sys,xml.dom.minidom as m;"
                             "m.parse(sys.argv[1])",
                             t / "plot.svg"})
            .status == 0);
}

TEST_CASE("refs on bad input", "[refs][errors]")
{
  TempDir t;
  auto r = run_fsc({"refs", t / "missing.trace"});
  CHECK(r.status == 2);
  CHECK(r.err.find("missing.trace") != std::string::npos);
  fsc::test::write_file(t / "bad.xz", std::string("\xfd"
                                                  "7zXZ\0garbage",
                                                  12));
  r = run_fsc({"refs", t / "bad.xz"});
  CHECK(r.status == 2);
  CHECK(r.err.find("bad.xz") != std::string::npos);
  // One bad line in a trace is a finding; a file of them is no trace.
  r = run_fsc({"refs", "-"}, {},
              std::string(k_overput) + "this is not a trace line\n");
  CHECK(r.status == 1);
  CHECK(r.err.find(":6: malformed line") != std::string::npos);
}

TEST_CASE("refs on a file that is not a trace: exit 2, nothing analysed",
          "[refs][errors]")
{
  TempDir t;
  fsc::test::write_file(t / "passwd",
                        "root:x:0:0:root:/root:/bin/bash\n"
                        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                        "# a comment\n\n");
  std::string noise(65536, '\0');
  std::uint32_t x = 2463534242u; // xorshift: the same bytes every run
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = char(x);
  }
  noise[0] = 'x'; // not a gzip or xz magic
  fsc::test::write_file(t / "random.bin", noise);
  for (auto name : {"passwd", "random.bin"}) {
    auto r = run_fsc({"refs", t / name});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find("'" + t / name + "': not a kernel trace") !=
          std::string::npos);
    CHECK(r.out.empty());
    CHECK(r.err.find("malformed") == std::string::npos);
  }
  // Named also when it comes after a good trace.
  auto r = run_fsc({"refs", fixture_trace("real-6.1-smoke"), t / "passwd"});
  CHECK(r.status == 2);
  CHECK(r.err.find("passwd': not a kernel trace") != std::string::npos);
  // A trace with no events (tracing was off) is a trace.
  fsc::test::write_file(t / "empty.trace", "# tracer: nop\n#\n");
  r = run_fsc({"refs", t / "empty.trace"});
  CHECK(r.status == 0);
}

TEST_CASE("refs --cookie/--object with an id the trace does not hold",
          "[refs][errors]")
{
  auto trace = fixture_trace("real-5.10-smoke");
  auto r = run_fsc({"refs", trace, "--cookie", "ffff91ce00000bad"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("cookie c=ffff91ce00000bad is not in " + trace) !=
        std::string::npos);
  r = run_fsc({"refs", trace, "--object", "0xbad"});
  CHECK(r.status == 1);
  CHECK(r.err.find("object o=bad is not in") != std::string::npos);
  // An object's id given as a cookie: say which it is.
  r = run_fsc({"refs", trace, "--cookie", "ffff91ce827b1200"});
  CHECK(r.status == 1);
  CHECK(r.err.find("an object has that id: use --object") != std::string::npos);
  r = run_fsc({"refs", trace, "--object", "ffff91ce827b1200"});
  CHECK(r.status == 0);
  CHECK(r.out.find("timeline") != std::string::npos);
}

TEST_CASE("refs names each history a lost-events marker leaves unchecked",
          "[refs][lost]")
{
  // The real 6.1 smoke trace with the worker's last three lines of cookie 3
  // (PUT obj r=1, - x-rlq, PQ work r=0) lost on CPU 1.
  TempDir t;
  auto lines = fixture_lines("real-6.1-smoke");
  auto at = line_with(lines, "18.289303: fscache_cookie: c=00000003 PUT obj");
  lines.erase(lines.begin() + std::ptrdiff_t(at),
              lines.begin() + std::ptrdiff_t(at) + 3);
  lines.insert(lines.begin() + std::ptrdiff_t(at), "CPU:1 [LOST 3 EVENTS]");
  const auto marker = at + 1;
  fsc::test::write_file(t / "trace.txt", joined(lines));
  auto r = run_fsc({"refs", t / "trace.txt"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find(" leak ") == std::string::npos);
  CHECK(r.out.find(fmt::format(
            "unverifiable           c=3: count 2 after relinquish: possible "
            "leak; unverifiable: 3 events lost on CPU 1 (line {}) while it "
            "was alive",
            marker)) != std::string::npos);
  CHECK(r.out.find("3 events lost on CPU 1: the 10 histories alive") !=
        std::string::npos);
  CHECK(r.out.find("and 9 histories that lost events but ended without a "
                   "sign of trouble") != std::string::npos);
  r = run_fsc({"-v", "refs", t / "trace.txt"});
  CHECK(r.out.find("unverifiable-clean     c=5: freed at line") !=
        std::string::npos);
  r = run_fsc({"--json", "refs", t / "trace.txt"});
  auto j = nlohmann::json::parse(r.out);
  std::size_t named = 0;
  for (auto& f : records(j, "finding"))
    named += f["kind"].get<std::string>().rfind("unverifiable", 0) == 0;
  CHECK(named == 10);
}

namespace {

std::size_t count_of(const std::string& s, const std::string& what)
{
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos;
       at = s.find(what, at + 1))
    ++n;
  return n;
}

/// The real 5.10 smoke trace, compressed by `tool` and cut in the middle of
/// the compressed bytes, as `cat trace_pipe | xz > t.xz` stopped with ^C.
std::string cut_trace(const TempDir& t, const std::string& tool,
                      const std::string& name)
{
  auto out = t / name;
  auto r = fsc::test::run_prog(
      {"sh", "-c",
       "xz -dc \"$1\" | $2 -c > \"$3.whole\" && "
       "head -c $(( $(stat -c %s \"$3.whole\") / 2 )) \"$3.whole\" > \"$3\"",
       "sh", fixture_trace("real-5.10-smoke"), tool, out});
  REQUIRE(r.status == 0);
  return out;
}

} // namespace

TEST_CASE("refs reads a truncated .xz or .gz trace up to the cut",
          "[refs][truncated]")
{
  TempDir t;
  for (auto [tool, name] : {std::pair{"xz", "cut.xz"}, {"gzip", "cut.gz"}}) {
    auto path = cut_trace(t, tool, name);
    auto r = run_fsc({"refs", path});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.status == 1);
    CHECK(count_of(r.err, "input truncated after line") == 1);
    CHECK(r.err.find(name) != std::string::npos);
    CHECK(r.err.find("corrupt") == std::string::npos);
    CHECK(r.out.find("incomplete " + path + ": truncated after line") !=
          std::string::npos);
    CHECK(r.out.find("truncated-input") != std::string::npos);
    // Cookies alive at the cut are not called leaks.
    CHECK(r.out.find(" leak ") == std::string::npos);

    r = run_fsc({"--json", "refs", path});
    auto j = nlohmann::json::parse(r.out);
    CHECK(r.status == 1);
    CHECK(j["incomplete"] == true);
    REQUIRE(j["truncated"].size() == 1);
    CHECK(j["truncated"][0]["file"] == path);
    CHECK(j["truncated"][0]["after_line"].get<std::uint64_t>() > 1000);
    CHECK(j["lines"] == j["truncated"][0]["after_line"]);
    for (auto& f : records(j, "finding"))
      CHECK(f["kind"] != "leak");
  }
  // A whole file is complete.
  auto r = run_fsc({"--json", "refs", fixture_trace("real-5.10-smoke")});
  CHECK(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["incomplete"] == false);
}

TEST_CASE("replay --from-trace reads a truncated trace up to the cut",
          "[refs][truncated][replay]")
{
  // The same reader: the warning and the exit status come through.
  TempDir t;
  auto path = cut_trace(t, "xz", "cut.xz");
  auto r = run_fsc({"replay", "--from-trace", path, "--json"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(count_of(r.err, "input truncated after line") == 1);
  CHECK(r.err.find("corrupt") == std::string::npos);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["incomplete"] == true);
  CHECK(j["lines"].get<std::uint64_t>() > 1000);
}

TEST_CASE("refs --json TRACE: a bare --json takes no value (fsc-refs(8))",
          "[refs][json]")
{
  auto r = run_fsc({"refs", "--json", fixture_trace("real-6.1-smoke")});
  INFO(r.err);
  CHECK(r.status == 0);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["finding_count"] == 0);
  CHECK(doc["incomplete"] == false);
}

namespace {

/// The lines of the real 6.12 smoke trace and the 1-based line of `what`.
struct Trace612 {
  std::vector<std::string> lines = fixture_lines("real-6.12-smoke");
  std::size_t at(const std::string& what) { return line_with(lines, what); }
  std::string write(TempDir& t, const char* name = "trace.txt")
  {
    fsc::test::write_file(t / name, joined(lines));
    return t / name;
  }
};

/// The findings of `fsc --json refs`, and the JSON document.
nlohmann::json refs_json(const std::vector<std::string>& args)
{
  std::vector<std::string> all{"--json", "refs"};
  all.insert(all.end(), args.begin(), args.end());
  auto r = run_fsc(all);
  INFO(r.err);
  return nlohmann::json::parse(r.out);
}

} // namespace

TEST_CASE("refs on the real 6.12 trace: every netfs request and subrequest "
          "accounted for, none found wrong",
          "[refs][real][netfs]")
{
  auto r = run_fsc({"refs", fixture_trace("real-6.12-smoke")});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("(6.12 format)") != std::string::npos);
  CHECK(r.out.find("findings   0") != std::string::npos);
  CHECK(r.out.find("requests   31 (31 freed, 0 alive at the end); "
                   "subrequests 35 (35 freed, 0 alive at the end)") !=
        std::string::npos);

  auto j = refs_json({fixture_trace("real-6.12-smoke")});
  CHECK(j["gen"] == "6.12");
  CHECK(j["requests"]["lives"] == 31);
  CHECK(j["subrequests"]["freed"] == 35);
  std::size_t requests = 0, r2 = 0;
  for (auto& l : records(j, "life")) {
    if (l["type"] != "request" && l["type"] != "subrequest")
      continue;
    ++requests;
    CHECK(l["freed"] == true);
    CHECK(l["count"] == 0);
    CHECK(l.contains("cookie")); // every one tied to its cookie
    if (l["type"] == "request" && l["id"] == "2") {
      // 6.12 gave the read of c=2 and its copy-to-cache write R=2 at once:
      // two lives, each with its own history.
      ++r2;
      CHECK(l["reasons"]["NEW"] == 1);
      CHECK(l["reasons"]["PUT SUBREQ"] == 1);
    }
  }
  CHECK(requests == 66);
  CHECK(r2 == 2);
}

TEST_CASE("refs reads 6.12's trace-cmd report text like its ftrace text",
          "[refs][real][netfs]")
{
  TempDir t;
  Trace612 tr;
  std::vector<std::string> report;
  for (auto& l : tr.lines) {
    if (l.rfind("#", 0) == 0)
      continue;
    // trace-cmd report prints no flags column: "task-pid [cpu] ts: ..."
    auto cpu = l.find("] ");
    auto ts = l.find_first_not_of(' ', l.find(' ', cpu + 2));
    report.push_back(l.substr(0, cpu + 2) + l.substr(ts));
  }
  tr.lines = report;
  auto r = run_fsc({"refs", tr.write(t)});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("requests   31 (31 freed, 0 alive at the end); "
                   "subrequests 35 (35 freed, 0 alive at the end)") !=
        std::string::npos);
  CHECK(r.out.find(" 0 malformed") != std::string::npos);
}

TEST_CASE("refs 6.12: a put edited out of the real trace is a leak, a "
          "duplicated one an over-put, each named with its line",
          "[refs][netfs]")
{
  TempDir t;
  struct Case {
    const char* edit; ///< the line edited
    bool duplicate;   ///< else removed
    const char* kind;
    const char* id;
    const char* at; ///< the line the finding names
  };
  for (auto c : {
           // The copy-to-cache write's last put: it stays counted, though
           // the kernel's own FREE line follows.
           Case{"R=00000006 PUT WORK CP r=0", false, "leak", "R=6",
                "49.582268: netfs_rreq_ref: R=00000006 PUT SUBREQ  r=1"},
           // A subrequest's last put.
           Case{"R=00000006[1] PUT DONE    r=0", false, "leak", "R=6[1]",
                "R=00000006[1] PUT TERM    r=1"},
           // The read's last put, twice: a put on a freed request.
           Case{"R=00000003 PUT SUBREQ  r=0", true, "over-put", "R=3",
                "R=00000003 PUT SUBREQ  r=0"},
           // The issuer's put twice: one put more than the gets.
           Case{"R=00000003 PUT RETURN  r=1", true, "over-put", "R=3",
                "R=00000003 PUT RETURN  r=1"},
       }) {
    Trace612 tr;
    const std::size_t i = tr.at(c.edit);
    if (c.duplicate)
      tr.lines.insert(tr.lines.begin() + std::ptrdiff_t(i), tr.lines[i]);
    else
      tr.lines.erase(tr.lines.begin() + std::ptrdiff_t(i));
    // The finding names the duplicate (the second copy), or the last line
    // of the history that stayed counted.
    std::size_t line = c.duplicate ? i + 2 : 0;
    if (!c.duplicate)
      for (std::size_t k = 0; k < tr.lines.size(); ++k)
        if (tr.lines[k].find(c.at) != std::string::npos)
          line = k + 1;
    auto path = tr.write(t);
    auto r = run_fsc({"refs", path});
    INFO(c.edit << ": " << r.out << r.err);
    CHECK(r.status == 1);
    auto j = refs_json({path});
    auto found = records(j, "finding");
    REQUIRE(found.size() == 1);
    CHECK(found[0]["kind"] == c.kind);
    CHECK(found[0]["id"] == c.id);
    CHECK(found[0]["line"] == line);
  }
}

TEST_CASE("refs 6.12: an over-put planted on the other CPU, printed out of "
          "order as the local clock does, is still found",
          "[refs][netfs][reorder]")
{
  TempDir t;
  for (bool before : {true, false}) {
    Trace612 tr;
    // R=3's last put is on CPU 1 at 49.582148; plant a second put of it on
    // CPU 0, 40 us before or after (inside the reordering window).
    const std::size_t i = tr.at("49.582148: netfs_rreq_ref: R=00000003 PUT");
    tr.lines.insert(tr.lines.begin() + std::ptrdiff_t(before ? i : i + 1),
                    fmt::format("    kworker/u8:2-37      [000] .....    "
                                "49.5821{}: netfs_rreq_ref: R=00000003 PUT "
                                "RETURN  r=0",
                                before ? "08" : "88"));
    auto path = tr.write(t);
    auto j = refs_json({path});
    auto found = records(j, "finding");
    INFO("planted " << (before ? "before" : "after"));
    REQUIRE(found.size() == 1);
    CHECK(found[0]["kind"] == "over-put");
    CHECK(found[0]["id"] == "R=3");
  }
}

TEST_CASE("refs 6.12: a subrequest's last put printed by the other CPU before "
          "its first line is no leak",
          "[refs][netfs][reorder]")
{
  // A 6.12 guest printed R=000001d8[1] PUT DONE r=0 (CPU 1) 5 us before
  // PUT TERM r=1 (CPU 0): a subrequest is born at 2 without a line, so
  // its first printed line was not its first change. Replant R=6[1]'s
  // last put (49.582266, CPU 1) 5 us before its PUT TERM r=1 (49.582115),
  // with and without its FREE line.
  TempDir t;
  for (bool with_free : {false, true}) {
    Trace612 tr;
    const std::size_t done = tr.at("R=00000006[1] PUT DONE    r=0");
    tr.lines.erase(tr.lines.begin() + std::ptrdiff_t(done),
                   tr.lines.begin() + std::ptrdiff_t(done + (with_free ? 2 : 1)));
    const std::size_t term = tr.at("R=00000006[1] PUT TERM    r=1");
    std::vector<std::string> moved{
        "    kworker/u8:2-37      [000] .....    49.582110: netfs_sreq_ref: "
        "R=00000006[1] PUT DONE    r=0"};
    if (with_free)
      moved.push_back("    kworker/u8:2-37      [000] .....    49.582111: "
                      "netfs_sreq: R=00000006[1] WRIT FREE  f=00 s=0 "
                      "80000/80000 s=0 e=0");
    tr.lines.insert(tr.lines.begin() + std::ptrdiff_t(term), moved.begin(),
                    moved.end());
    auto path = tr.write(t);
    auto r = run_fsc({"refs", path});
    INFO((with_free ? "with" : "without") << " FREE: " << r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("findings   0") != std::string::npos);
    CHECK(r.out.find("subrequests 35 (35 freed, 0 alive at the end)") !=
          std::string::npos);
  }
}

TEST_CASE("refs --request: one netfs request's timeline; --cookie shows the "
          "cookie's requests",
          "[refs][netfs]")
{
  TempDir t;
  auto trace = fixture_trace("real-6.12-smoke");
  auto r = run_fsc({"refs", trace, "--request", "00000006"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("netfs_write: R=00000006 COPY2CACH c=00000003") !=
        std::string::npos);
  CHECK(r.out.find("netfs_sreq_ref: R=00000006[1] PUT DONE    r=0   => 0") !=
        std::string::npos);
  CHECK(r.out.find("netfs_rreq_ref: R=00000006 PUT WORK CP r=0   => 0") !=
        std::string::npos);
  CHECK(r.out.find("R=00000003") == std::string::npos);

  // The cookie's timeline holds its requests, from the NEW line that comes
  // before the line naming the cookie.
  r = run_fsc({"refs", trace, "--cookie", "3"});
  CHECK(r.status == 0);
  CHECK(r.out.find("netfs_rreq_ref: R=00000003 NEW         r=1   => 1") !=
        std::string::npos);
  CHECK(r.out.find("netfs_rreq_ref: R=00000006 NEW         r=1   => 1") !=
        std::string::npos);
  CHECK(r.out.find("R=00000001 ") == std::string::npos); // c=2's

  auto j = refs_json({trace, "--request", "6"});
  auto events = records(j, "event");
  CHECK(events.size() > 10);
  for (auto& e : events)
    CHECK(e["body"].get<std::string>().rfind("R=00000006", 0) == 0);

  r = run_fsc({"refs", trace, "--request", "7f7f"});
  CHECK(r.status == 1);
  CHECK(r.err.find("request R=7f7f is not in") != std::string::npos);

  r = run_fsc({"refs", trace, "--request", "6", "--svg", t / "r.svg"});
  CHECK(r.status == 0);
  std::ifstream in(t / "r.svg");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str().find("refcount of request R=6") != std::string::npos);

  r = run_fsc({"refs", trace, "--request", "6", "--cookie", "3"});
  CHECK(r.status == 64);
}
